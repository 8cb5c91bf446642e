"""Life under systemd: sd_notify (READY, STATUS, WATCHDOG) and logging to the journal.

Outside systemd every call here is a no-op and logs go to stderr, so the same daemon runs
in a terminal, in tests and as a service.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["Notifier", "setup_logging"]

log = logging.getLogger(__name__)


class Notifier:
    """Tells systemd how the daemon is doing, when systemd is listening."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._send = None
        if env.get("NOTIFY_SOCKET"):
            try:
                from systemd import daemon
            except ImportError:
                log.warning("NOTIFY_SOCKET is set but systemd-python is missing: no sd_notify")
            else:
                self._send = daemon.notify
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() else None
        self.last_status: str | None = None

    @property
    def enabled(self) -> bool:
        return self._send is not None

    def _notify(self, message: str) -> None:
        if self._send is not None:
            self._send(message)

    def ready(self) -> None:
        self._notify("READY=1")

    def status(self, text: str) -> None:
        if text != self.last_status:
            self.last_status = text
            self._notify(f"STATUS={text}")

    def watchdog(self) -> None:
        """Fed only while the modem answers: a wedged modem lets systemd restart us."""
        self._notify("WATCHDOG=1")

    def stopping(self) -> None:
        self._notify("STOPPING=1")


def setup_logging(verbose: bool = False, environ: dict[str, str] | None = None) -> None:
    """Journal when systemd started us (it sets JOURNAL_STREAM), stderr otherwise."""
    env = os.environ if environ is None else environ
    level = logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler | None = None
    if env.get("JOURNAL_STREAM"):
        try:
            from systemd.journal import JournalHandler
        except ImportError:
            handler = None
        else:
            handler = JournalHandler(SYSLOG_IDENTIFIER="relouphone")
            handler.setFormatter(logging.Formatter("%(message)s"))
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The library logs every byte at DEBUG; keep it quiet unless asked.
    logging.getLogger("gsmmodem").setLevel(logging.DEBUG if verbose else logging.WARNING)
