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
from .modem_errors import explain
from .pdu import encode_submit
from .store import Store
from .timefmt import from_db

__all__ = ["DEFAULT_MAX_ATTEMPTS", "RETRY_DELAYS", "Round", "SendResult", "send_due"]

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd... attempt after the modem refused a reply outright; the
# last one repeats for any further attempt.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
DEFAULT_MAX_ATTEMPTS = 4


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


def send_due(
    store: Store,
    modem: Modem,
    now: datetime,
    limits: Limits | None = None,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Round:
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
    results += [_send_one(store, modem, c, now, max_attempts) for c in decided.send]
    return Round(tuple(results), len(decided.wait), dict(decided.reasons))


def _expire(store: Store, candidate: Candidate, now: datetime) -> SendResult:
    store.mark_expired(candidate.reply_id, now)
    return SendResult(candidate.reply_id, candidate.number, "expired", error="waited too long")


def _send_one(
    store: Store, modem: Modem, candidate: Candidate, now: datetime, max_attempts: int
) -> SendResult:
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
        return _refused(store, candidate, reply.attempts, exc, now, max_attempts)
    store.mark_sent(reply_id, now, refs)
    return SendResult(reply_id, number, "sent", refs=tuple(refs))


def _refused(
    store: Store,
    candidate: Candidate,
    attempts: int,
    exc: ModemError,
    now: datetime,
    max_attempts: int,
) -> SendResult:
    """The modem said no, with a code that tells whether to give up, retry, or wait."""
    reply_id, number = candidate.reply_id, candidate.number
    meaning = explain(exc.kind, exc.code)
    error = f"{exc} ({meaning.text})"
    if meaning.verdict == "fail":
        store.mark_failed(reply_id, now, f"{error}: refused for good, not retried")
        return SendResult(reply_id, number, "failed", error=error)
    if meaning.verdict == "wait":
        # Nothing can be sent now; this reply is not to blame, so no attempt is spent.
        store.retry_later(reply_id, now, now + RETRY_DELAYS[0], error, spent=False)
        return SendResult(reply_id, number, "pending", error=error)
    if attempts >= max_attempts:
        store.mark_failed(reply_id, now, f"{error}: gave up after {attempts} attempts")
        return SendResult(reply_id, number, "failed", error=error)
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    store.retry_later(reply_id, now, now + delay, error)
    return SendResult(reply_id, number, "pending", error=error)
