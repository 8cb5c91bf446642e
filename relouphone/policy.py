"""Who gets a reply, and when: plain decisions over plain data, no I/O, `now` passed in.

`decide()` looks at one inbound event (a text or a call) and what the database knows about
its number, and answers with a `Decision`: reply or not, the reason kept with the event, and
the priority the reply gets in the budget (see `relouphone.budget`). The rules, first match
wins:

1. **filtered**: a config filter ignored the message (operator notifications...).
2. **blocked**: the number is on the block list.
3. **Never-reply classes** (reason = the category): short codes, premium-rate numbers,
   alphanumeric senders, withheld and invalid numbers never get a reply, whatever the config
   says, even if listed in `reply_to` or on the allow list. Answering them costs money or
   reaches no one.
4. **Category not in `reply_to`** (reason = the category, e.g. "foreign", "fixed_line"):
   by default only mobiles of the home regions get a reply.
5. **Allowed** test numbers get a reply every time (no once-per-number), but still go
   through the budget like any other reply, and rules 1-4 still apply.
6. **abusive**: a number with more than `max_per_sender` inbound events within
   `flood_window` is abusive. It still gets at most one reply per cooldown: while one is in
   cooldown the event is "abusive" (not "duplicate", so the log shows the flood). Otherwise it
   gets none if `reply_to_abusive` is off, else one with "burst" priority.
7. **duplicate**: the number already got a reply within `cooldown` (None: ever), or a reply
   granted to it has not left yet.
8. **raid**: raid mode is on and `raid_withhold` is set: a number first written from during a
   raid gets no reply.
9. **replied**: the reply is granted, with "burst" priority during a raid and "normal"
   otherwise, so the scarce monthly budget goes first to people who wrote outside a flood.

Cooldown is measured from `History.last_reply_at`. A time in the future (the clock jumped
back) counts as "within the cooldown": when in doubt, no second reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "BURST",
    "NEVER_REPLY",
    "NORMAL",
    "REPLYABLE",
    "Decision",
    "History",
    "Rules",
    "backlog_arrival",
    "decide",
    "in_cooldown",
    "is_abusive",
    "reply_due_at",
]

# Replying to these costs money (short codes, premium) or reaches no one; no config can
# turn them on.
NEVER_REPLY = frozenset({"short_code", "premium", "alphanumeric", "withheld", "invalid"})
# The categories a config may list in `reply_to`.
REPLYABLE = frozenset({"mobile", "fixed_line", "toll_free", "shared_cost", "foreign", "other"})

NORMAL = "normal"
BURST = "burst"


@dataclass(frozen=True, slots=True)
class Rules:
    """The policy part of the config, already validated."""

    # Categories that may get a reply; members of NEVER_REPLY are ignored even if listed.
    reply_to: frozenset[str] = frozenset({"mobile"})
    # Seconds between two replies to one number; None = one reply ever.
    cooldown: float | None = None
    # More inbound events than this within `flood_window` seconds marks the number abusive.
    max_per_sender: int = 10
    flood_window: float = 3600.0
    # False: an abusive number gets no reply at all.
    reply_to_abusive: bool = True
    # True: a number first seen during raid mode gets no reply.
    raid_withhold: bool = False


@dataclass(frozen=True, slots=True)
class History:
    """What the database knows about one number, as of `now`.

    `last_reply_at` is the latest moment a reply to this number counted, over the replies
    that still count (pending, sending, sent, and failed, which may have left all the
    same; not expired or blocked, which never did): the time it was handed to the modem
    if it was, else its creation time. Taking the send time when there is one is what
    makes the cooldown hold between the replies as *received*, even when the first one
    waited days for the budget.

    `reply_pending` says a reply granted to this number has not left yet (pending or
    sending); no second one is granted meanwhile, whatever its age, so two waiting replies
    cannot leave close together.

    `recent_events` counts the inbound events from this number within
    `Rules.flood_window`, including the current one (and any recorded "in the future" after
    the clock jumped back).
    """

    last_reply_at: datetime | None
    recent_events: int
    blocked: bool = False
    # Test numbers: exempt from once-per-number, still subject to limits and NEVER_REPLY.
    allowed: bool = False
    reply_pending: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an inbound event earns a reply, the reason kept with the event, and the
    priority of the reply in the budget ("normal" or "burst"; meaningful when `reply`)."""

    reply: bool
    reason: str
    priority: str = NORMAL


def is_abusive(history: History, rules: Rules) -> bool:
    """More than `max_per_sender` inbound events within the flood window."""
    return history.recent_events > rules.max_per_sender


def in_cooldown(history: History, rules: Rules, now: datetime) -> bool:
    """Whether a new reply to this number would come too soon after the last one.

    A reply still waiting to leave always counts as in cooldown. A last reply dated after
    `now` (the clock jumped back) gives a negative age, which is within any cooldown.
    """
    if history.reply_pending:
        return True
    if history.last_reply_at is None:
        return False
    if rules.cooldown is None:
        return True
    return now - history.last_reply_at < timedelta(seconds=rules.cooldown)


def decide(
    category: str, history: History, *, now: datetime, raid: bool, filtered: bool, rules: Rules
) -> Decision:
    """Apply the rules of the module docstring, in order; the first that matches decides."""
    if filtered:
        return Decision(reply=False, reason="filtered")
    if history.blocked:
        return Decision(reply=False, reason="blocked")
    if category in NEVER_REPLY:
        return Decision(reply=False, reason=category)
    if category not in rules.reply_to:
        # Also catches a category this module does not know: no reply unless asked for.
        return Decision(reply=False, reason=category)
    if history.allowed:
        return Decision(reply=True, reason="replied")
    cooling = in_cooldown(history, rules, now)
    if is_abusive(history, rules):
        if cooling or not rules.reply_to_abusive:
            return Decision(reply=False, reason="abusive")
        # One reply still goes out, but it only gets the small burst share of the budget.
        return Decision(reply=True, reason="replied", priority=BURST)
    if cooling:
        return Decision(reply=False, reason="duplicate")
    if raid and rules.raid_withhold:
        return Decision(reply=False, reason="raid")
    return Decision(reply=True, reason="replied", priority=BURST if raid else NORMAL)


def backlog_arrival(
    sent_at: datetime | None, read_at: datetime, deaf_since: datetime | None
) -> datetime:
    """When a message found waiting on the SIM arrived, for the delay of its reply.

    The network's timestamp (SCTS) says, kept between the moment the daemon stopped
    listening (it would have read the message otherwise) and the moment it was read: a
    service centre's clock that is wrong cannot make the reply early or late by more than
    the daemon was away. Without either time, the message arrived when it was read.
    """
    if sent_at is None or deaf_since is None:
        return read_at
    return min(read_at, max(deaf_since, sent_at))


def reply_due_at(received_at: datetime, delay_seconds: float) -> datetime:
    """The reply leaves `delay` after the message arrived, not after we processed it."""
    return received_at + timedelta(seconds=delay_seconds)
