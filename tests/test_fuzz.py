"""Fuzzing: whatever a modem or a noisy serial line hands over, the decoder, ingestion and the
line reader answer with a result or their own error, never a crash, and lose nothing that
was well formed.

The strategies live in tests/fuzzing.py. Here each property runs a few hundred examples;
scripts/fuzz.py runs the same tests with hundreds of thousands (RELOUPHONE_FUZZ_EXAMPLES).
The defects the fuzzer found are pinned, fixed, by the examples at the end.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from relouphone import gsm7
from relouphone.errors import ModemError, PduError
from relouphone.gsmmodem_backend import (
    MAX_LINE_BYTES,
    GsmModemBackend,
    _MendedGsmModem,
    is_unsolicited,
)
from relouphone.ingest import Outcome, ReplyRule, ingest_incomplete, ingest_message
from relouphone.modem import (
    IncomingCall,
    ModemHealth,
    ModemLost,
    NewMessage,
    StoredMessage,
)
from relouphone.pdu import (
    Concat,
    Deliver,
    StatusReport,
    Submit,
    decode_pdu,
    encode_deliver,
    encode_submit,
    plan_text,
    reassemble,
)
from relouphone.store import Store

from . import fuzzing


def fuzz_settings(examples: int) -> settings:
    """`examples` under pytest; scripts/fuzz.py asks for more through the environment."""
    wanted = os.environ.get("RELOUPHONE_FUZZ_EXAMPLES")
    return settings(
        max_examples=int(wanted) if wanted else examples,
        database=None if wanted else settings.default.database,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


NO_PORT = "/dev/null/never-opened"  # constructing a backend does not open its port
NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)  # past any missing-parts timeout, within the late-part window
RULE = ReplyRule(text="Ce numéro ne répond pas.", delay=3600)
EVENTS = (NewMessage, IncomingCall, ModemLost)
octets = st.integers(0, 255)


# ------------------------------------------------------------------------------- decoding


def decoded_or_refused(pdu: str, **options: Any) -> Deliver | Submit | StatusReport | PduError:
    """The message, or the PduError that refused it; any other exception escapes."""
    try:
        return decode_pdu(pdu, **options)
    except PduError as refusal:
        return refusal


def assert_well_formed(message: Deliver | Submit | StatusReport) -> None:
    assert isinstance(message, Deliver | Submit | StatusReport)
    if isinstance(message, StatusReport):
        assert message.timestamp.tzinfo is not None and message.discharge.tzinfo is not None
        return
    address = message.sender if isinstance(message, Deliver) else message.recipient
    assert isinstance(address.number, str)
    # Text is a str for an alphabet, None for data; the data octets are always there.
    assert isinstance(message.text, str) == (message.encoding != "8bit")
    assert isinstance(message.data, bytes)
    concat = message.concat
    assert concat is None or 1 <= concat.seq <= concat.total


@given(fuzzing.pdu_strings, st.booleans())
@fuzz_settings(400)
def test_any_pdu_decodes_to_a_message_or_raises_pdu_error(pdu, smsc_included):
    message = decoded_or_refused(pdu, smsc_included=smsc_included)
    if not isinstance(message, PduError):
        assert_well_formed(message)


@given(fuzzing.structured_pdus)
@fuzz_settings(300)
def test_case_quotes_and_surrounding_whitespace_do_not_change_a_decoding(pdu):
    plain = decoded_or_refused(pdu)
    sloppy = decoded_or_refused(f' "{pdu.swapcase()}"\r\n')
    if isinstance(plain, PduError):
        assert isinstance(sloppy, PduError)
    else:
        assert sloppy == plain


def joined_text(messages: Iterable[Deliver | Submit]) -> str:
    return reassemble((m.concat.seq if m.concat else 1, m.text or "") for m in messages)


@given(
    fuzzing.phone_numbers,
    fuzzing.message_texts,
    octets,
    octets,
    st.booleans(),
    st.one_of(st.none(), octets),
)
@fuzz_settings(200)
def test_what_encode_submit_writes_decodes_back_field_for_field(
    number, text, reference, concat_ref, report, validity
):
    pdus = encode_submit(
        number,
        text,
        reference=reference,
        concat_ref=concat_ref,
        request_status_report=report,
        validity=validity,
    )
    messages = [decode_pdu(pdu.hex, incoming=False) for pdu in pdus]
    assert joined_text(messages) == text
    for seq, (pdu, message) in enumerate(zip(pdus, messages, strict=True), start=1):
        assert pdu.tpdu_length == len(bytes.fromhex(pdu.hex)) - 1
        assert (message.recipient.number, message.reference) == (number, reference)
        assert (message.status_report_requested, message.validity) == (report, validity)
        if len(pdus) > 1:
            assert message.concat == Concat(ref=concat_ref, total=len(pdus), seq=seq, ref_bits=8)


@given(
    st.one_of(fuzzing.phone_numbers, fuzzing.alphanumeric_senders),
    fuzzing.message_texts,
    fuzzing.scts_moments,
    st.one_of(st.none(), fuzzing.phone_numbers),
    st.sampled_from((None, "gsm7", "ucs2", "8bit")),
)
@fuzz_settings(200)
def test_what_encode_deliver_writes_decodes_back_field_for_field(
    sender, text, moment, smsc, encoding
):
    assume(encoding != "gsm7" or gsm7.is_gsm7(text))
    messages = [
        decode_pdu(pdu, incoming=True)
        for pdu in encode_deliver(sender, text, moment, smsc=smsc, encoding=encoding)
    ]
    if encoding == "8bit":
        assert all(message.text is None for message in messages)
        ordered = sorted(messages, key=lambda m: m.concat.seq if m.concat else 1)
        assert b"".join(message.data for message in ordered) == text.encode()
    else:
        assert joined_text(messages) == text
        assert {m.encoding for m in messages} == {encoding or plan_text(text).encoding}
    for message in messages:
        assert (message.sender.number, message.smsc) == (sender, smsc)
        assert message.timestamp == moment
        assert message.timestamp.utcoffset() == moment.utcoffset()


# ------------------------------------------------------------------------------ ingestion


def assert_recorded(store: Store, pdu: str, outcome: Outcome) -> None:
    """The outcome agrees with what the decoder makes of the PDU, which is kept verbatim."""
    row = store.db["pdus"].get(outcome.pdu_id)
    assert row["pdu"] == pdu
    message = decoded_or_refused(pdu)
    if isinstance(message, PduError):
        assert outcome.kind == "quarantined"
        assert (row["kind"], row["error"]) == ("undecodable", str(message))
    elif not isinstance(message, Deliver):
        assert (outcome.kind, row["kind"]) == ("other", message.type.lower())
    elif message.concat is None or message.concat.total == 1:
        assert (outcome.kind, outcome.text) == ("sms", message.text)
    else:
        assert outcome.kind in ("sms", "part", "late part")
    if outcome.kind == "sms":
        assert store.db["inbound"].get(outcome.inbound_id)["kind"] == "sms"


# A RAM disk where there is one: the same database file in WAL mode, without the fsync of
# every commit, which would make the fuzzer's hundreds of thousands of stores take hours.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None


@contextlib.contextmanager
def fresh_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as directory:
        store = Store(Path(directory) / "fuzz.db")
        try:
            yield store
        finally:
            store.close()


def ingest_all(store: Store, pdus: list[str], now: datetime, first_slot: int = 0) -> None:
    for slot, pdu in enumerate(pdus, start=first_slot):
        message = StoredMessage(storage="SM", slot=slot, stat=0, pdu=pdu)
        assert_recorded(store, pdu, ingest_message(store, message, now, RULE))


@given(st.lists(fuzzing.stored_pdus, min_size=1, max_size=6))
@fuzz_settings(100)
def test_any_stored_pdu_is_recorded_as_a_message_a_part_or_kept_raw(pdus):
    with fresh_store() as store:
        ingest_all(store, pdus, NOW)


@given(
    st.lists(fuzzing.stored_pdus, min_size=1, max_size=6),
    st.lists(fuzzing.stored_pdus, max_size=4),
)
@fuzz_settings(100)
def test_parts_that_never_complete_are_recorded_as_they_are_and_late_ones_fill_in(pdus, late_pdus):
    with fresh_store() as store:
        ingest_all(store, pdus, NOW)
        for group in store.stale_part_groups(NOW):
            outcome = ingest_incomplete(store, group, LATER, RULE)
            assert outcome is None or outcome.kind == "sms"
        assert store.stale_part_groups(NOW) == []
        ingest_all(store, late_pdus, LATER, first_slot=len(pdus))


# ---------------------------------------------------------------------------- line reader


def read(chunks: Iterable[bytes], state: str = "idle") -> tuple[list[str], list[str]]:
    """Feed `chunks` to the reader as its read loop does; (queued lines, response lines).

    `state`: "idle", "waiting" for a command's response, or "prompting" for one that ends
    on the "> " prompt (AT+CMGS).
    """
    lines: queue.Queue = queue.Queue()
    modem = _MendedGsmModem(NO_PORT, 115200, lines)
    if state != "idle":
        modem._response, modem._responseEvent = [], threading.Event()
    if state == "prompting":
        modem._expectResponseTermSeq = bytearray(b"> ")
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        modem._consume(buffer)
        # What stays between reads is bounded: at most MAX_LINE_BYTES + a read in memory.
        assert len(buffer) <= MAX_LINE_BYTES
    queued = [lines.get_nowait() for _ in range(lines.qsize())]
    return queued, list(modem._response or [])


@given(fuzzing.marked_streams, st.sampled_from(("idle", "waiting", "prompting")))
@fuzz_settings(200)
def test_every_unsolicited_line_between_line_ends_is_queued_exactly_once(stream, state):
    queued, _ = read(stream.chunks, state)
    assert all(isinstance(line, str) and line and "\r\n" not in line for line in queued)
    for marker in stream.markers:
        assert queued.count(marker) == 1, (marker, queued)


def lines_fit(data: bytes) -> bool:
    return all(len(line) < MAX_LINE_BYTES for line in data.split(b"\r\n"))


@given(fuzzing.short_line_streams)
@fuzz_settings(200)
def test_how_a_stream_is_cut_into_reads_does_not_change_its_lines(stream):
    # Lines too long to keep are dropped wherever a read ends: that depends on the cuts.
    assume(lines_fit(stream.data))
    assert read(stream.chunks) == read([stream.data])


@given(st.lists(fuzzing.modem_lines, max_size=10))
@fuzz_settings(300)
def test_any_line_from_the_modem_is_an_event_or_nothing(lines):
    backend = GsmModemBackend(NO_PORT)
    for line in lines:
        assert isinstance(is_unsolicited(line), bool)
        event = backend._parse_unsolicited(line)
        assert event is None or isinstance(event, EVENTS)


def answering(response: list[str]) -> GsmModemBackend:
    """A backend whose every command gets `response`, as python-gsmmodem's write returns it."""
    backend = GsmModemBackend(NO_PORT)
    backend._modem.write = lambda *args, **kwargs: list(response)
    return backend


def result_or_modem_error(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ModemError as error:
        return error


@given(fuzzing.command_responses)
@fuzz_settings(250)
def test_any_answer_to_a_command_is_a_result_or_a_modem_error(response):
    backend = answering(response)
    [pdu] = encode_submit("+33612345678", "Ce numéro ne répond pas.")

    listed = result_or_modem_error(backend.list_stored)
    assert isinstance(listed, ModemError) or all(
        isinstance(m, StoredMessage) and isinstance(m.pdu, str) for m in listed
    )
    read_back = result_or_modem_error(lambda: backend.read_stored("SM", 1))
    assert read_back is None or isinstance(read_back, StoredMessage | ModemError)
    health = result_or_modem_error(backend.health)
    assert isinstance(health, ModemHealth | ModemError)
    refs = result_or_modem_error(lambda: backend.send([pdu]))
    assert isinstance(refs, ModemError) or all(isinstance(ref, int) for ref in refs)


# ------------------------------------------------------------- the strategies reach deep


def reaches_all(strategy: st.SearchStrategy, goals: dict[str, Callable[[Any], bool]]) -> set[str]:
    """The goals no example of `strategy` met within a few thousand examples."""
    missing = set(goals)

    def met_the_last(example: Any) -> bool:
        missing.difference_update([goal for goal in missing if goals[goal](example)])
        return not missing

    with contextlib.suppress(NoSuchExample):
        find(strategy, met_the_last, settings=settings(max_examples=3000, database=None))
    return missing


PDU_GOALS = {
    "a concatenated part": lambda m: isinstance(m, Deliver) and m.concat is not None,
    "a UCS-2 text": lambda m: isinstance(m, Deliver) and m.encoding == "ucs2",
    "an alphanumeric sender": lambda m: isinstance(m, Deliver) and m.sender.ton == 5,
    "a submit with a validity": lambda m: isinstance(m, Submit) and m.validity is not None,
    "a status report": lambda m: isinstance(m, StatusReport),
    "a refusal past the SMSC": lambda m: isinstance(m, PduError) and "SMSC" not in str(m),
}


def test_structured_pdus_reach_deep_into_the_decoder():
    decodings = fuzzing.structured_pdus.map(decoded_or_refused)
    assert reaches_all(decodings, PDU_GOALS) == set()


STREAM_GOALS = {
    "a line too long to keep": lambda s: not lines_fit(s.data),
    "several unsolicited lines": lambda s: len(s.markers) > 2,
    "a CRLF split between reads": lambda s: any(c.endswith(b"\r") for c in s.chunks[:-1]),
    "many reads": lambda s: len(s.chunks) > 50,
}


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_streams_hold_overlong_lines_and_are_cut_every_way():
    assert reaches_all(fuzzing.marked_streams, STREAM_GOALS) == set()


# ------------------------------------------------------ what the fuzzer found, fixed


def test_a_line_end_split_just_after_an_overlong_run_leaves_the_next_line_whole():
    # The run is dropped with the CR that ends it; the LF, read next, heads the next line.
    chunks = [b"x" * MAX_LINE_BYTES + b"\r", b'\n+CMTI: "SM",3\r\n']
    assert read(chunks) == (['+CMTI: "SM",3'], [])


ABSURD = "9" * (fuzzing.MAX_INT_DIGITS + 1)


@pytest.mark.parametrize("line", [f'+CMTI: "SM",{ABSURD}', f'+CLIP: "0612345678",{ABSURD}'])
def test_an_absurdly_long_number_in_an_unsolicited_line_is_no_crash(line):
    assert isinstance(GsmModemBackend(NO_PORT)._parse_unsolicited(line), EVENTS)


@pytest.mark.parametrize(
    "response",
    [
        [f"+CMS ERROR: {ABSURD}"],
        [f"+CMGL: {ABSURD},0,,24", "0011000B913316325476F80000A700", "OK"],
        [f"+CSQ: {ABSURD},99", "OK"],
    ],
)
def test_an_absurdly_long_number_in_an_answer_is_no_crash(response):
    backend = answering(response)
    for call in (backend.list_stored, backend.health):
        result_or_modem_error(call)


@pytest.mark.parametrize("line", ["+CMGL: 1,0,,²", "+CSQ: 17,①"])
def test_a_digit_that_is_no_decimal_digit_in_a_listing_is_no_crash(line):
    assert isinstance(answering([line, "OK"]).list_stored(), list)


def test_a_signal_line_without_a_number_is_no_crash():
    assert isinstance(answering(["+CSQ: ", "OK"]).health(), ModemHealth)
