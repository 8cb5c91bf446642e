"""Ingestion: what the modem holds becomes committed records, each sender gets one reply at
most, a message read twice is counted once, and nothing a modem hands over is lost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone.config import parse_config
from relouphone.ingest import (
    MISSING_PART,
    ReplyRule,
    ingest_call,
    ingest_incomplete,
    ingest_message,
)
from relouphone.modem import IncomingCall, StoredMessage
from relouphone.pdu import decode_pdu, encode_deliver, encode_submit
from relouphone.store import Store

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
SENT_AT = datetime(2026, 3, 8, 12, 59, 40, tzinfo=timezone(timedelta(hours=1)))
RULE = ReplyRule(text="Ce numéro ne répond pas.", delay=3600)
NUMBER = "+33612345678"
LONG_TEXT = "".join(f"[{i:03d}] Vous avez gagne un iPhone, rappelez vite! " for i in range(8))


@pytest.fixture
def store() -> Iterator[Store]:
    db = Store(None)
    yield db
    db.close()


def stored(sender: str, text: str, slot: int = 1, *, storage: str = "SM", **kw) -> StoredMessage:
    [pdu] = encode_deliver(sender, text, SENT_AT, **kw)
    return StoredMessage(storage=storage, slot=slot, stat=0, pdu=pdu)


def parts_of(sender: str, text: str, first_slot: int = 1, **kw) -> list[StoredMessage]:
    pdus = encode_deliver(sender, text, SENT_AT, **kw)
    return [
        StoredMessage(storage="SM", slot=first_slot + i, stat=0, pdu=pdu)
        for i, pdu in enumerate(pdus)
    ]


def rows(store: Store, table: str) -> list[dict]:
    return list(store.db[table].rows_where(order_by="rowid"))


def inbound(store: Store) -> list[dict]:
    return rows(store, "inbound")


def replies(store: Store) -> list[dict]:
    return rows(store, "replies")


# -- one text ------------------------------------------------------------------------------


def test_a_text_is_recorded_and_earns_one_reply_after_the_delay(store):
    outcome = ingest_message(store, stored(NUMBER, "T'es où?"), NOW, RULE)

    assert outcome.kind == "sms"
    assert outcome.decision.reply
    assert outcome.decision.reason == "replied"
    assert outcome.sender.e164 == NUMBER
    assert outcome.text == "T'es où?"

    [event] = inbound(store)
    assert event["id"] == outcome.inbound_id
    assert event["kind"] == "sms"
    assert (event["sender"], event["sender_raw"], event["sender_kind"]) == (
        NUMBER,
        NUMBER,
        "phone",
    )
    assert (event["text"], event["encoding"], event["parts"]) == ("T'es où?", "gsm7", 1)
    assert datetime.fromisoformat(event["sent_at"]) == SENT_AT
    assert event["decision"] == "replied"

    [reply] = replies(store)
    assert event["reply_id"] == reply["id"]
    assert (reply["number"], reply["text"], reply["state"]) == (NUMBER, RULE.text, "pending")
    assert reply["due_at"] == "2026-03-08T13:00:00.000000Z"
    assert [r.id for r in store.due_replies(NOW + timedelta(hours=1))] == [reply["id"]]
    assert store.due_replies(NOW + timedelta(minutes=59)) == []


def test_the_raw_pdu_is_kept_and_linked_to_its_event(store):
    message = stored(NUMBER, "coucou", slot=4)
    outcome = ingest_message(store, message, NOW, RULE)
    [pdu] = rows(store, "pdus")
    assert pdu["id"] == outcome.pdu_id
    assert (pdu["storage"], pdu["slot"], pdu["pdu"]) == ("SM", 4, message.pdu)
    assert (pdu["kind"], pdu["inbound_id"], pdu["on_modem"]) == ("deliver", outcome.inbound_id, 1)
    assert pdu["error"] is None


def test_five_texts_from_one_number_are_five_events_and_one_reply(store):
    decisions = [
        ingest_message(store, stored(NUMBER, f"msg {i}", slot=i), NOW, RULE).decision.reason
        for i in range(5)
    ]
    assert decisions == ["replied", "duplicate", "duplicate", "duplicate", "duplicate"]
    assert [e["text"] for e in inbound(store)] == [f"msg {i}" for i in range(5)]
    assert len(replies(store)) == 1
    assert store.stats()["senders"] == 1
    [sender] = rows(store, "senders")
    assert sender["sms_count"] == 5


def test_a_national_sender_is_normalised_to_international_form(store):
    outcome = ingest_message(store, stored("0612345678", "salut"), NOW, RULE)
    assert outcome.sender.e164 == NUMBER
    [event] = inbound(store)
    assert (event["sender_raw"], event["sender_ton"], event["sender"]) == (
        "0612345678",
        0,
        NUMBER,
    )
    assert replies(store)[0]["number"] == NUMBER


def test_one_person_texting_in_national_and_international_form_gets_one_reply(store):
    first = ingest_message(store, stored("0612345678", "un", slot=1), NOW, RULE)
    second = ingest_message(store, stored(NUMBER, "deux", slot=2), NOW, RULE)
    assert (first.decision.reason, second.decision.reason) == ("replied", "duplicate")
    assert len(replies(store)) == 1


def test_an_alphanumeric_sender_is_recorded_but_gets_no_reply(store):
    outcome = ingest_message(store, stored("Megafon", "Votre forfait"), NOW, RULE)
    assert outcome.kind == "sms"
    assert not outcome.decision.reply
    assert outcome.decision.reason == "alphanumeric"
    [event] = inbound(store)
    assert (event["sender_raw"], event["sender"], event["decision"]) == (
        "Megafon",
        None,
        "alphanumeric",
    )
    assert replies(store) == []


def test_a_ucs2_text_with_an_emoji_is_stored_with_its_characters(store):
    ingest_message(store, stored(NUMBER, "Salut 😉"), NOW, RULE)
    [event] = inbound(store)
    assert (event["text"], event["encoding"]) == ("Salut 😉", "ucs2")


def test_a_gsm7_text_using_the_extension_table_is_stored_right(store):
    ingest_message(store, stored(NUMBER, "prix: 5€ [promo]"), NOW, RULE)
    [event] = inbound(store)
    assert (event["text"], event["encoding"]) == ("prix: 5€ [promo]", "gsm7")


# -- concatenated messages -----------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(order=st.permutations(range(3)))
def test_a_three_part_message_is_one_event_once_its_last_part_arrives(order):
    store = Store(None)
    try:
        parts = parts_of(NUMBER, LONG_TEXT)
        assert len(parts) == 3
        outcomes = [ingest_message(store, parts[i], NOW, RULE) for i in order]

        assert [o.kind for o in outcomes] == ["part", "part", "sms"]
        assert outcomes[-1].text == LONG_TEXT
        assert outcomes[-1].decision.reason == "replied"
        [event] = inbound(store)
        assert (event["text"], event["parts"]) == (LONG_TEXT, 3)
        pdus = rows(store, "pdus")
        assert len(pdus) == 3
        assert {p["inbound_id"] for p in pdus} == {event["id"]}
        assert len(replies(store)) == 1
    finally:
        store.close()


def test_parts_of_different_senders_are_not_mixed(store):
    mine = parts_of(NUMBER, LONG_TEXT, first_slot=1, concat_ref=5)
    theirs = parts_of("+33687654321", LONG_TEXT.upper(), first_slot=10, concat_ref=5)
    for message in mine[:2] + theirs[:2]:
        assert ingest_message(store, message, NOW, RULE).kind == "part"
    assert ingest_message(store, theirs[2], NOW, RULE).text == LONG_TEXT.upper()
    assert ingest_message(store, mine[2], NOW, RULE).text == LONG_TEXT
    assert len(inbound(store)) == 2


def test_a_part_delivered_twice_does_not_linger_into_a_later_message(store):
    """A duplicate part must not stay "waiting" and complete a later message with its ref.

    Phones number their long messages with an 8-bit reference, so a sender's references
    come round again; parts also arrive in any order.
    """
    first_text = "A" * 150 + "a" * 150
    later_text = "B" * 150 + "b" * 150
    first = parts_of(NUMBER, first_text, first_slot=1, concat_ref=7)
    later = parts_of(NUMBER, later_text, first_slot=10, concat_ref=7)
    assert len(first) == len(later) == 2

    ingest_message(store, first[0], NOW, RULE)
    duplicate = StoredMessage(storage="SM", slot=3, stat=0, pdu=first[0].pdu)
    ingest_message(store, duplicate, NOW, RULE)
    assert ingest_message(store, first[1], NOW, RULE).text == first_text

    # The later message's second part happens to arrive first.
    outcome = ingest_message(store, later[1], NOW, RULE)
    assert outcome.kind == "part"
    assert ingest_message(store, later[0], NOW, RULE).text == later_text


# -- re-reads and floods -------------------------------------------------------------------


READ = 1  # 27.005 <stat> "received read"


def as_read(message: StoredMessage) -> StoredMessage:
    """The same stored message read a second time: the first read marked it read."""
    return replace(message, stat=READ)


def test_a_message_read_again_before_its_deletion_is_a_reread(store):
    message = stored(NUMBER, "relou", slot=2)
    first = ingest_message(store, message, NOW, RULE)
    again = ingest_message(store, as_read(message), NOW + timedelta(seconds=5), RULE)

    assert again.kind == "reread"
    assert again.pdu_id == first.pdu_id
    assert len(inbound(store)) == 1
    assert len(rows(store, "pdus")) == 1
    assert store.stats()["received_sms"] == 1


def test_a_reread_part_is_not_counted_twice(store):
    parts = parts_of(NUMBER, LONG_TEXT)
    ingest_message(store, parts[0], NOW, RULE)
    assert ingest_message(store, as_read(parts[0]), NOW, RULE).kind == "reread"
    ingest_message(store, parts[1], NOW, RULE)
    assert ingest_message(store, parts[2], NOW, RULE).text == LONG_TEXT
    assert len(rows(store, "pdus")) == 3


def test_the_same_text_again_in_the_same_slot_after_deletion_is_recorded_again(store):
    message = stored(NUMBER, "relou", slot=1)
    first = ingest_message(store, message, NOW, RULE)
    store.mark_pdus_deleted([first.pdu_id])

    again = ingest_message(store, message, NOW + timedelta(seconds=30), RULE)

    assert again.kind == "sms"
    assert again.decision.reason == "duplicate"
    assert len(inbound(store)) == 2
    assert rows(store, "senders")[0]["sms_count"] == 2
    assert len(replies(store)) == 1


def test_an_identical_unread_message_in_the_slot_of_an_unconfirmed_deletion_is_new(store):
    # Committed, deleted, crash before the deletion was noted; meanwhile a flooder's
    # identical text (same sender, text and timestamp: the same bytes) took the slot.
    message = stored(NUMBER, "relou", slot=1)
    ingest_message(store, message, NOW, RULE)

    again = ingest_message(store, message, NOW + timedelta(seconds=30), RULE)

    assert again.kind == "sms"
    assert len(inbound(store)) == 2


def test_the_same_text_in_another_slot_is_a_new_message(store):
    ingest_message(store, stored(NUMBER, "relou", slot=1), NOW, RULE)
    outcome = ingest_message(store, stored(NUMBER, "relou", slot=2), NOW, RULE)
    assert outcome.kind == "sms"
    assert len(inbound(store)) == 2


# -- what cannot be decoded or is not a message --------------------------------------------


@pytest.mark.parametrize("pdu", ["00zz", "0791", "", "07913366003000F0040B91"])
def test_an_undecodable_pdu_is_quarantined_with_its_error(store, pdu):
    message = StoredMessage(storage="SM", slot=6, stat=0, pdu=pdu)
    outcome = ingest_message(store, message, NOW, RULE)

    assert outcome.kind == "quarantined"
    assert outcome.inbound_id is None
    [row] = store.quarantine()
    assert row["id"] == outcome.pdu_id
    assert (row["storage"], row["slot"], row["pdu"]) == ("SM", 6, pdu)
    assert row["error"]
    assert inbound(store) == []
    assert replies(store) == []
    assert store.stats()["quarantined"] == 1


def test_a_stored_outgoing_message_is_kept_raw_as_other(store):
    [submit] = encode_submit(NUMBER, "brouillon")
    outcome = ingest_message(store, StoredMessage("SM", 1, 2, submit.hex), NOW, RULE)
    assert outcome.kind == "other"
    [row] = rows(store, "pdus")
    assert (row["kind"], row["error"]) == ("sms-submit", None)
    assert inbound(store) == []


# -- calls ---------------------------------------------------------------------------------


def test_a_call_from_a_number_is_recorded_and_earns_a_reply(store):
    outcome = ingest_call(store, IncomingCall(number=NUMBER, ton=1), NOW, RULE)

    assert outcome.kind == "call"
    assert outcome.decision.reason == "replied"
    [event] = inbound(store)
    assert (event["kind"], event["sender"], event["decision"]) == ("call", NUMBER, "replied")
    [reply] = replies(store)
    assert event["reply_id"] == reply["id"]
    assert reply["due_at"] == "2026-03-08T13:00:00.000000Z"
    assert rows(store, "senders")[0]["call_count"] == 1


def test_a_text_after_a_call_from_the_same_person_is_a_duplicate(store):
    ingest_call(store, IncomingCall(number="0612345678", ton=0), NOW, RULE)
    outcome = ingest_message(store, stored(NUMBER, "tu réponds?"), NOW, RULE)
    assert outcome.decision.reason == "duplicate"
    assert len(replies(store)) == 1


def test_a_withheld_call_is_recorded_without_a_reply(store):
    outcome = ingest_call(store, IncomingCall(number=None, ton=None), NOW, RULE)

    assert outcome.decision.reason == "withheld"
    assert not outcome.decision.reply
    [event] = inbound(store)
    assert (event["kind"], event["sender_raw"], event["sender"]) == ("call", "", None)
    assert (event["sender_kind"], event["decision"], event["reply_id"]) == (
        "withheld",
        "withheld",
        None,
    )
    assert replies(store) == []
    assert store.stats()["received_calls"] == 1


def test_the_reply_rule_home_region_reads_national_numbers(store):
    rule = ReplyRule(text="Nope", delay=60, home_regions=("BE",))
    outcome = ingest_call(store, IncomingCall(number="0470123456", ton=0), NOW, rule)
    assert outcome.sender.e164 == "+32470123456"
    assert replies(store)[0]["due_at"] == "2026-03-08T12:01:00.000000Z"


# -- long texts whose parts never all arrive -----------------------------------------------


def split_text(parts: list[StoredMessage]) -> list[str]:
    return [decode_pdu(part.pdu).text for part in parts]


def test_a_text_missing_a_part_is_recorded_with_a_gap_and_answered(store):
    parts = parts_of(NUMBER, LONG_TEXT)
    assert len(parts) == 3
    first, _, third = split_text(parts)
    ingest_message(store, parts[0], NOW, RULE)
    ingest_message(store, parts[2], NOW + timedelta(seconds=5), RULE)
    later = NOW + timedelta(hours=2)

    [group] = store.stale_part_groups(later - timedelta(hours=1))
    outcome = ingest_incomplete(store, group, later, RULE)

    assert outcome.kind == "sms"
    assert outcome.decision.reason == "replied"
    [event] = inbound(store)
    assert event["text"] == first + MISSING_PART + third
    assert (event["parts"], event["missing_parts"]) == (2, 1)
    assert event["received_at"] == "2026-03-08T12:00:00.000000Z"  # when it arrived
    [reply] = replies(store)
    assert reply["due_at"] == "2026-03-08T14:00:00.000000Z"  # late already: due now
    assert store.stale_part_groups(later) == []


def test_parts_are_waited_for_until_the_timeout(store):
    parts = parts_of(NUMBER, LONG_TEXT)
    ingest_message(store, parts[0], NOW, RULE)
    assert store.stale_part_groups(NOW - timedelta(seconds=1)) == []
    assert len(store.stale_part_groups(NOW)) == 1


def test_a_part_arriving_after_the_timeout_fills_in_the_text_without_a_second_reply(store):
    parts = parts_of(NUMBER, LONG_TEXT)
    ingest_message(store, parts[0], NOW, RULE)
    ingest_message(store, parts[2], NOW, RULE)
    later = NOW + timedelta(hours=2)
    [group] = store.stale_part_groups(later)
    ingest_incomplete(store, group, later, RULE)

    outcome = ingest_message(store, parts[1], later + timedelta(minutes=5), RULE)

    assert outcome.kind == "late part"
    [event] = inbound(store)
    assert event["text"] == LONG_TEXT
    assert (event["parts"], event["missing_parts"]) == (3, 0)
    assert len(replies(store)) == 1
    assert rows(store, "senders")[0]["sms_count"] == 1


# -- storage stays bounded under a flood of long texts -------------------------------------


def rule_from(toml: str) -> ReplyRule:
    """The reply rule a daemon builds from this configuration file."""
    return ReplyRule.from_config(parse_config(toml, "relouphone.toml"))


BOUNDED = rule_from("[storage]\nmax_text_length = 200\n")


def test_a_text_longer_than_the_limit_is_stored_truncated_with_its_pdus_whole(store):
    parts = parts_of(NUMBER, LONG_TEXT)
    assert len(LONG_TEXT) > 200
    outcomes = [ingest_message(store, part, NOW, BOUNDED) for part in parts]

    assert outcomes[-1].text == LONG_TEXT[:200]
    [event] = inbound(store)
    assert (event["text"], event["truncated"], event["parts"]) == (LONG_TEXT[:200], 1, 3)
    pdus = rows(store, "pdus")
    assert [p["pdu"] for p in pdus] == [part.pdu for part in parts]
    assert "".join(p["text"] for p in pdus) == LONG_TEXT  # the parts as received, whole
    assert outcomes[-1].decision.reason == "replied"  # truncated, still answered


def test_a_text_of_exactly_the_limit_is_stored_whole(store):
    text = "x" * 160
    ingest_message(
        store, stored(NUMBER, text), NOW, rule_from("[storage]\nmax_text_length = 160\n")
    )
    [event] = inbound(store)
    assert (event["text"], event["truncated"]) == (text, 0)


def test_a_late_part_filling_in_a_long_text_keeps_it_within_the_limit(store):
    parts = parts_of(NUMBER, LONG_TEXT)
    ingest_message(store, parts[0], NOW, BOUNDED)
    ingest_message(store, parts[2], NOW, BOUNDED)
    later = NOW + timedelta(hours=2)
    [group] = store.stale_part_groups(later)
    ingest_incomplete(store, group, later, BOUNDED)

    ingest_message(store, parts[1], later + timedelta(minutes=5), BOUNDED)

    [event] = inbound(store)
    assert (event["text"], event["truncated"], event["missing_parts"]) == (LONG_TEXT[:200], 1, 0)
    assert len(rows(store, "pdus")) == 3


# -- filters ---------------------------------------------------------------------------------


FILTERED = rule_from(
    '[[filter]]\nname = "operator"\nsender = "SFR"\npattern = "facture"\n'
    '[[filter]]\nname = "lottery"\npattern = "gagn[ée]"\nregex = true\n'
    '[[filter]]\nname = "insult"\npattern = "salope"\naction = "mark"\n'
)


def test_an_ignore_filter_records_the_message_as_filtered_without_a_reply(store):
    outcome = ingest_message(store, stored(NUMBER, "Vous avez GAGNÉ un iPhone"), NOW, FILTERED)

    assert outcome.kind == "sms"
    assert (outcome.decision.reply, outcome.decision.reason) == (False, "filtered")
    [event] = inbound(store)
    assert (event["text"], event["decision"], event["label"]) == (
        "Vous avez GAGNÉ un iPhone",
        "filtered",
        "lottery",
    )
    assert event["reply_id"] is None
    assert replies(store) == []
    assert rows(store, "senders")[0]["sms_count"] == 1  # still counted


def test_a_filtered_message_does_not_spend_the_number_s_one_reply(store):
    ingest_message(store, stored(NUMBER, "Tu as gagné", slot=1), NOW, FILTERED)
    outcome = ingest_message(store, stored(NUMBER, "Réponds-moi", slot=2), NOW, FILTERED)
    assert outcome.decision.reason == "replied"
    assert len(replies(store)) == 1


def test_a_mark_filter_records_its_label_and_the_sender_still_gets_the_reply(store):
    outcome = ingest_message(store, stored(NUMBER, "sale salope"), NOW, FILTERED)

    assert (outcome.decision.reply, outcome.decision.reason) == (True, "replied")
    [event] = inbound(store)
    assert (event["decision"], event["label"]) == ("replied", "insult")
    [reply] = replies(store)
    assert (reply["number"], reply["state"], event["reply_id"]) == (NUMBER, "pending", reply["id"])


def test_a_filter_for_one_sender_leaves_others_alone(store):
    ingest_message(store, stored("SFR", "Votre facture est prête", slot=1), NOW, FILTERED)
    ingest_message(store, stored(NUMBER, "Ta facture, je m'en fiche", slot=2), NOW, FILTERED)
    assert [(e["sender_raw"], e["decision"], e["label"]) for e in inbound(store)] == [
        ("SFR", "filtered", "operator"),
        (NUMBER, "replied", None),
    ]


def test_a_filter_is_decided_before_the_block_list(store):
    store.block(NUMBER, None, NOW)
    outcome = ingest_message(store, stored(NUMBER, "Tu as gagné"), NOW, FILTERED)
    assert outcome.decision.reason == "filtered"


def test_a_filter_sees_the_whole_text_even_past_the_stored_length(store):
    rule = rule_from(
        '[storage]\nmax_text_length = 200\n[[filter]]\nname = "end"\npattern = "[007]"\n'
    )
    for part in parts_of(NUMBER, LONG_TEXT):
        outcome = ingest_message(store, part, NOW, rule)
    assert "[007]" not in outcome.text
    assert outcome.decision.reason == "filtered"


def test_a_keyword_cut_between_two_parts_still_matches(store):
    text = "A" * 150 + "gagné" + "B" * 150
    parts = parts_of(NUMBER, text)
    assert [decode_pdu(p.pdu).text[-3:] for p in parts] == ["gag", "B" * 3]  # cut in two
    for part in parts:
        outcome = ingest_message(store, part, NOW, FILTERED)
    assert (outcome.kind, outcome.decision.reason) == ("sms", "filtered")
    [event] = inbound(store)
    assert event["label"] == "lottery"


def test_a_call_is_never_filtered(store):
    rule = rule_from('[[filter]]\nname = "all"\npattern = "."\nregex = true\n')
    outcome = ingest_call(store, IncomingCall(number=NUMBER, ton=1), NOW, rule)
    assert outcome.decision.reason == "replied"
    assert inbound(store)[0]["label"] is None
