"""A raid cannot hurt it: end to end against the simulated modem, with a fake clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from relouphone.config import FloodConfig, LimitsConfig
from relouphone.timefmt import from_db

from .story import HOUR, Story


@pytest.fixture
def story(tmp_path, clock) -> Iterator[Story]:
    story = Story(tmp_path, clock)
    yield story
    story.close()


@pytest.fixture
def running(story) -> Story:
    story.start_daemon()
    return story


def test_a_number_blocked_while_the_daemon_runs_never_gets_its_pending_reply(running):
    running.text_arrives("+33612345678", "tu es là ?")
    running.wait_recorded(1)
    store = running.db()
    try:
        # What `relouphone block` does, from another process, while the daemon runs.
        assert store.block("+33612345678", "harassment", running.clock.now()) == 1
    finally:
        store.close()
    running.time_passes(HOUR + 1)
    running.time_passes(HOUR)
    assert running.sim.sent == []


def test_a_blocked_number_writing_again_gets_no_new_reply(running):
    store = running.db()
    try:
        store.block("+33612345678", None, running.clock.now())
    finally:
        store.close()
    running.text_arrives("0612345678", "et maintenant ?")
    [row] = running.wait_recorded(1)
    assert row["decision"] == "blocked"
    running.time_passes(HOUR + 1)
    assert running.sim.sent == []


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("36179", "short_code"),
        ("InfoSMS", "alphanumeric"),
        ("+447911123456", "foreign"),
        ("+33140000000", "fixed_line"),
        ("+33899123456", "premium"),
    ],
)
def test_senders_that_must_not_be_answered_are_recorded_and_get_nothing(running, sender, reason):
    running.text_arrives(sender, "Votre code: 1234")
    [row] = running.wait_recorded(1)
    assert row["decision"] == reason
    running.time_passes(HOUR + 1)
    assert running.sim.sent == []


RAIDERS = [f"+336{n:08d}" for n in range(10_000_001, 10_000_031)]  # 30 numbers
REAL_BEFORE = ["+33611111111", "+33622222222"]
REAL_AFTER = ["+33633333333", "+33644444444", "+33655555555"]
TEXTS_PER_RAIDER = 8
SLOTS = 10


def _raid_story(tmp_path, clock) -> Story:
    story = Story(tmp_path, clock, slots=SLOTS)
    story.config = replace(
        story.config,
        limits=LimitsConfig(per_minute=3, per_day=15, distinct_recipients_per_month=12),
        flood=FloodConfig(max_per_sender=4, raid_rate=20),
    )
    return story


def _deliver_keeping_up(story: Story, texts: list[tuple[str, str]], recorded: int) -> int:
    """Texts arrive as fast as the daemon drains them, a few in flight at a time."""
    for number, (sender, text) in enumerate(texts, start=1):
        story.text_arrives(sender, text)
        if number % 4 == 0:
            story.wait_recorded(recorded + number)
    story.wait_recorded(recorded + len(texts))
    return recorded + len(texts)


def test_a_raid_is_recorded_whole_and_never_exceeds_a_limit(tmp_path, clock):
    story = _raid_story(tmp_path, clock)
    try:
        story.start_daemon()
        recorded = _deliver_keeping_up(story, [(n, "bonjour") for n in REAL_BEFORE], 0)
        story.time_passes(5 * 60)  # well before the raid: not part of its first minute
        raid = [(n, f"spam {i}") for i in range(TEXTS_PER_RAIDER) for n in RAIDERS]
        recorded = _deliver_keeping_up(story, raid, recorded)
        story.call_arrives("+33600000099", ton=0x91)
        recorded += 1
        story.wait_recorded(recorded)
        story.time_passes(HOUR)  # the raid is over; real people write again
        recorded = _deliver_keeping_up(story, [(n, "salut") for n in REAL_AFTER], recorded)
        rows = story.wait_recorded(recorded)

        for _ in range(8 * 24):  # two days, in steps of a quarter of an hour
            story.clock.advance(15 * 60)
            story.settle()

        _check_raid_invariants(story, rows)
    finally:
        story.close()


def _check_raid_invariants(story: Story, rows: list[dict]) -> None:
    texts = len(REAL_BEFORE) + len(REAL_AFTER) + len(RAIDERS) * TEXTS_PER_RAIDER
    assert Counter(r["kind"] for r in rows) == {"sms": texts, "call": 1}

    recipients = [m.submit.recipient.number for m in story.sim.sent]
    assert len(recipients) == len(set(recipients)), "a number got two replies"
    for person in REAL_BEFORE + REAL_AFTER:
        assert person in recipients, f"real sender {person} got no reply"
    raiders_answered = [n for n in recipients if n in RAIDERS]
    assert len(raiders_answered) <= int(12 * 0.05) + 1

    peak, refusals = story.sim.storage_peak
    assert refusals == 0, "the SIM filled up"
    assert peak <= SLOTS

    decisions = Counter(r["decision"] for r in rows)
    assert decisions["abusive"] > 0
    assert any(r["raid"] for r in rows)

    store = story.db()
    try:
        cursor = store.db.execute("SELECT attempted_at FROM replies WHERE attempted_at IS NOT NULL")
        attempts = sorted(from_db(at) for (at,) in cursor.fetchall())
        assert len(store.raids()) >= 1
    finally:
        store.close()
    _check_window(attempts, timedelta(minutes=1), 3)
    _check_window(attempts, timedelta(days=1), 15)
    assert len(set(recipients)) <= 12


def _check_window(times, width, limit) -> None:
    for i, start in enumerate(times):
        inside = [t for t in times[i:] if t < start + width]
        assert len(inside) <= limit, f"{len(inside)} sends within {width} from {start}"
