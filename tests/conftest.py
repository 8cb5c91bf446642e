"""Shared fixtures: a fake clock, the simulated modem, a scripted raw peer, leak checks."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relouphone.clock import FakeClock

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread running or a file descriptor open behind it."""
    threads = set(threading.enumerate())
    fds = _open_fds()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        extra = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        leaked = _open_fds() - fds
        still_open = {fd for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
        if not extra and not still_open:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"threads left running: {[t.name for t in extra]}"
    targets = {fd: _target(fd) for fd in still_open}
    assert not still_open, f"file descriptors left open: {targets}"


def _target(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Answer = Callable[[str], list[str] | str | None]


class ScriptedPeer:
    """The far end of a real pseudo-terminal, answering commands from a Python function.

    For tests that need exact bytes on the line (invalid UTF-8, odd URCs) rather than a
    whole modem. `answer(command)` returns the response lines, a raw string, or None for
    a plain OK.
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._pending = bytearray()
        self._thread = threading.Thread(target=self._serve, name="scripted-peer", daemon=True)
        self._thread.start()

    def send(self, data: bytes | str) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def urc(self, line: str) -> None:
        self.send(f"\r\n{line}\r\n")

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self._pending += data
            self._dispatch()

    def _dispatch(self) -> None:
        while True:
            cut = min(
                (i for i in (self._pending.find(b"\r"), self._pending.find(b"\x1a")) if i >= 0),
                default=-1,
            )
            if cut < 0:
                return
            command = self._pending[:cut].decode(errors="replace").strip()
            del self._pending[: cut + 1]
            if not command:
                continue
            self.commands.append(command)
            reply = self.answer(command)
            if reply is None:
                reply = ["OK"]
            if isinstance(reply, str):
                self.send(reply)
            else:
                self.send("".join(f"\r\n{line}\r\n" for line in reply))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def plain_modem(command: str) -> list[str] | str | None:
    """Answers a cooperative modem gives: registered, SIM ready, storage empty."""
    if command.startswith("AT+CPIN?"):
        return ["+CPIN: READY", "OK"]
    if command.startswith("AT+CSQ"):
        return ["+CSQ: 17,99", "OK"]
    if command.startswith("AT+CREG?"):
        return ["+CREG: 0,1", "OK"]
    if command.startswith("AT+COPS?"):
        return ['+COPS: 0,0,"Simulated",7', "OK"]
    if command.startswith("AT+CMGS="):
        return "\r\n> "
    return None


@pytest.fixture
def scripted_peer() -> Iterator[Callable[[Answer], ScriptedPeer]]:
    peers: list[ScriptedPeer] = []

    def make(answer: Answer = plain_modem) -> ScriptedPeer:
        peer = ScriptedPeer(answer)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
