"""Modem faults, against the simulator: what is recorded and what is sent through each.

Unplugged, wedged, rebooted on its own, without network, slow, noisy, refusing, or with
its storage already full: the daemon loses no message and sends no reply twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import replace

import pytest
import serial

from relouphone import daemon as daemon_module
from relouphone.daemon import EXIT_SIM_LOCKED, RESET_AFTER_SILENCES
from relouphone.errors import StoreError
from relouphone.outbox import RETRY_DELAYS
from relouphone.store import Store
from tests.story import HOUR, Story

TEXTER = "+33612345678"
OTHER = "+33698765432"
WAIT = 10.0


@pytest.fixture
def story(tmp_path, clock) -> Iterator[Story]:
    story = Story(tmp_path, clock, symlink=str(tmp_path / "ttyMODEM"))
    yield story
    story.close()


def modem_state(story: Story) -> str:
    store = story.db()
    try:
        beat = store.heartbeat()
    finally:
        store.close()
    return (beat.modem_state or "") if beat else ""


def replies_to(story: Story, number: str) -> list[dict]:
    with contextlib.closing(sqlite3.connect(story.config.storage.database)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM replies WHERE number = ?", (number,))
        return [dict(row) for row in rows]


def wait_until(story: Story, predicate, what: str, *, step: float = 1.0) -> None:
    """Let clock time pass in steps (reconnect back-off, re-checks) until `predicate()`."""
    for _ in range(200):
        if predicate():
            return
        story.clock.advance(step)
        story.daemon.wait_turns(1, 0.2)
    raise AssertionError(f"never happened: {what}")


def test_an_unplugged_modem_is_shown_then_reconnected_and_nothing_is_lost(story):
    story.start_daemon()
    story.text_arrives(TEXTER, "avant")
    story.wait_recorded(1)

    story.sim.unplug()
    wait_until(story, lambda: modem_state(story) == "disconnected", "the unplug is shown")
    story.text_arrives(OTHER, "pendant")  # lands on the SIM while nobody listens
    story.sim.replug()

    wait_until(story, lambda: len(story.inbound()) == 2, "the text from the SIM is read")
    assert [row["text"] for row in story.inbound()] == ["avant", "pendant"]
    story.wait_sim_empty()
    story.time_passes(HOUR)
    story.wait_sent(2)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER, OTHER)


def test_a_wedged_modem_is_set_up_again_then_restarted(story):
    story.config = replace(story.config, modem=replace(story.config.modem, command_timeout=0.3))
    story.start_daemon()
    story.sim.hang()

    # The next health check times out; reconnecting times out RESET_AFTER_SILENCES times.
    wait_until(story, lambda: "AT+CFUN=1,1" in story.sim.commands, "a modem reset", step=30)
    resets = story.sim.commands.count("AT+CFUN=1,1")
    assert resets == 1
    connects = [c for c in story.sim.commands if c == "ATE0"]
    assert len(connects) == 1  # only the first set-up got through while it was wedged
    assert RESET_AFTER_SILENCES >= 2

    wait_until(story, lambda: story.daemon.ready.is_set(), "the daemon is ready again")
    story.text_arrives(TEXTER, "après le redémarrage")
    story.wait_recorded(1)
    assert story.inbound()[0]["text"] == "après le redémarrage"
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_a_modem_that_restarts_by_itself_is_set_up_again(story):
    story.start_daemon()
    story.sim.reboot()
    wait_until(story, lambda: story.sim.commands.count("ATE0") == 2, "a second set-up", step=0.5)
    wait_until(story, lambda: story.daemon.ready.is_set(), "ready again")

    story.call_arrives(TEXTER)  # caller ID only works if AT+CLIP=1 was sent again
    wait_until(story, lambda: len(story.inbound()) == 1, "the call is recorded")
    assert story.inbound()[0]["sender"] == TEXTER
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_without_network_replies_wait_and_the_state_is_shown(story):
    story.start_daemon()
    story.text_arrives(TEXTER, "coucou")
    story.wait_recorded(1)
    story.sim.set_network(False)
    story.time_passes(HOUR)  # the reply falls due; the heartbeat sees no network
    story.time_passes(30)

    assert modem_state(story).startswith("waiting for the network")
    assert story.sim.sent == []

    story.sim.set_network(True)
    wait_until(story, lambda: story.sim.sent, "the reply leaves", step=5)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_a_slow_modem_still_gets_everything_through(story):
    story.sim.slow(0.1)
    story.start_daemon()
    story.text_arrives(TEXTER, "lentement")
    story.wait_recorded(1)
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_garbage_on_the_line_does_not_lose_the_next_message(story):
    story.start_daemon()
    story.sim.noise(b"\xff\xfe\x00\x1b[31m\r\nJUNK\r\n\x80\x81garbage without end")
    story.sim.noise(b'\r\n+CMTI: "SM",99\r\n')  # a new-message line for an empty slot
    story.text_arrives(TEXTER, "après le bruit")
    story.wait_recorded(1)
    assert story.inbound()[0]["text"] == "après le bruit"
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_a_message_whose_announcement_was_lost_is_still_read(tmp_path, clock):
    story = Story(tmp_path, clock, slots=2)
    try:
        story.start_daemon()
        story.text_arrives(TEXTER, "sans annonce", notify=False)  # the +CMTI was lost
        story.text_arrives(OTHER, "moi non plus", notify=False)
        story.text_arrives("+33611111111", "et moi ?")  # the SIM is full: held, unannounced
        wait_until(story, lambda: not story.sim.stored, "the SIM is emptied", step=30)
        assert sorted(row["text"] for row in story.wait_recorded(3)) == [
            "et moi ?",
            "moi non plus",
            "sans annonce",
        ]
    finally:
        story.close()


def test_a_passing_refusal_is_retried_after_a_back_off_and_sent_once(story):
    story.start_daemon()
    story.sim.fail_next_send(42)  # congestion: a passing reason
    story.text_arrives(TEXTER, "encore")
    story.wait_recorded(1)
    story.time_passes(HOUR)
    assert (story.send_attempts(), story.sim.sent) == (1, [])

    back_off = RETRY_DELAYS[0].total_seconds()
    story.time_passes(back_off - 1)
    assert story.send_attempts() == 1  # not before the back-off is over
    story.time_passes(1)
    story.wait_sent(1)
    story.time_passes(HOUR)

    assert story.send_attempts() == 2
    story.expect_replies(TEXTER)
    [reply] = replies_to(story, TEXTER)
    assert (reply["state"], reply["attempts"], reply["error"]) == ("sent", 2, None)


def test_a_reply_refused_max_attempts_times_for_a_passing_reason_fails_with_the_error(story):
    story.config = replace(story.config, reply=replace(story.config.reply, max_attempts=3))
    story.start_daemon()
    for _ in range(3):  # a fourth attempt would go through: it must not be made
        story.sim.fail_next_send(42)
    story.text_arrives(TEXTER, "encore")
    story.wait_recorded(1)
    story.time_passes(HOUR)
    for back_off in RETRY_DELAYS[:2]:
        assert story.sim.sent == []
        story.time_passes(back_off.total_seconds())
    assert story.send_attempts() == 3

    [reply] = replies_to(story, TEXTER)
    assert (reply["state"], reply["attempts"]) == ("failed", 3)
    assert "+CMS ERROR: 42 (congestion)" in reply["error"]
    assert "gave up after 3 attempts" in reply["error"]
    story.time_passes(RETRY_DELAYS[-1].total_seconds() + HOUR)
    assert story.send_attempts() == 3
    story.expect_replies()  # nothing went out


def test_a_refusal_for_good_fails_the_reply_at_once_with_its_reason(story):
    story.start_daemon()
    story.sim.fail_next_send(1)  # unassigned number
    story.text_arrives(TEXTER, "encore")
    story.wait_recorded(1)
    story.time_passes(HOUR)
    story.time_passes(HOUR)
    [reply] = replies_to(story, TEXTER)
    assert (reply["state"], reply["attempts"]) == ("failed", 1)
    assert "+CMS ERROR: 1 (unassigned number)" in reply["error"]
    assert "refused for good" in reply["error"]
    assert story.send_attempts() == 1
    story.expect_replies()


def test_a_reply_found_sending_at_start_up_is_marked_failed_and_never_sent(story):
    story.start_daemon()
    story.text_arrives(TEXTER, "juste avant la panne")
    story.wait_recorded(1)
    story.stop_daemon()

    # The reply fell due; the daemon committed `sending`, then died before AT+CMGS.
    story.clock.advance(HOUR)
    [reply] = replies_to(story, TEXTER)
    store = story.db()
    try:
        assert store.mark_sending(reply["id"], story.clock.now())
    finally:
        store.close()

    story.start_daemon()
    story.time_passes(HOUR)
    [reply] = replies_to(story, TEXTER)
    assert reply["state"] == "failed"
    assert "interrupted while sending" in reply["error"]
    assert story.send_attempts() == 0

    story.text_arrives(TEXTER, "tu ne réponds plus ?")  # he may have had it: no second one
    story.wait_recorded(2)
    story.time_passes(HOUR)
    assert story.send_attempts() == 0
    assert [r["state"] for r in replies_to(story, TEXTER)] == ["failed"]


def test_a_read_error_is_survived_and_the_message_read_later(story):
    story.start_daemon()
    story.sim.fail_next("+CMGR", cms=500)
    story.text_arrives(TEXTER, "deuxième essai")
    wait_until(story, lambda: len(story.inbound()) == 1, "the message is read in the end")
    assert story.inbound()[0]["text"] == "deuxième essai"
    story.wait_sim_empty()
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_storage_already_full_at_start_up_is_emptied_and_nothing_is_lost(tmp_path, clock):
    story = Story(tmp_path, clock, slots=5)
    senders = [f"+336000000{i:02d}" for i in range(8)]
    try:
        for i, sender in enumerate(senders):  # five fill the SIM; the network holds three back
            story.text_arrives(sender, f"message {i}", notify=False)
        assert len(story.sim.stored) == 5
        assert len(story.sim.held) == 3

        story.start_daemon()
        story.wait_recorded(8)

        assert sorted(row["text"] for row in story.inbound()) == [f"message {i}" for i in range(8)]
        story.wait_sim_empty()
        assert story.sim.held == []
        story.time_passes(HOUR)
        story.time_passes(60)  # five replies a minute, the default pacing
        story.wait_sent(len(senders))
        story.time_passes(HOUR)
        story.expect_replies(*senders)
    finally:
        story.close()


def test_a_full_disk_keeps_messages_on_the_sim_says_so_once_and_recovers(story, caplog):
    store = Store(story.config.storage.database)
    try:
        story.start_daemon(store=store)
        story.text_arrives(TEXTER, "avant")
        story.wait_recorded(1)

        # SQLite's page limit gives the very error a full SD card gives: SQLITE_FULL.
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count={pages}")
        senders = [f"+336111111{i:02d}" for i in range(12)]
        for number in senders:
            story.text_arrives(number, "pendant que le disque est plein " * 4)
        wait_until(story, lambda: story.daemon.state.storage_error, "the failure is noticed")
        story.time_passes(60)

        recorded = len(story.inbound())
        assert recorded < 1 + len(senders)
        assert len(story.sim.stored) == 1 + len(senders) - recorded  # the rest waits there
        failures = [r for r in caplog.records if "cannot write the database" in r.message]
        assert len(failures) == 1
        assert story.daemon.ready.is_set()

        store.db.execute("PRAGMA max_page_count=1073741823")
        wait_until(story, lambda: len(story.inbound()) == 1 + len(senders), "all recorded", step=5)
        story.wait_sim_empty()
        assert story.daemon.state.storage_error is None
        assert any("takes writes again" in r.message for r in caplog.records)
        story.time_passes(HOUR)
        for _ in range(3):  # five replies a minute, the default pacing
            story.time_passes(60)
        story.wait_sent(1 + len(senders))
        story.time_passes(HOUR)
        story.expect_replies(TEXTER, *senders)
    finally:
        story.stop_daemon()
        store.close()


def test_a_missing_sim_stops_the_daemon_with_one_clear_error_and_no_pin_tried(story, caplog):
    story.sim.fail_next("+CPIN?", cme=10)
    story.start_daemon(wait_ready=False)

    assert story.wait_exit() == EXIT_SIM_LOCKED  # systemd does not restart it
    assert modem_state(story) == "sim locked"
    errors = [r.message for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["SIM locked: no SIM card in the modem (+CME ERROR: 10)"]
    assert not [c for c in story.sim.commands if c.startswith("AT+CPIN=")]


def pin_attempts(story: Story) -> int:
    return sum(1 for command in story.sim.commands if command.upper().startswith("AT+CPIN="))


@pytest.fixture
def pin_story(tmp_path, clock) -> Iterator[Story]:
    """A SIM whose PIN is 1234, and a configuration that says 0000."""
    story = Story(tmp_path, clock, pin="1234")
    story.config = replace(story.config, modem=replace(story.config.modem, pin="0000"))
    yield story
    story.close()


def test_a_wrong_pin_is_tried_once_and_stops_the_daemon(pin_story, caplog):
    pin_story.start_daemon(wait_ready=False)

    assert pin_story.wait_exit() == EXIT_SIM_LOCKED  # systemd does not restart it
    assert modem_state(pin_story) == "sim locked"
    assert pin_attempts(pin_story) == 1  # two attempts left on the SIM: never PUK
    errors = [r.message for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "refused the configured PIN" in errors[0]
    assert "0000" not in errors[0]


def test_a_pin_the_sim_refused_is_not_tried_again_at_the_next_start(pin_story):
    pin_story.start_daemon(wait_ready=False)
    assert pin_story.wait_exit() == EXIT_SIM_LOCKED

    pin_story.start_daemon(wait_ready=False)  # a restart (power cut, systemctl), same PIN
    assert pin_story.wait_exit() == EXIT_SIM_LOCKED
    assert modem_state(pin_story) == "sim locked"
    assert pin_attempts(pin_story) == 1


def test_the_right_pin_put_in_the_configuration_is_tried_and_unlocks_the_sim(pin_story):
    pin_story.start_daemon(wait_ready=False)
    assert pin_story.wait_exit() == EXIT_SIM_LOCKED

    config = pin_story.config
    pin_story.config = replace(config, modem=replace(config.modem, pin="1234"))
    pin_story.start_daemon()
    assert pin_attempts(pin_story) == 2
    pin_story.text_arrives(TEXTER, "enfin")
    pin_story.wait_recorded(1)
    pin_story.time_passes(HOUR)
    pin_story.wait_sent(1)
    pin_story.expect_replies(TEXTER)


def test_a_message_whose_deletion_failed_is_read_again_but_counted_once(story):
    story.start_daemon()
    story.sim.fail_next("+CMGD", cms=500)  # committed, then the deletion fails
    story.text_arrives(TEXTER, "une seule fois")
    wait_until(story, lambda: story.sim.stored == {}, "the message leaves the SIM", step=1)

    story.settle()
    assert [row["text"] for row in story.inbound()] == ["une seule fois"]
    # The modem answered (with an error): no reason to drop the link and set it up again.
    assert (story.daemon.state.reconnects, story.sim.commands.count("ATE0")) == (0, 1)
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_identical_texts_sent_in_the_same_second_are_each_recorded(story):
    story.start_daemon()
    moment = story.clock.now()
    for _ in range(5):  # same sender, text and timestamp: byte for byte the same PDU
        story.sim.deliver_sms(TEXTER, "spam", timestamp=moment)
    rows = story.wait_recorded(5)
    assert [row["text"] for row in rows] == ["spam"] * 5
    story.wait_sim_empty()
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)  # five texts, one reply


def test_a_crash_before_a_deletion_is_noted_loses_no_identical_text_after_it(story, monkeypatch):
    # The deletion goes through on the modem, but the daemon dies before noting it.
    monkeypatch.setattr(Store, "mark_pdus_deleted", lambda self, ids: None)
    story.start_daemon()
    moment = story.clock.now()
    story.sim.deliver_sms(TEXTER, "encore moi", timestamp=moment)
    story.wait_recorded(1)
    story.wait_sim_empty()
    story.stop_daemon()
    monkeypatch.undo()

    # While it is down, the very same bytes land in the very same slot.
    assert story.sim.deliver_sms(TEXTER, "encore moi", timestamp=moment) == [1]
    story.start_daemon()

    rows = story.wait_recorded(2)
    assert [row["text"] for row in rows] == ["encore moi", "encore moi"]
    story.wait_sim_empty()
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_a_deletion_the_full_disk_kept_from_noting_loses_no_identical_text_after_it(
    story, monkeypatch
):
    real_note, real_ingest = Store.mark_pdus_deleted, daemon_module.ingest_message
    failures = {"note": 1, "ingest": 0}

    def note(self, ids):
        if failures["note"]:
            failures["note"] -= 1
            failures["ingest"] = 1  # the disk stays full for the next message too
            raise sqlite3.OperationalError("database or disk is full")
        real_note(self, ids)

    def ingest(*args, **kwargs):
        if failures["ingest"]:
            failures["ingest"] -= 1
            raise StoreError("database or disk is full")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(Store, "mark_pdus_deleted", note)
    monkeypatch.setattr(daemon_module, "ingest_message", ingest)
    story.start_daemon()
    moment = story.clock.now()
    story.sim.deliver_sms(TEXTER, "encore moi", timestamp=moment)
    story.wait_sim_empty()  # recorded and deleted; the note of the deletion failed
    # The very same bytes in the very same slot, read (so marked read) while the disk is
    # still full: read again once it is not, they are no re-read of the first text.
    story.sim.deliver_sms(TEXTER, "encore moi", timestamp=moment)
    wait_until(story, lambda: len(story.inbound()) == 2, "both texts recorded", step=5)
    assert [row["text"] for row in story.inbound()] == ["encore moi", "encore moi"]
    story.wait_sim_empty()


def test_a_modem_left_at_the_pdu_prompt_by_a_killed_daemon_is_taken_back(story):
    # What a daemon killed between AT+CMGS and its PDU leaves behind.
    with serial.Serial(story.sim.port, 115200, timeout=2) as port:
        port.write(b"AT+CMGS=20\r")
        assert port.read_until(b"> ").endswith(b"> ")

    story.start_daemon()
    story.text_arrives(TEXTER, "et maintenant ?")
    story.wait_recorded(1)
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)
