"""Turning what the modem holds into committed records: messages, calls, and their decisions.

Each function runs in one transaction: the raw PDU, the decoded event, the sender's counts,
the decision and the scheduled reply commit together. Only after that commit may the
caller delete the message from the modem.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import gsm7
from .config import Config
from .errors import PduError
from .filters import Filters
from .modem import UNREAD, IncomingCall, StoredMessage
from .numbers import Sender, identify
from .pdu import Deliver, decode_pdu, reassemble
from .policy import Decision, History, Rules, backlog_arrival, decide, reply_due_at
from .store import PartRow, Store

__all__ = [
    "MISSING_PART",
    "Outcome",
    "ReplyRule",
    "ingest_call",
    "ingest_incomplete",
    "ingest_message",
]

log = logging.getLogger(__name__)

# Why a message's UNREAD <stat> matters: reading a message marks it read, so one we have
# read before can never come back unread: an unread message in the slot of one we
# committed but could not confirm deleting is a new arrival, even with the same bytes
# (a flooder's identical texts in the same second are byte for byte the same PDU).
# This holds only if a deletion is noted before the next message is read: the daemon
# does so, and forgets at start-up the deletions a crash kept it from noting.
# Stands for each part of a long text that never arrived.
MISSING_PART = "[…]"
# A part arriving this long after its message was recorded incomplete still fills it in.
LATE_PART_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ReplyRule:
    """Everything that decides what an inbound event becomes, from the configuration."""

    text: str
    delay: float
    home_regions: tuple[str, ...] = ("FR",)
    rules: Rules = field(default_factory=Rules)
    filters: Filters = field(default_factory=lambda: Filters(()))
    max_text_length: int = 2000

    @classmethod
    def from_config(cls, config: Config) -> ReplyRule:
        text = config.reply.text
        if config.reply.gsm7_normalize:
            text = gsm7.normalize(text)
        return cls(
            text=text,
            delay=config.reply.delay,
            home_regions=config.policy.home_regions,
            rules=Rules(
                reply_to=frozenset(config.policy.reply_to),
                cooldown=config.policy.cooldown,
                max_per_sender=config.flood.max_per_sender,
                flood_window=config.flood.window,
                reply_to_abusive=config.flood.reply_to_abusive,
                raid_withhold=config.flood.raid_withhold,
            ),
            filters=Filters(config.filters),
            max_text_length=config.storage.max_text_length,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one read from the modem became.

    `kind`: "sms" (a complete message recorded), "part" (a part waiting for its siblings),
    "call", "quarantined" (undecodable, kept raw), "other" (status report or stored
    submit, kept raw), "reread" (already committed before a crash; not counted again) or
    "late part" (a part of a message recorded incomplete: its text is filled in).
    `pdu_id` is the row to mark deleted once the modem confirms the deletion.
    """

    kind: str
    pdu_id: int | None = None
    inbound_id: int | None = None
    sender: Sender | None = None
    decision: Decision | None = None
    text: str | None = None


def ingest_message(
    store: Store,
    message: StoredMessage,
    now: datetime,
    rule: ReplyRule,
    *,
    raid: bool = False,
    deaf_since: datetime | None = None,
) -> Outcome:
    """Record one stored message, or recognise it as one we already hold.

    `deaf_since`: the message was found on the SIM when the daemon came back, and it
    stopped listening then; its reply is due after the delay from its arrival
    (`policy.backlog_arrival`), not from now.
    """
    with store.atomic():
        if message.stat != UNREAD:
            existing = store.pdu_still_on_modem(message.storage, message.slot, message.pdu)
            if existing is not None:
                return Outcome(kind="reread", pdu_id=existing)
        return _record_message(store, message, now, rule, raid, deaf_since)


def _record_message(
    store: Store,
    message: StoredMessage,
    now: datetime,
    rule: ReplyRule,
    raid: bool,
    deaf_since: datetime | None,
) -> Outcome:
    where = {"read_at": now, "storage": message.storage, "slot": message.slot, "pdu": message.pdu}
    try:
        decoded = decode_pdu(message.pdu)
    except PduError as exc:
        pdu_id = store.add_pdu(**where, kind="undecodable", error=str(exc))
        return Outcome(kind="quarantined", pdu_id=pdu_id)
    if not isinstance(decoded, Deliver):
        pdu_id = store.add_pdu(**where, kind=decoded.type.lower())
        return Outcome(kind="other", pdu_id=pdu_id)

    concat = decoded.concat if decoded.concat and decoded.concat.total > 1 else None
    pdu_id = store.add_pdu(
        **where,
        kind="deliver",
        sender_raw=decoded.sender.number,
        concat=(concat.ref, concat.total, concat.seq) if concat else None,
        text=decoded.text,
    )
    text, part_ids = decoded.text, [pdu_id]
    if concat:
        late = store.incomplete_message(
            decoded.sender.number, concat.ref, concat.total, now - LATE_PART_WINDOW
        )
        if late is not None:
            return _fill_in(store, late, pdu_id, concat.total, rule)
        parts = store.waiting_parts(decoded.sender.number, concat.ref, concat.total)
        if len(parts) < concat.total:
            return Outcome(kind="part", pdu_id=pdu_id)
        texts = [part.text for part in parts]
        text = None if None in texts else reassemble((p.seq, p.text) for p in parts)
        part_ids = [part.pdu_id for part in parts]
    due_from = backlog_arrival(decoded.timestamp, now, deaf_since)
    return _record_text(
        store, decoded, text, part_ids, pdu_id, now, now, rule, raid, due_from=due_from
    )


def _record_text(
    store: Store,
    decoded: Deliver,
    text: str | None,
    part_ids: list[int],
    pdu_id: int | None,
    arrived: datetime,
    now: datetime,
    rule: ReplyRule,
    raid: bool,
    missing: int = 0,
    due_from: datetime | None = None,
) -> Outcome:
    """The inbound row for a whole (or given-up-on) message, its decision and its reply.

    The reply is due `delay` after `due_from`, by default after `arrived`.
    """
    concat = decoded.concat if decoded.concat and decoded.concat.total > 1 else None
    sender = identify(decoded.sender.number, decoded.sender.ton, home_regions=rule.home_regions)
    matched = rule.filters.match(text, decoded.sender.number)
    stored_text, truncated = _bounded(text, rule.max_text_length)
    inbound_id = store.add_inbound(
        kind="sms",
        received_at=arrived,
        sender_raw=decoded.sender.number,
        sender_ton=decoded.sender.ton,
        sender=sender.e164,
        sender_kind=sender.kind,
        category=sender.category,
        text=stored_text,
        truncated=truncated,
        encoding=decoded.encoding,
        sent_at=decoded.timestamp,
        parts=len(part_ids),
        label=matched.name if matched else None,
        raid=raid,
        missing_parts=missing,
    )
    if concat:
        store.link_waiting_parts(decoded.sender.number, concat.ref, concat.total, inbound_id)
    else:
        store.link_pdus(part_ids, inbound_id)
    ignored = matched is not None and matched.action == "ignore"
    decision = _decide_and_schedule(
        store, inbound_id, sender, now, rule, raid, ignored, arrived=due_from or arrived
    )
    return Outcome(
        kind="sms",
        pdu_id=pdu_id,
        inbound_id=inbound_id,
        sender=sender,
        decision=decision,
        text=stored_text,
    )


def ingest_incomplete(
    store: Store,
    group: tuple[str, int, int, datetime],
    now: datetime,
    rule: ReplyRule,
    *,
    raid: bool = False,
) -> Outcome | None:
    """Record a long text whose missing parts never came, as it is; its sender is answered.

    `group` is one of `Store.stale_part_groups`. The text shows each missing part as
    `MISSING_PART`; a part that turns up later is filled in (see `_fill_in`).
    """
    sender_raw, ref, total, arrived = group
    with store.atomic():
        parts = store.waiting_parts(sender_raw, ref, total)
        if not parts:
            return None
        decoded = decode_pdu(parts[0].pdu)
        assert isinstance(decoded, Deliver)  # only decoded DELIVER parts wait
        text = _with_gaps(parts, total)
        part_ids = [part.pdu_id for part in parts]
        missing = total - len(parts)
        return _record_text(
            store, decoded, text, part_ids, None, arrived, now, rule, raid, missing=missing
        )


def _fill_in(store: Store, inbound_id: int, pdu_id: int, total: int, rule: ReplyRule) -> Outcome:
    """A part of a message already recorded without it: the text gets it, nothing else
    changes (the sender was counted and answered once, for the whole message)."""
    store.link_pdus([pdu_id], inbound_id)
    parts = _first_copies(store.parts_of(inbound_id))
    text, truncated = _bounded(_with_gaps(parts, total), rule.max_text_length)
    missing = total - len(parts)
    store.update_message_text(
        inbound_id, text=text, truncated=truncated, parts=len(parts), missing=missing
    )
    return Outcome(kind="late part", pdu_id=pdu_id, inbound_id=inbound_id, text=text)


def _first_copies(parts: Sequence[PartRow]) -> list[PartRow]:
    first: dict[int, PartRow] = {}
    for part in parts:
        first.setdefault(part.seq, part)
    return sorted(first.values(), key=lambda p: p.seq)


def _with_gaps(parts: Sequence[PartRow], total: int) -> str | None:
    by_seq = {part.seq: part.text for part in parts}
    if any(text is None for text in by_seq.values()):
        return None  # an 8-bit part: no text to show, the PDUs are kept
    return "".join(by_seq.get(seq, MISSING_PART) for seq in range(1, total + 1))


def _bounded(text: str | None, limit: int) -> tuple[str | None, bool]:
    """A flood of long texts must not fill the SD card: keep the start; the PDUs stay whole."""
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit], True


def ingest_call(
    store: Store, call: IncomingCall, now: datetime, rule: ReplyRule, *, raid: bool = False
) -> Outcome:
    """Record an incoming call and decide on its reply."""
    sender = identify(call.number, call.ton, home_regions=rule.home_regions)
    with store.atomic():
        inbound_id = store.add_inbound(
            kind="call",
            received_at=now,
            sender_raw=call.number or "",
            sender_ton=call.ton,
            sender=sender.e164,
            sender_kind=sender.kind,
            category=sender.category,
            raid=raid,
        )
        decision = _decide_and_schedule(store, inbound_id, sender, now, rule, raid, False)
    return Outcome(kind="call", inbound_id=inbound_id, sender=sender, decision=decision)


def _decide_and_schedule(
    store: Store,
    inbound_id: int,
    sender: Sender,
    now: datetime,
    rule: ReplyRule,
    raid: bool,
    filtered: bool,
    *,
    arrived: datetime | None = None,
) -> Decision:
    number = sender.e164
    history = _history(store, number, now, rule.rules)
    decision = decide(
        sender.category, history, now=now, raid=raid, filtered=filtered, rules=rule.rules
    )
    reply_id = None
    if decision.reply and number is not None:
        reply_id = store.add_reply(
            number=number,
            inbound_id=inbound_id,
            text=rule.text,
            created_at=now,
            # Due after the delay from when it arrived, and not in the past.
            due_at=max(now, reply_due_at(arrived or now, rule.delay)),
            priority=decision.priority,
        )
    elif decision.reason == "abusive" and number is not None:
        # Its reply, if still waiting, now goes after everyone else's.
        store.demote_pending(number, now)
    store.set_decision(inbound_id, decision.reason, reply_id)
    return decision


def _history(store: Store, number: str | None, now: datetime, rules: Rules) -> History:
    """What the database knows about a number; the event being decided is already in it."""
    if number is None:
        return History(last_reply_at=None, recent_events=1)
    since = now - timedelta(seconds=rules.flood_window)
    return History(**store.number_history(number, since))
