"""Hostile input against the running daemon: whatever arrives, it is kept, the SIM is
emptied, and the daemon goes on answering real senders.

The malformed PDUs and odd modem lines come from the shared corpus of real captures.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from relouphone.errors import PduError
from relouphone.ingest import MISSING_PART
from relouphone.pdu import Deliver, decode_pdu, encode_deliver
from tests.story import HOUR, Story

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MALFORMED = [json.loads(line) for line in (CORPUS / "malformed.jsonl").open(encoding="utf-8")]
TEXTER = "+33612345678"
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
    assert list(story.sent_texts()) == [TEXTER]


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
    assert running.sim.stored == {}


def test_garbage_and_absurd_lengths_on_the_line_are_survived(running):
    running.sim.noise(b"\xc3\x28\xa0\xa1\xf0\x28\x8c\xbc\x00\x00\r\n")  # invalid UTF-8, NULs
    running.sim.noise(b"Z" * 200_000)  # a line that never ends
    running.sim.noise(b"\r\n+CMGL: 1,0,,9999\r\n00\r\n")  # a header announcing the absurd
    running.sim.deliver_pdu("07" + "FF" * 4000)  # a PDU far longer than any SMS
    assert running.sim.wait_for(lambda sim: not sim.stored, 10)
    a_real_sender_is_still_answered(running)


def test_a_long_text_missing_a_part_is_recorded_after_the_timeout_and_answered(running):
    parts = encode_deliver(TEXTER, LONG_TEXT, running.clock.now())
    assert len(parts) >= 3
    for part in (parts[0], *parts[2:]):  # the second part never comes
        running.sim.deliver_pdu(part)
    assert running.sim.wait_for(lambda sim: not sim.stored, 10)
    running.settle()
    assert running.inbound() == []  # still waiting for it

    running.time_passes(running.config.storage.missing_parts_timeout + 60)
    [event] = running.wait_recorded(1)
    assert MISSING_PART in event["text"]
    assert event["missing_parts"] == 1
    running.time_passes(60)
    running.wait_sent(1)
    assert list(running.sent_texts()) == [TEXTER]

    running.sim.deliver_pdu(parts[1])  # it turns up after all: the text is filled in
    assert running.sim.wait_for(lambda sim: not sim.stored, 10)
    running.settle()
    [event] = running.inbound()
    assert (event["text"], event["missing_parts"]) == (LONG_TEXT, 0)
    running.time_passes(HOUR)
    assert len(running.sim.sent) == 1
