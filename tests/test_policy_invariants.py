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

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone.budget import MONTH_SECONDS, Candidate, Limits, Usage, burst_cap, plan
from relouphone.flood import RaidDetector
from relouphone.policy import NEVER_REPLY, REPLYABLE, History, Rules, decide, reply_due_at

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = sorted(NEVER_REPLY | REPLYABLE)
NUMBERS = 5
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


# --- the daemon, as far as the policy core sees it --------------------------------------


@dataclass
class World:
    """The daemon's use of the core over the model; each method is one step of a script."""

    rules: Rules = field(default_factory=Rules)
    limits: Limits = field(default_factory=Limits)
    categories: list[str] = field(default_factory=lambda: ["mobile"] * NUMBERS)
    allowed: frozenset[int] = frozenset()
    delay: float = 0.0
    raid_rate: float = 3.0
    now: datetime = T0
    model: Model = field(default_factory=lambda: Model(events=[], replies=[]))
    detector: RaidDetector | None = None

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Only the database survives a restart."""
        self.detector = RaidDetector(self.raid_rate, calm_after=120)

    def text(self, number: int, filtered: bool = False) -> str:
        """A text arrives: record it, decide, add the reply if granted; return the reason."""
        self.detector.observe(self.now)
        self.model.events.append((number, self.now))
        history = self.model.history(number, self.now, self.rules, number in self.allowed)
        decision = decide(
            self.categories[number],
            history,
            now=self.now,
            raid=self.detector.active,
            filtered=filtered,
            rules=self.rules,
        )
        if decision.reply:
            self.model.replies.append(
                Reply(
                    id=len(self.model.replies) + 1,
                    number=number,
                    created_at=self.now,
                    due_at=reply_due_at(self.now, self.delay),
                    priority=decision.priority,
                )
            )
        return decision.reason

    def tick(self, seconds: float, fail_first: bool = False) -> None:
        """The clock moves (backwards if negative), then the daemon runs a send round."""
        self.now += timedelta(seconds=seconds)
        self.detector.update(self.now)
        send_round(self.model, self.limits, self.now, fail_first)

    def sent_to(self) -> list[int]:
        return [r.number for r in attempts_in_order(self.model) if r.state == "sent"]

    def check(self) -> None:
        """Every invariant of the issue, on the whole model."""
        check_limits(self.model, self.limits)
        check_cooldown(self.model, self.rules, self.allowed)
        for r in self.model.replies:
            assert self.categories[r.number] not in NEVER_REPLY
            assert self.categories[r.number] in self.rules.reply_to


# --- any script -------------------------------------------------------------------------

# A script is a list of steps: a text arrives (from one of a few numbers, sometimes caught
# by a filter); the clock moves forwards or backwards, then the daemon runs a send round
# (sometimes the first send of the round fails); or the daemon restarts.
SMALL_MOVES = st.integers(min_value=0, max_value=90)
BIG_MOVES = st.sampled_from([600, 3600, 86400, 7 * 86400, 20 * 86400, MONTH_SECONDS])
FAILS = st.sampled_from([False] * 3 + [True])
TEXT = st.tuples(
    st.just("text"), st.integers(0, NUMBERS - 1), st.sampled_from([False] * 7 + [True])
)
steps = st.one_of(
    TEXT,
    TEXT,
    st.tuples(st.just("tick"), SMALL_MOVES, FAILS),
    st.tuples(st.just("tick"), BIG_MOVES, FAILS),
    st.tuples(st.just("tick"), st.one_of(SMALL_MOVES, BIG_MOVES).map(lambda s: -s), FAILS),
    st.tuples(st.just("restart"), st.just(0), st.just(False)),
)
rules_st = st.builds(
    Rules,
    # Mobiles (most of the numbers) are always answered, other categories at random.
    reply_to=st.frozensets(st.sampled_from(CATEGORIES)).map(lambda c: c | {"mobile"}),
    cooldown=st.none() | st.sampled_from([60.0, 3600.0, 86400.0, 30 * 86400.0, 0.0]),
    max_per_sender=st.integers(1, 4),
    flood_window=st.sampled_from([60.0, 3600.0]),
    reply_to_abusive=st.booleans(),
    raid_withhold=st.booleans(),
)
limits_st = st.builds(
    Limits,
    per_minute=st.sampled_from([1, 2, 3, 0]),
    per_day=st.integers(1, 6),
    distinct_recipients_per_month=st.integers(1, 4),
    max_wait=st.sampled_from([7 * 86400.0, 86400.0, 3600.0, 60.0]),
    burst_share=st.sampled_from([0.5, 0.25, 1.0, 0.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    rules=rules_st,
    limits=limits_st,
    categories=st.lists(
        st.sampled_from(["mobile"] * len(CATEGORIES) + CATEGORIES),
        min_size=NUMBERS,
        max_size=NUMBERS,
    ),
    allowed=st.frozensets(st.integers(0, NUMBERS - 1), max_size=1),
    delay=st.sampled_from([0.0, 30.0, 90.0, 3600.0]),
    raid_rate=st.sampled_from([1.0, 3.0]),
    script=st.lists(steps, min_size=10, max_size=80),
)
def test_no_limit_exceeded_and_one_reply_per_cooldown_whatever_happens(
    rules, limits, categories, allowed, delay, raid_rate, script
):
    world = World(rules, limits, categories, allowed, delay, raid_rate)
    for action, a, b in script:
        if action == "text":
            world.text(a, filtered=b)
        elif action == "tick":
            world.tick(a, fail_first=b)
        else:
            world.restart()
    world.check()


# --- the stories the property must not miss ----------------------------------------------
# Each needs a precise sequence that random scripts reach only now and then; written out,
# they also show why each part of History and Usage is there.


def test_a_reply_held_back_by_the_budget_still_blocks_a_second_one():
    # Why History.reply_pending: the first reply waits a day for room; a text after the
    # cooldown must not queue a second one that would leave right behind it.
    world = World(rules=Rules(cooldown=60), limits=Limits(per_day=2))
    world.text(2), world.text(3), world.tick(0)  # the day's two sends
    world.text(1), world.tick(0)  # waits for per_day
    world.tick(60)
    assert world.text(1) == "duplicate"
    world.tick(86400), world.tick(0), world.tick(0)
    assert world.sent_to() == [2, 3, 1]
    world.check()


def test_the_cooldown_runs_from_when_the_reply_left_not_when_it_was_granted():
    # Why History.last_reply_at takes the attempt time: the reply granted at 0 left a day
    # later; an hour's cooldown counts from then.
    world = World(rules=Rules(cooldown=3600), limits=Limits(per_day=2))
    world.text(2), world.text(3), world.tick(0)
    world.text(1), world.tick(0)
    world.tick(86400)
    assert world.sent_to() == [2, 3, 1]
    assert world.text(1) == "duplicate"
    world.tick(3599)
    assert world.text(1) == "duplicate"
    world.tick(1)
    assert world.text(1) == "replied"
    world.tick(0)
    assert world.sent_to() == [2, 3, 1, 1]
    world.check()


def test_after_the_clock_jumps_back_the_sends_dated_in_the_future_still_count():
    # Why Usage counts sends after `now`: the minute that contains the new `now` already
    # holds the send made before the jump.
    world = World(limits=Limits(per_minute=1))
    world.text(1), world.tick(0)
    world.tick(-30)
    world.text(2), world.tick(0)
    assert world.sent_to() == [1]
    world.tick(89)  # 59 s after the first send, as recorded
    assert world.sent_to() == [1]
    world.tick(1)
    assert world.sent_to() == [1, 2]
    world.check()


def test_during_a_raid_new_recipients_beyond_the_burst_share_wait():
    # A raid (more than one text a minute) from four numbers; the cap of 4 recipients with a
    # 25 % burst share leaves one recipient to the burst, whatever is free.
    world = World(limits=Limits(distinct_recipients_per_month=4, burst_share=0.25), raid_rate=1)
    assert [world.text(n) for n in range(4)] == ["replied"] * 4
    world.tick(0)
    assert world.sent_to() == [0, 1]  # the first text came before the raid: normal
    world.tick(86400)
    assert world.sent_to() == [0, 1]
    world.check()


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
        assert (r.attempted_at - r.due_at).total_seconds() <= limits.max_wait


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
