"""The reply path as a property, over the real database: for any sequence of texts, calls,
clock moves, send rounds, restarts and blocks, after every step,

1. no SMS was handed to the modem for a sender that may never get one (short code,
   alphanumeric, withheld, premium, invalid) nor for a category not in `reply_to`;
2. no limit was exceeded: per minute, per day, distinct recipients in any 31 days (but
   see the end of the file: two ways a retried reply escapes the count);
3. no number got two replies within the cooldown, nor one after it was blocked;
4. a reply was marked `sending`, committed, before the modem was asked, and left at most
   once: only a refusal that sent nothing is tried again;
5. every text and call is recorded with its decision.

tests/test_policy_invariants.py checks the pure core against a model of the database. Here
the database is the real one, a file closed and reopened at each restart, driven the way
the daemon drives it: `ingest_message` on a real SMS-DELIVER PDU and `ingest_call`, with
the raid detector's verdict; `send_due` with the limits; `settle_interrupted_sends` at
start-up. The checks read only the tables and what a fake modem was asked to send.

A send can fail four ways: a passing refusal (+CMS 42, congestion: retried), a refusal for
good (+CMS 1, unassigned number), a link that drops once the PDU is out (`SendUncertain`)
or a power cut in the middle of the send (the daemon restarts). Only the first two are
known to have sent nothing; the last two count as a reply received, for the cooldown.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relouphone.budget import MONTH_SECONDS, Limits
from relouphone.daemon import RAID_LOOKBACK
from relouphone.errors import ModemError, SendUncertain
from relouphone.flood import RaidDetector
from relouphone.ingest import Outcome, ReplyRule, ingest_call, ingest_message
from relouphone.modem import IncomingCall, StoredMessage
from relouphone.outbox import send_due
from relouphone.pdu import EncodedPdu, decode_pdu, encode_deliver
from relouphone.policy import NEVER_REPLY, REPLYABLE, Rules
from relouphone.store import Store
from relouphone.timefmt import from_db

SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
T0 = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
REPLY = "La personne qui vous a donné ce numéro ne voulait pas vous donner le sien."
TEXT = "Salut, pourquoi tu réponds pas ?"
# More examples on demand, as for tests/test_fuzz.py: RELOUPHONE_FUZZ_EXAMPLES=5000.
EXAMPLES = int(os.environ.get("RELOUPHONE_FUZZ_EXAMPLES") or 150)


@dataclass(frozen=True, slots=True)
class Sender:
    """One address of the pool, with what a careful reader of the README says it is."""

    address: str | None  # as the network gives it; None: withheld
    ton: int | None
    person: str | None  # the number once normalised, None when there is no number
    category: str


SENDERS = {
    s.address: s
    for s in (
        Sender("+33612345670", 1, "+33612345670", "mobile"),
        Sender("+33612345671", 1, "+33612345671", "mobile"),
        Sender("+33612345672", 1, "+33612345672", "mobile"),
        Sender("0612345670", 0, "+33612345670", "mobile"),  # the first one, written nationally
        Sender("36179", 0, None, "short_code"),
        Sender("FREE", 5, None, "alphanumeric"),
        Sender("+447911123456", 1, "+447911123456", "foreign"),
        # Ofcom's range for drama: libphonenumber knows no one has it.
        Sender("+447700900123", 1, "+447700900123", "invalid"),
        Sender("+33144556677", 1, "+33144556677", "fixed_line"),
        Sender("+33899123456", 1, "+33899123456", "premium"),
        Sender(None, None, None, "withheld"),
    )
}
HOME_MOBILES = sorted(a for a, s in SENDERS.items() if a and s.category == "mobile")
CATEGORY_OF = {s.person: s.category for s in SENDERS.values() if s.person}
ALLOWED = "+33612345672"  # the test number, when the example uses the allow list

# What the fake modem does with the next message it is asked to send.
SENT, REFUSED, REFUSED_FOR_GOOD, UNCERTAIN, POWER_CUT = (
    "sent",
    "refused",
    "refused for good",
    "uncertain",
    "power cut",
)
MAY_HAVE_LEFT = (SENT, UNCERTAIN, POWER_CUT)


class PowerCut(Exception):
    """The daemon dies while the modem sends: the loop never sees the send's end."""


@dataclass(frozen=True, slots=True)
class Handing:
    """One message the modem was asked to send, and what came of it."""

    reply_id: int
    number: str
    at: datetime
    step: int
    outcome: str
    refs: tuple[int, ...] = ()


class FakeModem:
    """Sends, refuses or dies as scripted (sends by default), and records every request.

    It looks at the database through its own connection, which sees only what was
    committed: the reply it is asked to send must already be there in state `sending`.
    """

    def __init__(self, committed: sqlite3.Connection, clock: Callable[[], tuple[datetime, int]]):
        self.committed = committed
        self.clock = clock
        self.script: list[str] = []
        self.handed: list[Handing] = []
        self._next_ref = 1

    def send(self, pdus: list[EncodedPdu]) -> list[int]:
        number = decode_pdu(pdus[0].hex).recipient.number
        [(reply_id, row_number)] = self.committed.execute(
            "SELECT id, number FROM replies WHERE state = 'sending'"
        ).fetchall()
        assert row_number == number
        outcome = self.script.pop(0) if self.script else SENT
        refs = tuple(range(self._next_ref, self._next_ref + len(pdus))) if outcome == SENT else ()
        self._next_ref += len(refs)
        now, step = self.clock()
        self.handed.append(Handing(reply_id, number, now, step, outcome, refs))
        if outcome == REFUSED:
            raise ModemError("+CMS ERROR: 42", kind="CMS", code=42)
        if outcome == REFUSED_FOR_GOOD:
            raise ModemError("+CMS ERROR: 1", kind="CMS", code=1)
        if outcome == UNCERTAIN:
            raise SendUncertain("the link dropped once the PDU was out")
        if outcome == POWER_CUT:
            raise PowerCut
        return list(refs)


@dataclass
class World:
    """The daemon's use of the store and the modem; each method is one step of a script."""

    path: Path
    rule: ReplyRule
    limits: Limits
    max_attempts: int
    raid_rate: float
    now: datetime = T0
    step: int = 0
    slot: int = 0
    arrivals: int = 0
    # A blocked number: the step of its block, and how many events were recorded before it.
    blocked_at_step: dict[str, int] = field(default_factory=dict)
    events_before_block: dict[str, int] = field(default_factory=dict)
    allowed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.store = Store(self.path)
        self.committed = sqlite3.connect(self.path, isolation_level=None)
        self.modem = FakeModem(self.committed, lambda: (self.now, self.step))
        self.detector = RaidDetector(self.raid_rate)

    def close(self) -> None:
        self.store.close()
        self.committed.close()

    def allow(self, number: str) -> None:
        self.store.allow(number, "test number", self.now)
        self.allowed |= {number}

    # -- the steps ---------------------------------------------------------------------

    def text(self, address: str) -> Outcome:
        [pdu] = encode_deliver(address, TEXT, self.now)
        message = StoredMessage(storage="SM", slot=self.slot, stat=0, pdu=pdu)
        self.slot += 1
        return self._arrive(
            lambda raid: ingest_message(self.store, message, self.now, self.rule, raid=raid)
        )

    def call(self, address: str | None) -> Outcome:
        sender = SENDERS[address]
        call = IncomingCall(number=sender.address, ton=sender.ton)
        return self._arrive(
            lambda raid: ingest_call(self.store, call, self.now, self.rule, raid=raid)
        )

    def clock(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def send(self, outcomes: tuple[str, ...]) -> None:
        if self.detector.update(self.now):
            self._raid_changed()
        self.modem.script = list(outcomes)
        try:
            send_due(self.store, self.modem, self.now, self.limits, max_attempts=self.max_attempts)
        except PowerCut:
            self.restart()

    def restart(self) -> None:
        """Only the database survives; at start-up the daemon settles interrupted sends."""
        self.store.close()
        self.store = Store(self.path)
        self.detector = RaidDetector(self.raid_rate)
        for moment in self.store.recent_inbound_times(self.now - timedelta(minutes=1)):
            self.detector.observe(moment)
        self.store.settle_interrupted_sends(self.now)

    def block(self, number: str) -> None:
        self.store.block(number, "harcèlement", self.now)
        self.blocked_at_step.setdefault(number, self.step)
        self.events_before_block.setdefault(number, self.arrivals)

    def _arrive(self, ingest: Callable[[bool], Outcome]) -> Outcome:
        """As the daemon's loop: the raid detector sees the event, then it is recorded."""
        if self.detector.observe(self.now):
            self._raid_changed()
        self.arrivals += 1
        return ingest(self.detector.active)

    def _raid_changed(self) -> None:
        if self.detector.active:
            self.store.raid_started(self.now)
            self.store.demote_granted_since(self.now - RAID_LOOKBACK, self.now)
        else:
            self.store.raid_ended(self.now)

    # -- what it holds -----------------------------------------------------------------

    def replies(self) -> dict[int, dict[str, Any]]:
        return {row["id"]: row for row in self.store.db["replies"].rows}

    def attempts(self) -> list[tuple[datetime, str]]:
        """(time, number) of every send attempt the database recorded for the limits."""
        rows = self.store.db["send_attempts"].rows_where(order_by="id")
        return [(from_db(row["attempted_at"]), row["number"]) for row in rows]

    def inbound(self) -> list[dict[str, Any]]:
        return list(self.store.db["inbound"].rows_where(order_by="id"))

    def handed_by_reply(self) -> dict[int, list[Handing]]:
        by_reply: dict[int, list[Handing]] = {}
        for h in self.modem.handed:
            by_reply.setdefault(h.reply_id, []).append(h)
        return by_reply


# --- the checks, after every step --------------------------------------------------------


def check(world: World) -> None:
    replies = world.replies()
    check_who_may_be_answered(world, replies)
    check_limits(world, replies)
    check_cooldown_and_blocks(world)
    check_at_most_once(world, replies)
    check_every_event_decided(world, replies)


def may_be_answered(number: str, rules: Rules) -> bool:
    category = CATEGORY_OF.get(number)
    return category is not None and category not in NEVER_REPLY and category in rules.reply_to


def check_who_may_be_answered(world: World, replies: dict[int, dict[str, Any]]) -> None:
    rules = world.rule.rules
    for h in world.modem.handed:
        assert may_be_answered(h.number, rules), h
    for row in replies.values():
        assert may_be_answered(row["number"], rules), row


def windows(times: list[datetime], seconds: float) -> Iterator[list[int]]:
    """For each time t, the indices of the times in (t - seconds, t]: every window that
    could hold the most of them ends on one of them."""
    span = timedelta(seconds=seconds)
    for t in times:
        yield [i for i, u in enumerate(times) if t - span < u <= t]


def within_limits(attempts: list[tuple[datetime, str]], limits: Limits) -> None:
    times = [t for t, _ in attempts]
    for inside in windows(times, 60):
        assert len(inside) <= limits.per_minute, attempts
    for inside in windows(times, 86400):
        assert len(inside) <= limits.per_day, attempts
    for inside in windows(times, MONTH_SECONDS):
        recipients = {attempts[i][1] for i in inside}
        assert len(recipients) <= limits.distinct_recipients_per_month, attempts


def check_limits(world: World, replies: dict[int, dict[str, Any]]) -> None:
    """Every message handed to the modem counts, whatever came of it (README, budget.Usage):
    a passing refusal, retried, was handed over twice. Over the attempts the database
    recorded, and over the modem's own list.
    """
    within_limits(world.attempts(), world.limits)
    handed = [(h.at, h.number) for h in world.modem.handed]
    within_limits(handed, world.limits)
    assert len(world.attempts()) == len(handed)
    # The database and the modem agree: the latest request for each reply is its attempt.
    handed_by_reply = world.handed_by_reply()
    for reply_id, row in replies.items():
        requests = handed_by_reply.get(reply_id, [])
        if not requests:
            assert row["attempted_at"] is None, row
            continue
        assert from_db(row["attempted_at"]) == requests[-1].at, row
        assert row["attempts"] == len(requests), row
        # Never before its delay, even after the clock went back.
        earliest = from_db(row["created_at"]) + timedelta(seconds=world.rule.delay)
        assert all(h.at >= earliest for h in requests), row


def check_cooldown_and_blocks(world: World) -> None:
    cooldown = world.rule.rules.cooldown
    received: dict[str, list[datetime]] = {}
    for h in world.modem.handed:
        if h.number in world.blocked_at_step:
            assert h.step < world.blocked_at_step[h.number], h
        if h.outcome in MAY_HAVE_LEFT and h.number not in world.allowed:
            received.setdefault(h.number, []).append(h.at)
    for number, times in received.items():
        if cooldown is None:
            assert len(times) == 1, (number, times)
            continue
        # Signed, in the order they happened: a later reply is never dated less than a
        # cooldown after an earlier one, even across a backward jump of the clock.
        for i, earlier in enumerate(times):
            for later in times[i + 1 :]:
                assert later - earlier >= timedelta(seconds=cooldown), (number, times)


def check_at_most_once(world: World, replies: dict[int, dict[str, Any]]) -> None:
    assert [r for r in replies.values() if r["state"] == "sending"] == []
    for reply_id, handed in world.handed_by_reply().items():
        row = replies[reply_id]
        # Tried again only after a refusal that sent nothing, and a bounded number of times.
        assert all(h.outcome == REFUSED for h in handed[:-1]), handed
        assert len(handed) <= world.max_attempts, handed
        last = handed[-1]
        if last.outcome == SENT:
            assert (row["state"], row["message_refs"]) == ("sent", str(list(last.refs))), row
        elif last.outcome in (UNCERTAIN, POWER_CUT, REFUSED_FOR_GOOD):
            assert row["state"] == "failed", row
        elif len(handed) == world.max_attempts:
            assert row["state"] == "failed", row  # gave up
        else:
            # Back in line for a retry; the limits may expire it or a block cancel it.
            assert row["state"] in ("pending", "expired", "blocked"), row


def check_every_event_decided(world: World, replies: dict[int, dict[str, Any]]) -> None:
    events = world.inbound()
    assert len(events) == world.arrivals  # nothing lost
    rules = world.rule.rules
    for event in events:
        sender = SENDERS[event["sender_raw"] or None]
        assert (event["sender"], event["category"]) == (sender.person, sender.category)
        assert event["decision"] is not None, event
        assert (event["decision"] == "replied") == (event["reply_id"] is not None), event
        if event["reply_id"] is not None:
            reply = replies[event["reply_id"]]
            assert (reply["inbound_id"], reply["number"]) == (event["id"], sender.person)
        before = world.events_before_block.get(sender.person or "")
        if before is not None and event["id"] > before:
            assert event["decision"] == "blocked", event
        elif sender.category in NEVER_REPLY or sender.category not in rules.reply_to:
            assert event["decision"] == sender.category, event


# --- any script ----------------------------------------------------------------------------

ADDRESSES = sorted(SENDERS, key=lambda a: a or "")
NUMBERS = sorted({s.person for s in SENDERS.values() if s.person})
HOME_PEOPLE = sorted({SENDERS[a].person for a in HOME_MOBILES})
TEXTERS = [a for a in ADDRESSES if a is not None]
CALLERS = [a for a in ADDRESSES if a is None or SENDERS[a].ton != 5]
# Seconds to days, the edges of the windows and of the retry delays included.
FORWARD = st.one_of(
    st.sampled_from([1, 30, 59, 60, 61, 300, 900, 3600]),
    st.sampled_from([1, 30, 59, 60, 61, 300, 900, 3600]),
    st.sampled_from([2 * 3600, 6 * 3600, 86399, 86400, 86401, 7 * 86400, MONTH_SECONDS + 1]),
    st.integers(1, 86400),
)
BACKWARD = st.integers(-3600, -1)
OUTCOMES = st.lists(
    st.sampled_from(
        [SENT, SENT, REFUSED, REFUSED, REFUSED, REFUSED_FOR_GOOD, UNCERTAIN, POWER_CUT]
    ),
    max_size=3,
).map(tuple)
ARRIVAL = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(HOME_MOBILES)),
    st.tuples(st.just("text"), st.sampled_from(TEXTERS)),
    st.tuples(st.just("call"), st.sampled_from(CALLERS)),
)
# Mostly what a day brings: people writing, time passing, the daemon sending; now and
# then a clock jump, a restart or a block.
steps = st.one_of(
    ARRIVAL,
    ARRIVAL,
    st.tuples(st.just("clock"), FORWARD),
    st.tuples(st.just("clock"), FORWARD),
    st.tuples(st.just("send"), OUTCOMES),
    st.tuples(st.just("send"), OUTCOMES),
    st.one_of(
        st.tuples(st.just("clock"), BACKWARD),
        st.tuples(st.just("restart"), st.none()),
        st.tuples(st.just("block"), st.sampled_from(HOME_PEOPLE)),
        st.tuples(st.just("block"), st.sampled_from(NUMBERS)),
    ),
)
rules_st = st.builds(
    Rules,
    # Home mobiles always, the other categories at random: forbidden ones too, which no
    # configuration can turn on.
    reply_to=st.frozensets(st.sampled_from(sorted(NEVER_REPLY | REPLYABLE))).map(
        lambda c: c | {"mobile"}
    ),
    cooldown=st.sampled_from([None, 2 * 3600.0, 6 * 3600.0]),
    max_per_sender=st.integers(1, 4),
    flood_window=st.just(3600.0),
    reply_to_abusive=st.booleans(),
    raid_withhold=st.booleans(),
)
limits_st = st.builds(
    Limits,
    per_minute=st.integers(1, 3),
    per_day=st.integers(1, 6),
    distinct_recipients_per_month=st.integers(1, 5),
    max_wait=st.sampled_from([60.0, 3600.0, 86400.0, 7 * 86400.0, 7 * 86400.0]),
    burst_share=st.sampled_from([0.0, 0.5, 1.0]),
)


@contextmanager
def world_in_a_file(**kwargs: Any) -> Iterator[World]:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as directory:
        world = World(Path(directory) / "relouphone.db", **kwargs)
        try:
            yield world
        finally:
            world.close()


def play(world: World, script: list[tuple[str, Any]]) -> None:
    """Run the steps one by one, checking everything after each."""
    for world.step, (action, arg) in enumerate(script, start=1):
        if action == "restart":
            world.restart()
        else:
            getattr(world, action)(arg)
        check(world)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rules=rules_st,
    limits=limits_st,
    delay=st.sampled_from([0.0, 60.0, 3600.0]),
    max_attempts=st.integers(1, 4),
    raid_rate=st.sampled_from([1.0, 2.0, 30.0, 30.0]),
    allow=st.booleans(),
    script=st.lists(steps, min_size=20, max_size=120),
)
def test_every_step_keeps_who_when_and_how_often_replies_leave(
    rules, limits, delay, max_attempts, raid_rate, allow, script
):
    rule = ReplyRule(text=REPLY, delay=delay, rules=rules)
    with world_in_a_file(
        rule=rule, limits=limits, max_attempts=max_attempts, raid_rate=raid_rate
    ) as world:
        if allow:
            world.allow(ALLOWED)
        play(world, script)


def test_the_pool_reads_as_the_readme_says():
    # The checks trust SENDERS; a text from each is recorded with that category.
    with world_in_a_file(
        rule=ReplyRule(text=REPLY, delay=0), limits=Limits(), max_attempts=4, raid_rate=30
    ) as world:
        for address in ADDRESSES:
            if address is None:
                world.call(None)
            else:
                world.text(address)
        check(world)


# --- what the property found ---------------------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [
        Limits(per_minute=1),
        Limits(per_day=1),
        Limits(distinct_recipients_per_month=1),
    ],
    ids=["per_minute", "per_day", "distinct_recipients_per_month"],
)
def test_a_refused_attempt_counts_for_the_limits(limits):
    # Two people write; the modem is asked for the first reply and the network refuses it
    # for a passing reason. That request was handed to the modem: it fills the limit of
    # one, so the second reply must wait.
    rule = ReplyRule(text=REPLY, delay=0)
    with world_in_a_file(rule=rule, limits=limits, max_attempts=4, raid_rate=30) as world:
        world.text("+33612345670")
        world.text("+33612345671")
        world.send((REFUSED,))
        world.send(())
        assert [h.number for h in world.modem.handed] == ["+33612345670"]


def test_every_attempt_of_a_retried_reply_counts_for_the_limits():
    # The first reply is refused, then goes through on its retry a minute later: two
    # messages handed to the modem, the day's two. The second person's reply waits a day.
    rule = ReplyRule(text=REPLY, delay=0)
    limits = Limits(per_day=2)
    with world_in_a_file(rule=rule, limits=limits, max_attempts=4, raid_rate=30) as world:
        world.text("+33612345670")
        world.send((REFUSED,))
        world.clock(60)
        world.text("+33612345671")
        world.send(())
        world.clock(1)
        world.send(())
        assert [h.number for h in world.modem.handed] == ["+33612345670"] * 2
        world.clock(86400)
        world.send(())
        assert [h.number for h in world.modem.handed][2:] == ["+33612345671"]
