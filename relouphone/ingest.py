"""Turning what the modem holds into committed records: messages, calls, and their decisions.

Each function runs in one transaction: the raw PDU, the decoded event, the sender's counts,
the decision and the scheduled reply commit together. Only after that commit may the
caller delete the message from the modem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from .errors import PduError
from .modem import IncomingCall, StoredMessage
from .numbers import Sender, identify
from .pdu import Deliver, decode_pdu, reassemble
from .policy import Decision, decide, reply_due_at
from .store import Store

__all__ = ["Outcome", "ReplyRule", "ingest_call", "ingest_message"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplyRule:
    """What a granted reply says and when it leaves."""

    text: str
    delay: float
    home_region: str = "FR"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one read from the modem became.

    `kind`: "sms" (a complete message recorded), "part" (a part waiting for its siblings),
    "call", "quarantined" (undecodable, kept raw), "other" (status report or stored
    submit, kept raw) or "reread" (already committed before a crash; not counted again).
    `pdu_id` is the row to mark deleted once the modem confirms the deletion.
    """

    kind: str
    pdu_id: int | None = None
    inbound_id: int | None = None
    sender: Sender | None = None
    decision: Decision | None = None
    text: str | None = None


def ingest_message(store: Store, message: StoredMessage, now: datetime, rule: ReplyRule) -> Outcome:
    """Record one stored message, or recognise it as one we already hold."""
    with store.atomic():
        existing = store.pdu_still_on_modem(message.storage, message.slot, message.pdu)
        if existing is not None:
            return Outcome(kind="reread", pdu_id=existing)
        return _record_message(store, message, now, rule)


def _record_message(
    store: Store, message: StoredMessage, now: datetime, rule: ReplyRule
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
        parts = store.waiting_parts(decoded.sender.number, concat.ref, concat.total)
        if len(parts) < concat.total:
            return Outcome(kind="part", pdu_id=pdu_id)
        texts = [part.text for part in parts]
        text = None if None in texts else reassemble((p.seq, p.text) for p in parts)
        part_ids = [part.pdu_id for part in parts]

    sender = identify(decoded.sender.number, decoded.sender.ton, rule.home_region)
    inbound_id = store.add_inbound(
        kind="sms",
        received_at=now,
        sender_raw=decoded.sender.number,
        sender_ton=decoded.sender.ton,
        sender=sender.e164,
        sender_kind=sender.kind,
        text=text,
        encoding=decoded.encoding,
        sent_at=decoded.timestamp,
        parts=len(part_ids),
    )
    if concat:
        store.link_waiting_parts(decoded.sender.number, concat.ref, concat.total, inbound_id)
    else:
        store.link_pdus(part_ids, inbound_id)
    decision = _decide_and_schedule(store, inbound_id, sender, now, rule)
    return Outcome(
        kind="sms",
        pdu_id=pdu_id,
        inbound_id=inbound_id,
        sender=sender,
        decision=decision,
        text=text,
    )


def ingest_call(store: Store, call: IncomingCall, now: datetime, rule: ReplyRule) -> Outcome:
    """Record an incoming call and decide on its reply."""
    sender = identify(call.number, call.ton, rule.home_region)
    with store.atomic():
        inbound_id = store.add_inbound(
            kind="call",
            received_at=now,
            sender_raw=call.number or "",
            sender_ton=call.ton,
            sender=sender.e164,
            sender_kind=sender.kind,
        )
        decision = _decide_and_schedule(store, inbound_id, sender, now, rule)
    return Outcome(kind="call", inbound_id=inbound_id, sender=sender, decision=decision)


def _decide_and_schedule(
    store: Store, inbound_id: int, sender: Sender, now: datetime, rule: ReplyRule
) -> Decision:
    answered = sender.e164 is not None and store.has_reply(sender.e164)
    decision = decide(sender, already_answered=answered)
    reply_id = None
    if decision.reply and sender.e164 is not None:
        reply_id = store.add_reply(
            number=sender.e164,
            inbound_id=inbound_id,
            text=rule.text,
            created_at=now,
            due_at=reply_due_at(now, rule.delay),
        )
    store.set_decision(inbound_id, decision.reason, reply_id)
    return decision
