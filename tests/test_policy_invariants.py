"""The issue's acceptance, as a property: for any sequence of events, clock moves and
restarts, no limit is exceeded, no number gets more than one reply per cooldown, and the
forbidden classes never get one.

A small in-test model of the database (inbound events, replies with their state and attempt
time) is driven by decide() and plan() exactly as the daemon would: on each text, History
from the model, decide, add a reply if granted; on each send round, Usage from the model,
plan, mark the chosen replies sent (or failed) and the old ones expired. A restart drops what
lives only in memory (the RaidDetector) and keeps the model. The clock moves forward by
random amounts and sometimes backwards.

The checks run on the whole model at the end, on the timestamps *as recorded*: after a
backward jump, "every 60 s window" means every window over the recorded attempt times,
whatever order they were written in. That holds because Usage counts the sends dated after
`now` too: every window that contains `now` sees at most what Usage reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone.budget import MONTH_SECONDS, Candidate, Limits, Usage, burst_cap, plan
from relouphone.flood import RaidDetector
from relouphone.policy import NEVER_REPLY, REPLYABLE, History, Rules, decide, reply_due_at

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = sorted(NEVER_REPLY | REPLYABLE)
NUMBERS = 8
COUNTING = ("pending", "sending", "sent")


@dataclass
class Reply:
    id: int
    number: int
    created_at: datetime
    due_at: datetime
    priority: str
    state: str = "pending"
    attempted_at: datetime | None = None
    attempt_seq: int = 0  # the order of the attempts as they happened, whatever the clock said


@dataclass
class Model:
    """What the database holds: inbound events and replies, never forgotten."""

    events: list[tuple[int, datetime]]
    replies: list[Reply]

    def history(self, number: int, now: datetime, rules: Rules, allowed: bool) -> History:
        mine = [r for r in self.replies if r.number == number and r.state in COUNTING]
        moments = [max(r.created_at, r.attempted_at or r.created_at) for r in mine]
        since = now - timedelta(seconds=rules.flood_window)
        return History(
            last_reply_at=max(moments, default=None),
            recent_events=sum(n == number and t > since for n, t in self.events),
            allowed=allowed,
            reply_pending=any(r.state in ("pending", "sending") for r in mine),
        )

    def usage(self, now: datetime) -> Usage:
        attempts = [r for r in self.replies if r.attempted_at is not None]

        def after(seconds: float) -> list[Reply]:
            # "After now - window", with no upper bound: sends dated after now count too.
            return [r for r in attempts if r.attempted_at > now - timedelta(seconds=seconds)]

        month = after(MONTH_SECONDS)
        return Usage(
            last_minute=len(after(60)),
            last_day=len(after(86400)),
            month_recipients=frozenset(str(r.number) for r in month),
            month_burst_recipients=len({r.number for r in month if r.priority == "burst"}),
        )


# --- the scenario -------------------------------------------------------------------------

SMALL_MOVES = st.integers(min_value=0, max_value=90)
BIG_MOVES = st.sampled_from([600, 3600, 86400, 7 * 86400, 20 * 86400, MONTH_SECONDS])
TEXT = st.tuples(st.just("text"), st.integers(0, NUMBERS - 1), st.sampled_from([False] * 7 + [True]))
SEND = st.tuples(st.just("send"), st.booleans(), st.just(0))
# Texts and send rounds come often, so that replies pile up against the limits.
steps = st.one_of(
    TEXT,
    TEXT,
    TEXT,
    SEND,
    SEND,
    st.tuples(st.just("forward"), SMALL_MOVES, st.just(0)),
    st.tuples(st.just("forward"), BIG_MOVES, st.just(0)),
    st.tuples(st.just("back"), st.one_of(SMALL_MOVES, BIG_MOVES), st.just(0)),
    st.tuples(st.just("restart"), st.just(0), st.just(0)),
)
rules_st = st.builds(
    Rules,
    # Mobiles (most of the numbers) are always answered, other categories at random.
    reply_to=st.frozensets(st.sampled_from(CATEGORIES)).map(lambda c: c | {"mobile"}),
    cooldown=st.none() | st.sampled_from([0.0, 60.0, 3600.0, 86400.0, 30 * 86400.0]),
    max_per_sender=st.integers(1, 4),
    flood_window=st.sampled_from([60.0, 3600.0]),
    reply_to_abusive=st.booleans(),
    raid_withhold=st.booleans(),
)
limits_st = st.builds(
    Limits,
    per_minute=st.sampled_from([1, 2, 3, 0]),
    per_day=st.integers(1, 6),
    distinct_recipients_per_month=st.integers(1, 5),
    max_wait=st.sampled_from([7 * 86400.0, 86400.0, 3600.0, 60.0]),
    burst_share=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    rules=rules_st,
    limits=limits_st,
    categories=st.lists(
        st.sampled_from(["mobile"] * len(CATEGORIES) + CATEGORIES),
        min_size=NUMBERS,
        max_size=NUMBERS,
    ),
    allowed=st.frozensets(st.integers(0, NUMBERS - 1), max_size=2),
    delay=st.sampled_from([0.0, 30.0, 90.0, 3600.0]),
    raid_rate=st.sampled_from([1.0, 3.0]),
    script=st.lists(steps, min_size=10, max_size=80),
)
def test_no_limit_exceeded_and_one_reply_per_cooldown_whatever_happens(
    rules, limits, categories, allowed, delay, raid_rate, script
):
    model = Model(events=[], replies=[])
    detector = RaidDetector(raid_rate, calm_after=120)
    now = T0
    for action, a, b in script:
        if action == "text":
            number, filtered = a, b  # one text in eight matches a filter
            detector.observe(now)
            model.events.append((number, now))
            history = model.history(number, now, rules, number in allowed)
            decision = decide(
                categories[number],
                history,
                now=now,
                raid=detector.active,
                filtered=filtered,
                rules=rules,
            )
            if decision.reply:
                model.replies.append(
                    Reply(
                        id=len(model.replies) + 1,
                        number=number,
                        created_at=now,
                        due_at=reply_due_at(now, delay),
                        priority=decision.priority,
                    )
                )
        elif action == "send":
            fail_first = a
            send_round(model, limits, now, fail_first)
        elif action == "forward":
            now += timedelta(seconds=a)
            detector.update(now)
        elif action == "back":
            now -= timedelta(seconds=a)
            detector.update(now)
        else:  # restart: only the database survives
            detector = RaidDetector(raid_rate, calm_after=120)

    check_limits(model, limits)
    check_cooldown(model, rules, allowed)
    for r in model.replies:
        assert categories[r.number] not in NEVER_REPLY
        assert categories[r.number] in rules.reply_to


def send_round(model: Model, limits: Limits, now: datetime, fail_first: bool) -> None:
    by_id = {r.id: r for r in model.replies}
    pending = [
        Candidate(r.id, str(r.number), r.created_at, r.due_at, r.priority)
        for r in model.replies
        if r.state == "pending"
    ]
    result = plan(pending, model.usage(now), limits, now)
    chosen = [c.reply_id for c in result.send + result.expire + result.wait]
    assert len(chosen) == len(set(chosen))
    assert all(c.due_at <= now for c in result.send + result.expire + result.wait)
    for c in result.expire:
        by_id[c.reply_id].state = "expired"
    for i, c in enumerate(result.send):
        reply = by_id[c.reply_id]
        reply.attempted_at = now
        reply.attempt_seq = next_seq(model)
        # A failed send was still handed to the modem: it counts for the limits, not for
        # the cooldown (the number may be granted a reply again).
        reply.state = "failed" if fail_first and i == 0 else "sent"


def next_seq(model: Model) -> int:
    return 1 + max((r.attempt_seq for r in model.replies), default=0)


def attempts_in_order(model: Model) -> list[Reply]:
    return sorted((r for r in model.replies if r.attempted_at), key=lambda r: r.attempt_seq)


def windows(times: list[datetime], seconds: float):
    """For each recorded time t, the indices of the times in (t - seconds, t]."""
    span = timedelta(seconds=seconds)
    for t in times:
        yield [i for i, u in enumerate(times) if t - span < u <= t]


def check_limits(model: Model, limits: Limits) -> None:
    attempts = attempts_in_order(model)
    times = [r.attempted_at for r in attempts]
    for inside in windows(times, 60):
        assert len(inside) <= limits.per_minute
    for inside in windows(times, 86400):
        assert len(inside) <= limits.per_day
    # The recipients a burst reply brought in: numbers whose first send was a burst one.
    first: dict[int, Reply] = {}
    for r in attempts:
        first.setdefault(r.number, r)
    brought_by_burst = {r.id for r in first.values() if r.priority == "burst"}
    for inside in windows(times, MONTH_SECONDS):
        assert len({attempts[i].number for i in inside}) <= limits.distinct_recipients_per_month
        assert sum(attempts[i].id in brought_by_burst for i in inside) <= burst_cap(limits)
    for r in attempts:
        assert r.due_at <= r.attempted_at  # never early, even after the clock went back
        assert (r.attempted_at - r.created_at).total_seconds() <= limits.max_wait


def check_cooldown(model: Model, rules: Rules, allowed: frozenset[int]) -> None:
    sent: dict[int, list[datetime]] = {}
    for r in attempts_in_order(model):
        if r.state == "sent" and r.number not in allowed:
            sent.setdefault(r.number, []).append(r.attempted_at)
    for times in sent.values():
        if rules.cooldown is None:
            assert len(times) == 1
            continue
        # Signed, in the order they happened: a later reply is never dated less than a
        # cooldown after an earlier one, even across a backward jump.
        for i, earlier in enumerate(times):
            for later in times[i + 1 :]:
                assert later - earlier >= timedelta(seconds=rules.cooldown)
