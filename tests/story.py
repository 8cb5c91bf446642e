"""Scenario steps for end-to-end tests: the real daemon, a simulated modem on a real pty.

Tests read like stories: "a text arrives from X", "an hour passes", "X got one reply".
Time is a FakeClock, so an hour passes in milliseconds; the serial link is real.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from relouphone.clock import FakeClock
from relouphone.config import Config, ModemConfig, ReplyConfig, StorageConfig
from relouphone.daemon import Daemon
from relouphone.ingest import ReplyRule
from relouphone.pdu import Submit, encode_submit, reassemble
from relouphone.service import Notifier
from relouphone.simulator import SimulatedModem
from relouphone.store import Store

REPLY_TEXT = "Ce numéro est un leurre. Non, c'est non."
HOUR = 3600.0
WAIT = 10.0


class Story:
    """One simulated modem, one database, and a daemon that can be stopped and restarted."""

    def __init__(self, tmp_path: Path, clock: FakeClock, **sim_options) -> None:
        self.clock = clock
        self.sim = SimulatedModem(**sim_options).start()
        self.config = replace(
            Config(source="<test>"),
            modem=ModemConfig(port=self.sim.port, command_timeout=5.0),
            reply=ReplyConfig(delay=HOUR, text=REPLY_TEXT),
            storage=StorageConfig(database=tmp_path / "relouphone.db"),
        )
        self.daemon: Daemon | None = None
        self._thread: threading.Thread | None = None
        self.exit_code: int | None = None

    # -- the daemon ------------------------------------------------------------------

    def start_daemon(self, *, wait_ready: bool = True, store: Store | None = None) -> Daemon:
        self.daemon = Daemon(
            self.config, clock=self.clock, notifier=Notifier(environ={}), store=store
        )
        daemon = self.daemon

        def run() -> None:
            self.exit_code = daemon.run()

        self._thread = threading.Thread(target=run, name="daemon-under-test")
        self._thread.start()
        if wait_ready:
            assert daemon.ready.wait(WAIT), "the daemon did not get ready"
        return daemon

    def stop_daemon(self) -> None:
        if self.daemon is not None and self._thread is not None:
            self.daemon.stop()
            self._thread.join(WAIT)
            assert not self._thread.is_alive(), "the daemon did not stop"
        self.daemon = None
        self._thread = None

    def wait_exit(self) -> int | None:
        """Wait for a daemon that stops by itself; its exit code."""
        if self._thread is not None:
            self._thread.join(WAIT)
            assert not self._thread.is_alive(), "the daemon did not exit"
        return self.exit_code

    def restart_daemon(self) -> None:
        self.stop_daemon()
        self.start_daemon()

    def close(self) -> None:
        self.stop_daemon()
        self.sim.stop()

    # -- what happens ----------------------------------------------------------------

    def text_arrives(self, sender: str, text: str, *, notify: bool = True) -> list[int]:
        return self.sim.deliver_sms(sender, text, notify=notify)

    def call_arrives(self, caller: str | None, *, ton: int | None = None, **kw) -> None:
        self.sim.ring(caller, ton=ton, **kw)

    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def settle(self) -> None:
        """Let the daemon's loop go round a few times after the latest step."""
        if self.daemon is not None:
            assert self.daemon.wait_turns(3, WAIT)

    # -- what we observe -------------------------------------------------------------

    def db(self) -> Store:
        return Store(self.config.storage.database)

    def inbound(self) -> list[dict]:
        store = self.db()
        try:
            return list(reversed(store.inbound(limit=100000)))
        finally:
            store.close()

    def wait_recorded(self, count: int) -> list[dict]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            rows = self.inbound()
            if len(rows) >= count:
                return rows
            time.sleep(0.01)
        raise AssertionError(f"expected {count} inbound events, have {len(self.inbound())}")

    def wait_sim_empty(self) -> None:
        """Wait for the daemon to delete everything from the SIM: it does, after each commit."""
        assert self.sim.wait_for(lambda sim: not sim.stored, WAIT), (
            f"still on the SIM: {self.sim.stored}"
        )

    def wait_sent(self, count: int) -> list[Submit]:
        assert self.sim.wait_for(lambda s: len(s.sent) >= count, WAIT), (
            f"expected {count} messages sent, have {len(self.sim.sent)}"
        )
        self.settle()
        return [m.submit for m in self.sim.sent]

    def sent_texts(self) -> dict[str, list[str]]:
        """Recipient -> decoded texts, concatenated parts reassembled."""
        groups: dict[tuple[str, int | None], list[Submit]] = {}
        for message in self.sim.sent:
            submit = message.submit
            key = (submit.recipient.number, submit.concat.ref if submit.concat else None)
            groups.setdefault(key, []).append(submit)
        texts: dict[str, list[str]] = {}
        for (number, _), parts in groups.items():
            text = reassemble((p.concat.seq if p.concat else 1, p.text) for p in parts)
            texts.setdefault(number, []).append(text)
        return texts

    def replies_sent(self) -> list[tuple[str, str]]:
        """(recipient, decoded text) of each message the modem sent, oldest first.

        The parts of a concatenated message are reassembled; every single-part message
        stands alone, so the same reply sent twice shows twice (unlike `sent_texts`).
        """
        messages: dict[object, list[Submit]] = {}
        for position, message in enumerate(self.sim.sent):
            submit = message.submit
            key = (submit.recipient.number, submit.concat.ref) if submit.concat else position
            messages.setdefault(key, []).append(submit)
        return [
            (
                parts[0].recipient.number,
                reassemble((p.concat.seq if p.concat else 1, p.text or "") for p in parts),
            )
            for parts in messages.values()
        ]

    def send_attempts(self) -> int:
        """How many times the modem was asked to send (AT+CMGS=), refused or not."""
        return sum(1 for command in self.sim.commands if command.upper().startswith("AT+CMGS="))

    def expect_replies(self, *numbers: str) -> None:
        """Each of `numbers` got exactly one reply, the configured text, and nobody else any.

        Counted from the SMS-SUBMITs the modem took, so a second reply to the same number
        fails it as surely as a missing one.
        """
        text = ReplyRule.from_config(self.config).text  # as sent: gsm7_normalize applied
        submits = sum(len(encode_submit(number, text)) for number in numbers)
        assert len(self.sim.sent) == submits, (
            f"the modem took {len(self.sim.sent)} SMS-SUBMITs, expected {submits}:"
            f" {self.replies_sent()}"
        )
        assert sorted(self.replies_sent()) == sorted((number, text) for number in numbers)
