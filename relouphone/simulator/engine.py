"""The AT interpreter: a state machine fed bytes, producing bytes, with no I/O of its own.

`Engine.feed(data, now)` takes what the client wrote; `take_output()` returns what the modem
answers (echo, responses, unsolicited lines). Time comes in as `now` (monotonic seconds)
and timed events (repeated RINGs, the end of a reboot) run from `tick(now)`, so the whole
modem is testable without a pty or a thread. It is not thread-safe: `SimulatedModem` holds
a lock around every call.

Line discipline (as V.250 modems do): a command line ends with CR or LF (so CRLF works:
the LF ends an empty line, which is ignored); backspace edits; a line that does not start
with ``AT`` is ignored; ``A/`` repeats the last line. With echo on, every byte is echoed as
it arrives, so ``AT\\r`` comes back as ``AT\\r`` before ``\\r\\nOK\\r\\n``.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from relouphone.simulator import calls, general, sms
from relouphone.simulator.atparse import AtSyntaxError, split_line
from relouphone.simulator.registry import Handler, Prompt
from relouphone.simulator.results import CommandError, UnknownCommand
from relouphone.simulator.state import (
    Call,
    MessageStore,
    ModemOptions,
    SentMessage,
    Settings,
    SimLock,
    tpdu_length,
)

__all__ = ["Engine"]

HANDLERS: dict[str, Handler] = {**general.HANDLERS, **sms.HANDLERS, **calls.HANDLERS}

CTRL_Z = 0x1A
ESC = 0x1B
BACKSPACE = 0x08


class Engine:
    """One simulated modem's whole state and its AT command interpreter."""

    def __init__(
        self,
        options: ModemOptions | None = None,
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.options = options or ModemOptions()
        self.wall_clock = wall_clock
        self.settings = Settings(echo=self.options.echo)
        self.sim = SimLock(self.options.pin, self.options.puk)
        self.stores = {
            name: MessageStore(name, self.options.slots, self.options.first_index)
            for name in ("SM", "ME")
        }
        # <mem1> read/list/delete, <mem2> write/send, <mem3> where received messages go.
        self.memories = [self.options.storage] * 3
        self.cfun = 1
        self.smsc = self.options.smsc  # AT+CSCA= changes it: it lives on the SIM
        self.sent: list[SentMessage] = []
        self.calls: list[Call] = []
        self.commands: list[str] = []
        # Messages the "network" holds while the storage is full; delivered when a slot
        # frees up, as an SMSC retries after the phone's memory-available notification.
        self.held: deque[tuple[str, int]] = deque()
        self.send_failures: deque[int] = deque()
        self.next_reference = 0
        self._out = bytearray()
        self._line = bytearray()
        self._last_line = ""
        self._prompt: Prompt | None = None
        self._prompt_text = bytearray()
        self._held_urcs: list[list[str]] = []
        self._executing = False
        self._interleaves: list[tuple[str, str]] = []
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_seq = itertools.count()
        self._booting = False
        self._now = 0.0
        # Faults a test can inject (see `SimulatedModem`): the modem stops answering, the
        # network goes away, answers come late, a given command fails.
        self.hung = False
        self.hung_resettable = True
        self.network = True
        self.response_delay = 0.0
        self._failures: list[tuple[str, CommandError]] = []

    # -- byte stream -----------------------------------------------------------------

    def take_output(self) -> bytes:
        """Everything the modem has written since the last call."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def feed(self, data: bytes, now: float) -> None:
        """Process bytes written by the client."""
        self.tick(now)
        for byte in data:
            if self._booting:
                continue  # a rebooting modem hears nothing
            if self.hung:
                self._hung_byte(byte, now)
            elif self._prompt is not None:
                self._prompt_byte(byte)
            else:
                self._command_byte(byte, now)

    def _command_byte(self, byte: int, now: float) -> None:
        if byte == ESC:
            return  # cancels a PDU prompt; outside one it means nothing
        if self.settings.echo:
            self._out.append(byte)
        if byte in (0x0D, 0x0A):
            line = self._line.decode("latin-1").strip()
            self._line.clear()
            if line[:2].upper() == "AT":
                self._last_line = line
                self._run_line(line, now)
        elif byte == BACKSPACE:
            del self._line[-1:]
        else:
            self._line.append(byte)
            if self._line.upper() == b"A/" and self._last_line:
                self._line.clear()
                self._run_line(self._last_line, now)

    def _hung_byte(self, byte: int, now: float) -> None:
        """A wedged modem answers nothing; one whose AT task is stuck still obeys a reset."""
        if byte == ESC:
            return  # as when not wedged: outside a prompt it is no part of a command
        if byte not in (0x0D, 0x0A):
            self._line.append(byte)
            return
        line = self._line.decode("latin-1").strip().upper().replace(" ", "")
        self._line.clear()
        if self.hung_resettable and line.startswith("AT") and "+CFUN=1,1" in line:
            self.commands.append(line)
            self.reboot(now)

    def _prompt_byte(self, byte: int) -> None:
        if self.settings.echo and byte not in (CTRL_Z, ESC):
            self._out.append(byte)
        if byte == ESC:
            # Sending cancelled: real modems (SIMCom, Quectel) answer OK and send nothing.
            self._end_prompt([], None)
        elif byte == CTRL_Z:
            text = self._prompt_text.decode("latin-1")
            assert self._prompt is not None
            try:
                lines = self._prompt.finish("".join(text.split()))
            except CommandError as error:
                self._end_prompt([], error)
            else:
                self._end_prompt(lines, None)
        else:
            self._prompt_text.append(byte)

    def _end_prompt(self, lines: list[str], error: CommandError | None) -> None:
        self._prompt = None
        self._prompt_text.clear()
        self._respond(lines, error)

    # -- commands --------------------------------------------------------------------

    def _run_line(self, line: str, now: float) -> None:
        self.commands.append(line)
        self._now = now
        info: list[str] = []
        error: CommandError | None = None
        try:
            commands = split_line(line)
        except AtSyntaxError:
            commands, error = [], CommandError()
        injected = self._injected_failure(line)
        if injected is not None:
            commands, error = [], injected
        for command in commands:
            handler = HANDLERS.get(command.name) or _s_register(command.name)
            self._executing = True  # what a handler causes (+CMTI after CMGD) waits for OK
            try:
                if handler is None:
                    raise UnknownCommand(command.name)
                result = handler(self, command)
            except CommandError as failure:
                error = failure
                break
            except AtSyntaxError:  # an argument list that does not parse ("SM)
                error = CommandError()
                break
            finally:
                self._executing = False
            if isinstance(result, Prompt):
                # The prompt ends the line: what follows it is the PDU, not commands.
                self._prompt = result
                self._write_lines(self._interleaved(line, info))
                self._out += b"\r\n> "
                return
            info += result
        self._respond(self._interleaved(line, info), error)

    def command_names(self) -> list[str]:
        """The commands this modem knows, for AT+CLAC."""
        return sorted(HANDLERS)

    def _interleaved(self, line: str, info: list[str]) -> list[str]:
        for i, (prefix, urc) in enumerate(self._interleaves):
            if line.upper().startswith(prefix):
                del self._interleaves[i]
                return [*info[:1], urc, *info[1:]]
        return info

    def _respond(self, info: list[str], error: CommandError | None) -> None:
        if self.response_delay > 0:
            # A slow modem: the answer (and what waited for it) comes later, in one piece.
            held, self._out = self._out, bytearray()
            self._write_response(info, error)
            late, self._out = bytes(self._out), held
            self.schedule(self._now + self.response_delay, lambda now: self._out.extend(late))
        else:
            self._write_response(info, error)

    def _write_response(self, info: list[str], error: CommandError | None) -> None:
        self._write_lines(info)
        final = "OK" if error is None else error.result_line(self.settings.cmee)
        self._out += f"\r\n{final}\r\n".encode("ascii")
        for urc in self._held_urcs:
            self._write_lines(urc)
        self._held_urcs.clear()

    def fail_next(self, command_prefix: str, error: CommandError) -> None:
        """The next command line starting with the prefix fails with `error`."""
        prefix = command_prefix.upper()
        if not prefix.startswith("AT"):
            prefix = "AT" + prefix
        self._failures.append((prefix, error))

    def _injected_failure(self, line: str) -> CommandError | None:
        for i, (prefix, error) in enumerate(self._failures):
            if line.upper().startswith(prefix):
                del self._failures[i]
                return error
        return None

    def noise(self, data: bytes) -> None:
        """Raw bytes on the line, as a flaky USB link or a confused firmware sends them."""
        self._out += data

    def _write_lines(self, lines: list[str]) -> None:
        if lines:
            # A serial line carries bytes: anything beyond Latin-1 (an emitted test line)
            # becomes "?" rather than killing the modem thread.
            text = "\r\n" + "\r\n".join(lines) + "\r\n"
            self._out += text.encode("latin-1", errors="replace")

    # -- unsolicited lines, timers ---------------------------------------------------

    def urc(self, *lines: str) -> None:
        """Emit an unsolicited result (one or more lines, e.g. +CMT's header and PDU)."""
        if self._booting or self.hung:
            return
        if self._prompt is not None or self._executing:
            # The link is reserved while the client types a PDU: hold it (CNMI mode 2).
            self._held_urcs.append(list(lines))
        else:
            self._write_lines(list(lines))

    def interleave(self, command_prefix: str, line: str) -> None:
        """Put `line` inside the next response to a command starting with the prefix."""
        prefix = command_prefix.upper()
        if not prefix.startswith("AT"):
            prefix = "AT" + prefix
        self._interleaves.append((prefix, line))

    def schedule(self, when: float, action: Callable[[float], None]) -> None:
        """Run `action(now)` from the first `tick` at or after `when`."""
        heapq.heappush(self._timers, (when, next(self._timer_seq), action))

    def next_deadline(self) -> float | None:
        """When `tick` next has something to do (None: nothing scheduled)."""
        return self._timers[0][0] if self._timers else None

    def tick(self, now: float) -> None:
        """Run the timed events that are due."""
        self._now = now
        while self._timers and self._timers[0][0] <= now:
            _, _, action = heapq.heappop(self._timers)
            action(now)

    @property
    def now(self) -> float:
        """The monotonic time of the event being processed (for handlers)."""
        return self._now

    # -- life cycle ------------------------------------------------------------------

    def reset_settings(self) -> None:
        """ATZ / AT&F: back to the power-on profile (the SIM and its messages stay)."""
        self.settings = Settings(echo=self.options.echo)

    def reboot(self, now: float) -> None:
        """AT+CFUN=1,1: deaf for a moment, then the boot URCs, settings reset, PIN asked again."""
        self.power_off()
        self.schedule(now + self.options.reboot_delay, self._booted)

    def power_off(self) -> None:
        """Unplugged: deaf and mute until `reboot` (the SIM keeps its messages)."""
        self._booting = True
        self._prompt = None
        self._line.clear()
        for call in self.calls:
            call.state = "ended"

    def _booted(self, now: float) -> None:
        self._booting = False
        self.hung = False  # what a reset is for
        self.reset_settings()
        self.sim.relock()
        self.cfun = 1
        # Quectel and SIMCom announce themselves like this after a restart.
        for line in ("RDY", "+CFUN: 1", f"+CPIN: {self.sim.status}", "SMS Ready"):
            self.urc(line)

    # -- messages --------------------------------------------------------------------

    @property
    def receive_store(self) -> MessageStore:
        """The storage incoming messages go to (<mem3> of AT+CPMS)."""
        return self.stores[self.memories[2]]

    def deliver_pdu(self, pdu_hex: str, *, notify: bool = True, stat: int = 0) -> int | None:
        """A message arrives from the network. Returns its slot, or None if not stored.

        With AT+CNMI mt=2 the message is routed to the client as +CMT and not stored; when
        the storage is full it is held back until a slot frees up (see `held`).
        """
        mode, mt = self.settings.cnmi[:2]
        if notify and mode in (1, 2) and mt == 2:
            self.urc(f"+CMT: ,{tpdu_length(pdu_hex)}", pdu_hex)
            return None
        index = self.receive_store.put(pdu_hex, stat)
        if index is None:
            self.held.append((pdu_hex, stat))
            return None
        if notify and mode in (1, 2) and mt in (1, 3):
            self.urc(f'+CMTI: "{self.receive_store.name}",{index}')
        return index

    def slot_freed(self) -> None:
        """Called after AT+CMGD: the network delivers what it held back."""
        while self.held and self.receive_store.used < self.receive_store.capacity:
            pdu_hex, stat = self.held.popleft()
            self.deliver_pdu(pdu_hex, stat=stat)

    # -- calls -----------------------------------------------------------------------

    def current_call(self) -> Call | None:
        """The call ringing or in progress, if any."""
        for call in self.calls:
            if call.state != "ended":
                return call
        return None

    def ring(
        self,
        caller: str | None,
        *,
        ton: int | None,
        validity: int | None,
        rings: int,
        now: float,
    ) -> None:
        """An incoming call: RING (or +CRING: VOICE) and +CLIP, `rings` times."""
        previous = self.current_call()
        if previous is not None:
            # No call waiting here: a new call replaces a ringing one (the first caller gave up).
            previous.state, previous.missed = "ended", True
        if ton is None:
            ton = 128 if caller is None else 145 if caller.startswith("+") else 129
        if caller is None and validity is None:
            validity = 1  # withheld: "+CLIP: "",128,,,,1"
        call = Call(caller, ton, validity, max(1, rings), now)
        self.calls.append(call)
        self._ring_once(call, now)
        self.schedule(now + self.options.call_timeout, lambda t: self._give_up(call))

    def _ring_once(self, call: Call, now: float) -> None:
        if call.state != "ringing":
            return
        call.rings_emitted += 1
        # Two separate URCs, as modems send them at high speed (incoming-call-urcs.txt).
        self.urc("+CRING: VOICE" if self.settings.crc else "RING")
        if self.settings.clip:
            clip = f'+CLIP: "{call.caller or ""}",{call.ton}'
            if call.validity is not None:
                clip += f",,,,{call.validity}"
            self.urc(clip)
        if call.rings_emitted < call.rings:
            self.schedule(now + self.options.ring_interval, lambda t: self._ring_once(call, t))

    def _give_up(self, call: Call) -> None:
        if call.state == "ringing":
            call.state, call.missed = "ended", True
            self.urc("NO CARRIER")


def _s_register(name: str) -> Handler | None:
    """S-registers (ATS0=0, ATS7?) are all accepted, stored nowhere, read as 000."""
    if name.startswith("S") and name[1:].isdigit():
        return general.s_register
    return None
