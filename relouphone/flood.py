"""Raid mode from the global inbound rate: pure, no clock, times passed in.

A raid is many numbers writing at once, which no per-number rule sees. `RaidDetector`
counts all inbound events (texts and calls) over a sliding `window`:

- **On** when more than `raid_rate * window / 60` events fall within the last `window`
  seconds (`raid_rate` is in events per minute).
- **Off** once the count has stayed at or below half of that for `calm_after` seconds. The
  gap between the two thresholds, and the wait, are hysteresis: a raid that pauses for a
  minute does not flip the mode back and forth.

Memory stays bounded under any flood: only the newest `floor(threshold) + 1` timestamps
within the window are kept. That is exact, not an approximation: "more than the threshold"
only needs to see that many, and the calm test (at most half) needs fewer.

A clock that jumps backwards (an event or an update dated before the latest time seen) is
taken as a correction of the clock: every stored time (events, `since`, the start of the
calm) is shifted back by the same amount, so the rate and the durations measured so far
stay as they were and the raid ends `calm_after` after the flood stops, as it would have.
Without the shift, events stamped "in the future" would stay in the window until the clock
caught up, keeping raid mode on for as long as the jump. A clock jumping forwards simply
ages everything out, which may end a raid early: a few replies then get "normal" priority,
and the budget's other limits still hold.

The state lives in memory only: after a restart the detector starts calm.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

__all__ = ["RaidDetector"]


class RaidDetector:
    """Raid mode on and off from the global inbound rate (see the module docstring)."""

    def __init__(self, raid_rate: float, *, window: float = 60.0, calm_after: float = 600.0):
        if raid_rate <= 0 or window <= 0 or calm_after < 0:
            raise ValueError("raid_rate and window must be positive, calm_after not negative")
        self._window = timedelta(seconds=window)
        self._calm_after = timedelta(seconds=calm_after)
        threshold = raid_rate * window / 60.0
        # On at `_on` events in the window (more than the threshold), calm at `_calm` or fewer.
        self._on = math.floor(threshold) + 1
        self._calm = math.floor(threshold / 2)
        self._events: deque[datetime] = deque(maxlen=self._on)
        self._active = False
        self._since: datetime | None = None
        self._calm_since: datetime | None = None
        self._latest: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether raid mode is on."""
        return self._active

    @property
    def since(self) -> datetime | None:
        """When the current raid started (in the clock's latest frame), None when calm."""
        return self._since

    @property
    def held(self) -> int:
        """How many timestamps are kept in memory (at most the switch-on count)."""
        return len(self._events)

    def observe(self, at: datetime) -> bool:
        """Record one inbound event at `at`; True if the raid state changed."""
        self._follow_clock(at)
        self._events.append(at)  # the deque's maxlen drops the oldest beyond `_on`
        return self._evaluate(at)

    def update(self, now: datetime) -> bool:
        """Re-evaluate without an event (time passing ends a raid); True if changed."""
        self._follow_clock(now)
        return self._evaluate(now)

    def _follow_clock(self, now: datetime) -> None:
        """Shift the stored times back when the clock jumped back (see the module docstring)."""
        if self._latest is not None and now < self._latest:
            shift = self._latest - now
            self._events = deque((t - shift for t in self._events), maxlen=self._on)
            if self._since is not None:
                self._since -= shift
            if self._calm_since is not None:
                self._calm_since -= shift
        self._latest = now

    def _count_above(self, n: int, now: datetime) -> bool:
        """Whether more than `n` stored events fall within the window ending at `now`."""
        # Events are in time order, so it is enough to look at the (n+1)-th newest.
        return len(self._events) > n and self._events[-(n + 1)] > now - self._window

    def _evaluate(self, now: datetime) -> bool:
        changed = False
        if not self._active:
            if self._count_above(self._on - 1, now):
                self._active, self._since, self._calm_since = True, now, None
                changed = True
        elif self._count_above(self._calm, now):
            self._calm_since = None
        else:
            if self._calm_since is None:
                # The count fell to the calm level when the (calm+1)-th newest event left the
                # window, possibly before this call; no event can have been pruned since the
                # last call, when the count was still above it.
                if len(self._events) > self._calm:
                    self._calm_since = self._events[-(self._calm + 1)] + self._window
                else:
                    self._calm_since = now
            if now - self._calm_since >= self._calm_after:
                self._active, self._since, self._calm_since = False, None, None
                changed = True
        self._prune(now)
        return changed

    def _prune(self, now: datetime) -> None:
        start = now - self._window
        while self._events and self._events[0] <= start:
            self._events.popleft()
