"""Who gets a reply, and when: plain decisions over plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .numbers import Sender

__all__ = ["Decision", "decide", "reply_due_at"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an inbound event earns a reply, and the reason kept with the event."""

    reply: bool
    reason: str


def decide(sender: Sender, *, already_answered: bool) -> Decision:
    """One reply per number, ever; nothing to an address nobody can be answered at."""
    if sender.kind != "phone":
        # withheld, alphanumeric or invalid: there is no one to answer.
        return Decision(reply=False, reason=sender.kind)
    if already_answered:
        return Decision(reply=False, reason="duplicate")
    return Decision(reply=True, reason="replied")


def reply_due_at(received_at: datetime, delay_seconds: float) -> datetime:
    """The reply leaves `delay` after the message arrived, not after we processed it."""
    return received_at + timedelta(seconds=delay_seconds)
