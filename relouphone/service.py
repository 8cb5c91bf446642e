"""Life under systemd: sd_notify (READY, STATUS, WATCHDOG) and logging to the journal.

Outside systemd every call here is a no-op and logs go to stderr, so the same daemon runs
in a terminal, in tests and as a service.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping

from .display import safe

__all__ = ["Notifier", "setup_logging"]

log = logging.getLogger(__name__)


class Notifier:
    """Tells systemd how the daemon is doing, when systemd is listening.

    The sd_notify protocol is one datagram to the socket named by NOTIFY_SOCKET; sending it
    here, rather than through libsystemd, lets the socket come from the `environ` given
    (tests, a supervisor other than systemd) instead of always from the process.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() else None
        self.last_status: str | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def _notify(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message.encode(), self._address)
        except OSError as exc:
            # systemd gone or restarting: the daemon's work matters more than its status.
            log.debug("sd_notify %r failed: %s", message, exc)

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


def _socket_address(value: str) -> str | bytes | None:
    """NOTIFY_SOCKET as a socket address; "@name" is Linux's abstract namespace."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value if value.startswith("/") else None


class _EscapingFormatter(logging.Formatter):
    """Log lines name senders and quote what modems said: text from outside, which must not
    forge a log line (a CR or LF in a sender's name) or act on the terminal reading it."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return safe(super().formatMessage(record))


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
            handler.setFormatter(_EscapingFormatter("%(message)s"))
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_EscapingFormatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The library logs every byte at DEBUG; keep it quiet unless asked.
    logging.getLogger("gsmmodem").setLevel(logging.DEBUG if verbose else logging.WARNING)
