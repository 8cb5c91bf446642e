"""Hostile input against the running daemon: whatever arrives, it is kept, the SIM is
emptied, and the daemon goes on answering real senders.

The malformed PDUs and odd modem lines come from the shared corpus of real captures.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relouphone.errors import PduError
from relouphone.ingest import MISSING_PART
from relouphone.pdu import Deliver, decode_pdu, encode_deliver
from relouphone.simulator import engine as sim_engine
from relouphone.store import Store
from tests.story import HOUR, Story

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MALFORMED = [json.loads(line) for line in (CORPUS / "malformed.jsonl").open(encoding="utf-8")]
TEXTER = "+33612345678"
OTHER = "+33698765432"
LONG_TEXT = "".join(f"[{i:03d}] Réponds-moi, je sais que tu lis. " for i in range(10))


@pytest.fixture
def running(tmp_path, clock) -> Iterator[Story]:
    story = Story(tmp_path, clock)
    story.start_daemon()
    yield story
    story.close()


def pdu_rows(story: Story) -> list[dict]:
    with contextlib.closing(sqlite3.connect(story.config.storage.database)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM pdus ORDER BY id")]


def a_real_sender_is_still_answered(story: Story, already: int = 0) -> None:
    story.text_arrives(TEXTER, "toujours là ?")
    rows = story.wait_recorded(already + 1)
    assert rows[-1]["text"] == "toujours là ?"
    story.time_passes(HOUR)
    story.wait_sent(1)
    story.time_passes(HOUR)
    story.expect_replies(TEXTER)


def test_every_malformed_pdu_of_the_corpus_is_kept_raw_and_leaves_the_sim(running):
    entries = [e for e in MALFORMED if e["kind"] == "pdu"]
    for entry in entries:
        running.sim.deliver_pdu(entry["data"])
        assert running.sim.wait_for(lambda sim: not sim.stored, 10), entry["source"]
    running.settle()  # deletions are noted with the next commit, or when the loop idles

    rows = pdu_rows(running)
    assert [row["pdu"] for row in rows] == [entry["data"] for entry in entries]
    for entry, row in zip(entries, rows, strict=True):
        try:
            message = decode_pdu(entry["data"])
        except PduError as exc:  # what the decoder says is what the quarantine keeps
            assert (row["kind"], row["error"]) == ("undecodable", str(exc)), entry["source"]
        else:
            # A few are odd but readable: a status report, submits, one short text.
            kind = "deliver" if isinstance(message, Deliver) else message.type.lower()
            assert row["kind"] == kind, entry["source"]
        assert row["on_modem"] == 0
    assert running.sim.storage_peak[1] == 0  # the SIM never refused a message
    a_real_sender_is_still_answered(running, already=len(running.inbound()))


def test_every_odd_modem_line_of_the_corpus_is_survived(running):
    for entry in MALFORMED:
        if entry["kind"] == "line":
            running.sim.emit(entry["data"])
        elif entry["kind"] == "sequence":
            for line in entry["data"]:
                running.sim.emit(line)
    running.settle()
    assert running.daemon.ready.is_set()
    a_real_sender_is_still_answered(running, already=len(running.inbound()))


def test_odd_lines_inside_responses_are_survived(running):
    lines = [e["data"] for e in MALFORMED if e["kind"] == "line"]
    for line in lines:
        running.sim.interleave("AT+CMGR", line)
        running.text_arrives(TEXTER, "encore")
    rows = running.wait_recorded(len(lines))
    assert {row["text"] for row in rows} == {"encore"}
    running.wait_sim_empty()


def test_garbage_and_absurd_lengths_on_the_line_are_survived(running):
    running.sim.noise(b"\xc3\x28\xa0\xa1\xf0\x28\x8c\xbc\x00\x00\r\n")  # invalid UTF-8, NULs
    running.sim.noise(b"Z" * 200_000)  # a line that never ends
    running.sim.noise(b"\r\n+CMGL: 1,0,,9999\r\n00\r\n")  # a header announcing the absurd
    running.sim.deliver_pdu("07" + "FF" * 4000)  # a PDU far longer than any SMS
    running.wait_sim_empty()
    a_real_sender_is_still_answered(running)


def test_a_long_text_missing_a_part_is_recorded_after_the_timeout_and_answered(running):
    parts = encode_deliver(TEXTER, LONG_TEXT, running.clock.now())
    assert len(parts) >= 3
    for part in (parts[0], *parts[2:]):  # the second part never comes
        running.sim.deliver_pdu(part)
    running.wait_sim_empty()
    running.settle()
    assert running.inbound() == []  # still waiting for it

    running.time_passes(running.config.storage.missing_parts_timeout + 60)
    [event] = running.wait_recorded(1)
    assert MISSING_PART in event["text"]
    assert event["missing_parts"] == 1
    running.time_passes(60)
    running.wait_sent(1)
    running.expect_replies(TEXTER)

    running.sim.deliver_pdu(parts[1])  # it turns up after all: the text is filled in
    running.wait_sim_empty()
    running.settle()
    [event] = running.inbound()
    assert (event["text"], event["missing_parts"]) == (LONG_TEXT, 0)
    running.time_passes(HOUR)
    running.expect_replies(TEXTER)  # the late part changes nothing: still one reply


# -- reads answered in the odd shapes the corpus shows ---------------------------------------

Shape = Callable[[list[str]], list[str]]


def each_message(reshape: Callable[[str, str], list[str]]) -> Shape:
    """A shape for an answer of (header, PDU) line pairs, one pair at a time."""

    def shape(lines: list[str]) -> list[str]:
        return [
            line for h, p in zip(lines[::2], lines[1::2], strict=True) for line in reshape(h, p)
        ]

    return shape


@pytest.fixture
def reads_answered(monkeypatch) -> Callable[[str, Shape], None]:
    """Make the simulator answer a read command ("+CMGR", "+CMGL") in another shape.

    The simulator still keeps the SIM (slots, read marks, deletions); only the lines of its
    answer change, as one firmware's differ from another's.
    """

    def answer(command_name: str, shape: Shape) -> None:
        plain = sim_engine.HANDLERS[command_name]

        def odd(engine, command):
            lines = plain(engine, command)
            if isinstance(lines, list) and lines and len(lines) % 2 == 0:
                return shape(lines)
            return lines  # an empty slot, or AT+CMGL=?

        monkeypatch.setitem(sim_engine.HANDLERS, command_name, odd)

    return answer


def _fields(header: str) -> list[str]:
    return header.split(":", 1)[1].strip().split(",")


READ_SHAPES: dict[str, Shape] = {
    # ModemManager test_cmgr_response_generic: "+CMGR: 1,,147 07914306073011F004..."
    "header and PDU on one line": each_message(lambda h, p: [f"{h} {p}"]),
    # gammu tests/at-sms/04.dump: the PDU line ends with a stray double quote
    "a stray quote after the PDU": each_message(lambda h, p: [h, p + '"']),
    # gammu tests/at-sms/32.dump: ~330 F digits beyond the declared <length>
    "the PDU padded with FF octets": each_message(lambda h, p: [h, p + "F" * 330]),
    # python-gsmmodem#40 (Huawei): ^RSSI: 20 before the +CMGR: header
    "a ^RSSI line before the header": each_message(lambda h, p: ["^RSSI: 20", h, p]),
    # python-gsmmodem#56: +CMGR: 0,"",25
    "a quoted empty alpha": each_message(
        lambda h, p: [f'+CMGR: {_fields(h)[0]},"",{_fields(h)[-1]}', p]
    ),
    # gammu tests/at-sms/26.dump, "AT+CMGR=4" answered "+CMGR: 4,1,,151": the slot comes
    # first (these tests read slot 1, the first of an empty SIM)
    "the slot before the stat": each_message(lambda h, p: [f"+CMGR: 1,{','.join(_fields(h))}", p]),
    # gammu tests/at-sms/38.dump: +CMGR: 24
    "only the length": each_message(lambda h, p: [f"+CMGR: {_fields(h)[-1]}", p]),
    # gammu tests/at-sms/39.dump and the ZTE capture: +CMGR: ,,92
    "an empty stat": each_message(lambda h, p: [f"+CMGR: ,,{_fields(h)[-1]}", p]),
}


@pytest.mark.parametrize("shape", list(READ_SHAPES.values()), ids=list(READ_SHAPES))
def test_a_message_read_in_an_odd_shape_is_recorded_and_leaves_the_sim(
    running, reads_answered, shape
):
    reads_answered("+CMGR", shape)
    running.text_arrives(TEXTER, "lu de travers")

    [event] = running.wait_recorded(1)
    assert (event["sender"], event["text"]) == (TEXTER, "lu de travers")
    running.wait_sim_empty()
    running.settle()
    assert [(row["kind"], row["on_modem"]) for row in pdu_rows(running)] == [("deliver", 0)]
    running.time_passes(HOUR)
    running.wait_sent(1)
    running.expect_replies(TEXTER)


LIST_SHAPES: dict[str, tuple[Shape, list[str]]] = {
    # python-gsmmodem#38, D-Link DWM-156: "+CMGL: 1, 0,[...]"
    "a space after the index": (
        each_message(lambda h, p: [h.replace(",", ", ", 1), p]),
        ["premier", "second"],
    ),
    # ModemManager test_cmgl_response_pantech_multiple: the last PDU is cut short
    "the last PDU cut short": (
        lambda lines: [*lines[:-1], lines[-1][: len(lines[-1]) // 2]],
        ["premier"],
    ),
}


@pytest.mark.parametrize(("shape", "texts"), list(LIST_SHAPES.values()), ids=list(LIST_SHAPES))
def test_messages_listed_at_start_up_in_an_odd_shape_are_kept_and_leave_the_sim(
    tmp_path, clock, reads_answered, shape, texts
):
    story = Story(tmp_path, clock)
    try:
        story.text_arrives(TEXTER, "premier", notify=False)
        story.text_arrives(OTHER, "second", notify=False)
        reads_answered("+CMGL", shape)
        story.start_daemon()

        story.wait_sim_empty()
        story.settle()
        assert [row["text"] for row in story.inbound()] == texts
        rows = pdu_rows(story)
        assert len(rows) == 2  # the one cut short is in the quarantine, raw as it was read
        assert [row["on_modem"] for row in rows] == [0, 0]
        assert [row["kind"] for row in rows].count("undecodable") == 2 - len(texts)
    finally:
        story.close()


ANNOUNCEMENTS = {
    # gammu#89, #4, #590: AT+CMGR of an empty slot is a bare OK.
    "an empty slot read as a bare OK": ("ok", '+CMTI: "SM",13'),
    # What 27.005 suggests instead, and some Qualcomm firmwares do: +CMS ERROR: 321.
    "an empty slot read as error 321": ("error", '+CMTI: "SM",13'),
    # SIMCom SIM7000G (T-SIM7600X#63): no storage, index -1.
    "no slot at all": ("ok", "+CMTI: ,-1"),
}


@pytest.mark.parametrize(
    ("empty_slot_reply", "announcement"), list(ANNOUNCEMENTS.values()), ids=list(ANNOUNCEMENTS)
)
def test_a_message_announced_where_it_is_not_is_found_in_the_storage(
    tmp_path, clock, empty_slot_reply, announcement
):
    # The announced slot is empty (the Quectel EC25's +CDSI: "SM",0 of chan-quectel#75 reads
    # as a bare OK too): the storage is listed, so the message that is there is not left.
    story = Story(tmp_path, clock, empty_slot_reply=empty_slot_reply)
    try:
        story.start_daemon()
        assert story.text_arrives(TEXTER, "ailleurs", notify=False) == [1]
        story.sim.emit(announcement)

        [event] = story.wait_recorded(1)
        assert event["text"] == "ailleurs"
        story.wait_sim_empty()
        story.time_passes(HOUR)
        story.wait_sent(1)
        story.expect_replies(TEXTER)
    finally:
        story.close()


HEADER_SHAPES = {
    "the usual header": lambda lines: lines,
    **{
        name: READ_SHAPES[name]
        for name in (
            "a quoted empty alpha",
            "the slot before the stat",
            "only the length",
            "an empty stat",
        )
    },
}


@pytest.mark.parametrize("shape", list(HEADER_SHAPES.values()), ids=list(HEADER_SHAPES))
def test_an_unread_message_is_new_whatever_the_shape_of_its_header(running, reads_answered, shape):
    # README: a read message in the slot of one already stored is that same message, an
    # unread one is new even if its bytes are identical. The deletion of the first text
    # goes through on the modem but is not noted (as in test_faults' crash test).
    reads_answered("+CMGR", shape)
    moment = running.clock.now()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Store, "mark_pdus_deleted", lambda self, ids: None)
        running.sim.deliver_sms(TEXTER, "encore moi", timestamp=moment)
        running.wait_recorded(1)
        running.wait_sim_empty()
        running.settle()

    # The very same bytes land in the very same slot, unread, and are announced.
    assert running.sim.deliver_sms(TEXTER, "encore moi", timestamp=moment) == [1]
    running.wait_sim_empty()
    running.settle()
    assert [row["text"] for row in running.inbound()] == ["encore moi", "encore moi"]
