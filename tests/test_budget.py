"""Which due replies leave now: each limit of relouphone.budget, the order, expiry, and the
small fixed share that replies to a flood may take of the month's recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relouphone.budget import (
    MONTH_SECONDS,
    Candidate,
    Limits,
    Plan,
    Usage,
    burst_cap,
    next_slot,
    plan,
)

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
NOTHING_SENT = Usage(
    last_minute=0, last_day=0, month_recipients=frozenset(), month_burst_recipients=0
)
WIDE = Limits(per_minute=1000, per_day=1000, distinct_recipients_per_month=1000)


def reply(rid: int, number: str | None = None, *, age=3600.0, late=0.0, priority="normal"):
    """A reply created `age` seconds ago, due `late` seconds ago."""
    return Candidate(
        reply_id=rid,
        number=number or f"+3360000{rid:04d}",
        created_at=NOW - timedelta(seconds=age),
        due_at=NOW - timedelta(seconds=late),
        priority=priority,
    )


def usage(minute=0, day=0, recipients=(), bursts=0) -> Usage:
    return Usage(minute, day, frozenset(recipients), bursts)


def ids(candidates) -> list[int]:
    return [c.reply_id for c in candidates]


# --- what is considered -------------------------------------------------------------------


def test_with_room_every_due_reply_leaves():
    result = plan([reply(1), reply(2)], NOTHING_SENT, Limits(), NOW)
    assert result == Plan(send=(reply(1), reply(2)), expire=(), wait=(), reasons={})


def test_a_reply_not_yet_due_is_in_no_list():
    result = plan([reply(1, late=-1)], NOTHING_SENT, Limits(), NOW)
    assert result == Plan(send=(), expire=(), wait=())


def test_a_reply_due_exactly_now_leaves():
    assert ids(plan([reply(1, late=0)], NOTHING_SENT, Limits(), NOW).send) == [1]


# --- expiry -------------------------------------------------------------------------------


def test_a_reply_due_longer_than_max_wait_ago_expires_instead_of_leaving():
    limits = Limits(max_wait=7 * 86400)
    week = 7 * 86400
    old, just_in_time = reply(1, age=week + 2, late=week + 1), reply(2, age=week + 1, late=week)
    result = plan([old, just_in_time], NOTHING_SENT, limits, NOW)
    assert ids(result.expire) == [1]
    assert ids(result.send) == [2]


def test_a_reply_delay_longer_than_max_wait_does_not_expire_the_reply():
    # [reply] delay may be up to 30 days; max_wait counts from when the reply falls due.
    limits = Limits(max_wait=7 * 86400)
    result = plan([reply(1, age=8 * 86400, late=0)], NOTHING_SENT, limits, NOW)
    assert (ids(result.send), ids(result.expire)) == ([1], [])


def test_expiry_comes_before_the_limits():
    result = plan([reply(1, late=10)], usage(minute=5, day=100), Limits(max_wait=5), NOW)
    assert (ids(result.expire), ids(result.send), ids(result.wait)) == ([1], [], [])


# --- order --------------------------------------------------------------------------------


def test_normal_before_burst_then_oldest_due_then_id():
    candidates = [
        reply(1, late=100, priority="burst"),
        reply(2, late=10),
        reply(3, late=50),
        reply(5, late=50),
        reply(4, late=50),
    ]
    assert ids(plan(candidates, NOTHING_SENT, WIDE, NOW).send) == [3, 4, 5, 2, 1]


# --- pacing -------------------------------------------------------------------------------


def test_per_minute_counts_what_already_left_in_the_last_minute():
    result = plan([reply(i) for i in range(1, 6)], usage(minute=3, day=3), Limits(), NOW)
    assert ids(result.send) == [1, 2]
    assert ids(result.wait) == [3, 4, 5]
    assert set(result.reasons.values()) == {"per_minute"}


def test_per_day_counts_what_already_left_in_the_last_day():
    limits = Limits(per_day=10)
    result = plan([reply(i) for i in range(1, 4)], usage(day=9), limits, NOW)
    assert ids(result.send) == [1]
    assert result.reasons == {2: "per_day", 3: "per_day"}


def test_a_clock_that_jumped_back_sends_nothing_extra():
    # The five sends of the "last minute" are dated after now: Usage counts them all, so the
    # minute that contains now is already full.
    result = plan([reply(1), reply(2)], usage(minute=5, day=5), Limits(), NOW)
    assert result.send == ()
    assert result.reasons == {1: "per_minute", 2: "per_minute"}


# --- distinct recipients ------------------------------------------------------------------


def test_a_new_recipient_needs_room_under_the_monthly_cap():
    limits = Limits(distinct_recipients_per_month=3)
    result = plan([reply(1), reply(2)], usage(recipients={"+331", "+332"}), limits, NOW)
    assert ids(result.send) == [1]
    assert result.reasons == {2: "monthly_recipients"}


def test_a_recipient_already_sent_to_this_month_costs_nothing():
    limits = Limits(distinct_recipients_per_month=2)
    known = reply(2, "+332", late=0)
    result = plan([reply(1, late=10), known], usage(recipients={"+331", "+332"}), limits, NOW)
    assert ids(result.send) == [2]
    assert result.reasons == {1: "monthly_recipients"}


def test_two_replies_to_one_number_in_one_plan_only_the_first_leaves():
    result = plan([reply(1, "+331", late=5), reply(2, "+331")], NOTHING_SENT, WIDE, NOW)
    assert ids(result.send) == [1]
    assert result.reasons == {2: "same_number"}


# --- burst share --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "share", "expected"), [(99, 0.05, 4), (100, 0.05, 5), (250, 0.05, 12), (10, 0, 0)]
)
def test_the_burst_share_is_a_floor_of_the_cap(cap, share, expected):
    limits = Limits(distinct_recipients_per_month=cap, burst_share=share)
    assert burst_cap(limits) == expected


def test_burst_replies_to_new_recipients_stop_at_the_share():
    limits = Limits(per_minute=100, distinct_recipients_per_month=99)  # 4 burst recipients
    bursts = [reply(i, priority="burst") for i in range(1, 8)]
    result = plan(bursts, usage(recipients={"+331", "+332"}, bursts=2), limits, NOW)
    assert ids(result.send) == [1, 2]
    assert set(result.reasons.values()) == {"burst_share"}


def test_a_burst_reply_to_a_known_recipient_costs_no_share():
    limits = Limits(distinct_recipients_per_month=99)
    result = plan(
        [reply(1, "+331", priority="burst")], usage(recipients={"+331"}, bursts=4), limits, NOW
    )
    assert ids(result.send) == [1]


def test_a_normal_reply_is_never_starved_by_burst_ones():
    # The bursts are older and would come first by due time; the normal one still leaves,
    # first, and the bursts use what remains.
    limits = Limits(per_minute=2, distinct_recipients_per_month=99)
    bursts = [reply(i, late=600, priority="burst") for i in range(1, 5)]
    result = plan([*bursts, reply(9, late=0)], NOTHING_SENT, limits, NOW)
    assert ids(result.send) == [9, 1]


def test_a_waiting_reply_does_not_block_the_ones_behind_it():
    # Recipients are full: the new number waits, the known one behind it still leaves.
    limits = Limits(distinct_recipients_per_month=1)
    result = plan(
        [reply(1, "+33new", late=60), reply(2, "+33old", late=0, priority="burst")],
        usage(recipients={"+33old"}),
        limits,
        NOW,
    )
    assert ids(result.send) == [2]
    assert result.reasons == {1: "monthly_recipients"}


def test_under_a_raid_real_senders_keep_the_budget():
    """A month as a daemon would live it: 2,000 raid numbers write in the first hour, then
    90 real people write one at a time over the month; replies fall due an hour later and
    a plan runs every hour."""
    limits = Limits()
    hour = timedelta(hours=1)
    pending = [Candidate(i, f"+33raid{i}", NOW, NOW + hour, "burst") for i in range(2000)] + [
        Candidate(
            10_000 + d, f"+33real{d}", NOW + d * 8 * hour, NOW + d * 8 * hour + hour, "normal"
        )
        for d in range(90)
    ]
    sends: list[tuple[datetime, str, str]] = []  # (attempt time, number, priority)
    for step in range(0, MONTH_SECONDS, 3600):
        now = NOW + timedelta(seconds=step)
        month = [(n, p) for t, n, p in sends if t > now - timedelta(seconds=MONTH_SECONDS)]
        current = Usage(
            last_minute=sum(t > now - timedelta(seconds=60) for t, _, _ in sends),
            last_day=sum(t > now - timedelta(days=1) for t, _, _ in sends),
            month_recipients=frozenset(n for n, _ in month),
            month_burst_recipients=len({n for n, p in month if p == "burst"}),
        )
        result = plan(pending, current, limits, now)
        sends += [(now, c.number, c.priority) for c in result.send]
        gone = {c.reply_id for c in result.send + result.expire}
        pending = [c for c in pending if c.reply_id not in gone]
    numbers = [n for _, n, _ in sends]
    assert len(numbers) == len(set(numbers)) <= 99
    assert sum(n.startswith("+33real") for n in numbers) == 90
    assert sum(n.startswith("+33raid") for n in numbers) == 4  # floor(99 * 5%)
    assert pending == []  # the rest of the raid expired after max_wait


# --- next_slot ----------------------------------------------------------------------------


def test_next_slot_is_now_when_there_is_room():
    assert next_slot([NOW - timedelta(seconds=10)], Limits(), NOW) == NOW


def test_next_slot_is_when_the_oldest_send_of_a_full_minute_leaves_it():
    attempts = [NOW - timedelta(seconds=s) for s in (50, 40, 30, 20, 10)]
    assert next_slot(attempts, Limits(per_minute=5), NOW) == NOW + timedelta(seconds=10)


def test_next_slot_waits_for_the_day_window_too():
    attempts = [NOW - timedelta(hours=h) for h in (23, 20, 2)]
    assert next_slot(attempts, Limits(per_day=3), NOW) == NOW + timedelta(hours=1)


def test_next_slot_counts_sends_dated_after_now():
    attempts = [NOW + timedelta(seconds=30)] * 5
    assert next_slot(attempts, Limits(per_minute=5), NOW) == NOW + timedelta(seconds=90)


def test_next_slot_is_none_when_a_limit_is_zero():
    assert next_slot([], Limits(per_minute=0), NOW) is None


def test_limits_reject_nonsense():
    with pytest.raises(ValueError):
        Limits(per_day=-1)
    with pytest.raises(ValueError):
        Limits(burst_share=1.5)
