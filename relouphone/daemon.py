"""The daemon: one loop that owns the modem and the database.

It ingests whatever the modem already holds, then waits for events (new message, call,
lost link) and for the next reply to fall due. The modem's reader thread only queues
lines; every write to the store and every command to the modem happens on this loop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .budget import Limits
from .clock import Clock, SystemClock
from .config import Config
from .errors import ModemError, ModemTimeout, SimPinError, StoreError
from .flood import RaidDetector
from .ingest import Outcome, ReplyRule, ingest_call, ingest_incomplete, ingest_message
from .modem import UNREAD, IncomingCall, Modem, ModemLost, NewMessage, StoredMessage
from .outbox import send_due
from .service import Notifier
from .store import Store

__all__ = ["EXIT_SIM_LOCKED", "Daemon", "backend_for"]

log = logging.getLogger(__name__)

# systemd must not restart us on this one (RestartPreventExitStatus): a retry could
# spend the SIM's last PIN attempt.
EXIT_SIM_LOCKED = 78

# A call rings several times before our hang-up lands: one call, not several.
SAME_CALL_SECONDS = 10.0
RECONNECT_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# The longest the loop blocks, so a stop request is honoured promptly.
MAX_WAIT_SECONDS = 0.5
# A modem that let this many connections in a row time out is restarted (AT+CFUN=1,1).
RESET_AFTER_SILENCES = 3
# After the modem refused to read or delete a message, when to list the SIM again.
MODEM_REFUSAL_RETRY_SECONDS = 5.0
# With a database that takes no writes, how often to try again.
STORAGE_RETRY_SECONDS = 5.0
# How often to look for long texts whose missing parts are given up on.
PARTS_CHECK_SECONDS = 60.0
# How often to list the modem's storage anyway: a +CMTI lost on the line (noise, a modem's
# hiccup) would leave its message on the SIM, unanswered, until the SIM is full and the
# network holds every new text back.
STORAGE_SWEEP_SECONDS = 300.0
# Without the network, how often to look again (rather than the heartbeat's rhythm).
NETWORK_RECHECK_SECONDS = 5.0
# When raid mode switches on, the flood has been going on for about this long.
RAID_LOOKBACK = timedelta(minutes=1)
# With replies due but held by a limit, how long before the budget is looked at again.
BUDGET_RECHECK_SECONDS = 5.0


def backend_for(config: Config) -> Modem:
    """The real backend for the configured port."""
    from .gsmmodem_backend import GsmModemBackend

    return GsmModemBackend(
        config.modem.port,
        baudrate=config.modem.baudrate,
        pin=config.modem.pin,
        command_timeout=config.modem.command_timeout,
    )


class _LinkLost(Exception):
    """Internal: the modem went away; reconnect."""


_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class _State:
    modem: str = "starting"
    detail: str | None = None
    signal: int | None = None
    operator: str | None = None
    last_call: tuple[str | None, float] | None = None
    next_heartbeat: float = 0.0
    budget_hold_until: datetime = _NEVER
    held_by: str = ""
    can_send: bool = True
    storage_error: str | None = None
    storage_failures: int = 0
    storage_retry_at: float = 0.0
    next_parts_check: float = 0.0
    next_sweep: float = 0.0
    # Deleted from the modem, but the database could not note it yet (see _ingest).
    unnoted_deletions: list[int] = field(default_factory=list)
    # Since when nobody listened to the modem (None: never, as far as the database knows).
    deaf_since: datetime | None = None
    reconnects: int = 0
    # Connections in a row that failed, and that timed out, since the modem last got as far
    # as ready: one that answers its set-up and then falls silent is as wedged as one that
    # never answers.
    failed_connects: int = 0
    silences: int = 0
    listeners: list[Callable[[str, Outcome | object], None]] = field(default_factory=list)


class Daemon:
    """Records every inbound event and sends each due reply once."""

    def __init__(
        self,
        config: Config,
        *,
        modem_factory: Callable[[], Modem] | None = None,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self._modem_factory = modem_factory or (lambda: backend_for(config))
        self._store = store
        self.rule = ReplyRule.from_config(config)
        self.limits = Limits(
            per_minute=config.limits.per_minute,
            per_day=config.limits.per_day,
            distinct_recipients_per_month=config.limits.distinct_recipients_per_month,
            max_wait=config.limits.max_wait,
            burst_share=config.limits.burst_share,
        )
        self.raid = RaidDetector(config.flood.raid_rate)
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.state = _State()
        self._turns = threading.Condition()
        self._turn = 0

    def on_event(self, listener: Callable[[str, object], None]) -> None:
        """Call `listener(what, detail)` for each thing the daemon does (the demo narrates)."""
        self.state.listeners.append(listener)

    def _tell(self, what: str, detail: object) -> None:
        for listener in self.state.listeners:
            listener(what, detail)

    def stop(self) -> None:
        self.stop_event.set()

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        """Run until `stop()`; returns the process exit code."""
        store = self._store or Store(self.config.storage.database)
        try:
            self._guarded(store, lambda: self._resume(store))
            return self._run_with(store)
        finally:
            self.notifier.stopping()
            if self._store is None:
                store.close()

    def _resume(self, store: Store) -> None:
        """Pick up where the last run left off: the raid rate, interrupted sends, and when it
        last listened (what waits on the SIM arrived since)."""
        now = self.clock.now()
        last = store.heartbeat()
        self.state.deaf_since = last.updated_at if last else None
        for moment in store.recent_inbound_times(now - timedelta(minutes=1)):
            self.raid.observe(moment)
        settled = store.settle_interrupted_sends(now)
        if settled:
            log.warning("%d replies were interrupted mid-send; not resending them", len(settled))

    def _run_with(self, store: Store) -> int:
        if self._pin_refused_before(store):
            return EXIT_SIM_LOCKED
        state = self.state
        while not self.stop_event.is_set():
            modem = self._modem_factory()
            try:
                self._set_modem_state(store, "connecting")
                modem.connect()
                self._serve(store, modem)
            except SimPinError as exc:
                log.error("SIM locked: %s", exc)
                if exc.refused_pin:
                    self._guarded(store, lambda: self._remember_refused_pin(store))
                self._set_modem_state(store, "sim locked", detail=str(exc))
                return EXIT_SIM_LOCKED
            except ModemTimeout as exc:
                # The port is there but the modem is mute: wedged.
                state.silences += 1
                log.warning(
                    "the modem does not answer (%d times in a row): %s", state.silences, exc
                )
                self._set_modem_state(store, "not answering", detail=str(exc))
                if state.silences >= RESET_AFTER_SILENCES:
                    log.warning("restarting the modem (AT+CFUN=1,1)")
                    modem.reset()
                    self._set_modem_state(store, "restarting", detail=str(exc))
                    state.silences = 0
            except (ModemError, _LinkLost) as exc:
                # Unplugged or the port is gone. The watchdog is fed only while the modem
                # answers, so a modem gone for good gets us restarted by systemd.
                log.warning("modem unavailable: %s", exc)
                self._set_modem_state(store, "disconnected", detail=str(exc))
            finally:
                modem.close()
            if self.stop_event.is_set():
                break
            delay = RECONNECT_DELAYS[min(state.failed_connects, len(RECONNECT_DELAYS) - 1)]
            state.failed_connects += 1
            state.reconnects += 1
            log.info("reconnecting in %gs", delay)
            self._pause(delay)
        self._set_modem_state(store, "stopped")
        return 0

    @property
    def _pin_fingerprint(self) -> str:
        """The configured PIN's fingerprint: the database need not hold the PIN itself."""
        return hashlib.sha256(f"relouphone SIM PIN {self.config.modem.pin}".encode()).hexdigest()

    def _remember_refused_pin(self, store: Store) -> None:
        store.note_pin_refused(self._pin_fingerprint, self.clock.now())

    def _pin_refused_before(self, store: Store) -> bool:
        """A PIN the SIM refused is never tried again: three tries lock the SIM into PUK,
        and a Raspberry Pi that loses power restarts the daemon without anyone noticing."""
        if not self.config.modem.pin:
            return False
        try:
            refused_at = store.pin_refused_at(self._pin_fingerprint)
        except (StoreError, sqlite3.Error):
            refused_at = None  # the attempt is refused below if it fails: one try, as before
        if refused_at is None:
            return False
        detail = (
            f"the SIM refused the configured PIN on {refused_at:%Y-%m-%d %H:%M} UTC: not trying"
            " it again. Put the right PIN in [modem] pin, or if this one is right after all"
            " (the SIM was unlocked in a phone), run `relouphone pin-retry`"
        )
        log.error("SIM locked: %s", detail)
        self._set_modem_state(store, "sim locked", detail=detail)
        return True

    def _pause(self, seconds: float) -> None:
        """Wait `seconds` of clock time, or until asked to stop."""
        deadline = self.clock.monotonic() + seconds
        while not self.stop_event.is_set():
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return
            self.stop_event.wait(self.clock.real_timeout(left))
            self._count_turn()

    def _serve(self, store: Store, modem: Modem) -> None:
        self._guarded(store, lambda: self._ingest_all(store, modem, startup=True))
        self.state.next_sweep = self.clock.monotonic() + STORAGE_SWEEP_SECONDS
        self._refresh_health(store, modem)
        self.notifier.ready()
        self.ready.set()
        self.state.failed_connects = self.state.silences = 0
        log.info("ready on %s", self.config.modem.port)
        try:
            while not self.stop_event.is_set():
                self._guarded(store, lambda: self._turn_once(store, modem))
                self._count_turn()
        finally:
            self.ready.clear()
            self.state.deaf_since = self.clock.now()

    def _turn_once(self, store: Store, modem: Modem) -> None:
        if self.state.storage_error is not None:
            self._retry_storage(store, modem)
        if self.raid.update(self.clock.now()):
            self._raid_changed(store)
        if self.clock.monotonic() >= self.state.next_parts_check:
            self._give_up_on_missing_parts(store)
        if self.clock.monotonic() >= self.state.next_sweep:
            self.state.next_sweep = self.clock.monotonic() + STORAGE_SWEEP_SECONDS
            self._answered(lambda: self._ingest_all(store, modem, startup=False))
        self._send_due(store, modem)
        if self.clock.monotonic() >= self.state.next_heartbeat:
            self._refresh_health(store, modem)
        event = modem.next_event(self.clock.real_timeout(self._seconds_to_wait(store)))
        if event is not None:
            self._answered(lambda: self._handle(store, modem, event))

    def _answered(self, step: Callable[[], None]) -> None:
        """Run a step that reads or deletes messages. A +CMS/+CME error there is the modem
        answering, not the link failing: what it refused stays on the SIM, and the SIM is
        listed again soon (a message recorded but not deleted is then a re-read)."""
        try:
            step()
        except ModemError as exc:
            if exc.code is None or isinstance(exc, SimPinError):
                raise  # no answer, or no SIM: the connection loop deals with it
            log.warning("the modem refused a command (%s): listing the SIM again shortly", exc)
            soon = self.clock.monotonic() + MODEM_REFUSAL_RETRY_SECONDS
            self.state.next_sweep = min(self.state.next_sweep, soon)

    # -- a database that cannot be written (full SD card) -----------------------------------

    def _guarded(self, store: Store, step: Callable[[], None]) -> None:
        """Run one step; a database write that fails leaves the daemon running."""
        try:
            step()
        except (StoreError, sqlite3.Error) as exc:
            self._storage_failed(store, exc)

    def _storage_failed(self, store: Store, exc: Exception) -> None:
        """Said once: until the database takes writes again, messages stay on the SIM."""
        self.state.storage_failures += 1
        if self.state.storage_error is None:
            log.error(
                "cannot write the database %s (%s): messages stay on the SIM until it can; "
                "free some space (df -h) and relouphone resumes by itself",
                self.config.storage.database,
                exc,
            )
            self.state.storage_retry_at = self.clock.monotonic() + STORAGE_RETRY_SECONDS
        self.state.storage_error = str(exc)
        self._announce_status(store)

    def _retry_storage(self, store: Store, modem: Modem) -> None:
        """Every few seconds: read what waits on the SIM; recovered if all of it commits."""
        if self.clock.monotonic() < self.state.storage_retry_at:
            return
        self.state.storage_retry_at = self.clock.monotonic() + STORAGE_RETRY_SECONDS
        failures = self.state.storage_failures
        self._ingest_all(store, modem, startup=False)
        store.write_heartbeat(**self._heartbeat_fields())
        if self.state.storage_failures == failures:
            log.warning("the database takes writes again: resuming")
            self.state.storage_error = None
            self._announce_status(store)

    def _count_turn(self) -> None:
        with self._turns:
            self._turn += 1
            self._turns.notify_all()

    def wait_turns(self, count: int = 2, timeout: float = 5.0) -> bool:
        """Block until the loop has gone round `count` more times (tests use it to settle)."""
        with self._turns:
            target = self._turn + count
            return self._turns.wait_for(lambda: self._turn >= target, timeout)

    def _seconds_to_wait(self, store: Store) -> float:
        wait = min(MAX_WAIT_SECONDS, self.state.next_heartbeat - self.clock.monotonic())
        due = store.next_due_at() if self.state.can_send else None
        if due is not None:
            # Replies held by a limit are not due again before the budget is re-checked.
            due = max(due, self.state.budget_hold_until)
            wait = min(wait, (due - self.clock.now()).total_seconds())
        return max(0.0, wait)

    # -- events ----------------------------------------------------------------------------

    def _handle(self, store: Store, modem: Modem, event: object) -> None:
        if isinstance(event, ModemLost):
            raise _LinkLost(event.reason)
        if isinstance(event, NewMessage):
            if event.slot is None:
                self._ingest_all(store, modem, startup=False)
                return
            message = modem.read_stored(event.storage, event.slot)
            if message is not None:
                self._ingest(store, modem, message)
            else:
                # Announced but not readable there (a stray line spoiled the answer, or an
                # earlier rescan took it): list the storage so nothing stays on the SIM.
                self._ingest_all(store, modem, startup=False)
        elif isinstance(event, IncomingCall):
            self._answer_call(store, modem, event)

    def _ingest_all(self, store: Store, modem: Modem, *, startup: bool) -> None:
        """Everything in the modem's storage: what arrived while we were down, or lost URCs."""
        messages = modem.list_stored()
        if startup:
            self._forget_deleted(store, messages)
        for message in messages:
            # A backlog read at start-up arrived over hours: it is no burst of the moment.
            self._ingest(store, modem, message, startup=startup)

    def _forget_deleted(self, store: Store, messages: list[StoredMessage]) -> None:
        """Messages committed whose deletion was not noted (a crash came in between): the
        ones whose slot is now empty, or holds another or an unread message, are gone."""
        held = {(m.storage, m.slot): m for m in messages}
        gone = []
        for pid, storage, slot, pdu in store.slots_awaiting_deletion():
            there = held.get((storage, slot))
            if there is None or there.pdu != pdu or there.stat == UNREAD:
                gone.append(pid)
        if gone:
            store.mark_pdus_deleted(gone)

    def _ingest(
        self, store: Store, modem: Modem, message: StoredMessage, *, startup: bool = False
    ) -> None:
        if not startup:
            self._observe_arrival(store)
        if self.state.unnoted_deletions:
            # Before this message is judged a re-read or not (the disk was full).
            store.mark_pdus_deleted(self.state.unnoted_deletions)
            self.state.unnoted_deletions = []
        try:
            outcome = ingest_message(
                store,
                message,
                self.clock.now(),
                self.rule,
                raid=self.raid.active,
                deaf_since=self.state.deaf_since if startup else None,
            )
        except StoreError as exc:
            # Not committed, so not deleted: the message waits on the SIM for a retry.
            self._storage_failed(store, exc)
            return
        self._report(outcome)
        modem.delete_stored(message.storage, message.slot)
        if outcome.pdu_id is not None:
            # Noted before anything else is read: the next message may be an identical
            # text in this very slot, and a crash before this note would make its read
            # look like a re-read of this one (see ingest's note on UNREAD).
            try:
                store.mark_pdus_deleted([outcome.pdu_id])
            except (StoreError, sqlite3.Error):
                self.state.unnoted_deletions.append(outcome.pdu_id)
                raise

    def _give_up_on_missing_parts(self, store: Store) -> None:
        """Long texts whose parts never all came are recorded as they are, and answered."""
        self.state.next_parts_check = self.clock.monotonic() + PARTS_CHECK_SECONDS
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.config.storage.missing_parts_timeout)
        for group in store.stale_part_groups(cutoff):
            outcome = ingest_incomplete(store, group, now, self.rule, raid=self.raid.active)
            if outcome is not None:
                log.warning(
                    "a long text from %s is recorded without its missing parts",
                    group[0] or "an unknown sender",
                )
                self._report(outcome)

    def _answer_call(self, store: Store, modem: Modem, call: IncomingCall) -> None:
        now = self.clock.monotonic()
        last = self.state.last_call
        try:
            modem.hang_up()
        except ModemError as exc:
            log.warning("could not hang up: %s", exc)
        if last is not None and last[0] == call.number and now - last[1] < SAME_CALL_SECONDS:
            return
        self.state.last_call = (call.number, now)
        self._observe_arrival(store)
        try:
            outcome = ingest_call(store, call, self.clock.now(), self.rule, raid=self.raid.active)
        except StoreError as exc:
            # A call leaves nothing on the SIM to read later: say which one was missed.
            log.error("a call from %s could not be recorded", call.number or "a withheld number")
            self._storage_failed(store, exc)
            return
        self._report(outcome)

    def _observe_arrival(self, store: Store) -> None:
        if self.raid.observe(self.clock.now()):
            self._raid_changed(store)

    def _raid_changed(self, store: Store) -> None:
        now = self.clock.now()
        if self.raid.active:
            log.warning(
                "RAID MODE: more than %d texts and calls a minute; new numbers go last in line",
                self.config.flood.raid_rate,
            )
            store.raid_started(now)
            demoted = store.demote_granted_since(now - RAID_LOOKBACK, now)
            if demoted:
                log.warning("%d replies granted as the raid began now go last in line", demoted)
        else:
            log.warning("raid mode over: the inbound rate has been calm for ten minutes")
            store.raid_ended(now)
        self._set_modem_state(store, self.state.modem)

    def _report(self, outcome: Outcome) -> None:
        sender = outcome.sender.e164 or outcome.sender.raw if outcome.sender else None
        if outcome.kind in ("sms", "call"):
            log.info(
                "%s from %s recorded: %s",
                outcome.kind.upper() if outcome.kind == "sms" else "call",
                sender or "a withheld number",
                outcome.decision.reason if outcome.decision else "-",
            )
        elif outcome.kind == "quarantined":
            log.warning("an undecodable message was quarantined (pdu row %s)", outcome.pdu_id)
        self._tell(outcome.kind, outcome)

    # -- replies and health ----------------------------------------------------------------

    def _send_due(self, store: Store, modem: Modem) -> None:
        now = self.clock.now()
        if now < self.state.budget_hold_until or not self.state.can_send:
            return
        sent = send_due(store, modem, now, self.limits, max_attempts=self.config.reply.max_attempts)
        for result in sent.results:
            if result.state == "sent":
                log.info("reply %d sent to %s", result.reply_id, result.number)
            else:
                log.warning(
                    "reply %d to %s: %s (%s)",
                    result.reply_id,
                    result.number,
                    result.state,
                    result.error,
                )
            self._tell("reply", result)
        if sent.waiting:
            # Replies are due but a limit holds them: look again a little later rather
            # than spin. Limits are counted from the database, so nothing is lost.
            self.state.budget_hold_until = now + timedelta(seconds=BUDGET_RECHECK_SECONDS)
            reasons = ", ".join(sorted(set(sent.waiting_reasons.values())))
            if reasons != self.state.held_by:
                log.info("%d due replies wait for the limits (%s)", sent.waiting, reasons)
            self.state.held_by = reasons
        else:
            self.state.held_by = ""

    def _refresh_health(self, store: Store, modem: Modem) -> None:
        self.state.next_heartbeat = self.clock.monotonic() + self._heartbeat_interval()
        # A timeout propagates: the modem is wedged, and no watchdog ping is due.
        health = modem.health()
        self.state.signal = health.signal
        self.state.operator = health.operator
        self.state.can_send = health.can_send
        if health.can_send:
            self._set_modem_state(store, health.registration)
        else:
            # Replies wait, nothing is lost; look again soon rather than at the next beat.
            self.state.next_heartbeat = min(
                self.state.next_heartbeat, self.clock.monotonic() + NETWORK_RECHECK_SECONDS
            )
            self._set_modem_state(store, f"waiting for the network ({health.registration})")
        self.notifier.watchdog()

    def _heartbeat_interval(self) -> float:
        interval = self.config.daemon.heartbeat
        if self.notifier.watchdog_seconds:
            interval = min(interval, self.notifier.watchdog_seconds / 2)
        return interval

    def _set_modem_state(self, store: Store, state: str, detail: str | None = None) -> None:
        self.state.modem = state
        self.state.detail = detail
        try:
            store.write_heartbeat(**self._heartbeat_fields())
        except (StoreError, sqlite3.Error) as exc:
            self._storage_failed(store, exc)
            return
        self._announce_status(store)

    def _heartbeat_fields(self) -> dict[str, object]:
        return {
            "at": self.clock.now(),
            "pid": os.getpid(),
            "modem_state": self.state.modem,
            "signal": self.state.signal,
            "operator": self.state.operator,
            "raid": self.raid.active,
            "detail": self.state.detail,
        }

    def _announce_status(self, store: Store) -> None:
        """The sd_notify STATUS line: what `systemctl status` shows."""
        try:
            pending = str(store.count_pending())
        except (StoreError, sqlite3.Error):
            pending = "?"
        signal = "?" if self.state.signal is None else self.state.signal
        raid = "RAID MODE, " if self.raid.active else ""
        disk = "DATABASE NOT WRITABLE, " if self.state.storage_error else ""
        self.notifier.status(
            f"{disk}{raid}modem {self.state.modem}, signal {signal}/31, {pending} replies pending"
        )
