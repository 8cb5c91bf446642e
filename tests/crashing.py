"""The crash test: a flood of texts while the daemon is killed with SIGKILL at random moments.

Shared by `scripts/crash_test.py` (50 rounds) and `tests/test_crash.py` (a short run).
Everything is a real process: one `relouphone simulator` lives through the whole run (it
is the modem, and its SIM keeps what arrived while the daemon was dead), and each round
starts `relouphone run`, lets it live a random moment, and kills it with SIGKILL. A last
daemon drains what is left and stops on SIGTERM; then the database, the simulator's
outbox and the SIM are checked against what was injected. Every wait is bounded, and every
process is killed on the way out, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import serial

from relouphone.simulator import ControlError, send_control

__all__ = ["Figures", "Plan", "run_crash_test"]

RELOUPHONE = str(Path(sys.executable).with_name("relouphone"))
POLL = 0.05
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# With no new record for this long and no reply waiting, the drain is over even if texts
# are missing: the checks then say which.
QUIET_SECONDS = 3.0
REPLY_TEXT = "Crash test reply."
SAME = "same"  # how the bodies of identical copies begin

# The children must not talk to a systemd that may be supervising whoever runs us.
CHILD_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in {"NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM", "RELOUPHONE_CONFIG"}
}


@dataclass(frozen=True)
class Plan:
    """How hard to shake the daemon; the seed makes the flood and the kill times repeatable."""

    rounds: int = 50
    seed: int = 1
    rate: float = 10.0  # texts per second, all senders together
    numbers: int = 40  # French mobiles in the pool, each replyable once
    repeat_share: float = 0.1  # share of texts that start a run of identical copies
    copies: tuple[int, int] = (2, 4)  # how many identical copies in such a run
    alive: tuple[float, float] = (0.2, 2.0)  # seconds a daemon lives before SIGKILL
    reply_delay: int = 1  # seconds, so replies leave (and are interrupted) mid-run
    slots: int = 20  # the SIM's message slots
    drain_timeout: float = 60.0


@dataclass
class Figures:
    """What a run did and what the checks found; `failures` empty means it passed."""

    plan: Plan
    injected: int = 0
    identical_copies: int = 0
    identical_runs: int = 0
    recorded: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    senders: int = 0
    replies_sent: int = 0
    replies_marked_sent: int = 0
    replies_interrupted: int = 0
    duplicate_replies: int = 0
    numbers_sent_twice_in_db: int = 0
    unanswered: int = 0
    left_on_sim: int | str = "?"
    believed_on_sim: int = 0
    ready_rounds: int = 0
    integrity: str = "?"
    elapsed: float = 0.0
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        plan = self.plan
        return [
            f"rounds:               {plan.rounds} (daemon ready in {self.ready_rounds} of them)",
            f"seed, rate:           {plan.seed}, {plan.rate:g} texts/s",
            f"messages injected:    {self.injected} ({self.identical_copies} of them in"
            f" {self.identical_runs} runs of identical copies)",
            f"recorded:             {self.recorded}",
            f"lost:                 {self.lost}",
            f"duplicated:           {self.duplicated} (+{self.unexpected} never injected)",
            f"senders:              {self.senders}",
            f"replies sent:         {self.replies_sent} by the modem,"
            f" {self.replies_marked_sent} marked sent",
            f"replies interrupted:  {self.replies_interrupted} (failed, never resent)",
            f"duplicate replies:    {self.duplicate_replies}"
            f" (modem), {self.numbers_sent_twice_in_db} (database)",
            f"senders unanswered:   {self.unanswered}",
            f"left on the SIM:      {self.left_on_sim}"
            f" (the database believes {self.believed_on_sim})",
            f"integrity:            {self.integrity}",
            f"elapsed:              {self.elapsed:.1f}s",
        ]


def run_crash_test(workdir: Path, plan: Plan, say: Callable[[str], None] = print) -> Figures:
    """Flood, kill and restart the daemon `plan.rounds` times, drain, and check everything."""
    started = time.monotonic()
    figures = Figures(plan)
    rng = random.Random(f"kills {plan.seed}")
    with contextlib.ExitStack() as cleanup:
        simulator = start_simulator(workdir, plan.slots)
        cleanup.callback(simulator.stop)
        config = write_config(workdir, simulator.link, plan.reply_delay)
        daemon_log = workdir / "daemon.log"
        flood = Flood(simulator.control, plan)
        flood.start()
        cleanup.callback(flood.stop)
        for number in range(1, plan.rounds + 1):
            crash_once(config, daemon_log, number, rng.uniform(*plan.alive), figures)
            if number % 10 == 0:
                say(f"round {number}: {flood.total} texts injected so far")
        flood.stop()
        figures.failures += flood.errors
        drain(config, daemon_log, workdir / "relouphone.db", flood, plan, figures)
        figures.left_on_sim = messages_on_sim(simulator.link)
        check(workdir / "relouphone.db", flood, simulator, figures)
        figures.ready_rounds = rounds_ready(daemon_log)
    figures.elapsed = time.monotonic() - started
    return figures


# -- processes -----------------------------------------------------------------------------


class Program:
    """One `relouphone` process, its output appended to a log file."""

    def __init__(self, log: Path, *args: str) -> None:
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [RELOUPHONE, *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=CHILD_ENV,
            )

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would: no handler runs, no cleanup."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)

    def terminate(self) -> int | None:
        """SIGTERM, as systemd stops it; the exit code, or None if it had to be killed."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


@dataclass
class Simulator:
    program: Program
    link: Path
    control: Path

    def stop(self) -> None:
        """SIGTERM: it removes its socket and symlink (and is killed if it will not stop)."""
        self.program.terminate()

    def sent(self) -> list[dict[str, Any]]:
        return send_control(str(self.control), {"sent": {}})["sent"]


def start_simulator(workdir: Path, slots: int) -> Simulator:
    link, control = workdir / "modem", workdir / "sim.sock"
    program = Program(
        workdir / "simulator.log",
        *("simulator", "--link", str(link), "--control", str(control), "--slots", str(slots)),
    )
    simulator = Simulator(program, link, control)
    try:
        wait_until(
            lambda: control.exists() and link.exists(), START_TIMEOUT, "the simulator to start"
        )
    except BaseException:
        simulator.stop()
        raise
    return simulator


def write_config(workdir: Path, port: Path, reply_delay: int) -> Path:
    """Replies due within the run, and limits that never hold one back."""
    config = workdir / "relouphone.toml"
    config.write_text(
        f'[modem]\nport = "{port}"\ncommand_timeout = "3s"\n'
        f'[reply]\ndelay = {reply_delay}\ntext = "{REPLY_TEXT}"\n'
        f'[storage]\ndatabase = "{workdir / "relouphone.db"}"\n'
        '[daemon]\nheartbeat = "1s"\n'
        '[policy]\nreply_to = ["mobile"]\nhome_regions = ["FR"]\ncooldown = "forever"\n'
        "[limits]\nper_minute = 60\nper_day = 10000\ndistinct_recipients_per_month = 100000\n",
        encoding="utf-8",
    )
    return config


def start_daemon(config: Path, log: Path, title: str) -> Program:
    with open(log, "a", encoding="utf-8") as output:
        output.write(f"===== {title} =====\n")
    return Program(log, "run", "--config", str(config))


def crash_once(config: Path, log: Path, number: int, alive: float, figures: Figures) -> None:
    """One round: start a daemon, let it live `alive` seconds, SIGKILL it."""
    daemon = start_daemon(config, log, f"round {number}: SIGKILL after {alive:.3f}s")
    try:
        code = daemon.process.wait(alive)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        daemon.kill()
    if code is not None:
        figures.failures.append(f"round {number}: the daemon exited by itself with code {code}")


def rounds_ready(log: Path) -> int:
    """Rounds whose daemon got as far as "ready" before it was killed."""
    sections = log.read_text(errors="replace").split("===== ")
    return sum(1 for s in sections if s.startswith("round") and "ready on" in s)


def drain(
    config: Path, log: Path, database: Path, flood: Flood, plan: Plan, figures: Figures
) -> None:
    """A last daemon records what waits on the SIM and sends the replies due, then stops."""
    daemon = start_daemon(config, log, "drain, then SIGTERM")
    try:
        # Ready means the start-up ingestion is over and the SIGTERM handler is in place.
        if not wait_for_ready(log, daemon, START_TIMEOUT):
            figures.failures.append(f"the last daemon was not ready after {START_TIMEOUT:g}s")
        elif not wait_for_drain(database, flood.total, plan.drain_timeout):
            figures.failures.append(f"not drained after {plan.drain_timeout:g}s")
    finally:
        code = daemon.terminate()
    if code != 0:
        figures.failures.append(f"the last daemon exited with {code} on SIGTERM")


def wait_for_ready(log: Path, daemon: Program, timeout: float) -> bool:
    """Until the daemon started last says it is ready (or dies, or time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and daemon.process.poll() is None:
        if "ready on" in log.read_text(errors="replace").rsplit("===== ", 1)[-1]:
            return True
        time.sleep(POLL)
    return False


def wait_for_drain(database: Path, injected: int, timeout: float) -> bool:
    """Until every text is recorded (or records stopped coming) and no reply waits."""
    deadline = time.monotonic() + timeout
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count, waiting = drain_state(database)
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        quiet = time.monotonic() - last_change >= QUIET_SECONDS
        if waiting == 0 and (count >= injected or quiet):
            return True
        time.sleep(POLL)
    return False


def drain_state(database: Path) -> tuple[int, int]:
    """(texts recorded, replies pending or being sent); zeros before the database exists."""
    rows = query(
        database,
        "SELECT (SELECT count(*) FROM inbound),"
        " (SELECT count(*) FROM replies WHERE state IN ('pending', 'sending'))",
    )
    return rows[0] if rows else (0, 0)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(POLL)


# -- the flood -----------------------------------------------------------------------------


def pool(size: int) -> list[str]:
    """French mobiles (06 and 07 ranges), replyable under the default policy."""
    return [
        f"+336123400{n // 2:02d}" if n % 2 == 0 else f"+337612340{n // 2:02d}" for n in range(size)
    ]


def texts(plan: Plan) -> Iterator[tuple[str, str, str | None]]:
    """(sender, body, timestamp) without end: unique bodies, and runs of identical copies.

    A run's copies share sender, body and service-centre timestamp (texts sent within one
    second), so their PDUs are byte for byte the same: only the daemon's bookkeeping can
    tell a new copy from a re-read of one it already holds.
    """
    rng = random.Random(f"flood {plan.seed}")
    numbers = pool(plan.numbers)
    serial_number = 0
    while True:
        serial_number += 1
        sender = rng.choice(numbers)
        if rng.random() < plan.repeat_share:
            stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
            for _ in range(rng.randint(*plan.copies)):
                yield sender, f"{SAME} {serial_number:06d}", stamp
        else:
            yield sender, f"msg {serial_number:06d}", None


class Flood:
    """Injects texts into the simulator at a steady rate, from a thread, until stopped."""

    def __init__(self, control: Path, plan: Plan) -> None:
        self.control = str(control)
        self.plan = plan
        self.injected: Counter[tuple[str, str]] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crash-test-flood")

    @property
    def total(self) -> int:
        return self.injected.total()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Idempotent; returns once the last injection is over."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)

    def _run(self) -> None:
        interval = 1.0 / self.plan.rate
        next_at = time.monotonic()
        for sender, body, stamp in texts(self.plan):
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                return
            next_at += interval
            self._inject(sender, body, stamp)

    def _inject(self, sender: str, body: str, stamp: str | None) -> None:
        sms: dict[str, str] = {"from": sender, "text": body}
        if stamp is not None:
            sms["timestamp"] = stamp
        try:
            send_control(self.control, {"sms": sms})
        except ControlError as exc:
            # Delivered or not, nobody knows: the run can no longer be judged exactly.
            self.errors.append(f"injecting {body!r} from {sender}: {exc}")
            return
        self.injected[(sender, body)] += 1


# -- the checks ----------------------------------------------------------------------------


def query(database: Path, sql: str) -> list[tuple]:
    """Read the daemon's database directly, never creating it."""
    if not database.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def check(database: Path, flood: Flood, simulator: Simulator, figures: Figures) -> None:
    figures.injected = flood.total
    runs = [count for (_, body), count in flood.injected.items() if body.startswith(SAME)]
    figures.identical_runs, figures.identical_copies = len(runs), sum(runs)
    if not database.exists():
        figures.failures.append(f"no database at {database}: no daemon ever started")
        return
    try:
        sent = simulator.sent()
    except ControlError as exc:
        figures.failures.append(f"cannot ask the simulator what it sent: {exc}")
        sent = []
    check_inbound(database, flood.injected, figures)
    check_replies(database, sent, figures)
    [(figures.believed_on_sim,)] = query(database, "SELECT count(*) FROM pdus WHERE on_modem")
    [(figures.integrity,)] = query(database, "PRAGMA integrity_check")
    if figures.integrity != "ok":
        figures.failures.append(f"integrity_check: {figures.integrity}")
    if figures.left_on_sim != 0:
        figures.failures.append(f"messages left on the SIM: {figures.left_on_sim}")


def check_inbound(database: Path, injected: Counter[tuple[str, str]], figures: Figures) -> None:
    """Every injected text recorded exactly once; identical copies once each."""
    recorded: Counter[tuple[str, str]] = Counter()
    for sender, text, count in query(
        database, "SELECT sender, text, count(*) FROM inbound GROUP BY sender, text"
    ):
        recorded[(sender, text)] = count
    figures.recorded = recorded.total()
    figures.lost = (injected - recorded).total()
    extra = recorded - injected
    figures.unexpected = sum(n for key, n in extra.items() if key not in injected)
    figures.duplicated = extra.total() - figures.unexpected
    figures.senders = len({sender for sender, _ in recorded})
    for (sender, text), count in sorted((injected - recorded).items()):
        figures.failures.append(
            f"lost: {text!r} from {sender} ({count} of {injected[sender, text]})"
        )
    for (sender, text), count in sorted(extra.items()):
        figures.failures.append(f"recorded {count} time(s) too many: {text!r} from {sender}")


def check_replies(database: Path, sent: list[dict[str, Any]], figures: Figures) -> None:
    """At most one reply left the modem per number, and the database agrees."""
    by_modem = Counter(message["to"] for message in sent)
    figures.replies_sent = len(sent)
    figures.duplicate_replies = sum(n - 1 for n in by_modem.values() if n > 1)
    for number, count in sorted(by_modem.items()):
        if count > 1:
            figures.failures.append(f"{count} replies left the modem for {number}")

    rows = query(database, "SELECT number, state, error FROM replies")
    marked = Counter(number for number, state, _ in rows if state == "sent")
    figures.replies_marked_sent = marked.total()
    figures.numbers_sent_twice_in_db = sum(1 for n in marked.values() if n > 1)
    figures.replies_interrupted = sum(
        1 for _, state, error in rows if state == "failed" and "interrupted" in (error or "")
    )
    for number in sorted(set(marked) - set(by_modem)):
        figures.failures.append(f"reply to {number} marked sent but never left the modem")
    if figures.numbers_sent_twice_in_db:
        figures.failures.append(f"{figures.numbers_sent_twice_in_db} numbers with 2 sent rows")
    check_every_sender_answered(database, rows, figures)


def check_every_sender_answered(database: Path, rows: list[tuple], figures: Figures) -> None:
    """Each sender got a reply, or lost it to a crash mid-send (at most once, by design)."""
    answered = {number for number, state, _ in rows if state in ("sent", "failed")}
    senders = {sender for (sender,) in query(database, "SELECT DISTINCT sender FROM inbound")}
    unanswered = sorted(senders - answered)
    figures.unanswered = len(unanswered)
    for number in unanswered:
        figures.failures.append(f"no reply sent or attempted for {number}")


def messages_on_sim(link: Path) -> int | str:
    """What the SIM still holds, asked over the modem's own port once the daemon is gone."""
    try:
        with serial.serial_for_url(str(link), timeout=0.2) as port:
            answer = at_command(port, "AT+CPMS?")
    except (serial.SerialException, OSError) as exc:
        return f"unknown ({exc})"
    match = re.search(r'\+CPMS:\s*"\w+",(\d+),', answer)
    return int(match.group(1)) if match else f"unknown (answer {answer!r})"


def at_command(port: serial.Serial, command: str, timeout: float = 3.0) -> str:
    port.write(f"{command}\r".encode())
    answer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not re.search(rb"\r\n(OK|.*ERROR.*)\r\n", answer):
        answer += port.read(port.in_waiting or 1)
    return answer.decode("latin-1")


def print_figures(figures: Figures, out: TextIO = sys.stdout, most: int = 30) -> None:
    for line in figures.lines():
        print(line, file=out)
    for failure in figures.failures[:most]:
        print(f"FAILED: {failure}", file=out)
    if len(figures.failures) > most:
        print(f"FAILED: ... and {len(figures.failures) - most} more", file=out)
