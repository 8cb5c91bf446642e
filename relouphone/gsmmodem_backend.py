"""The modem backend over python-gsmmodem-new: the only module that imports `gsmmodem`.

We keep the library's serial machinery (its reader thread and its command/response
pairing) and mend, here and nowhere else, the defects of version 0.13.0 that would lose
messages or deafen a modem. Each is named where it is mended, with the test that shows it:

1. Its reader decodes every line strictly as UTF-8 and its thread dies silently on one bad
   byte, so every later message is lost while the process looks alive.
   -> `_readLoop` decodes leniently and reports any failure as `ModemLost`.
   (tests/test_gsmmodem_backend.py::test_invalid_utf8_on_the_line_does_not_kill_the_reader)
2. It forces RTS/CTS and DSR/DTR flow control, which leaves modems without those lines deaf.
   -> `_open_link` opens the port with flow control off.
   (test_port_is_opened_without_hardware_flow_control)
3. It prefixes "+" to national caller numbers (06... becomes +06...).
   -> `_parse_clip` keeps the number as given, with its type of address.
   (test_national_caller_number_is_kept_as_given)
4. It does not reassemble multipart messages and 5. does not read messages already stored
   at connect: we never use its SMS handling; the daemon gets raw PDUs from `list_stored`
   and `read_stored` and reassembles them itself (tests/test_daemon.py).
6. It starts a thread per unsolicited line and deletes a stored SMS as soon as its callback
   returns. -> unsolicited lines go to one queue that the daemon's single loop drains; a
   message is deleted only when the daemon asks, after its commit.
   (test_unsolicited_lines_start_no_threads)
Also mended: its `write` sleeps and retries recursively on some errors, so we ask it not
to parse errors and translate the final line ourselves, once, into our error tree; and it
treats unsolicited lines that arrive inside a command's response as part of the response
(`_handleLineRead`).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time

import serial
from gsmmodem.exceptions import TimeoutException
from gsmmodem.modem import GsmModem

from .errors import ModemError, ModemTimeout, SendUncertain, SimPinError
from .modem import (
    UNREAD,
    Event,
    IncomingCall,
    ModemHealth,
    ModemLost,
    NewMessage,
    StoredMessage,
)
from .pdu import EncodedPdu

__all__ = ["GsmModemBackend", "is_unsolicited"]

log = logging.getLogger(__name__)

CTRL_Z = "\x1a"
MAX_LINE_BYTES = 65536
# A SIM that just booted or took its PIN says NOT READY (or SIM busy) for a few seconds.
SIM_READY_CHECKS = 10
SIM_READY_WAIT = 1.0
_SIM_SETTLING = frozenset({"NOT READY", "SIM BUSY", "UNKNOWN"})
_SIM_BUSY = {"CME": 14, "CMS": 314}
# No usable SIM at all: nothing to wait for, and nothing a retry could fix.
_SIM_ABSENT = {
    ("CME", 10): "no SIM card in the modem",
    ("CMS", 310): "no SIM card in the modem",
    ("CME", 13): "the SIM card has failed",
    ("CMS", 313): "the SIM card has failed",
    ("CME", 15): "the SIM card is not one this modem accepts",
    ("CMS", 315): "the SIM card is not one this modem accepts",
}
# A RING with no +CLIP after this long is a call without caller ID.
CLIP_GRACE_SECONDS = 1.0
# 5 ms is about 57 characters at 115200 baud: a line's worth to read in one turn rather
# than a turn every few bytes (CPU halves on a slow line), and too short to notice.
PARTIAL_LINE_WAIT = 0.005
# After ESC at connect: long enough for a modem at a prompt to answer, short for start-up.
PROMPT_ESCAPE_WAIT = 0.1

# Lines a modem sends on its own, which may arrive in the middle of a command's response.
# +CLIP is unsolicited only with a quoted number: "+CLIP: 1,1" answers AT+CLIP?.
_UNSOLICITED = re.compile(
    r'^(\+CMTI:|\+CDSI:|\+CRING:|RING$|\+CLIP:\s*"|\^RSSI:|\^HCSQ:|\^BOOT:|\^MODE:|\^SRVST:'
    r"|\^SIMST:|\^SYSSTART|\^DSFLOWRPT:|\^CEND:|\^ORIG:|\^CONF:|\^CONN:|\^STIN:|\+CUSD:"
    r"|\+PBREADY|\+QIND:|\*PSUTTZ:|\+CIEV:|\+CTZV:|RDY$|\+CPIN: NOT READY|SMS Ready|Call Ready)"
)
# What a modem says as it boots: it restarted on its own (brown-out, firmware crash) and
# forgot our settings (PDU mode, notifications, caller ID), and its SIM may want the PIN.
_BOOT = re.compile(r"^(RDY|\^SYSSTART|\+CPIN: NOT READY)$")
# Numbers are ASCII digits (re.ASCII: \\d would take any script's digits) and a few at most:
# a hostile or garbled line may hold thousands, which int() refuses beyond 4300.
MAX_NUMBER_DIGITS = 9
_NUMBER = rf"(\d{{1,{MAX_NUMBER_DIGITS}}})(?!\d)"
_CMTI = re.compile(rf'^\+CMTI:\s*"?([A-Z]{{2}})"?\s*,\s*{_NUMBER}', re.ASCII)
_CLIP = re.compile(rf'^\+CLIP:\s*"([^"]*)"\s*,\s*{_NUMBER}(.*)$', re.ASCII)
# A query (AT+CPIN?): only its answer can look like a line the modem sends on its own.
_EXTENDED_QUERY = re.compile(r"^AT([+^][A-Za-z]+)\?$", re.ASCII)
_CLIP_NUMBER = re.compile(r'^\+CLIP:\s*"([^"]*)"')
# The code may be missing or unreadable: an error all the same, of no known code.
_FINAL_ERROR = re.compile(rf"^\+CM([ES]) ERROR:\s*(?:{_NUMBER})?", re.ASCII)
_CMGL = re.compile(rf"^\+CMGL:\s*{_NUMBER}\s*,", re.ASCII)
_CMGR = re.compile(r"^\+CMGR:")
_NUMBERS = re.compile(r"\d+", re.ASCII)
_REGISTRATION = {
    0: "not registered",
    1: "registered (home)",
    2: "searching",
    3: "registration denied",
    4: "unknown",
    5: "registered (roaming)",
}


def is_unsolicited(line: str) -> bool:
    """Whether a line is one the modem sends on its own rather than in answer to a command."""
    return bool(_UNSOLICITED.match(line))


class _MendedGsmModem(GsmModem):
    """python-gsmmodem-new's modem with its reader and notification handling mended."""

    def __init__(self, port: str, baudrate: int, lines: queue.Queue) -> None:
        super().__init__(port, baudrate)
        self._lines = lines
        self.link_failure: str | None = None
        # What the answer to the pending command starts with ("+CPIN:" for AT+CPIN?): such
        # a line is the answer even if the modem may also send it on its own.
        self.answer_prefix: str | None = None

    def _open_link(self) -> None:
        """Defect 2: open without RTS/CTS or DSR/DTR flow control, which many modems lack."""
        self.serial = serial.serial_for_url(
            self.port,
            baudrate=self.baudrate,
            timeout=self.timeout,
            rtscts=False,
            dsrdtr=False,
        )
        self.alive = True
        self.link_failure = None
        self.rxThread = _reader_thread(self._readLoop)

    def _readLoop(self) -> None:
        """Defect 1: decode leniently, read what is waiting at once, and never die silently."""
        buffer = bytearray()
        try:
            while self.alive:
                chunk = self.serial.read(self.serial.in_waiting or 1)
                if len(chunk) == 1 and self.serial.in_waiting:
                    # The byte that ended the wait came with others: take them in the same
                    # turn rather than one more turn of this loop (and its sleep) later.
                    chunk += self.serial.read(self.serial.in_waiting)
                if chunk:
                    buffer += chunk
                    self._consume(buffer)
                if buffer:
                    # Half a line: the rest is on the wire. On a slow serial line bytes
                    # trickle in one by one; waiting a moment reads them in one go
                    # instead of one loop per byte.
                    time.sleep(PARTIAL_LINE_WAIT)
        except Exception as exc:
            # Whatever broke the link (unplugged, I/O error), the daemon must hear of it,
            # and a command waiting for its answer must not wait out its timeout.
            self.alive = False
            self.link_failure = f"serial link failed: {exc}"
            waiting = self._responseEvent
            if waiting is not None:
                self._response.append("ERROR")
                waiting.set()
            try:
                self.serial.close()
            except Exception:
                log.debug("closing a dead port failed", exc_info=True)
            self._lines.put(ModemLost(f"serial link failed: {exc}"))

    def _consume(self, buffer: bytearray) -> None:
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                break
            raw = bytes(buffer[:end])
            del buffer[: end + 2]
            line = raw.decode("utf-8", errors="replace").strip("\r\n\x00 ")
            if line:
                self._handleLineRead(line)
        term = self._expectResponseTermSeq
        if term and buffer.endswith(term):
            line = buffer.decode("utf-8", errors="replace")
            buffer.clear()
            self._handleLineRead(line, checkForResponseTerm=False)
        elif len(buffer) > MAX_LINE_BYTES:
            # Garbage without line ends must not grow memory without bound. A CR at the end
            # may be half of the CRLF that ends it: kept, it ends the run when the LF comes.
            log.warning("dropping %d bytes of unterminated input from the modem", len(buffer))
            ends_on_cr = buffer.endswith(b"\r")
            buffer.clear()
            if ends_on_cr:
                buffer += b"\r"

    def _handleLineRead(self, line: str, checkForResponseTerm: bool = True) -> None:
        """Defect 6 and interleaved URCs: unsolicited lines go to the queue, never the response."""
        waiting = self._responseEvent is not None and not self._responseEvent.is_set()
        answer = self.answer_prefix is not None and line.startswith(self.answer_prefix)
        if waiting and (answer or not (checkForResponseTerm and is_unsolicited(line))):
            self._response.append(line)
            if not checkForResponseTerm or self.RESPONSE_TERM.match(line):
                self._responseEvent.set()
        else:
            self._lines.put(line)


def _reader_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, name="modem-reader", daemon=True)
    thread.start()
    return thread


class GsmModemBackend:
    """A `relouphone.modem.Modem` for any AT modem in PDU mode, over python-gsmmodem-new."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        pin: str = "",
        command_timeout: float = 10.0,
        send_timeout: float = 60.0,
    ) -> None:
        self.port = port
        self.pin = pin
        self.command_timeout = command_timeout
        self.send_timeout = send_timeout
        self.storage = "SM"  # where new messages arrive
        self.storages = ["SM"]  # where messages may wait, read at start-up
        self._mem1 = "SM"  # the storage that reads and deletes address now
        self._lines: queue.Queue = queue.Queue()
        self._modem = _MendedGsmModem(port, baudrate, self._lines)
        self._ring_since: float | None = None
        self._connected = False

    # -- commands --------------------------------------------------------------------------

    def command(
        self,
        line: str,
        *,
        timeout: float | None = None,
        expect: str | None = None,
        terminator: str = "\r",
    ) -> list[str]:
        """Send one command; return the response lines or raise our error for the final one."""
        timeout = self.command_timeout if timeout is None else timeout
        self._modem.answer_prefix = _answer_prefix(line)
        try:
            lines = self._modem.write(
                line,
                timeout=timeout,
                parseError=False,
                writeTerm=terminator,
                expectedResponseTermSeq=expect,
            )
        except TimeoutException as exc:
            partial = list(exc.data or [])
            raise ModemTimeout(
                f"{_shown(line)}: no answer within {timeout:g}s"
                + (f" (got {partial!r})" if partial else "")
            ) from exc
        except (serial.SerialException, OSError, AttributeError) as exc:
            raise ModemError(f"{_shown(line)}: serial link failed: {exc}") from exc
        if self._modem.link_failure:
            raise ModemError(f"{_shown(line)}: {self._modem.link_failure}")
        _raise_for_final(line, lines[-1])
        return lines

    # -- the Modem interface ---------------------------------------------------------------

    def connect(self) -> None:
        try:
            self._modem._open_link()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemError(f"cannot open {self.port}: {exc}") from exc
        self._connected = True
        self._initialise()

    def _initialise(self) -> None:
        self._wake()
        self.command("ATE0")
        self.command("AT+CMEE=1")
        self._unlock_sim()
        self.command("AT+CMGF=0")
        self._choose_storage()
        try:
            self.command("AT+CNMI=2,1,0,0,0")
        except ModemError:
            self.command("AT+CNMI=1,1,0,0,0")
        try:
            self.command("AT+CLIP=1")
        except ModemError as exc:
            log.warning("the modem refuses caller ID (AT+CLIP=1): %s; calls will be anonymous", exc)

    def _wake(self) -> None:
        """A modem that just booted, or has stale bytes in its buffer, may miss the first AT.

        One left waiting at a PDU prompt (a daemon killed mid-send) would take every command
        for message text, a reset included: ESC leaves the prompt without sending anything.
        """
        self._leave_prompt()
        for attempt in range(3):
            try:
                self.command("AT", timeout=min(2.0, self.command_timeout))
                return
            except ModemTimeout:
                if attempt == 2:
                    raise
            except ModemError:
                continue

    def _unlock_sim(self) -> None:
        state = self._settled_sim_state()
        if state == "READY":
            return
        if state != "SIM PIN":
            raise SimPinError(f"the SIM asks for {state}: unlock it in a phone first")
        if not self.pin:
            raise SimPinError("the SIM needs a PIN: set [modem] pin in the configuration")
        try:
            self.command(f'AT+CPIN="{self.pin}"', timeout=30)
        except ModemError as exc:
            # One attempt only: retrying a wrong PIN would lock the SIM into PUK.
            raise SimPinError(
                f"the SIM refused the configured PIN ({exc}); not retrying", refused_pin=True
            ) from exc
        if self._settled_sim_state() != "READY":
            raise SimPinError("the SIM is still locked after the PIN was accepted")

    def _settled_sim_state(self) -> str:
        """The SIM's state once it has one: right after a boot or a PIN it is not ready yet.

        A SIM that stays not ready is a passing fault (ModemError: reconnect later), never
        a reason to stop for good as a locked SIM is.
        """
        for _ in range(SIM_READY_CHECKS):
            state = self._sim_state()
            if state not in _SIM_SETTLING:
                return state
            time.sleep(SIM_READY_WAIT)
        raise ModemError(f"the SIM is not ready (AT+CPIN? says {state}); trying again later")

    def _sim_state(self) -> str:
        try:
            lines = self.command("AT+CPIN?", timeout=max(self.command_timeout, 15))
        except ModemTimeout as exc:
            # Some modems answer +CPIN: READY without the final OK.
            match = re.search(r"\+CPIN:\s*([A-Z ]+)", str(exc))
            if not match:
                raise
            return match.group(1).strip()
        except ModemError as exc:
            if exc.code is not None and exc.code == _SIM_BUSY.get(exc.kind or ""):
                return "SIM BUSY"
            absent = _SIM_ABSENT.get((exc.kind, exc.code))
            if absent:
                raise SimPinError(f"{absent} (+{exc.kind} ERROR: {exc.code})") from exc
            raise
        line = _first(lines, "+CPIN:")
        return line.split(":", 1)[1].strip() if line else "UNKNOWN"

    def _choose_storage(self) -> None:
        """Where new messages go (SM, else ME), and every storage that may hold old ones."""
        try:
            supported = _first(self.command("AT+CPMS=?"), "+CPMS:") or ""
        except ModemError:
            supported = ""
        readable = supported.split(")", 1)[0]
        self.storages = [name for name in ("SM", "ME") if name in readable] or ["SM"]
        for storage in self.storages:
            try:
                self.command(f'AT+CPMS="{storage}","{storage}","{storage}"')
            except ModemError:
                continue
            self.storage = self._mem1 = storage
            return
        log.warning("the modem accepts no message storage choice; using its default")

    def next_event(self, timeout: float) -> Event | None:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            wait = deadline - time.monotonic()
            if self._ring_since is not None:
                wait = min(wait, self._ring_since + CLIP_GRACE_SECONDS - time.monotonic())
            try:
                item = self._lines.get(timeout=max(0.0, wait))
            except queue.Empty:
                if (
                    self._ring_since is not None
                    and time.monotonic() >= self._ring_since + CLIP_GRACE_SECONDS
                ):
                    self._ring_since = None
                    return IncomingCall(number=None, ton=None)
                if time.monotonic() >= deadline:
                    return None
                continue
            event = self._parse_unsolicited(item)
            if event is not None:
                return event

    def _parse_unsolicited(self, item: str | ModemLost) -> Event | None:
        if isinstance(item, ModemLost):
            return item
        if item == "RING" or item.startswith("+CRING"):
            if self._ring_since is None:
                self._ring_since = time.monotonic()
            return None
        if item.startswith("+CLIP"):
            self._ring_since = None
            return _parse_clip(item)
        if _BOOT.match(item):
            return ModemLost(f"the modem restarted ({item}): setting it up again")
        if item.startswith("+CMTI"):
            match = _CMTI.match(item)
            if match:
                return NewMessage(storage=match.group(1), slot=int(match.group(2)))
            # e.g. SIM7000G's '+CMTI: ,-1': something arrived, but not where. Rescan.
            log.warning("unusable new-message indication %r: rescanning storage", item)
            return NewMessage(storage=self.storage, slot=None)
        log.debug("ignored unsolicited line %r", item)
        return None

    def _select(self, storage: str) -> None:
        if storage != self._mem1:
            self.command(f'AT+CPMS="{storage}"')
            self._mem1 = storage

    def list_stored(self) -> list[StoredMessage]:
        messages = []
        for storage in self.storages:
            try:
                self._select(storage)
            except ModemError as exc:
                log.warning("cannot read the %s storage: %s", storage, exc)
                continue
            lines = self.command("AT+CMGL=4", timeout=max(self.command_timeout, 30))
            for index, line in enumerate(lines):
                header = _CMGL.match(line)
                pdu = _pdu_after(lines, index) if header else None
                if header and pdu is not None:
                    slot, stat = int(header.group(1)), _stat(line, first_field=1)
                    messages.append(StoredMessage(storage, slot, stat, pdu))
        return messages

    def read_stored(self, storage: str, slot: int) -> StoredMessage | None:
        self._select(storage)
        try:
            lines = self.command(f"AT+CMGR={slot}")
        except ModemError as exc:
            if exc.code == 321:  # invalid memory index: the slot is empty
                return None
            raise
        found = []
        for index, line in enumerate(lines):
            pdu = _pdu_after(lines, index) if _CMGR.match(line) else None
            if pdu is not None:
                found.append(StoredMessage(storage, slot, _stat(line, first_field=0), pdu))
                if _tpdu_octets(pdu) == _declared_length(line):
                    return found[-1]
        # A stray line that looks like a header (a modem's hiccup) loses to the real one.
        return found[0] if found else None

    def delete_stored(self, storage: str, slot: int) -> None:
        self._select(storage)
        self.command(f"AT+CMGD={slot}")

    def send(self, pdus: list[EncodedPdu]) -> list[int]:
        refs: list[int] = []
        for part in pdus:
            try:
                self.command(f"AT+CMGS={part.tpdu_length}", expect="> ")
            except ModemTimeout as exc:
                # The prompt may yet come: leave it, or the PDU's absence would be taken
                # for the next command. A refusal (+CMS ERROR) leaves no prompt open.
                self._cancel_prompt()
                raise _after_parts(exc, refs, len(pdus)) from exc
            except ModemError as exc:
                raise _after_parts(exc, refs, len(pdus)) from exc
            try:
                lines = self.command(part.hex, timeout=self.send_timeout, terminator=CTRL_Z)
            except ModemError as exc:
                if exc.code is None:
                    # No verdict from the modem: the part may well have left.
                    raise SendUncertain(f"no verdict on a sent part: {exc}") from exc
                raise _after_parts(exc, refs, len(pdus)) from exc
            line = _first(lines, "+CMGS:")
            if line is None:
                raise SendUncertain("the modem accepted a part but gave no +CMGS reference")
            refs.append(_leading_number(line.split(":", 1)[1]) or 0)
        return refs

    def _cancel_prompt(self) -> None:
        """Leave the PDU prompt, or the next command would be taken for message text."""
        try:
            self._modem.write("\x1b", waitForResponse=False, writeTerm="")
        except Exception:
            log.debug("cancelling the PDU prompt failed", exc_info=True)

    def _leave_prompt(self) -> None:
        """ESC, in case a prompt is open; its answer (OK) is let pass before the first AT."""
        self._cancel_prompt()
        time.sleep(PROMPT_ESCAPE_WAIT)

    def hang_up(self) -> None:
        try:
            self.command("ATH")
        except ModemError:
            self.command("AT+CHUP")

    def health(self) -> ModemHealth:
        signal = None
        csq = _first(self.command("AT+CSQ"), "+CSQ:")
        rssi = _leading_number(csq.split(":", 1)[1]) if csq else None
        signal = None if rssi == 99 else rssi
        registration = "unknown"
        creg = _first(self.command("AT+CREG?"), "+CREG:")
        if creg:
            fields = _NUMBERS.findall(creg)
            if len(fields) >= 2:
                registration = _REGISTRATION.get(_small_number(fields[1]), "unknown")
        operator = None
        try:
            cops = _first(self.command("AT+COPS?"), "+COPS:")
            quoted = re.search(r'"([^"]*)"', cops or "")
            operator = quoted.group(1) if quoted else None
        except ModemError:
            pass
        return ModemHealth(signal=signal, registration=registration, operator=operator)

    def reset(self) -> None:
        """AT+CFUN=1,1: restart the modem. A wedged modem rarely answers, so no verdict is
        awaited; the port may vanish while it reboots, and the daemon reconnects."""
        if not self._connected:
            return
        self._leave_prompt()
        try:
            self._modem.write("AT+CFUN=1,1", waitForResponse=False)
        except Exception as exc:
            log.warning("could not ask the modem to restart: %s", exc)

    def close(self) -> None:
        if not self._connected:
            return
        self._connected = False
        self._modem.alive = False
        link = getattr(self._modem, "serial", None)
        if hasattr(link, "cancel_read"):
            link.cancel_read()  # wake the reader now rather than at its next read timeout
        thread = getattr(self._modem, "rxThread", None)
        if thread is not None:
            thread.join(timeout=5)
        try:
            self._modem.serial.close()
        except Exception:
            log.debug("closing the port failed", exc_info=True)


def _answer_prefix(command: str) -> str | None:
    """The prefix of the answer to a query: "+CPIN:" for AT+CPIN?."""
    match = _EXTENDED_QUERY.match(command)
    return f"{match.group(1).upper()}:" if match else None


def _parse_clip(line: str) -> IncomingCall:
    """Defect 3: the number stays as the network gave it; its type of address says the rest."""
    match = _CLIP.match(line)
    if not match:
        # A type of address we cannot read: the number alone still says who called.
        quoted = _CLIP_NUMBER.match(line)
        return IncomingCall(number=(quoted.group(1) or None) if quoted else None, ton=None)
    number, type_of_address, rest = match.groups()
    ton = (int(type_of_address) >> 4) & 0x7
    # The 6th field, CLI validity: 1 withheld by the caller, 2 not available.
    validity = rest.split(",")[4].strip() if rest.count(",") >= 4 else ""
    if not number or validity in ("1", "2"):
        return IncomingCall(number=None, ton=None)
    return IncomingCall(number=number, ton=ton)


def _raise_for_final(command: str, final: str) -> None:
    match = _FINAL_ERROR.match(final)
    if match:
        kind, digits = f"CM{match.group(1)}", match.group(2)
        code = int(digits) if digits else None
        shown = f"+{kind} ERROR: {code}" if digits else _shown(final)
        raise ModemError(f"{_shown(command)}: {shown}", kind=kind, code=code)
    if final in ("ERROR", "COMMAND NOT SUPPORT") or final.endswith("ERROR"):
        raise ModemError(f"{_shown(command)}: {final}")


def _after_parts(exc: ModemError, refs: list[int], total: int) -> ModemError:
    """A refusal is definite only if no earlier part of the same message went out."""
    if not refs:
        return exc
    return SendUncertain(f"{len(refs)} of {total} parts sent, then: {exc}")


def _first(lines: list[str], prefix: str) -> str | None:
    return next((line for line in lines if line.startswith(prefix)), None)


def _split_header(header: str) -> tuple[list[str], str | None]:
    """The fields of a +CMGR/+CMGL header, and the PDU some modems put on the same line,
    after a space, if there is one."""
    fields = (
        [field.strip() for field in header.split(":", 1)[1].split(",")] if ":" in header else []
    )
    inline = None
    if fields and " " in fields[-1]:
        fields[-1], rest = fields[-1].split(" ", 1)
        inline = rest.strip().strip('"') or None
    return fields, inline


def _stat(header: str, *, first_field: int) -> int:
    """The <stat> of a header, whose fields are [<index>,]<stat>,[<alpha>],<length>.

    Counted from the end, where <length> always is: some modems put the slot first in a
    +CMGR header too ("+CMGR: 4,1,,151"), others leave out <alpha> or give only <length>.
    """
    fields = _split_header(header)[0][first_field:]
    at = -3 if len(fields) >= 3 else 0 if len(fields) == 2 else None
    stat = None if at is None else _small_number(fields[at])
    # No readable one (ZTE's "+CMGR: ,,27"): unread, for a message counted twice after a
    # crash is better than a new one taken for a re-read and lost.
    return UNREAD if stat is None else stat


def _pdu_after(lines: list[str], index: int) -> str | None:
    """The PDU that follows a +CMGR/+CMGL header, skipping stray unsolicited lines.

    Should some other line slip in too, the PDU is the one whose length agrees with the
    header's <length> (TPDU octets, SMSC excluded); failing that, the first. Some modems
    put the PDU on the header's own line, after a space.
    """
    candidates = []
    inline = _split_header(lines[index])[1]
    if inline is not None and _tpdu_octets(inline) is not None:
        candidates.append(inline)
    for line in lines[index + 1 :]:
        if line == "OK" or line.startswith(("+CMGL:", "+CMGR:")):
            break
        if not is_unsolicited(line):
            candidates.append(line.strip().strip('"'))
    declared = _declared_length(lines[index])
    for candidate in candidates:
        if declared is not None and _tpdu_octets(candidate) == declared:
            return candidate
    return candidates[0] if candidates else None


def _declared_length(header: str) -> int | None:
    fields = _split_header(header)[0]
    return _small_number(fields[-1]) if fields else None


def _small_number(text: str) -> int | None:
    """`text` as a number if it is one of a few ASCII digits: `str.isdigit` takes "²"."""
    if text.isascii() and text.isdigit() and len(text) <= MAX_NUMBER_DIGITS:
        return int(text)
    return None


def _leading_number(text: str) -> int | None:
    """The first number in `text` ("17,99" -> 17), if it is a small one."""
    match = _NUMBERS.search(text)
    return _small_number(match.group()) if match else None


def _tpdu_octets(pdu: str) -> int | None:
    try:
        octets = bytes.fromhex(pdu)
    except ValueError:
        return None
    return len(octets) - 1 - octets[0] if octets else None


def _shown(command: str) -> str:
    """A command as it may appear in a log: PDUs are long, PINs are secret."""
    if command.upper().startswith("AT+CPIN="):
        return "AT+CPIN=****"
    return command if len(command) <= 40 else command[:37] + "..."
