"""`SimulatedModem`: the AT engine behind a real pty, served by one thread.

The thread owns the pty's master end: it waits in `select` for the client's bytes, a wake-up
from another thread, the next timed event or the next paced write, so an idle modem costs
no CPU. Tests inject events (`deliver_sms`, `ring`, `emit`...) from their own thread; every
access to the engine holds one condition lock, which `wait_for` waits on.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from relouphone.pdu import encode_deliver
from relouphone.simulator.engine import Engine
from relouphone.simulator.pty import PtyLink
from relouphone.simulator.results import CmeError, CmsError
from relouphone.simulator.state import CallRecord, EmptySlotReply, ModemOptions, SentMessage

__all__ = ["SimulatedModem"]

# Paced output goes out in slices of about this many seconds of line time.
_PACING_SLICE = 0.005


class SimulatedModem:
    """A GSM modem on a pseudo-terminal, for tests and demos.

    Open `port` with ``serial.Serial(port)`` as you would a USB modem. Extra keyword
    `options` are fields of `ModemOptions` (``ring_interval``, ``call_timeout``...).
    """

    def __init__(
        self,
        *,
        slots: int = 20,
        storage: str = "SM",
        pin: str | None = None,
        echo: bool = True,
        link_baudrate: int | None = None,
        empty_slot_reply: EmptySlotReply = "ok",
        own_number: str = "+33700000000",
        smsc: str = "+33609001390",
        symlink: str | None = None,
        **options: Any,
    ) -> None:
        self.options = ModemOptions(
            slots=slots,
            storage=storage,
            pin=pin,
            echo=echo,
            empty_slot_reply=empty_slot_reply,
            own_number=own_number,
            smsc=smsc,
            **options,
        )
        self._rate = None if link_baudrate is None else link_baudrate / 10
        self._symlink = symlink
        self._engine = Engine(self.options)
        self._cond = threading.Condition(threading.RLock())
        self._link: PtyLink | None = None
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._crash: BaseException | None = None
        self._unplugged: list[PtyLink] = []

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> SimulatedModem:
        """Open the pty and start serving it."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._link = PtyLink(self._symlink)
        self._wake = os.pipe()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="relouphone-simulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, close every descriptor, remove the symlink. Idempotent.

        Raises RuntimeError if the serving thread died of a bug (after cleaning up).
        """
        with self._cond:
            self._stopping = True
        self._poke()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        if self._link is not None:
            self._link.close()
            self._link = None
        for old in self._unplugged:
            old.close()
        self._unplugged.clear()
        if self._crash is not None:
            crash, self._crash = self._crash, None
            raise RuntimeError("the simulator thread crashed") from crash

    def __enter__(self) -> SimulatedModem:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> str:
        """The path to open: the symlink if one was asked for, else /dev/pts/N."""
        if self._symlink is not None:
            return self._symlink
        if self._link is None:
            raise RuntimeError("simulator not started, or unplugged")
        return self._link.port

    # -- injection -------------------------------------------------------------------

    def deliver_sms(
        self,
        sender: str,
        text: str,
        *,
        timestamp: datetime | None = None,
        notify: bool = True,
    ) -> list[int]:
        """An SMS arrives: encoded (in parts if long), stored, announced by +CMTI.

        Returns the slots used; a part that found the storage full is held back by the
        "network" and is not in the list (see `deliver_pdu`).
        """
        with self._cond:
            smsc = self._engine.smsc
        parts = encode_deliver(sender, text, timestamp or datetime.now(UTC), smsc=smsc)
        indexes = [self.deliver_pdu(part, notify=notify) for part in parts]
        return [index for index in indexes if index is not None]

    def deliver_pdu(self, pdu_hex: str, *, notify: bool = True, stat: int = 0) -> int | None:
        """Store any PDU (even a malformed one) as received; its slot, or None if not stored.

        None means the message did not land in storage: either AT+CNMI routes messages
        straight to the client (+CMT), or the storage is full and the network holds the
        message until AT+CMGD frees a slot (real modems print nothing when full).
        """
        with self._cond:
            index = self._engine.deliver_pdu(pdu_hex, notify=notify, stat=stat)
            self._cond.notify_all()
        self._poke()
        return index

    def ring(
        self,
        caller: str | None,
        *,
        ton: int | None = None,
        validity: int | None = None,
        rings: int = 1,
    ) -> None:
        """An incoming call: RING (or +CRING: VOICE), then +CLIP if caller ID is on.

        `caller` None is a withheld number. The call rings every `ring_interval` seconds
        `rings` times and stays up until ATH/AT+CHUP or `call_timeout` (then NO CARRIER).
        """
        with self._cond:
            self._engine.ring(caller, ton=ton, validity=validity, rings=rings, now=time.monotonic())
            self._cond.notify_all()
        self._poke()

    def emit(self, line: str) -> None:
        """Push an arbitrary unsolicited line (``^RSSI: 14``, ``+CMTI: ,-1``...)."""
        with self._cond:
            self._engine.urc(line)
        self._poke()

    def interleave(self, command_prefix: str, line: str) -> None:
        """Slip `line` into the next response to a command starting with the prefix,
        after its first line (as Huawei modems do with ^RSSI and +CMTI)."""
        with self._cond:
            self._engine.interleave(command_prefix, line)

    # -- faults ------------------------------------------------------------------------

    def unplug(self) -> None:
        """Pull the USB plug: the port vanishes (its client reads an error) and the modem
        loses power; its SIM keeps the messages. `replug` brings it back at the same path."""
        with self._cond:
            if self._link is not None:
                # Closed by the serving thread, which may be in select() on it right now.
                self._link.remove_symlink()
                self._unplugged.append(self._link)
                self._link = None
            self._engine.power_off()
        self._poke()

    def replug(self) -> None:
        """Plug the modem back in: a fresh port at the same symlink, the modem booting."""
        with self._cond:
            if self._link is None:
                self._link = PtyLink(self._symlink)
                self._engine.reboot(time.monotonic())  # powered again: it boots
        self._poke()

    def hang(self, *, resettable: bool = True) -> None:
        """The firmware wedges: the modem answers nothing, not even AT. If `resettable`, its
        command task is stuck but the firmware still runs and AT+CFUN=1,1 restarts it; if
        not, only `recover`, `reboot` or a replug brings it back."""
        with self._cond:
            self._engine.hung = True
            self._engine.hung_resettable = resettable

    def recover(self) -> None:
        """A wedged modem comes back by itself."""
        with self._cond:
            self._engine.hung = False
        self._poke()

    def reboot(self) -> None:
        """The modem restarts on its own (brown-out, firmware crash): as AT+CFUN=1,1."""
        with self._cond:
            self._engine.reboot(time.monotonic())
        self._poke()

    def set_network(self, available: bool) -> None:
        """Lose or regain the network: +CREG says not registered, sends fail with 331."""
        with self._cond:
            self._engine.network = available

    def slow(self, seconds: float) -> None:
        """Every answer comes `seconds` late (0: back to normal)."""
        with self._cond:
            self._engine.response_delay = seconds

    def noise(self, data: bytes) -> None:
        """Garbage bytes on the line, between whatever else the modem says."""
        with self._cond:
            self._engine.noise(data)
        self._poke()

    def fail_next(self, command_prefix: str, *, cms: int | None = None, cme: int | None = None):
        """The next command starting with `command_prefix` fails with that error code."""
        error = CmsError(cms) if cms is not None else CmeError(100 if cme is None else cme)
        with self._cond:
            self._engine.fail_next(command_prefix, error)

    def fail_next_send(self, cms_error: int = 500) -> None:
        """Make the next AT+CMGS fail with ``+CMS ERROR: <cms_error>`` (network refused)."""
        with self._cond:
            self._engine.send_failures.append(cms_error)

    # -- observation -----------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """The messages sent with AT+CMGS so far, oldest first."""
        with self._cond:
            return list(self._engine.sent)

    @property
    def stored(self) -> dict[int, str]:
        """slot -> PDU hex of the storage where incoming messages go."""
        with self._cond:
            return {i: m.pdu for i, m in self._engine.receive_store.slots.items()}

    @property
    def storage_peak(self) -> tuple[int, int]:
        """(most slots used at once, times a message found the storage full), all storages."""
        with self._cond:
            stores = self._engine.stores.values()
            return max(s.peak for s in stores), sum(s.refusals for s in stores)

    @property
    def held(self) -> list[str]:
        """PDUs the network holds back because the storage was full."""
        with self._cond:
            return [pdu for pdu, _ in self._engine.held]

    @property
    def calls(self) -> list[CallRecord]:
        with self._cond:
            return [
                CallRecord(
                    caller=c.caller,
                    hung_up=c.hung_up,
                    answered=c.answered,
                    missed=c.missed,
                    ringing=c.state == "ringing",
                    rings=c.rings_emitted,
                )
                for c in self._engine.calls
            ]

    @property
    def commands(self) -> list[str]:
        """Every command line received, as typed."""
        with self._cond:
            return list(self._engine.commands)

    def wait_for(self, predicate: Callable[[SimulatedModem], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate(self)` is true (re-checked after every event) or timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._crash is not None or predicate(self), timeout)

    # -- the thread ------------------------------------------------------------------

    def _poke(self) -> None:
        """Wake the thread so it writes what an injection produced."""
        if self._wake is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake[1], b"!")

    def _serve(self) -> None:
        try:
            self._loop()
        except BaseException as crash:
            # A bug in the simulator must fail the test in stop(), not hang it silently.
            with self._cond:
                self._crash = crash
                self._cond.notify_all()
            raise

    def _loop(self) -> None:
        assert self._wake is not None
        wake = self._wake[0]
        pending = bytearray()
        next_write = 0.0
        while True:
            now = time.monotonic()
            with self._cond:
                if self._stopping:
                    return
                self._engine.tick(now)
                pending += self._engine.take_output()
                deadline = self._engine.next_deadline()
                link = self._link
                for old in self._unplugged:
                    old.close()
                self._unplugged.clear()
                self._cond.notify_all()
            if link is None:
                pending.clear()  # unplugged: what the modem says goes nowhere
            timeout = None if deadline is None else max(0.0, deadline - now)
            readers, writable = [wake], []
            if link is not None:
                readers.append(link.master)
                if pending and now >= next_write:
                    writable = [link.master]
                elif pending:
                    wait = next_write - now
                    timeout = wait if timeout is None else min(timeout, wait)
            readable, ready, _ = select.select(readers, writable, [], timeout)
            if wake in readable:
                os.read(wake, 4096)
            if link is None or link is not self._link:
                continue  # unplugged or replugged meanwhile: that descriptor is closed
            if link.master in readable:
                self._read(link.master)
            if ready and pending:
                written = self._write(link.master, pending)
                del pending[:written]
                if self._rate is not None:
                    next_write = time.monotonic() + written / self._rate

    def _read(self, master: int) -> None:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # EIO when no client holds the port; cannot last, since we keep our own
            # descriptor of it open (see pty.py), so nothing to do.
            return
        with self._cond:
            self._engine.feed(data, time.monotonic())
            self._cond.notify_all()

    def _write(self, master: int, pending: bytearray) -> int:
        size = len(pending)
        if self._rate is not None:
            size = max(1, int(self._rate * _PACING_SLICE))
        try:
            return os.write(master, pending[:size])
        except (BlockingIOError, InterruptedError):
            return 0
