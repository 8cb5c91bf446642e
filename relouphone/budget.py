"""Which due replies may leave now, under the plan's limits: pure, no I/O, `now` passed in.

A flat-rate SIM is not unlimited: the operator paces the modem, caps the texts a day, and
French "unlimited" plans cap the *distinct recipients* a month (99 to 250) and forbid bulk
use. `plan()` takes the replies that are due and what the database says was already sent,
and splits them into those to send now, those to expire and those that wait. The rules:

1. A reply not yet due is left alone (it is in none of the lists). Since a reply is never
   due before it was created, a clock that jumped back holds replies until it catches up.
2. **Expiry first**: a reply that has been due for more than `max_wait` expires instead of
   leaving days late to someone who has moved on. It is counted from the due time, not the
   creation, so that a reply delay longer than `max_wait` still leaves.
3. **Order**: "normal" replies before "burst" ones, then oldest due first, then by id.
4. **Pacing**: at most `per_minute` sends in any 60 s and `per_day` in any 86,400 s.
5. **Distinct recipients**: at most `distinct_recipients_per_month` distinct numbers in any
   `MONTH_SECONDS` (31 days), a window no billing cycle can be longer than. A number already
   sent to within the window costs nothing more; a new one needs room under the cap.
6. **Burst share**: a "burst" reply (an abusive number, or one that wrote during a raid)
   to a new recipient also needs the month's burst recipients to stay under
   `floor(cap * burst_share)` (4 of 99 by default). Why a fixed small share: the reply is
   delayed (an hour by default), so when a raider's reply falls due we cannot know how many
   real people will write later in the month. A reservation in proportion to the remaining
   month would still hand the leftovers to raiders late in the month; a fixed share bounds
   what a raid can ever take, whenever it comes.
7. **No starving**: a reply that does not fit waits, and the next ones are still considered,
   so a "normal" reply to a known recipient still leaves when new recipients are full, and
   a burst reply never blocks a normal one.
8. **One per number per plan**: a second reply to a number already chosen waits.

The counts come from the database (`Usage`), so they hold across restarts. Sends recorded
with a time *after* `now` (the clock jumped back) are counted too: every window that
contains `now` then sees at most what `Usage` reports, and no limit can be exceeded on the
timestamps as recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "MONTH_SECONDS",
    "Candidate",
    "Limits",
    "Plan",
    "Usage",
    "burst_cap",
    "next_slot",
    "plan",
]

MONTH_SECONDS = 31 * 86400
MINUTE_SECONDS = 60
DAY_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Limits:
    """The plan's limits, from the `[limits]` config section."""

    per_minute: int = 5
    per_day: int = 100
    # Over any rolling MONTH_SECONDS window, stricter than any billing cycle.
    distinct_recipients_per_month: int = 99
    # A reply still held by the limits this long after it fell due expires.
    max_wait: float = 7 * 86400
    # At most this share of the monthly distinct-recipient cap may go to "burst" replies.
    burst_share: float = 0.05

    def __post_init__(self) -> None:
        if min(self.per_minute, self.per_day, self.distinct_recipients_per_month) < 0:
            raise ValueError("limits cannot be negative")
        if self.max_wait < 0:
            raise ValueError("max_wait cannot be negative")
        if not 0.0 <= self.burst_share <= 1.0:
            raise ValueError("burst_share must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A reply waiting to leave (state pending)."""

    reply_id: int
    number: str
    created_at: datetime
    due_at: datetime
    priority: str  # "normal" | "burst"; anything else is treated as "burst"


@dataclass(frozen=True, slots=True)
class Usage:
    """What was already handed to the modem, counted from the database as of `now`.

    Every count includes sends whose attempt time is after `now` (the clock jumped back).
    Every time a reply was handed to the modem counts, even if it then failed, and each
    try of a reply refused for a passing reason and retried: the operator may have billed
    or counted each.
    """

    last_minute: int  # attempts with time > now - 60 s
    last_day: int  # attempts with time > now - 86,400 s
    month_recipients: frozenset[str]  # distinct numbers with an attempt > now - MONTH_SECONDS
    # How many of `month_recipients` got a "burst" reply within the same window. Counting a
    # number that also got a normal reply errs on the safe side (fewer burst replies).
    month_burst_recipients: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The split of due candidates: send now (in this order), expire, or wait.

    `reasons` maps the id of each waiting reply to why it waits: "per_minute", "per_day",
    "monthly_recipients", "burst_share" or "same_number".
    """

    send: tuple[Candidate, ...]
    expire: tuple[Candidate, ...]
    wait: tuple[Candidate, ...]
    reasons: dict[int, str] = field(default_factory=dict)


def burst_cap(limits: Limits) -> int:
    """How many new recipients a month "burst" replies may take."""
    # The small epsilon keeps 0.05 * 100 from rounding down to 4 through float error.
    return math.floor(limits.distinct_recipients_per_month * limits.burst_share + 1e-9)


def _order(candidate: Candidate) -> tuple[int, datetime, int]:
    return (0 if candidate.priority == "normal" else 1, candidate.due_at, candidate.reply_id)


def plan(candidates: Sequence[Candidate], usage: Usage, limits: Limits, now: datetime) -> Plan:
    """Split the due candidates into send / expire / wait, following the module's rules."""
    due = [c for c in candidates if c.due_at <= now]
    max_wait = timedelta(seconds=limits.max_wait)
    expire = tuple(c for c in due if now - c.due_at > max_wait)
    expired_ids = {c.reply_id for c in expire}
    queue = sorted((c for c in due if c.reply_id not in expired_ids), key=_order)

    minute_left = limits.per_minute - usage.last_minute
    day_left = limits.per_day - usage.last_day
    recipients = set(usage.month_recipients)
    bursts = usage.month_burst_recipients
    bursts_allowed = burst_cap(limits)
    chosen: set[str] = set()
    send: list[Candidate] = []
    wait: list[Candidate] = []
    reasons: dict[int, str] = {}

    for c in queue:
        reason = None
        known = c.number in recipients
        if c.number in chosen:
            reason = "same_number"
        elif day_left <= 0:
            reason = "per_day"
        elif minute_left <= 0:
            reason = "per_minute"
        elif not known and len(recipients) >= limits.distinct_recipients_per_month:
            reason = "monthly_recipients"
        elif not known and c.priority != "normal" and bursts >= bursts_allowed:
            reason = "burst_share"
        if reason is not None:
            # Keep going: a later candidate (a known recipient, a normal reply) may still fit.
            wait.append(c)
            reasons[c.reply_id] = reason
            continue
        send.append(c)
        chosen.add(c.number)
        minute_left -= 1
        day_left -= 1
        if not known:
            recipients.add(c.number)
            if c.priority != "normal":
                bursts += 1
    return Plan(send=tuple(send), expire=expire, wait=tuple(wait), reasons=reasons)


def next_slot(attempts: Iterable[datetime], limits: Limits, now: datetime) -> datetime | None:
    """When one more send fits both the per-minute and per-day windows.

    `attempts` are the attempt times of the sends of the last day (older ones are ignored;
    later-than-`now` ones count, as in `Usage`). Returns `now` if a send fits now, None if
    none ever will (a limit of zero). The monthly recipient cap is not considered: a reply
    waiting for it is re-planned when the daemon wakes for another reason, and expires at
    `due_at + max_wait` at the latest.
    """
    times = list(attempts)
    slot = now
    for window, limit in ((MINUTE_SECONDS, limits.per_minute), (DAY_SECONDS, limits.per_day)):
        if limit <= 0:
            return None
        start = now - timedelta(seconds=window)
        inside = sorted(t for t in times if t > start)
        excess = len(inside) - limit + 1
        if excess > 0:
            # The window has room once its `excess` oldest sends have left it.
            slot = max(slot, inside[excess - 1] + timedelta(seconds=window))
    return slot
