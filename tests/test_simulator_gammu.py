"""Interoperability: real gammu-smsd (files backend) against the simulator.

If the simulator only understood relouphone, it would prove little; gammu-smsd probes a
modem its own way (ATE1, AT+CSCS=?, AT+CPMS=?, AT+CNMI=?, AT+CMGL=4, AT+CMGS=<len>...).
On failure, the assertion message carries the tail of gammu's debug log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relouphone.simulator import SimulatedModem

GAMMU_SMSD = "/usr/bin/gammu-smsd"
TEXT = "Bonjour, ça va ? €"
REPLY = "Réponse, à plus"


@pytest.fixture
def gammu_dirs(tmp_path: Path) -> Path:
    if not os.path.exists(GAMMU_SMSD):
        pytest.skip(f"{GAMMU_SMSD} is not installed (apt install gammu-smsd)")
    for name in ("inbox", "outbox", "sent", "error"):
        (tmp_path / name).mkdir()
    return tmp_path


def smsdrc(base: Path, device: str) -> Path:
    """A gammu-smsd config: files backend in `base`, fast polling, full debug log."""
    config = base / "smsdrc"
    config.write_text(
        f"""[gammu]
device = {device}
connection = at
logfile = {base}/gammu.log
logformat = textall

[smsd]
service = files
inboxpath = {base}/inbox/
outboxpath = {base}/outbox/
sentsmspath = {base}/sent/
errorsmspath = {base}/error/
inboxformat = standard
outboxformat = unicode
transmitformat = auto
logfile = {base}/smsd.log
debuglevel = 255
commtimeout = 1
sendtimeout = 10
receivefrequency = 1
statusfrequency = 0
checksecurity = 0
checkbattery = 0
checksignal = 0
checknetwork = 0
"""
    )
    return config


@pytest.fixture
def smsd(gammu_dirs: Path) -> Iterator[Callable[[SimulatedModem], subprocess.Popen[bytes]]]:
    """Start gammu-smsd against a simulator; always killed at the end of the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(modem: SimulatedModem) -> subprocess.Popen[bytes]:
        config = smsdrc(gammu_dirs, modem.port)
        process = subprocess.Popen(
            [GAMMU_SMSD, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # polling a directory gammu writes: no event to wait on
    return False


def log_tail(base: Path) -> str:
    log = base / "smsd.log"
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no smsd.log)"


def test_gammu_smsd_receives_and_sends_through_the_simulator(
    gammu_dirs: Path, smsd: Callable[[SimulatedModem], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    with SimulatedModem(symlink=str(tmp_path / "ttyGSM")) as modem:
        process = smsd(modem)
        # gammu is ready once it has set up new-message notifications.
        assert modem.wait_for(
            lambda m: any(c.upper().startswith("AT+CNMI=") for c in m.commands), timeout=20
        ), log_tail(gammu_dirs)

        modem.deliver_sms("+33612345678", TEXT)
        inbox = gammu_dirs / "inbox"
        assert wait_until(lambda: any(inbox.iterdir()), timeout=15), log_tail(gammu_dirs)
        (received,) = inbox.iterdir()
        assert "+33612345678" in received.name
        assert received.read_text(encoding="utf-8") == TEXT
        # gammu deletes what it stored in its inbox.
        assert modem.wait_for(lambda m: not m.stored, timeout=10), log_tail(gammu_dirs)

        outgoing = gammu_dirs / "outbox" / "OUTC20240101_120000_00_+33698765432_sms0.txt"
        outgoing.write_bytes(b"\xff\xfe" + REPLY.encode("utf-16-le"))
        assert modem.wait_for(lambda m: bool(m.sent), timeout=20), log_tail(gammu_dirs)
        (sent,) = modem.sent
        assert sent.submit.recipient.number == "+33698765432"
        assert sent.submit.text == REPLY
        assert process.poll() is None, log_tail(gammu_dirs)
