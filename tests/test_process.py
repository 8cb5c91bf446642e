"""The programs as users run them: `relouphone simulator`, `run`, `inject`, `stats`, `status`.

Every process here is real, talks over a real pty and a real Unix socket, and is killed in
a `finally` whatever happens; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relouphone.daemon import EXIT_SIM_LOCKED
from relouphone.simulator import send_control

RELOUPHONE = str(Path(sys.executable).with_name("relouphone"))
TEXTER = "+33612345678"
CALLER = "0698765432"
POLL = 0.05
START_TIMEOUT = 5.0
STEP_TIMEOUT = 5.0

# A test run inside a systemd unit must not hand its sockets to the children.
CHILD_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in {"NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM", "RELOUPHONE_CONFIG"}
}


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL)


def relouphone(*args: str, timeout: float = STEP_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RELOUPHONE, *args], capture_output=True, text=True, timeout=timeout, env=CHILD_ENV
    )


class Program:
    """A long-running `relouphone` subcommand whose output goes to files we can poll."""

    def __init__(self, tmp_path: Path, name: str, *args: str) -> None:
        self.stdout_path = tmp_path / f"{name}.out"
        self.stderr_path = tmp_path / f"{name}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [RELOUPHONE, *args], stdout=out, stderr=err, env=CHILD_ENV
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def exit_code(self, timeout: float = STEP_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout}s: {self.stderr}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STEP_TIMEOUT)


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    started: list[Program] = []
    try:
        yield started
    finally:
        for program in reversed(started):
            program.kill()


@pytest.fixture
def start(tmp_path, programs) -> Callable[..., Program]:
    def start(name: str, *args: str) -> Program:
        program = Program(tmp_path, name, *args)
        programs.append(program)
        return program

    return start


class Simulator:
    def __init__(self, program: Program, link: Path, control: Path) -> None:
        self.program, self.link, self.control = program, link, control

    def sent(self) -> list[dict]:
        return send_control(str(self.control), {"sent": {}})["sent"]

    def commands(self) -> list[str]:
        return send_control(str(self.control), {"commands": {}})["commands"]


def start_simulator(tmp_path: Path, start, *options: str) -> Simulator:
    link, control = tmp_path / "modem", tmp_path / "sim.sock"
    program = start(
        "simulator", "simulator", "--link", str(link), "--control", str(control), *options
    )
    port = wait_until(
        lambda: program.stdout.endswith("\n") and program.stdout.splitlines()[0],
        START_TIMEOUT,
        f"the simulator's port line (stderr: {program.stderr!r})",
    )
    assert port == str(link)
    wait_until(control.exists, START_TIMEOUT, "the control socket")
    return Simulator(program, link, control)


@pytest.fixture
def simulator(tmp_path, start) -> Simulator:
    return start_simulator(tmp_path, start)


def write_config(tmp_path: Path, port: Path, *, pin: str = "") -> Path:
    config = tmp_path / "relouphone.toml"
    config.write_text(
        f'[modem]\nport = "{port}"\npin = "{pin}"\ncommand_timeout = "3s"\n'
        "[reply]\ndelay = 0\n"
        f'[storage]\ndatabase = "{tmp_path / "relouphone.db"}"\n'
        '[daemon]\nheartbeat = "1s"\n',
        encoding="utf-8",
    )
    return config


def start_daemon(start, config: Path, name: str = "daemon") -> Program:
    daemon = start(name, "run", "--config", str(config))
    wait_until(
        lambda: "ready on" in daemon.stderr or daemon.process.poll() is not None,
        START_TIMEOUT,
        "the daemon to get ready",
    )
    assert daemon.process.poll() is None, daemon.stderr
    return daemon


def query(database: Path, sql: str) -> list[tuple]:
    """Read the daemon's database without ever creating it."""
    if not database.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def cli_json(*args: str) -> Any:
    result = relouphone(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- the stories ------------------------------------------------------------------------


def test_a_text_gets_its_reply_and_the_daemon_stops_cleanly_on_sigterm(tmp_path, simulator, start):
    config = write_config(tmp_path, simulator.link)
    database = tmp_path / "relouphone.db"
    daemon = start_daemon(start, config)

    injected = relouphone(
        "inject", "sms", "--control", str(simulator.control), "--from", TEXTER, "salut"
    )
    assert injected.returncode == 0, injected.stderr
    assert json.loads(injected.stdout)["ok"] is True

    [reply] = wait_until(simulator.sent, STEP_TIMEOUT, "the reply to leave the modem")
    assert reply["to"] == TEXTER
    wait_until(
        lambda: query(database, "SELECT 1 FROM replies WHERE state = 'sent'"),
        STEP_TIMEOUT,
        "the reply to be recorded as sent",
    )
    figures = cli_json("stats", "--config", str(config))
    assert (figures["received_sms"], figures["replies_sent"]) == (1, 1)
    assert figures["replies_pending"] == 0

    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.exit_code() == 0, daemon.stderr
    assert "Traceback" not in daemon.stderr
    assert cli_json("status", "--config", str(config))["modem_state"] == "stopped"
    assert len(simulator.sent()) == 1


def test_an_injected_call_is_recorded(tmp_path, simulator, start):
    config = write_config(tmp_path, simulator.link)
    database = tmp_path / "relouphone.db"
    daemon = start_daemon(start, config)

    injected = relouphone("inject", "call", "--control", str(simulator.control), "--from", CALLER)
    assert injected.returncode == 0, injected.stderr

    [(kind, sender_raw)] = wait_until(
        lambda: query(database, "SELECT kind, sender_raw FROM inbound"),
        STEP_TIMEOUT,
        "the call to be recorded",
    )
    assert (kind, sender_raw) == ("call", CALLER)
    assert cli_json("stats", "--config", str(config))["received_calls"] == 1

    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.exit_code() == 0, daemon.stderr


def test_a_sim_pin_missing_from_the_config_stops_the_daemon_without_guessing(tmp_path, start):
    simulator = start_simulator(tmp_path, start, "--pin", "1234")
    config = write_config(tmp_path, simulator.link)

    # Three wrong guesses would lock the SIM for good; three runs must not spend any.
    for run in range(3):
        daemon = start(f"daemon-{run}", "run", "--config", str(config))
        assert daemon.exit_code() == EXIT_SIM_LOCKED, daemon.stderr
        [line] = daemon.stderr.splitlines()
        assert "PIN" in line
        assert "[modem] pin" in line
        assert "Traceback" not in daemon.stderr

    status = cli_json("status", "--config", str(config))
    assert status["modem_state"] == "sim locked"

    unlocked = write_config(tmp_path, simulator.link, pin="1234")
    daemon = start_daemon(start, unlocked, "daemon-with-pin")
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.exit_code() == 0, daemon.stderr


def test_a_pin_the_sim_refused_is_never_tried_again_until_pin_retry(tmp_path, start):
    simulator = start_simulator(tmp_path, start, "--pin", "1234")
    wrong = write_config(tmp_path, simulator.link, pin="4321")

    # A power cut restarts the daemon with the same config: the SIM must not see the
    # refused PIN again, or three restarts would lock it into PUK.
    for run in range(3):
        daemon = start(f"daemon-{run}", "run", "--config", str(wrong))
        assert daemon.exit_code() == EXIT_SIM_LOCKED, daemon.stderr
        assert "Traceback" not in daemon.stderr
    assert "pin-retry" in daemon.stderr
    assert cli_json("status", "--config", str(wrong))["modem_state"] == "sim locked"
    tries = [c for c in simulator.commands() if c.startswith("AT+CPIN=")]
    assert tries == ['AT+CPIN="4321"']

    retry = relouphone("pin-retry", "--config", str(wrong))
    assert retry.returncode == 0, retry.stderr
    daemon = start("daemon-retried", "run", "--config", str(wrong))
    assert daemon.exit_code() == EXIT_SIM_LOCKED, daemon.stderr
    tries = [c for c in simulator.commands() if c.startswith("AT+CPIN=")]
    assert tries == ['AT+CPIN="4321"'] * 2

    right = write_config(tmp_path, simulator.link, pin="1234")  # another PIN: it is tried
    daemon = start_daemon(start, right, "daemon-with-pin")
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.exit_code() == 0, daemon.stderr
