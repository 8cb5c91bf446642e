"""Life under systemd: what the daemon tells the notify socket, and where its logs go."""

from __future__ import annotations

import configparser
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from systemd.journal import JournalHandler

from relouphone.config import Config, ModemConfig, ReplyConfig, StorageConfig
from relouphone.daemon import EXIT_SIM_LOCKED, Daemon
from relouphone.service import Notifier, setup_logging

from .conftest import plain_modem
from .story import HOUR, REPLY_TEXT, WAIT, Story

WATCHDOG_USEC = "20000000"  # systemd's WatchdogSec=20
HEARTBEAT = 10.0  # half the watchdog period: how often a healthy daemon pings


class NotifySocket:
    """The listening end of $NOTIFY_SOCKET, as systemd binds it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        self.received: list[str] = []

    @property
    def environ(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": WATCHDOG_USEC}

    def _receive(self, timeout: float) -> str | None:
        self._socket.settimeout(max(timeout, 0.001))
        try:
            message = self._socket.recv(4096).decode()
        except TimeoutError:
            return None
        self.received.append(message)
        return message

    def drain(self, quiet: float = 0.1) -> list[str]:
        """Every message until the socket has been quiet for `quiet` seconds."""
        got = []
        while (message := self._receive(quiet)) is not None:
            got.append(message)
        return got

    def expect(self, wanted: str, timeout: float = WAIT) -> list[str]:
        """Messages up to and including the first that starts with `wanted`."""
        deadline = time.monotonic() + timeout
        got = []
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is None:
                break
            got.append(message)
            if message.startswith(wanted):
                return got
        raise AssertionError(f"no {wanted!r} within {timeout}s; got {got}")

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def notify(tmp_path) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path / "notify")
    yield listener
    listener.close()


# -- the Notifier on its own ----------------------------------------------------------------


def test_a_notifier_speaks_to_the_socket_it_is_given(notify):
    notifier = Notifier(environ=notify.environ)
    assert notifier.enabled
    assert notifier.watchdog_seconds == 20.0

    notifier.ready()
    notifier.status("modem registered (home), signal 17/31, 0 replies pending")
    notifier.watchdog()
    notifier.stopping()

    assert notify.drain() == [
        "READY=1",
        "STATUS=modem registered (home), signal 17/31, 0 replies pending",
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_a_notifier_ignores_the_process_socket_when_given_another(notify, tmp_path, monkeypatch):
    elsewhere = NotifySocket(tmp_path / "other")
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", elsewhere.path)
        Notifier(environ=notify.environ).ready()
        assert elsewhere.drain() == []
        assert notify.drain() == ["READY=1"]
    finally:
        elsewhere.close()


def test_without_notify_socket_a_notifier_is_disabled_and_silent(notify, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", notify.path)  # the process's own: must be ignored
    notifier = Notifier(environ={})
    assert not notifier.enabled
    assert notifier.watchdog_seconds is None

    notifier.ready()
    notifier.status("modem registered (home)")
    notifier.watchdog()
    notifier.stopping()

    assert notify.drain() == []


def test_the_same_status_is_not_sent_twice_in_a_row(notify, monkeypatch):
    # Also in the process environment, so this holds whichever socket the Notifier uses.
    monkeypatch.setenv("NOTIFY_SOCKET", notify.path)
    notifier = Notifier(environ=notify.environ)

    notifier.status("modem registered (home)")
    notifier.status("modem registered (home)")
    notifier.status("modem not answering")
    notifier.status("modem registered (home)")

    assert notify.drain() == [
        "STATUS=modem registered (home)",
        "STATUS=modem not answering",
        "STATUS=modem registered (home)",
    ]


@pytest.mark.parametrize(
    ("usec", "seconds"), [("20000000", 20.0), ("500000", 0.5), ("", None), ("soon", None)]
)
def test_the_watchdog_period_comes_from_watchdog_usec(usec, seconds):
    assert Notifier(environ={"WATCHDOG_USEC": usec}).watchdog_seconds == seconds


# -- the daemon under a watchdog, end to end ------------------------------------------------


class WatchedStory(Story):
    """A Story whose daemon reports to a notify socket with a 20 s watchdog."""

    def __init__(self, tmp_path: Path, clock, notify: NotifySocket, **sim_options) -> None:
        super().__init__(tmp_path, clock, **sim_options)
        self.notify = notify

    def start_daemon(self, *, wait_ready: bool = True) -> Daemon:
        notifier = Notifier(environ=self.notify.environ)
        self.daemon = Daemon(self.config, clock=self.clock, notifier=notifier)
        daemon = self.daemon

        def run() -> None:
            self.exit_code = daemon.run()

        self._thread = threading.Thread(target=run, name="daemon-under-test")
        self._thread.start()
        if wait_ready:
            assert daemon.ready.wait(WAIT), "the daemon did not get ready"
        return daemon


@pytest.fixture
def watched(tmp_path, clock, notify) -> Iterator[WatchedStory]:
    story = WatchedStory(tmp_path, clock, notify)
    yield story
    story.close()


def statuses(messages: list[str]) -> list[str]:
    return [m.removeprefix("STATUS=") for m in messages if m.startswith("STATUS=")]


def test_the_daemon_says_ready_once_the_modem_is_set_up(watched):
    watched.start_daemon()
    start = watched.notify.expect("READY=1")
    assert statuses(start)[0] == "modem connecting, signal ?/31, 0 replies pending"
    assert "modem registered (home), signal 20/31, 0 replies pending" in statuses(start)
    assert "WATCHDOG=1" in start  # the first health check already fed the watchdog


def test_the_status_line_tells_the_modem_state_and_the_queue(watched):
    watched.start_daemon()
    watched.notify.expect("READY=1")
    watched.text_arrives("+33612345678", "Salut")
    watched.wait_recorded(1)

    watched.time_passes(HEARTBEAT)
    later = watched.notify.expect("STATUS=")
    assert statuses(later) == ["modem registered (home), signal 20/31, 1 replies pending"]

    watched.time_passes(HOUR)
    watched.wait_sent(1)
    watched.time_passes(HEARTBEAT)
    assert statuses(watched.notify.expect("STATUS=")) == [
        "modem registered (home), signal 20/31, 0 replies pending"
    ]


def test_the_watchdog_is_fed_every_half_period_while_the_modem_answers(watched):
    watched.start_daemon()
    watched.notify.expect("READY=1")

    for _ in range(3):
        watched.time_passes(HEARTBEAT)
        watched.notify.expect("WATCHDOG=1")
    assert watched.sim.sent == []


def test_stopping_is_announced_last(watched):
    watched.start_daemon()
    watched.notify.expect("READY=1")
    watched.stop_daemon()
    end = watched.notify.expect("STOPPING=1")
    assert statuses(end)[-1] == "modem stopped, signal 20/31, 0 replies pending"
    assert end[-1] == "STOPPING=1"
    assert watched.notify.drain() == []
    assert watched.exit_code == 0


def test_a_modem_that_went_away_starves_the_watchdog(watched):
    watched.start_daemon()
    watched.notify.expect("READY=1")
    watched.notify.drain()

    watched.sim.stop()
    gone = watched.notify.expect("STATUS=modem disconnected")
    for _ in range(5):
        watched.clock.advance(HEARTBEAT)
        time.sleep(0.2)
    gone += watched.notify.drain(0.3)
    assert "WATCHDOG=1" not in gone
    assert "READY=1" not in gone


@pytest.fixture
def wedged_daemon(tmp_path, clock, notify, scripted_peer, monkeypatch):
    """A daemon on a scripted modem that can be told to stop answering AT+CSQ."""
    monkeypatch.setenv("NOTIFY_SOCKET", notify.path)  # see the `watched` fixture
    silent = threading.Event()

    def answer(command: str):
        if silent.is_set() and command.startswith("AT+CSQ"):
            return ""  # nothing at all: a wedged modem
        return plain_modem(command)

    peer = scripted_peer(answer)
    config = replace(
        Config(source="<test>"),
        modem=ModemConfig(port=peer.port, command_timeout=1.0),
        reply=ReplyConfig(delay=HOUR, text=REPLY_TEXT),
        storage=StorageConfig(database=tmp_path / "relouphone.db"),
    )
    daemon = Daemon(config, clock=clock, notifier=Notifier(environ=notify.environ))
    thread = threading.Thread(target=daemon.run, name="daemon-under-test")
    thread.start()
    try:
        yield daemon, peer, silent
    finally:
        daemon.stop()
        thread.join(WAIT)
        assert not thread.is_alive(), "the daemon did not stop"


def test_a_modem_that_stops_answering_starves_the_watchdog(wedged_daemon, notify, clock):
    daemon, peer, silent = wedged_daemon
    assert daemon.ready.wait(WAIT)
    notify.expect("READY=1")
    clock.advance(HEARTBEAT)
    notify.expect("WATCHDOG=1")  # healthy so far

    silent.set()
    clock.advance(HEARTBEAT)
    wedged = notify.expect("STATUS=modem not answering")
    deadline = time.monotonic() + 2.5  # the daemon reconnects and asks again, in vain
    while time.monotonic() < deadline:
        clock.advance(HEARTBEAT)
        wedged += notify.drain(0.1)
    assert "WATCHDOG=1" not in wedged
    assert sum(c.startswith("AT+CSQ") for c in peer.commands) >= 3


# -- logging --------------------------------------------------------------------------------


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    gsmmodem = logging.getLogger("gsmmodem")
    saved = (root.handlers[:], root.level, gsmmodem.level)
    yield root
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    gsmmodem.setLevel(saved[2])


def test_outside_systemd_logs_go_to_stderr(root_logger, capsys, monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging()

    [handler] = root_logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr
    logging.getLogger("relouphone.daemon").info("ready on /dev/ttyUSB0")
    logging.getLogger("relouphone.daemon").debug("AT+CSQ")

    captured = capsys.readouterr()
    assert "INFO ready on /dev/ttyUSB0" in captured.err
    assert "AT+CSQ" not in captured.err
    assert captured.out == ""


def test_under_systemd_logs_go_to_the_journal(root_logger):
    setup_logging(environ={"JOURNAL_STREAM": "8:12345"})
    [handler] = root_logger.handlers
    assert isinstance(handler, JournalHandler)
    assert root_logger.level == logging.INFO


def test_verbose_logging_shows_every_modem_exchange(root_logger):
    setup_logging(verbose=True, environ={})
    assert root_logger.level == logging.DEBUG
    assert logging.getLogger("gsmmodem").getEffectiveLevel() == logging.DEBUG


def test_the_modem_library_is_quiet_unless_verbose(root_logger):
    setup_logging(environ={})
    assert logging.getLogger("gsmmodem").getEffectiveLevel() == logging.WARNING


def test_a_log_line_cannot_be_forged_or_act_on_the_terminal(root_logger, capsys):
    setup_logging(environ={})
    sender = "FREE\r\n2026-03-08 INFO reply 1 sent\x1b[2J\u202e"
    logging.getLogger("relouphone.daemon").info("SMS from %s recorded", sender)

    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith(r"SMS from FREE\x0d\x0a2026-03-08 INFO reply 1 sent\x1b[2J\u202e recorded")


def test_the_systemd_unit_restarts_on_failure_but_never_on_a_locked_sim():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read(Path(__file__).parents[1] / "systemd" / "relouphone.service", encoding="utf-8")
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == str(EXIT_SIM_LOCKED)
    assert service["User"] == "relouphone"
    assert "dialout" in service["SupplementaryGroups"].split()
    assert service["StateDirectory"] == "relouphone"
    assert service["ExecStart"].split()[1:3] == ["run", "--config"]
