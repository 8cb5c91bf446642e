"""Sending the replies that have fallen due, at most once each.

A reply moves pending -> sending -> sent, or failed. `sending` is committed before the
modem is asked, so a crash mid-send leaves a trace; the store settles such replies as
failed at the next start rather than risk messaging someone twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import ModemError, SendUncertain
from .modem import Modem
from .pdu import encode_submit
from .store import Reply, Store

__all__ = ["RETRY_DELAYS", "SendResult", "send_due"]

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd... attempt after the modem refused a reply outright.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))


@dataclass(frozen=True, slots=True)
class SendResult:
    reply: Reply
    state: str
    refs: tuple[int, ...] = ()
    error: str | None = None


def send_due(store: Store, modem: Modem, now: datetime, *, limit: int = 10) -> list[SendResult]:
    """Send up to `limit` due replies; returns what became of each."""
    return [_send_one(store, modem, reply, now) for reply in store.due_replies(now, limit)]


def _send_one(store: Store, modem: Modem, reply: Reply, now: datetime) -> SendResult:
    store.mark_sending(reply.id, now)
    # The concatenation reference only has to differ between consecutive long messages.
    pdus = encode_submit(reply.number, reply.text, concat_ref=reply.id % 256)
    try:
        refs = modem.send(pdus)
    except SendUncertain as exc:
        store.mark_failed(reply.id, now, f"{exc} (may have been sent; not retried)")
        return SendResult(reply, "failed", error=str(exc))
    except ModemError as exc:
        attempt = reply.attempts + 1
        if attempt > len(RETRY_DELAYS):
            store.mark_failed(reply.id, now, f"{exc} (gave up after {attempt} attempts)")
            return SendResult(reply, "failed", error=str(exc))
        store.retry_later(reply.id, now, now + RETRY_DELAYS[attempt - 1], str(exc))
        return SendResult(reply, "pending", error=str(exc))
    store.mark_sent(reply.id, now, refs)
    return SendResult(reply, "sent", refs=tuple(refs))
