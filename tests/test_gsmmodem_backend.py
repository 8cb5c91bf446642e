"""The python-gsmmodem-new backend over a real pty: each mended library defect, shown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from relouphone import gsmmodem_backend as backend_module
from relouphone.errors import ModemError, ModemTimeout, SimPinError
from relouphone.gsmmodem_backend import GsmModemBackend, is_unsolicited
from relouphone.modem import IncomingCall, ModemLost, NewMessage

from .conftest import plain_modem


@pytest.fixture
def connect(scripted_peer) -> Iterator:
    backends: list[GsmModemBackend] = []

    def make(answer=plain_modem, **options) -> tuple[GsmModemBackend, object]:
        peer = scripted_peer(answer)
        backend = GsmModemBackend(peer.port, command_timeout=2.0, **options)
        backends.append(backend)
        backend.connect()
        return backend, peer

    yield make
    for backend in backends:
        backend.close()


def test_port_is_opened_without_hardware_flow_control(connect):
    backend, _ = connect()
    link = backend._modem.serial
    assert link.rtscts is False
    assert link.dsrdtr is False


def test_connect_sets_pdu_mode_notifications_and_caller_id(connect):
    _, peer = connect()
    for expected in (
        "ATE0",
        "AT+CMEE=1",
        "AT+CPIN?",
        "AT+CMGF=0",
        "AT+CNMI=2,1,0,0,0",
        "AT+CLIP=1",
    ):
        assert expected in peer.commands


def test_invalid_utf8_on_the_line_does_not_kill_the_reader(connect):
    backend, peer = connect()
    peer.send(b"\r\n\xff\xfe\x80 line noise \xc3\x28\r\n")
    peer.urc('+CMTI: "SM",3')
    assert backend.next_event(2.0) == NewMessage("SM", 3)
    assert backend._modem.rxThread.is_alive()
    assert backend.health().signal == 17


def test_national_caller_number_is_kept_as_given(connect):
    backend, peer = connect()
    peer.urc("RING")
    peer.urc('+CLIP: "0612345678",129,,,,0')
    assert backend.next_event(2.0) == IncomingCall(number="0612345678", ton=0)


def test_international_caller_number_carries_its_type(connect):
    backend, peer = connect()
    peer.urc("+CRING: VOICE")
    peer.urc('+CLIP: "+33612345678",145,"",128,"",0')
    assert backend.next_event(2.0) == IncomingCall(number="+33612345678", ton=1)


@pytest.mark.parametrize("clip", ['+CLIP: "",128,,,,1', '+CLIP: "",128', '+CLIP: "0612",129,,,,2'])
def test_withheld_or_unavailable_caller_has_no_number(connect, clip):
    backend, peer = connect()
    peer.urc("RING")
    peer.urc(clip)
    assert backend.next_event(2.0) == IncomingCall(number=None, ton=None)


def test_ring_without_caller_id_is_still_a_call(connect):
    backend, peer = connect()
    peer.urc("RING")
    assert backend.next_event(3.0) == IncomingCall(number=None, ton=None)


def test_unsolicited_lines_start_no_threads(connect, monkeypatch):
    backend, peer = connect()
    started = []
    real_start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    # Counted as they start: the library's threads are short-lived and would be gone again.
    monkeypatch.setattr(threading.Thread, "start", counted_start)
    for slot in range(40):
        peer.urc(f'+CMTI: "SM",{slot}')
    events = [backend.next_event(2.0) for _ in range(40)]
    assert events == [NewMessage("SM", slot) for slot in range(40)]
    assert started == []


def test_urc_inside_a_response_is_neither_lost_nor_taken_for_the_response(connect):
    def answer(command: str):
        if command == "AT+CSQ":
            return ["+CSQ: 21,99", '+CMTI: "SM",7', "^RSSI: 14", "OK"]
        return plain_modem(command)

    backend, _ = connect(answer)
    assert backend.health().signal == 21
    assert backend.next_event(1.0) == NewMessage("SM", 7)


def test_urc_between_a_stored_message_header_and_its_pdu(connect):
    pdu = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"

    def answer(command: str):
        if command == "AT+CMGR=2":
            return ["+CMGR: 0,,24", "^RSSI: 9", pdu, "OK"]
        return plain_modem(command)

    backend, _ = connect(answer)
    message = backend.read_stored("SM", 2)
    assert message is not None
    assert message.pdu == pdu


def test_empty_slot_reads_as_none(connect):
    def answer(command: str):
        if command == "AT+CMGR=4":
            return ["+CMS ERROR: 321"]
        if command == "AT+CMGR=5":
            return ["OK"]
        return plain_modem(command)

    backend, _ = connect(answer)
    assert backend.read_stored("SM", 4) is None
    assert backend.read_stored("SM", 5) is None


def test_unusable_new_message_indication_asks_for_a_rescan(connect):
    backend, peer = connect()
    peer.urc("+CMTI: ,-1")
    assert backend.next_event(2.0) == NewMessage(backend.storage, None)


def test_errors_are_translated_once_with_their_code(connect):
    def answer(command: str):
        if command == "AT+CMGD=9":
            return ["+CMS ERROR: 500"]
        return plain_modem(command)

    backend, _ = connect(answer)
    with pytest.raises(ModemError) as raised:
        backend.delete_stored("SM", 9)
    assert (raised.value.kind, raised.value.code) == ("CMS", 500)


def test_silence_is_a_modem_timeout_and_a_timeout_error(connect):
    def answer(command: str):
        if command == "AT+CSQ":
            return ""
        return plain_modem(command)

    backend, _ = connect(answer)
    backend.command_timeout = 0.3
    with pytest.raises(ModemTimeout) as raised:
        backend.health()
    assert isinstance(raised.value, TimeoutError)


def sim(*states: list[str], pin_entry: list[str] | None = None):
    """A modem whose AT+CPIN? gets each of `states` in turn (the last one repeats), and whose
    AT+CPIN=<pin> gets `pin_entry`."""
    answers = list(states)

    def answer(command: str):
        if command == "AT+CPIN?":
            return answers.pop(0) if len(answers) > 1 else answers[0]
        if command.startswith("AT+CPIN=") and pin_entry is not None:
            return pin_entry
        return plain_modem(command)

    return answer


def connecting(scripted_peer, answer, **options) -> tuple[ModemError | None, object]:
    """(the error connecting raised, or None; the peer) for a modem answering `answer`."""
    peer = scripted_peer(answer)
    backend = GsmModemBackend(peer.port, command_timeout=2.0, **options)
    try:
        backend.connect()
    except ModemError as exc:
        return exc, peer
    finally:
        backend.close()
    return None, peer


def pins_tried(peer) -> list[str]:
    return [c for c in peer.commands if c.startswith("AT+CPIN=")]


def test_wrong_pin_is_tried_exactly_once(scripted_peer):
    answer = sim(["+CPIN: SIM PIN", "OK"], pin_entry=["+CME ERROR: 16"])
    error, peer = connecting(scripted_peer, answer, pin="1234")
    assert isinstance(error, SimPinError) and "not retrying" in str(error)
    assert pins_tried(peer) == ['AT+CPIN="1234"']
    assert error.refused_pin  # so that the daemon never tries it again


def test_a_locked_sim_without_a_configured_pin_is_a_clear_error(scripted_peer):
    error, peer = connecting(scripted_peer, sim(["+CPIN: SIM PIN", "OK"]))
    assert isinstance(error, SimPinError) and "[modem] pin" in str(error)
    assert pins_tried(peer) == []


def test_a_sim_not_ready_yet_is_waited_for_and_not_taken_for_a_locked_one(
    scripted_peer, monkeypatch
):
    # Right after a boot, the answer to AT+CPIN? is "+CPIN: NOT READY", a line modems also
    # send on their own: it must be read as the answer, and waited out.
    monkeypatch.setattr(backend_module, "SIM_READY_WAIT", 0.01)
    answer = sim(["+CPIN: NOT READY", "OK"], ["+CME ERROR: 14"], ["+CPIN: READY", "OK"])
    error, peer = connecting(scripted_peer, answer)
    assert error is None
    assert peer.commands.count("AT+CPIN?") == 3


def test_a_sim_that_stays_not_ready_is_a_passing_fault_not_a_locked_sim(scripted_peer, monkeypatch):
    monkeypatch.setattr(backend_module, "SIM_READY_WAIT", 0.01)
    error, _ = connecting(scripted_peer, sim(["+CPIN: NOT READY", "OK"]))
    assert isinstance(error, ModemError) and "not ready" in str(error)
    assert not isinstance(error, SimPinError)  # the daemon reconnects, never exits


@pytest.mark.parametrize("error", ["+CME ERROR: 10", "+CME ERROR: 13", "+CMS ERROR: 310"])
def test_a_missing_or_failed_sim_is_a_clear_error(scripted_peer, error):
    raised, _ = connecting(scripted_peer, sim([error]))
    assert isinstance(raised, SimPinError) and "SIM card" in str(raised)


def test_a_plain_error_to_the_sim_query_is_a_modem_error_at_once(scripted_peer, monkeypatch):
    monkeypatch.setattr(backend_module, "SIM_READY_WAIT", 5.0)  # waiting would show
    started = time.monotonic()
    error, _ = connecting(scripted_peer, sim(["ERROR"]))
    assert isinstance(error, ModemError) and not isinstance(error, SimPinError)
    assert time.monotonic() - started < 4.0


def test_an_unplugged_modem_is_reported_as_lost(connect):
    backend, peer = connect()
    peer.close()
    deadline = time.monotonic() + 3
    event = None
    while time.monotonic() < deadline and not isinstance(event, ModemLost):
        event = backend.next_event(0.2)
    assert isinstance(event, ModemLost)


@pytest.mark.parametrize(
    ("line", "unsolicited"),
    [
        ('+CMTI: "SM",1', True),
        ("RING", True),
        ('+CLIP: "0612345678",129', True),
        ("+CLIP: 1,1", False),
        ("^RSSI: 14", True),
        ("+CSQ: 14,99", False),
        ("+CMGR: 0,,24", False),
        ("OK", False),
    ],
)
def test_which_lines_are_unsolicited(line, unsolicited):
    assert is_unsolicited(line) is unsolicited


# -- shapes of a read answer seen from real modems (../shared/corpus/malformed.jsonl) ------

PDU = "07919762020033F1240B919792956102F30000418011026315610133"  # 20 TPDU octets


def reading(answer: list[str]):
    """A backend whose every command is answered with `answer`."""
    backend = GsmModemBackend("/dev/null/never-opened")
    backend._modem.write = lambda *args, **kwargs: list(answer)
    return backend


@pytest.mark.parametrize(
    ("header", "stat"),
    [
        ("+CMGR: 1,,20", 1),
        ('+CMGR: 1,"",20', 1),
        ("+CMGR: 4,1,,20", 1),  # the slot first, then the stat
        ("+CMGR: 1,20", 1),  # no <alpha> field at all
        ("+CMGR: ,,20", 0),  # no stat: taken as unread, never as a re-read
        ("+CMGR: 20", 0),  # only the length
    ],
)
def test_the_stat_of_a_read_message_is_read_from_any_header_shape(header, stat):
    message = reading([header, PDU, "OK"]).read_stored("SM", 3)
    assert (message.stat, message.pdu) == (stat, PDU)


def test_a_pdu_on_the_header_line_is_read():
    message = reading([f"+CMGR: 1,,20 {PDU}", "OK"]).read_stored("SM", 3)
    assert message.pdu == PDU


def test_a_stray_header_line_inside_the_answer_loses_to_the_real_header():
    stray = "+CMGR: 1,,147 07914306073011F004..."
    message = reading([stray, "+CMGR: 0,,20", PDU, "OK"]).read_stored("SM", 3)
    assert (message.stat, message.pdu) == (0, PDU)


def test_a_listing_reads_the_stat_after_the_slot_whatever_the_spaces():
    [message] = reading(["+CMGL: 7, 1,,20", PDU, "OK"]).list_stored()
    assert (message.slot, message.stat, message.pdu) == (7, 1, PDU)
