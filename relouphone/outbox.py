"""Sending the replies that have fallen due: within the plan's limits, and at most once each.

A reply moves pending -> sending -> sent, or failed; or, without ever leaving, expired
(it waited longer than `[limits] max_wait`) or blocked. `sending` is committed before
the modem is asked, so a crash mid-send leaves a trace; the store settles such replies as
failed at the next start rather than risk messaging someone twice. Which due replies may
leave now is the budget's decision (`relouphone.budget`), taken from counts in the
database so that limits hold across restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .budget import MONTH_SECONDS, Candidate, Limits, Usage, plan
from .errors import ModemError, SendUncertain
from .modem import Modem
from .pdu import encode_submit
from .store import Store
from .timefmt import from_db

__all__ = ["RETRY_DELAYS", "Round", "SendResult", "send_due"]

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd... attempt after the modem refused a reply outright.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))


@dataclass(frozen=True, slots=True)
class SendResult:
    reply_id: int
    number: str
    state: str
    refs: tuple[int, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Round:
    """One pass over the due replies: what happened to each, and how many must wait."""

    results: tuple[SendResult, ...] = ()
    waiting: int = 0
    waiting_reasons: dict[int, str] = field(default_factory=dict)


def send_due(store: Store, modem: Modem, now: datetime, limits: Limits | None = None) -> Round:
    """Expire what waited too long, then send what the budget allows, in its order."""
    limits = limits or Limits()
    rows = store.due_candidates(now)
    if not rows:
        return Round()
    candidates = [
        Candidate(
            reply_id=row["id"],
            number=row["number"],
            created_at=from_db(row["created_at"]),
            due_at=from_db(row["due_at"]),
            priority=row["priority"],
        )
        for row in rows
    ]
    minute, day, recipients, burst = store.usage(now, MONTH_SECONDS)
    decided = plan(candidates, Usage(minute, day, recipients, burst), limits, now)
    results = [_expire(store, c, now) for c in decided.expire]
    results += [_send_one(store, modem, c, now) for c in decided.send]
    return Round(tuple(results), len(decided.wait), dict(decided.reasons))


def _expire(store: Store, candidate: Candidate, now: datetime) -> SendResult:
    store.mark_expired(candidate.reply_id, now)
    return SendResult(candidate.reply_id, candidate.number, "expired", error="waited too long")


def _send_one(store: Store, modem: Modem, candidate: Candidate, now: datetime) -> SendResult:
    reply_id, number = candidate.reply_id, candidate.number
    if not store.mark_sending(reply_id, now):
        # Blocked (or settled) between the plan and now: the CLI may write at any time.
        return SendResult(reply_id, number, "skipped")
    reply = store.reply(reply_id)
    # The concatenation reference only has to differ between consecutive long messages.
    pdus = encode_submit(number, reply.text, concat_ref=reply_id % 256)
    try:
        refs = modem.send(pdus)
    except SendUncertain as exc:
        store.mark_failed(reply_id, now, f"{exc} (may have been sent; not retried)")
        return SendResult(reply_id, number, "failed", error=str(exc))
    except ModemError as exc:
        attempt = reply.attempts
        if attempt > len(RETRY_DELAYS):
            store.mark_failed(reply_id, now, f"{exc} (gave up after {attempt} attempts)")
            return SendResult(reply_id, number, "failed", error=str(exc))
        store.retry_later(reply_id, now, now + RETRY_DELAYS[attempt - 1], str(exc))
        return SendResult(reply_id, number, "pending", error=str(exc))
    store.mark_sent(reply_id, now, refs)
    return SendResult(reply_id, number, "sent", refs=tuple(refs))
