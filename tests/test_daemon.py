"""The whole loop, end to end: the daemon against the simulated modem over a real pty."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from relouphone.config import Config, StorageConfig
from relouphone.daemon import RESET_AFTER_SILENCES, Daemon
from relouphone.errors import ModemTimeout
from relouphone.pdu import TextPlan, decode_pdu, plan_text
from relouphone.store import Store

from .conftest import CORPUS
from .story import HOUR, REPLY_TEXT, Story


@pytest.fixture
def story(tmp_path, clock) -> Iterator[Story]:
    story = Story(tmp_path, clock)
    yield story
    story.close()


@pytest.fixture
def running(story) -> Story:
    story.start_daemon()
    return story


def test_a_text_gets_exactly_one_reply_after_the_delay(running):
    running.text_arrives("+33612345678", "Salut, on se revoit ?")
    running.wait_recorded(1)

    running.time_passes(HOUR - 1)
    assert running.sim.sent == []

    running.time_passes(2)
    [reply] = running.wait_sent(1)
    assert reply.recipient.number == "+33612345678"
    assert reply.text == REPLY_TEXT
    running.time_passes(HOUR)
    assert len(running.sim.sent) == 1


def test_a_call_is_hung_up_and_answered_later(running):
    running.call_arrives("0612345678", ton=0x81)
    [call] = running.wait_recorded(1)
    assert call["kind"] == "call"
    assert call["sender"] == "+33612345678"
    assert running.sim.wait_for(lambda s: s.calls and s.calls[0].hung_up)

    running.time_passes(HOUR - 1)
    assert running.sim.sent == []
    running.time_passes(2)
    [reply] = running.wait_sent(1)
    assert (reply.recipient.number, reply.text) == ("+33612345678", REPLY_TEXT)
    running.time_passes(HOUR)
    assert len(running.sim.sent) == 1


def test_a_call_with_a_withheld_number_is_recorded_and_gets_no_reply(running):
    running.call_arrives(None)
    [call] = running.wait_recorded(1)
    assert (call["kind"], call["sender"], call["decision"]) == ("call", None, "withheld")
    running.time_passes(HOUR + 1)
    assert running.sim.sent == []


def test_a_number_texting_five_times_gets_one_reply(running):
    for n in range(5):
        running.text_arrives("+33612345678", f"message {n}")
    rows = running.wait_recorded(5)
    assert [r["decision"] for r in rows] == ["replied"] + ["duplicate"] * 4
    running.time_passes(HOUR + 1)
    running.wait_sent(1)
    running.time_passes(HOUR)
    assert len(running.sim.sent) == 1


def test_a_text_and_a_call_from_the_same_person_get_one_reply(running):
    running.text_arrives("+33612345678", "réponds")
    running.call_arrives("0612345678", ton=0x81)
    running.wait_recorded(2)
    running.time_passes(HOUR + 1)
    running.wait_sent(1)
    running.time_passes(HOUR)
    assert len(running.sim.sent) == 1


LONG_TEXT = (
    "Je sais que tu m'as donné ce numéro pour te débarrasser de moi, mais je voulais "
    "quand meme te dire que j'ai passé une très bonne soirée et que j'aimerais beaucoup "
    "te revoir la semaine prochaine, pour un verre ou un restaurant, ce que tu "
    "préfères. Réponds-moi vite, j'attends ton message avec impatience. A bientot, "
    "et surtout n'oublie pas de me rappeler ce soir !"
)


@pytest.mark.parametrize(
    ("sender", "text"),
    [
        ("+33611111111", "Привет, ça va ? 你好"),  # UCS-2
        ("+33622222222", "Prix: 5€ [promo] {ok} ~ |"),  # GSM 7-bit extension table
        ("+33633333333", "Tu me réponds ? 😉🙂"),  # UCS-2 surrogate pairs
        ("+33644444444", LONG_TEXT),  # three concatenated parts
    ],
    ids=["ucs2", "gsm7-extension", "emoji", "three-parts"],
)
def test_inbound_text_is_stored_with_the_right_characters(running, sender, text):
    slots = running.text_arrives(sender, text)
    assert len(slots) == plan_text(text).parts
    if text is LONG_TEXT:
        assert plan_text(text) == TextPlan("gsm7", 3, len(text), ())
    [row] = running.wait_recorded(1)
    assert row["text"] == text
    assert row["sender"] == sender
    assert row["parts"] == len(slots)


CORPUS_PDUS = [json.loads(line) for line in (CORPUS / "pdus.jsonl").open(encoding="utf-8")]


def corpus_message(*where: str) -> list[dict]:
    """Corpus records whose text starts as given: real captures, not our own encoder."""
    return [
        next(r for r in CORPUS_PDUS if (r["expected"].get("text") or "").startswith(start))
        for start in where
    ]


@pytest.mark.parametrize(
    "records",
    [
        corpus_message("тест"),  # UCS-2
        corpus_message("Here's a longer message [{"),  # GSM 7-bit extension table
        corpus_message("that the parts are related", "This is a very long test"),  # 2 of 2 first
        corpus_message("mon targeting you", "Vintage tupperware"),  # a capture, out of order
    ],
    ids=["ucs2", "gsm7-extension", "two-parts-reversed", "captured-parts-reversed"],
)
def test_captured_pdus_from_real_modems_are_stored_with_their_text(running, records):
    for record in records:
        running.sim.deliver_pdu(record["pdu"])
    [row] = running.wait_recorded(1)
    in_order = sorted(records, key=lambda r: (r["expected"]["concat"] or {"seq": 1})["seq"])
    assert row["text"] == "".join(r["expected"]["text"] for r in in_order)
    assert row["parts"] == len(records)
    running.wait_sim_empty()


def test_messages_already_on_the_sim_at_start_up_are_ingested_then_deleted(story):
    story.text_arrives("+33612345678", "pendant que tu dormais", notify=False)
    story.text_arrives("0698765432", "toujours là ?", notify=False)
    assert len(story.sim.stored) == 2

    story.start_daemon()
    rows = story.wait_recorded(2)
    assert {r["sender"] for r in rows} == {"+33612345678", "+33698765432"}
    assert story.sim.wait_for(lambda s: not s.stored)


def test_a_restart_with_replies_pending_sends_each_exactly_once(running):
    running.text_arrives("+33612345678", "un")
    running.text_arrives("+33698765432", "deux")
    running.wait_recorded(2)

    running.restart_daemon()
    running.time_passes(HOUR + 1)
    running.wait_sent(2)

    running.restart_daemon()
    running.time_passes(HOUR)
    assert sorted(running.sent_texts()) == ["+33612345678", "+33698765432"]
    assert len(running.sim.sent) == 2


def test_replies_that_fell_due_while_the_daemon_was_down_go_out_at_start(running):
    running.text_arrives("+33612345678", "un")
    running.wait_recorded(1)
    running.stop_daemon()

    running.clock.advance(2 * HOUR)
    running.start_daemon()
    [reply] = running.wait_sent(1)
    assert reply.recipient.number == "+33612345678"


def test_a_text_that_waited_on_the_sim_is_answered_a_delay_after_it_arrived(running):
    running.stop_daemon()
    stopped, hours = running.clock.now(), timedelta(hours=1)
    running.clock.advance(2 * HOUR)
    sim = running.sim
    # Sent an hour after the daemon stopped: due now. A service centre clock five hours
    # slow cannot make a reply due before the daemon stopped listening; one that is ahead
    # cannot delay it beyond the delay after it is read.
    sim.deliver_sms("+33612345678", "t'es où ?", timestamp=stopped + hours, notify=False)
    sim.deliver_sms("+33698765432", "réponds", timestamp=stopped - 5 * hours, notify=False)
    sim.deliver_sms("+33611111111", "allô", timestamp=stopped + 9 * hours, notify=False)

    running.start_daemon()
    running.wait_recorded(3)
    running.settle()
    assert sorted(running.sent_texts()) == ["+33612345678", "+33698765432"]
    running.time_passes(HOUR - 1)
    assert len(running.sim.sent) == 2
    running.time_passes(1)
    running.wait_sent(3)


def test_a_long_reply_reaches_the_modem_as_one_concatenated_message(tmp_path, clock):
    long_reply = "Non, c'est non. " * 25  # 400 GSM-7 characters: three parts
    story = Story(tmp_path, clock)
    try:
        story.config = story.config.__class__(
            modem=story.config.modem,
            reply=story.config.reply.__class__(delay=60, text=long_reply),
            storage=story.config.storage,
            daemon=story.config.daemon,
            source="<test>",
        )
        story.start_daemon()
        story.text_arrives("+33612345678", "allô")
        story.wait_recorded(1)
        story.time_passes(61)
        parts = story.wait_sent(3)
        assert {p.concat.ref for p in parts} == {parts[0].concat.ref}
        assert sorted(p.concat.seq for p in parts) == [1, 2, 3]
        assert {p.concat.total for p in parts} == {3}
        assert story.sent_texts() == {"+33612345678": [long_reply]}
    finally:
        story.close()


def test_each_sent_pdu_is_well_formed(running):
    running.text_arrives("+33612345678", "allô")
    running.wait_recorded(1)
    running.time_passes(HOUR + 1)
    running.wait_sent(1)
    [message] = running.sim.sent
    assert decode_pdu(message.pdu).recipient.number == "+33612345678"


def test_unsolicited_lines_inside_responses_are_neither_lost_nor_mistaken(running):
    first = running.text_arrives("+33611111111", "premier", notify=False)[0]
    second = running.text_arrives("+33622222222", "second", notify=False)[0]
    # While the daemon reads the first message, the modem announces the second one,
    # a call and a signal change in the middle of the response (Huawei modems do this).
    running.sim.interleave("AT+CMGR", f'+CMTI: "SM",{second}')
    running.sim.interleave("AT+CMGD", "^RSSI: 14")
    running.sim.emit(f'+CMTI: "SM",{first}')

    rows = running.wait_recorded(2)
    assert [r["text"] for r in rows] == ["premier", "second"]
    assert running.sim.wait_for(lambda s: not s.stored)


def test_a_ring_interleaved_in_a_response_is_still_a_call(running):
    slot = running.text_arrives("+33611111111", "premier", notify=False)[0]
    running.sim.interleave("AT+CMGR", "RING")
    running.sim.interleave("AT+CMGD", '+CLIP: "+33655555555",145,,,,0')
    running.sim.emit(f'+CMTI: "SM",{slot}')
    rows = running.wait_recorded(2)
    assert {(r["kind"], r["sender"]) for r in rows} == {
        ("sms", "+33611111111"),
        ("call", "+33655555555"),
    }


def test_the_heartbeat_shows_the_modem_state(running):
    store = running.db()
    try:
        beat = store.heartbeat()
    finally:
        store.close()
    assert beat is not None
    assert beat.modem_state == "registered (home)"
    assert beat.signal is not None


def test_stopping_records_the_daemon_as_stopped(running):
    running.stop_daemon()
    store = running.db()
    try:
        assert store.heartbeat().modem_state == "stopped"
    finally:
        store.close()


def test_messages_waiting_in_the_modem_memory_are_ingested_too(tmp_path, clock):
    story = Story(tmp_path, clock, storage="ME")
    try:
        story.text_arrives("+33612345678", "dans la mémoire du modem", notify=False)
        story.start_daemon()
        [row] = story.wait_recorded(1)
        assert row["text"] == "dans la mémoire du modem"
        # The modem's own memory, not the SIM the daemon then chose for new messages.
        assert story.sim.wait_for(lambda s: not s._engine.stores["ME"].slots)
    finally:
        story.close()


def test_a_message_stays_on_the_sim_until_it_is_committed(running, monkeypatch):
    from relouphone import daemon as daemon_module
    from relouphone.errors import StoreError

    def disk_full(*args, **kwargs):
        raise StoreError("database or disk is full")

    monkeypatch.setattr(daemon_module, "ingest_message", disk_full)
    running.text_arrives("+33612345678", "à garder")
    assert running.sim.wait_for(lambda s: any(c.startswith("AT+CMGR") for c in s.commands))
    running.settle()
    assert len(running.sim.stored) == 1
    assert not any(c.startswith("AT+CMGD") for c in running.sim.commands)

    monkeypatch.undo()
    running.restart_daemon()
    [row] = running.wait_recorded(1)
    assert row["text"] == "à garder"
    assert running.sim.wait_for(lambda s: not s.stored)


class HalfWedgedModem:
    """Answers its set-up, then never answers a read: wedged all the same."""

    resets = 0

    def connect(self) -> None:
        """The set-up goes through: the modem answers it."""

    def list_stored(self):
        raise ModemTimeout("AT+CMGL=4: no answer within 10s")

    def reset(self) -> None:
        HalfWedgedModem.resets += 1

    def close(self) -> None:
        """Nothing was opened."""


def test_a_modem_that_answers_its_set_up_then_falls_silent_is_restarted(clock):
    config = Config(source="<test>", storage=StorageConfig(database=Path(":memory:")))
    store = Store(None)
    daemon = Daemon(config, modem_factory=HalfWedgedModem, clock=clock, store=store)
    runner = threading.Thread(target=daemon.run)
    runner.start()
    try:
        for _ in range(500):  # each failed connection waits out its back-off, in clock time
            if HalfWedgedModem.resets:
                break
            clock.advance(60)
            time.sleep(0.002)
    finally:
        daemon.stop()
        runner.join(timeout=5)
        store.close()
    assert HalfWedgedModem.resets == 1
    assert daemon.state.reconnects == RESET_AFTER_SILENCES
