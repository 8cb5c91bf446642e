"""Who gets a reply: each rule of relouphone.policy, in the order it applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone.policy import (
    NEVER_REPLY,
    REPLYABLE,
    Decision,
    History,
    Rules,
    backlog_arrival,
    decide,
    is_abusive,
    reply_due_at,
)

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
DAY = 86400.0
NEW = History(last_reply_at=None, recent_events=1)
RULES = Rules()
THIRTY_DAYS = Rules(cooldown=30 * DAY)


def check(category="mobile", history=NEW, *, raid=False, filtered=False, rules=RULES):
    return decide(category, history, now=NOW, raid=raid, filtered=filtered, rules=rules)


def replied(priority="normal"):
    return Decision(reply=True, reason="replied", priority=priority)


def refused(reason):
    return Decision(reply=False, reason=reason)


def answered(ago: float, events: int = 1, **kw) -> History:
    return History(last_reply_at=NOW - timedelta(seconds=ago), recent_events=events, **kw)


# --- the plain case -----------------------------------------------------------------------


def test_a_home_mobile_writing_for_the_first_time_gets_a_normal_reply():
    assert check() == replied()


def test_by_default_a_number_gets_one_reply_ever():
    assert check(history=answered(ago=365 * DAY)) == refused("duplicate")


# --- 1-4: who may be answered at all ------------------------------------------------------


def test_a_filtered_message_gets_no_reply_before_anything_else():
    blocked_short_code = History(last_reply_at=None, recent_events=1, blocked=True)
    assert check("short_code", blocked_short_code, filtered=True) == refused("filtered")


def test_a_blocked_number_gets_no_reply_even_if_allowed():
    history = History(last_reply_at=None, recent_events=1, blocked=True, allowed=True)
    assert check(history=history) == refused("blocked")


def test_blocked_comes_before_the_category():
    history = History(last_reply_at=None, recent_events=1, blocked=True)
    assert check("premium", history) == refused("blocked")


@pytest.mark.parametrize("category", sorted(NEVER_REPLY))
def test_never_reply_classes_say_their_category(category):
    assert check(category) == refused(category)


@pytest.mark.parametrize("category", sorted(NEVER_REPLY))
def test_never_reply_classes_get_nothing_even_if_listed_and_allowed(category):
    rules = Rules(reply_to=REPLYABLE | NEVER_REPLY, reply_to_abusive=True)
    allowed = History(last_reply_at=None, recent_events=1, allowed=True)
    assert check(category, allowed, rules=rules) == refused(category)
    assert check(category, allowed, raid=True, rules=rules) == refused(category)


@pytest.mark.parametrize("category", sorted(REPLYABLE - {"mobile"}))
def test_by_default_only_mobiles_get_a_reply(category):
    assert check(category) == refused(category)


@pytest.mark.parametrize("category", sorted(REPLYABLE))
def test_reply_to_opens_other_categories(category):
    assert check(category, rules=Rules(reply_to=frozenset({category}))) == replied()


def test_a_config_without_mobiles_refuses_them_with_their_category():
    rules = Rules(reply_to=frozenset({"fixed_line"}))
    assert check("mobile", rules=rules) == refused("mobile")


def test_an_unknown_category_gets_no_reply():
    assert check("satellite") == refused("satellite")


def test_the_category_comes_before_the_allow_list():
    allowed = History(last_reply_at=None, recent_events=1, allowed=True)
    assert check("foreign", allowed) == refused("foreign")


# --- 5: allowed test numbers --------------------------------------------------------------


def test_an_allowed_number_gets_a_reply_every_time():
    history = answered(ago=1, allowed=True, reply_pending=True)
    assert check(history=history) == replied()


def test_an_allowed_number_is_neither_abusive_nor_held_back_by_a_raid():
    history = answered(ago=1, events=500, allowed=True)
    rules = Rules(reply_to_abusive=False, raid_withhold=True)
    assert check(history=history, raid=True, rules=rules) == replied()


# --- 6: abusive numbers -------------------------------------------------------------------


def test_abusive_means_more_than_max_per_sender_events_in_the_window():
    rules = Rules(max_per_sender=3)
    assert not is_abusive(History(last_reply_at=None, recent_events=3), rules)
    assert is_abusive(History(last_reply_at=None, recent_events=4), rules)


def test_an_abusive_number_still_gets_its_one_reply_with_burst_priority():
    history = History(last_reply_at=None, recent_events=11)
    assert check(history=history) == replied("burst")


def test_an_abusive_number_gets_nothing_when_the_config_withholds_it():
    history = History(last_reply_at=None, recent_events=11)
    assert check(history=history, rules=Rules(reply_to_abusive=False)) == refused("abusive")


@pytest.mark.parametrize("reply_to_abusive", [True, False])
def test_an_abusive_number_already_answered_is_logged_as_abusive(reply_to_abusive):
    rules = Rules(reply_to_abusive=reply_to_abusive)
    assert check(history=answered(ago=60, events=11), rules=rules) == refused("abusive")


def test_an_abusive_number_whose_cooldown_is_over_gets_a_burst_reply():
    history = answered(ago=31 * DAY, events=11)
    assert check(history=history, rules=THIRTY_DAYS) == replied("burst")
    withheld = Rules(cooldown=30 * DAY, reply_to_abusive=False)
    assert check(history=history, rules=withheld) == refused("abusive")


def test_abusive_comes_before_raid():
    rules = Rules(raid_withhold=True)
    history = History(last_reply_at=None, recent_events=11)
    assert check(history=history, raid=True, rules=rules) == replied("burst")


# --- 7: once per number per cooldown ------------------------------------------------------


def test_with_a_cooldown_a_number_gets_another_reply_once_it_is_over():
    assert check(history=answered(ago=29 * DAY), rules=THIRTY_DAYS) == refused("duplicate")
    assert check(history=answered(ago=30 * DAY), rules=THIRTY_DAYS) == replied()


def test_a_reply_still_waiting_to_leave_blocks_a_second_one_whatever_its_age():
    history = answered(ago=60 * DAY, reply_pending=True)
    assert check(history=history, rules=THIRTY_DAYS) == refused("duplicate")


def test_a_last_reply_dated_in_the_future_counts_as_within_the_cooldown():
    # The clock jumped back: when in doubt, no second reply.
    future = History(last_reply_at=NOW + timedelta(days=400), recent_events=1)
    assert check(history=future, rules=THIRTY_DAYS) == refused("duplicate")


def test_a_zero_cooldown_answers_every_message():
    assert check(history=answered(ago=0), rules=Rules(cooldown=0)) == replied()


# --- 8-9: raid mode -----------------------------------------------------------------------


def test_during_a_raid_a_new_number_gets_a_burst_reply():
    assert check(raid=True) == replied("burst")


def test_during_a_raid_the_config_may_withhold_replies_from_new_numbers():
    assert check(raid=True, rules=Rules(raid_withhold=True)) == refused("raid")


def test_a_duplicate_during_a_raid_stays_a_duplicate():
    rules = Rules(raid_withhold=True)
    assert check(history=answered(ago=60), raid=True, rules=rules) == refused("duplicate")


# --- reply_due_at -------------------------------------------------------------------------


def test_the_reply_is_due_the_delay_after_the_message_arrived():
    assert reply_due_at(NOW, 3600) == NOW + timedelta(hours=1)
    assert reply_due_at(NOW, 0) == NOW
    assert reply_due_at(NOW, 1.5).tzinfo is UTC


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0, max_value=7 * DAY, allow_nan=False))
def test_a_reply_is_never_due_before_the_message_arrived(delay):
    assert reply_due_at(NOW, delay) >= NOW


# --- every decision -----------------------------------------------------------------------

REASONS = {"replied", "filtered", "blocked", "abusive", "duplicate", "raid"}


@settings(max_examples=200, deadline=None)
@given(
    category=st.sampled_from(sorted(NEVER_REPLY | REPLYABLE)),
    reply_to=st.frozensets(st.sampled_from(sorted(NEVER_REPLY | REPLYABLE))),
    ago=st.none() | st.floats(min_value=-DAY, max_value=100 * DAY),
    events=st.integers(1, 30),
    flags=st.tuples(*[st.booleans()] * 7),
    cooldown=st.none() | st.sampled_from([0.0, 3600.0, 30 * DAY]),
)
def test_every_decision_has_a_known_reason_and_forbidden_classes_never_get_a_reply(
    category, reply_to, ago, events, flags, cooldown
):
    blocked, allowed, pending, raid, filtered, to_abusive, withhold = flags
    rules = Rules(
        reply_to=reply_to, cooldown=cooldown, reply_to_abusive=to_abusive, raid_withhold=withhold
    )
    last = None if ago is None else NOW - timedelta(seconds=ago)
    history = History(last, events, blocked=blocked, allowed=allowed, reply_pending=pending)
    decision = check(category, history, raid=raid, filtered=filtered, rules=rules)
    assert decision.reason in REASONS | NEVER_REPLY | REPLYABLE
    assert decision.reply == (decision.reason == "replied")
    assert decision.priority in {"normal", "burst"}
    if category in NEVER_REPLY or category not in reply_to or blocked or filtered:
        assert not decision.reply
    if decision.reply and not allowed:
        assert not pending
        assert last is None or (cooldown is not None and ago >= cooldown)


# --- backlog_arrival ----------------------------------------------------------------------


def test_a_backlog_message_arrived_when_the_network_says():
    deaf_since, read_at = NOW - timedelta(hours=3), NOW
    sent_at = NOW - timedelta(hours=2)
    assert backlog_arrival(sent_at, read_at, deaf_since) == sent_at


def test_a_backlog_timestamp_is_kept_between_going_deaf_and_being_read():
    deaf_since, read_at = NOW - timedelta(hours=3), NOW
    assert backlog_arrival(NOW - timedelta(days=30), read_at, deaf_since) == deaf_since
    assert backlog_arrival(NOW + timedelta(hours=5), read_at, deaf_since) == read_at


def test_without_a_timestamp_or_a_last_heartbeat_a_backlog_message_arrived_when_read():
    assert backlog_arrival(None, NOW, NOW - timedelta(hours=1)) == NOW
    assert backlog_arrival(NOW - timedelta(hours=1), NOW, None) == NOW
