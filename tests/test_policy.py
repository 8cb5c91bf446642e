"""Who gets a reply, and when: one reply per number, ever, and none to an address nobody
can be answered at; the reply leaves a fixed delay after the message arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.numbers import Sender
from relouphone.policy import Decision, decide, reply_due_at

PHONE = Sender(raw="0612345678", kind="phone", e164="+33612345678", region="FR")
ARRIVED = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_a_new_number_gets_a_reply():
    assert decide(PHONE, already_answered=False) == Decision(reply=True, reason="replied")


def test_a_number_already_answered_gets_no_second_reply():
    assert decide(PHONE, already_answered=True) == Decision(reply=False, reason="duplicate")


@pytest.mark.parametrize("kind", ["withheld", "alphanumeric", "invalid"])
@pytest.mark.parametrize("answered", [False, True])
def test_an_address_nobody_can_be_answered_at_gets_no_reply_and_says_why(kind, answered):
    sender = Sender(raw="x", kind=kind)
    assert decide(sender, already_answered=answered) == Decision(reply=False, reason=kind)


def test_the_reply_is_due_the_delay_after_the_message_arrived():
    assert reply_due_at(ARRIVED, 3600) == ARRIVED + timedelta(hours=1)
    assert reply_due_at(ARRIVED, 0) == ARRIVED
    assert reply_due_at(ARRIVED, 1.5) == ARRIVED + timedelta(seconds=1.5)


def test_the_due_time_keeps_the_arrival_time_zone():
    due = reply_due_at(ARRIVED, 60)
    assert due.tzinfo is UTC


senders = st.one_of(
    st.builds(
        Sender,
        raw=st.just("x"),
        kind=st.just("phone"),
        e164=st.sampled_from(["+33600000001", "+33600000002", "+33600000003"]),
    ),
    st.builds(Sender, raw=st.just("x"), kind=st.sampled_from(["withheld", "alphanumeric"])),
    st.builds(Sender, raw=st.just("x"), kind=st.just("invalid")),
)


@given(st.lists(senders, max_size=30))
def test_over_any_stream_of_events_each_number_gets_exactly_one_reply(stream):
    answered: set[str] = set()
    replies: list[str] = []
    for sender in stream:
        decision = decide(sender, already_answered=sender.e164 in answered)
        if decision.reply:
            replies.append(sender.e164)
            answered.add(sender.e164)
    assert len(replies) == len(set(replies))
    assert set(replies) == {s.e164 for s in stream if s.kind == "phone"}


@given(st.floats(min_value=0, max_value=7 * 86400, allow_nan=False))
def test_a_reply_is_never_due_before_the_message_arrived(delay):
    assert reply_due_at(ARRIVED, delay) >= ARRIVED
