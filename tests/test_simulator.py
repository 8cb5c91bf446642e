"""The modem simulator, driven as a client drives a USB modem: through a real pty with pyserial.

The engine-level tests at the end feed bytes straight into `Engine`, without a pty.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from relouphone.pdu import decode_pdu
from relouphone.simulator import ControlError, SimulatedModem, send_control
from relouphone.simulator.atparse import AtSyntaxError, Command, Kind, parse_args, split_line
from relouphone.simulator.control import serve_in_thread
from relouphone.simulator.engine import Engine
from relouphone.simulator.state import ModemOptions, tpdu_length

CORPUS = Path("/work/shared/corpus")
FINAL = re.compile(rb"\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*|NO CARRIER)\r\n|\r\n> ")


def corpus_submits() -> list[dict]:
    """SMS-SUBMIT PDUs of the corpus whose AT+CMGS length the source states."""
    path = CORPUS / "pdus.jsonl"
    if not path.exists():
        pytest.skip(f"corpus not found at {path}")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if "cmgs_length" in r["expected"]]


class Client:
    """What a daemon does with a modem port: write a command, read up to its final result."""

    def __init__(self, port: str) -> None:
        self.serial = serial.Serial(port, 115200, timeout=0.05)
        self.buffer = b""

    def close(self) -> None:
        self.serial.close()

    def write(self, data: bytes) -> None:
        self.serial.write(data)

    def _fill(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {what}, got {self.buffer!r}")
        self.buffer += self.serial.read(self.serial.in_waiting or 1)

    def read_until_final(self, timeout: float = 3.0) -> bytes:
        """Bytes up to the first final result code (or prompt); later bytes stay buffered."""
        deadline = time.monotonic() + timeout
        while (match := FINAL.search(self.buffer)) is None:
            self._fill(deadline, "a final result code")
        data, self.buffer = self.buffer[: match.end()], self.buffer[match.end() :]
        return data

    def at(self, command: str) -> list[str]:
        """Send a command; its response lines, without echo and empty lines."""
        self.write(command.encode("latin-1") + b"\r")
        raw = self.read_until_final().decode("latin-1")
        return [line for line in raw.split("\r\n") if line and line != command + "\r"]

    def lines(self, count: int, timeout: float = 3.0) -> list[str]:
        """The next `count` non-empty lines (unsolicited ones, typically)."""
        deadline = time.monotonic() + timeout
        while True:
            complete = (
                self.buffer[: self.buffer.rfind(b"\r\n") + 2] if b"\r\n" in self.buffer else b""
            )
            found = [x for x in complete.split(b"\r\n") if x]
            if len(found) >= count:
                break
            self._fill(deadline, f"{count} lines")
        taken = found[:count]
        end = self.buffer.find(taken[-1]) + len(taken[-1]) + 2
        self.buffer = self.buffer[end:]
        return [x.decode("latin-1") for x in taken]

    def silent(self, seconds: float = 0.15) -> bool:
        time.sleep(seconds)
        return self.serial.in_waiting == 0 and not self.buffer


@pytest.fixture
def sim() -> Iterator[SimulatedModem]:
    with SimulatedModem() as modem:
        yield modem


@pytest.fixture
def client(sim: SimulatedModem) -> Iterator[Client]:
    """A client with echo turned off and verbose-free numeric errors, as daemons set up."""
    client = Client(sim.port)
    assert client.at("ATE0") == ["OK"]
    yield client
    client.close()


def make_client_for(port: str) -> Client:
    client = Client(port)
    client.at("ATE0")
    return client


def make_client(modem: SimulatedModem) -> Client:
    return make_client_for(modem.port)


# -- line discipline ---------------------------------------------------------------------


def test_echo_is_on_by_default_and_ate0_turns_it_off(sim: SimulatedModem) -> None:
    client = Client(sim.port)
    try:
        client.write(b"AT\r")
        assert client.read_until_final() == b"AT\r\r\nOK\r\n"
        client.write(b"ATE0\r")
        assert client.read_until_final() == b"ATE0\r\r\nOK\r\n"
        client.write(b"AT\r")
        assert client.read_until_final() == b"\r\nOK\r\n"
    finally:
        client.close()


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n"])
def test_any_line_ending_ends_a_command(client: Client, ending: bytes) -> None:
    client.write(b"at+cgmi" + ending)
    assert client.read_until_final() == b"\r\nrelouphone\r\n\r\nOK\r\n"
    assert client.silent()  # the LF of CRLF is not a second command


def test_concatenated_commands_and_repeat(client: Client, sim: SimulatedModem) -> None:
    assert client.at("AT+CMGF=0;+CNMI=1,1,0,0,0;+CNMI?") == ["+CNMI: 1,1,0,0,0", "OK"]
    assert client.at("AT&FE0") == ["OK"]
    client.write(b"A/")
    assert client.read_until_final() == b"\r\nOK\r\n"
    assert sim.commands[-1] == "AT&FE0"


def test_a_failing_command_stops_the_line(client: Client) -> None:
    assert client.at("AT+CGMI;+NOPE;+CGMM") == ["relouphone", "ERROR"]


def test_lines_not_starting_with_at_are_ignored(client: Client) -> None:
    client.write(b"hello\r")
    assert client.silent()


def test_garbled_arguments_are_an_error_not_a_crash(client: Client) -> None:
    assert client.at('AT+CPMS="SM') == ["ERROR"]
    assert client.at("AT") == ["OK"]


# -- the command table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("AT", []),
        ("ATZ", []),
        ("AT&F", []),
        ("ATI", ["Manufacturer: relouphone", "Model: SIM-20"]),
        ("AT+CGMI", ["relouphone"]),
        ("AT+GMI", ["relouphone"]),
        ("AT+CGMM", ["SIM-20"]),
        ("AT+GMR", ["relouphone-sim 1.0"]),
        ("AT+CGSN", ["356938035643809"]),
        ("AT+CIMI", ["208019876543210"]),
        ("AT+CMEE?", ["+CMEE: 0"]),
        ("AT+CMEE=?", ["+CMEE: (0-2)"]),
        ("AT+CPIN?", ["+CPIN: READY"]),
        ("AT+CSQ", ["+CSQ: 20,99"]),
        ("AT+CREG?", ["+CREG: 0,1"]),
        ("AT+CREG=?", ["+CREG: (0-2)"]),
        ("AT+CGREG?", ["+CGREG: 0,1"]),
        ("AT+CGATT?", ["+CGATT: 1"]),
        ("AT+COPS=3,0", []),
        ("AT+COPS?", ['+COPS: 0,0,"Orange F",2']),
        ("AT+COPS=?", ['+COPS: (2,"Orange F","Orange","20801",2),,(0-4),(0-2)']),
        ("AT+CFUN?", ["+CFUN: 1"]),
        ("AT+CFUN=1", []),
        ("AT+CMGF?", ["+CMGF: 0"]),
        ("AT+CMGF=?", ["+CMGF: (0,1)"]),
        ("AT+CMGF=1", []),
        ("AT+CSCS?", ['+CSCS: "IRA"']),
        ("AT+CSCS=?", ['+CSCS: ("IRA","GSM","UCS2")']),
        ('AT+CSCS="GSM"', []),
        ("AT+CSCA?", ['+CSCA: "+33609001390",145']),
        ("AT+CSMP=17,167,0,0", []),
        ("AT+CPMS?", ['+CPMS: "SM",0,20,"SM",0,20,"SM",0,20']),
        ("AT+CPMS=?", ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")']),
        ('AT+CPMS="SM","SM","SM"', ["+CPMS: 0,20,0,20,0,20"]),
        ('AT+CPMS="ME"', ["+CPMS: 0,20,0,20,0,20"]),
        ("AT+CNMI?", ["+CNMI: 2,1,0,0,0"]),
        ("AT+CNMI=?", ["+CNMI: (0-2),(0-3),(0-3),(0-2),(0,1)"]),
        ("AT+CNMI=2,1,0,2,0", []),
        ("AT+CLIP?", ["+CLIP: 0,1"]),
        ("AT+CLIP=1", []),
        ("AT+CRC=1", []),
        ("AT+CVHU=0", []),
        ("ATH", []),
        ("AT+CHUP", []),
        ("AT+CLCC", []),
        ("AT^CURC=0", ["ERROR"]),
        ("AT+CGDCONT?", ["ERROR"]),
        ("AT+CMGS=?", []),
    ],
)
def test_command_table(client: Client, command: str, expected: list[str]) -> None:
    response = client.at(command)
    final = response[-1]
    if expected == ["ERROR"]:
        assert response == ["ERROR"]
    else:
        assert final == "OK"
        assert response[: len(expected)] == expected


def test_clac_lists_the_commands_it_knows(client: Client) -> None:
    listed = client.at("AT+CLAC")
    assert {"+CMGS", "+CMGL", "+CPMS", "+CLIP", "+CHUP"} <= set(listed)


def test_error_formats_follow_cmee(client: Client) -> None:
    assert client.at('AT+CPIN="1234"') == ["ERROR"]  # CMEE=0: plain ERROR
    assert client.at("AT+CMEE=1") == ["OK"]
    assert client.at('AT+CPIN="1234"') == ["+CME ERROR: 3"]
    assert client.at("AT+NOPE") == ["ERROR"]  # unknown commands: ERROR whatever CMEE says
    assert client.at("AT+CMEE=2") == ["OK"]
    assert client.at('AT+CPIN="1234"') == ["+CME ERROR: operation not allowed"]
    assert client.at("AT+CMGR=999") == ["+CMS ERROR: invalid memory index"]


def test_ucs2_charset_applies_to_the_smsc(client: Client) -> None:
    assert client.at('AT+CSCS="UCS2"') == ["OK"]
    (line, _) = client.at("AT+CSCA?")
    assert line == '+CSCA: "' + "+33609001390".encode("utf-16-be").hex().upper() + '",145'


# -- receiving ---------------------------------------------------------------------------


def test_delivered_sms_is_announced_listed_read_and_deleted(
    client: Client, sim: SimulatedModem
) -> None:
    assert sim.deliver_sms("+33612345678", "Bonjour, ça va ? €") == [1]
    assert client.lines(1) == ['+CMTI: "SM",1']

    header, pdu_hex, ok = client.at("AT+CMGL=0")
    assert (header, ok) == (f"+CMGL: 1,0,,{tpdu_length(pdu_hex)}", "OK")
    message = decode_pdu(pdu_hex)
    assert (message.sender.number, message.text) == ("+33612345678", "Bonjour, ça va ? €")

    assert client.at("AT+CMGL=0") == ["OK"]  # listed means read
    assert client.at("AT+CMGL=1")[0].startswith("+CMGL: 1,1,,")
    assert client.at("AT+CMGR=1")[:2] == [f"+CMGR: 1,,{tpdu_length(pdu_hex)}", pdu_hex]
    assert client.at("AT+CMGD=1") == ["OK"]
    assert sim.stored == {}
    assert client.at("AT+CMGR=1") == ["OK"]  # empty slot: bare OK by default


def test_empty_slot_can_answer_an_error() -> None:
    with SimulatedModem(empty_slot_reply="error") as modem:
        client = make_client(modem)
        try:
            assert client.at("AT+CMGR=1") == ["+CMS ERROR: 321"]
        finally:
            client.close()


def test_long_sms_takes_one_slot_per_part(client: Client, sim: SimulatedModem) -> None:
    slots = sim.deliver_sms("+33612345678", "x" * 200)
    assert slots == [1, 2]
    assert client.lines(2) == ['+CMTI: "SM",1', '+CMTI: "SM",2']
    assert len([x for x in client.at("AT+CMGL=4") if x.startswith("+CMGL:")]) == 2


def test_delete_flags(client: Client, sim: SimulatedModem) -> None:
    for _ in range(3):
        sim.deliver_sms("+33612345678", "hi", notify=False)
    client.at("AT+CMGR=2")  # read one
    assert client.at("AT+CMGD=1,1") == ["OK"]  # all read ones
    assert sorted(sim.stored) == [1, 3]
    assert client.at("AT+CMGD=1,4") == ["OK"]  # everything
    assert sim.stored == {}


def test_notification_follows_cnmi(client: Client, sim: SimulatedModem) -> None:
    client.at("AT+CNMI=0,0,0,0,0")
    sim.deliver_sms("+33612345678", "quiet")
    assert client.silent()
    client.at("AT+CNMI=2,2,0,0,0")  # direct delivery: +CMT, not stored
    sim.deliver_sms("+33612345678", "direct")
    header, pdu_hex = client.lines(2)
    assert header.startswith("+CMT: ,") and decode_pdu(pdu_hex).text == "direct"
    assert len(sim.stored) == 1


def test_malformed_pdu_is_stored_and_listed_verbatim(client: Client, sim: SimulatedModem) -> None:
    path = CORPUS / "malformed.jsonl"
    if not path.exists():
        pytest.skip(f"corpus not found at {path}")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    garbage = next(r["data"] for r in records if r["kind"] == "pdu" and "=" in r["data"])
    index = sim.deliver_pdu(garbage)
    assert client.lines(1) == [f'+CMTI: "SM",{index}']
    assert client.at(f"AT+CMGR={index}")[1] == garbage


def test_full_storage_holds_messages_until_a_slot_frees() -> None:
    with SimulatedModem(slots=3) as modem:
        client = make_client(modem)
        try:
            assert [modem.deliver_pdu(_deliver_pdu(i)) for i in range(4)] == [1, 2, 3, None]
            assert len(client.lines(3)) == 3
            assert client.at("AT+CPMS?")[0] == '+CPMS: "SM",3,3,"SM",3,3,"SM",3,3'
            assert len(modem.held) == 1
            assert client.at("AT+CMGD=2") == ["OK"]
            assert client.lines(1) == ['+CMTI: "SM",2']
            assert modem.held == []
            assert modem.stored[2] == _deliver_pdu(3)
        finally:
            client.close()


def _deliver_pdu(n: int) -> str:
    from datetime import UTC, datetime

    from relouphone.pdu import encode_deliver

    return encode_deliver("+3361234567" + str(n), f"message {n}", datetime(2024, 1, 1, tzinfo=UTC))[
        0
    ]


def test_cmgw_writes_until_memory_full(client: Client) -> None:
    pdu_hex = _deliver_pdu(0)
    for index in range(1, 21):
        client.write(f"AT+CMGW={tpdu_length(pdu_hex)}\r".encode())
        assert client.read_until_final().endswith(b"> ")
        client.write(pdu_hex.encode() + b"\x1a")
        assert client.read_until_final() == f"\r\n+CMGW: {index}\r\n\r\nOK\r\n".encode()
    client.write(f"AT+CMGW={tpdu_length(pdu_hex)}\r".encode())
    client.read_until_final()
    client.write(pdu_hex.encode() + b"\x1a")
    assert client.read_until_final() == b"\r\n+CMS ERROR: 322\r\n"


# -- sending -----------------------------------------------------------------------------


def test_cmgs_prompt_flow_records_the_message(client: Client, sim: SimulatedModem) -> None:
    record = corpus_submits()[0]
    length = record["expected"]["cmgs_length"]
    client.write(f"AT+CMGS={length}\r".encode())
    assert client.read_until_final() == b"\r\n> "
    client.write(record["pdu"].encode() + b"\x1a")
    assert client.read_until_final() == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    (sent,) = sim.sent
    assert sent.pdu == record["pdu"].upper()
    assert sent.reference == 0
    assert sent.submit.recipient.number == record["expected"]["number"]
    assert sent.submit.text == record["expected"]["text"]


@pytest.mark.parametrize("record", corpus_submits(), ids=lambda r: r["expected"]["text"][:12])
def test_every_corpus_submit_is_accepted(sim: SimulatedModem, record: dict) -> None:
    engine_reply = _engine_send(record["pdu"], record["expected"]["cmgs_length"])
    assert engine_reply.startswith("\r\n+CMGS: ")


def _engine_send(pdu_hex: str, length: int) -> str:
    engine = Engine(ModemOptions(echo=False))
    engine.feed(f"AT+CMGS={length}\r".encode(), 0.0)
    engine.feed(pdu_hex.encode() + b"\x1a", 0.0)
    return engine.take_output().decode()[len("\r\n> ") :]


def test_cmgs_rejects_a_wrong_length_and_escape_cancels(
    client: Client, sim: SimulatedModem
) -> None:
    record = corpus_submits()[0]
    length = record["expected"]["cmgs_length"]
    client.write(f"AT+CMGS={length + 1}\r".encode())
    client.read_until_final()
    client.write(record["pdu"].encode() + b"\x1a")
    assert client.read_until_final() == b"\r\n+CMS ERROR: 304\r\n"
    client.write(f"AT+CMGS={length}\r".encode())
    client.read_until_final()
    client.write(record["pdu"][:10].encode() + b"\x1b")
    assert client.read_until_final() == b"\r\nOK\r\n"
    assert sim.sent == []


def test_cmgs_failure_can_be_injected_and_echo_covers_the_pdu(sim: SimulatedModem) -> None:
    record = corpus_submits()[0]
    client = Client(sim.port)  # echo on: the PDU comes back as typed, as on real modems
    try:
        sim.fail_next_send(38)
        client.write(f"AT+CMGS={record['expected']['cmgs_length']}\r".encode())
        assert client.read_until_final().endswith(b"\r\n> ")
        client.write(record["pdu"].encode() + b"\x1a")
        reply = client.read_until_final()
        assert reply == record["pdu"].encode() + b"\r\n+CMS ERROR: 38\r\n"
        assert sim.sent == []
    finally:
        client.close()


def test_urcs_wait_while_the_client_types_a_pdu(client: Client, sim: SimulatedModem) -> None:
    record = corpus_submits()[0]
    client.write(f"AT+CMGS={record['expected']['cmgs_length']}\r".encode())
    client.read_until_final()
    sim.emit("^RSSI: 14")
    assert client.silent()
    client.write(record["pdu"].encode() + b"\x1a")
    assert client.lines(3) == ["+CMGS: 0", "OK", "^RSSI: 14"]


# -- SIM PIN -----------------------------------------------------------------------------


def test_pin_flow_counts_down_to_puk() -> None:
    with SimulatedModem(pin="1234") as modem:
        client = make_client(modem)
        try:
            client.at("AT+CMEE=1")
            assert client.at("AT+CPIN?") == ["+CPIN: SIM PIN", "OK"]
            assert client.at("AT+CIMI") == ["+CME ERROR: 11"]
            assert client.at("AT+CMGL=4") == ["+CMS ERROR: 311"]
            assert client.at('AT+CPIN="1234"') == ["OK"]
            assert client.at("AT+CPIN?") == ["+CPIN: READY", "OK"]
            assert client.at("AT+CFUN=1,1") == ["OK"]
            assert "+CPIN: SIM PIN" in client.lines(4)  # a reboot asks for the PIN again
            client.at("ATE0;+CMEE=1")
            for _ in range(3):
                assert client.at('AT+CPIN="0000"') == ["+CME ERROR: 16"]
            assert client.at("AT+CPIN?") == ["+CPIN: SIM PUK", "OK"]
            assert client.at('AT+CPIN="1234"') == ["+CME ERROR: 16"]
            assert client.at('AT+CPIN="12345678","4321"') == ["OK"]
            assert client.at("AT+CPIN?") == ["+CPIN: READY", "OK"]
        finally:
            client.close()


# -- calls -------------------------------------------------------------------------------


def test_ring_with_caller_id_and_hang_up(client: Client, sim: SimulatedModem) -> None:
    client.at("AT+CLIP=1")
    sim.ring("+33612345678")
    assert client.lines(2) == ["RING", '+CLIP: "+33612345678",145']
    assert client.at("AT+CLCC") == ['+CLCC: 1,1,4,0,0,"+33612345678",145', "OK"]
    assert client.at("ATH") == ["OK"]
    assert client.at("AT+CLCC") == ["OK"]
    (call,) = sim.calls
    assert (call.caller, call.hung_up, call.ringing) == ("+33612345678", True, False)


def test_withheld_number_and_extended_ring(client: Client, sim: SimulatedModem) -> None:
    client.at("AT+CLIP=1;+CRC=1")
    sim.ring(None)
    assert client.lines(2) == ["+CRING: VOICE", '+CLIP: "",128,,,,1']
    assert client.at("AT+CHUP") == ["OK"]
    assert sim.calls[0].hung_up


def test_repeated_rings_then_the_caller_gives_up() -> None:
    with SimulatedModem(ring_interval=0.05, call_timeout=0.3) as modem:
        client = make_client(modem)
        try:
            modem.ring("0612345678", rings=3, validity=0)
            assert client.lines(4) == ["RING"] * 3 + ["NO CARRIER"]
            assert modem.calls[0].missed and not modem.calls[0].hung_up
            assert modem.calls[0].rings == 3
        finally:
            client.close()


def test_answering_without_a_call_is_no_carrier(client: Client) -> None:
    assert client.at("ATA") == ["NO CARRIER"]


# -- unsolicited lines -------------------------------------------------------------------


def test_interleave_puts_a_line_inside_the_next_matching_response(
    client: Client, sim: SimulatedModem
) -> None:
    sim.deliver_sms("+33612345678", "hi", notify=False)
    sim.interleave("AT+CMGR", "^RSSI: 14")
    header, urc, pdu_hex, ok = client.at("AT+CMGR=1")
    assert (urc, ok) == ("^RSSI: 14", "OK")
    assert header.startswith("+CMGR: 0,,") and decode_pdu(pdu_hex).text == "hi"
    assert len(client.at("AT+CMGR=1")) == 3  # only once


def test_emit_pushes_any_line(client: Client, sim: SimulatedModem) -> None:
    sim.emit("+CMTI: ,-1")
    assert client.lines(1) == ["+CMTI: ,-1"]


def test_reboot_emits_boot_lines_and_resets_settings(client: Client) -> None:
    client.at("AT+CMEE=1")
    assert client.at("AT+CFUN=1,1") == ["OK"]
    assert client.lines(4) == ["RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready"]
    client.write(b"AT+CMEE?\r")
    assert client.read_until_final() == b"AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"


# -- the port ----------------------------------------------------------------------------


def test_port_can_be_closed_and_reopened(sim: SimulatedModem) -> None:
    for _ in range(3):
        client = Client(sim.port)
        try:
            assert client.at("AT") in (["OK"], ["AT", "OK"])
        finally:
            client.close()


def test_symlink_points_at_the_port_and_goes_away(tmp_path: Path) -> None:
    link = tmp_path / "ttyGSM"
    with SimulatedModem(symlink=str(link)) as modem:
        assert modem.port == str(link)
        assert os.path.realpath(link).startswith("/dev/pts/")
        client = make_client(modem)
        assert client.at("AT") == ["OK"]
        client.close()
    assert not link.exists()


def test_paced_output_takes_line_time() -> None:
    with SimulatedModem(link_baudrate=9600, echo=False) as modem:
        client = Client(modem.port)
        try:
            started = time.monotonic()
            size = sum(len(x) + 2 for x in client.at("AT+CLAC"))
            assert time.monotonic() - started >= 0.8 * size / 960
        finally:
            client.close()


def test_idle_simulator_uses_no_cpu(sim: SimulatedModem) -> None:
    before = os.times()
    time.sleep(0.3)
    after = os.times()
    assert (after.user + after.system) - (before.user + before.system) < 0.05


def test_wait_for_times_out_and_wakes_up(sim: SimulatedModem) -> None:
    assert not sim.wait_for(lambda m: bool(m.stored), timeout=0.05)
    sim.deliver_sms("+33612345678", "hi")
    assert sim.wait_for(lambda m: bool(m.stored), timeout=1)


# -- control socket ----------------------------------------------------------------------


def test_control_socket_injects_and_reports(sim: SimulatedModem, tmp_path: Path) -> None:
    control = str(tmp_path / "control.sock")
    server, thread = serve_in_thread(sim, control)
    try:
        assert send_control(control, {"sms": {"from": "+33612345678", "text": "Salut"}}) == {
            "ok": True,
            "slots": [1],
        }
        assert send_control(control, {"call": {"from": None}}) == {"ok": True}
        assert sim.calls[0].caller is None
        assert send_control(control, {"sent": {}}) == {"ok": True, "sent": []}
        with pytest.raises(ControlError, match="unknown command"):
            send_control(control, {"dance": {}})
    finally:
        server.shutdown()
        thread.join()
        server.close()
    with pytest.raises(ControlError):
        send_control(control, {"sent": {}})


# -- engine and parser, without a pty ----------------------------------------------------


def test_split_line() -> None:
    assert split_line('AT&FE0+CMGF=0;+CPMS="SM","ME";+CNMI?') == [
        Command("&F", Kind.EXEC),
        Command("E", Kind.SET, "0"),
        Command("+CMGF", Kind.SET, "0"),
        Command("+CPMS", Kind.SET, '"SM","ME"'),
        Command("+CNMI", Kind.READ),
    ]
    assert split_line("at+cnmi=?") == [Command("+CNMI", Kind.TEST)]
    assert split_line("ATS0=1") == [Command("S0", Kind.SET, "1")]
    with pytest.raises(AtSyntaxError):
        split_line("AT?")


def test_parse_args() -> None:
    assert parse_args('"SM", 2,,"a,b"') == ["SM", "2", None, "a,b"]
    assert parse_args("") == []


def test_engine_without_a_pty() -> None:
    engine = Engine(ModemOptions(echo=False))
    engine.feed(b"AT+CPMS?\r", 0.0)
    assert engine.take_output() == b'\r\n+CPMS: "SM",0,20,"SM",0,20,"SM",0,20\r\n\r\nOK\r\n'
    engine.feed(b"AT+CFUN=1,1\rAT\r", 1.0)
    assert engine.take_output() == b"\r\nOK\r\n"  # deaf while rebooting
    assert engine.next_deadline() == pytest.approx(1.3)
    engine.tick(1.3)
    assert engine.take_output().startswith(b"\r\nRDY\r\n")


def test_tpdu_length() -> None:
    assert tpdu_length("07913366003051F5040B913366304381F900005180719120348004D4F29C0E") == 23
    assert tpdu_length("00" + "11" * 10) == 10
    assert tpdu_length("zz") == 1


def test_serve_runs_standalone_until_sigterm(tmp_path: Path) -> None:
    control = str(tmp_path / "control.sock")
    link = tmp_path / "ttyGSM"
    code = f"from relouphone.simulator import serve; serve({str(link)!r}, {control!r}, slots=5)"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().decode().strip() == str(link)
        client = make_client_for(str(link))
        try:
            reply = send_control(control, {"sms": {"from": "+33612345678", "text": "Salut"}})
            assert reply == {"ok": True, "slots": [1]}
            assert client.lines(1) == ['+CMTI: "SM",1']
            assert client.at("AT+CPMS?")[0] == '+CPMS: "SM",1,5,"SM",1,5,"SM",1,5'
        finally:
            client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert not link.exists() and not os.path.exists(control)


# -- faults, as tests inject them --------------------------------------------------------


def test_a_hung_modem_answers_nothing(sim: SimulatedModem, client: Client) -> None:
    sim.hang()
    client.write(b"AT\r")
    assert client.silent()
    sim.recover()
    assert client.at("AT") == ["OK"]


def test_a_hung_modem_still_obeys_a_reset_if_resettable(
    sim: SimulatedModem, client: Client
) -> None:
    sim.hang()
    client.write(b"AT+CFUN=1,1\r")
    assert client.lines(4) == ["RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready"]
    assert client.at("AT") == ["OK"]


def test_a_deaf_modem_ignores_even_a_reset(sim: SimulatedModem, client: Client) -> None:
    sim.hang(resettable=False)
    client.write(b"AT+CFUN=1,1\r")
    assert client.silent(0.5)  # longer than the reboot would take


def test_without_network_registration_is_lost_and_sending_refused(
    sim: SimulatedModem, client: Client
) -> None:
    client.at("AT+CMEE=1")
    sim.set_network(False)
    assert client.at("AT+CREG?") == ["+CREG: 0,0", "OK"]
    assert client.at("AT+CMGS=20") == ["+CMS ERROR: 331"]
    sim.set_network(True)
    assert client.at("AT+CREG?") == ["+CREG: 0,1", "OK"]


def test_a_slow_modem_answers_late(sim: SimulatedModem, client: Client) -> None:
    sim.slow(0.3)
    started = time.monotonic()
    assert client.at("AT") == ["OK"]
    assert time.monotonic() - started >= 0.3


def test_an_injected_failure_hits_the_next_matching_command_only(
    sim: SimulatedModem, client: Client
) -> None:
    client.at("AT+CMEE=1")
    sim.fail_next("+CMGR", cms=500)
    sim.fail_next("+CSQ", cme=100)
    assert client.at("AT") == ["OK"]
    assert client.at("AT+CMGR=1") == ["+CMS ERROR: 500"]
    assert client.at("AT+CSQ") == ["+CME ERROR: 100"]
    assert client.at("AT+CSQ")[-1] == "OK"


def test_noise_reaches_the_client_as_is(sim: SimulatedModem, client: Client) -> None:
    sim.noise(b"\xff\x00junk\r\n")
    deadline = time.monotonic() + 2
    while b"junk" not in client.buffer:
        client._fill(deadline, "the noise")
    assert client.buffer.startswith(b"\xff\x00junk\r\n")


def test_an_unplugged_modem_comes_back_at_the_same_path_with_its_sim(tmp_path: Path) -> None:
    link = str(tmp_path / "ttyMODEM")
    with SimulatedModem(symlink=link) as sim:
        sim.deliver_sms("+33612345678", "gardé sur la SIM", notify=False)
        client = Client(link)
        sim.unplug()
        assert not Path(link).exists()
        with pytest.raises(serial.SerialException):
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                client.serial.read(1)
        client.close()

        sim.replug()
        client = Client(link)
        try:
            assert client.lines(4) == ["RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready"]
            assert client.at("AT+CMGF=0") == ["OK"]
            assert client.at("AT+CMGL=4")[0].startswith("+CMGL: 1,")
        finally:
            client.close()


def test_faults_can_be_played_through_the_control_socket(
    sim: SimulatedModem, client: Client, tmp_path: Path
) -> None:
    control = str(tmp_path / "control.sock")
    server, thread = serve_in_thread(sim, control)
    try:
        assert send_control(control, {"fault": {"kind": "hang"}}) == {"ok": True}
        client.write(b"AT\r")
        assert client.silent()
        send_control(control, {"fault": {"kind": "recover"}})
        send_control(control, {"fault": {"kind": "network", "available": False}})
        assert client.at("AT+CREG?") == ["+CREG: 0,0", "OK"]
        sim.deliver_sms("+33612345678", "Salut", notify=False)
        assert list(send_control(control, {"stored": {}})["stored"]) == ["1"]
        with pytest.raises(ControlError, match="unknown fault"):
            send_control(control, {"fault": {"kind": "explode"}})
    finally:
        server.shutdown()
        thread.join()
        server.close()
