"""Time, injected: the daemon asks a clock, so tests can run an hour in a millisecond."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock:
    """Wall-clock time for records and schedules, plus how long to really block."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        raise NotImplementedError

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards."""
        raise NotImplementedError

    def real_timeout(self, seconds: float) -> float:
        """How long a blocking wait may really last to cover `seconds` of clock time."""
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def real_timeout(self, seconds: float) -> float:
        return max(0.0, seconds)


class FakeClock(Clock):
    """A clock that only moves when a test says so.

    Waits are capped at a few milliseconds of real time, so a loop waiting for
    "one hour" notices promptly when a test advances the clock past it.
    """

    poll_interval = 0.005

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
        self._origin = self._now
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return (self._now - self._origin).total_seconds()

    def real_timeout(self, seconds: float) -> float:
        return min(max(0.0, seconds), self.poll_interval)

    def advance(self, seconds: float) -> None:
        """Move time forward (or backward, to simulate a clock jump)."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
