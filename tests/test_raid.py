"""A raid cannot hurt it: end to end against the simulated modem, with a fake clock."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from relouphone.cli import cli
from relouphone.clock import FakeClock
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


def relouphone(story: Story, *args: str) -> Result:
    """The `relouphone` command run by the operator, on the running daemon's database."""
    config = story.config.storage.database.with_name("relouphone.toml")
    config.write_text(f'[storage]\ndatabase = "{story.config.storage.database}"\n')
    return CliRunner().invoke(cli, [*args, "--config", str(config)], prog_name="relouphone")


def reply_states(story: Story) -> list[tuple[str, str]]:
    store = story.db()
    try:
        return [(r["number"], r["state"]) for r in store.db["replies"].rows]
    finally:
        store.close()


def test_relouphone_block_stops_the_pending_reply_of_a_running_daemon(running):
    running.text_arrives("0612345678", "tu es là ?")
    running.wait_recorded(1)

    result = relouphone(running, "block", "06 12 34 56 78", "--reason", "harassment")

    assert result.exit_code == 0, result.output
    assert result.output == "+33612345678 blocked; 1 waiting reply cancelled\n"
    running.time_passes(HOUR + 1)
    running.time_passes(HOUR)
    assert running.sim.sent == []
    assert reply_states(running) == [("+33612345678", "blocked")]


def test_an_unblocked_number_writing_again_gets_its_reply(running):
    running.text_arrives("+33612345678", "tu es là ?")
    running.wait_recorded(1)
    assert relouphone(running, "block", "0612345678").exit_code == 0
    assert relouphone(running, "unblock", "0612345678").exit_code == 0

    running.text_arrives("+33612345678", "et maintenant ?")
    rows = running.wait_recorded(2)
    assert rows[-1]["decision"] == "replied"
    running.time_passes(HOUR + 1)
    assert running.wait_sent(1)[0].recipient.number == "+33612345678"
    assert sorted(reply_states(running)) == [
        ("+33612345678", "blocked"),
        ("+33612345678", "sent"),
    ]


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


# The plan is tiny so that the raid runs into every limit: 2 replies a minute, 6 a day,
# 12 recipients a month, of which floor(12 * 0.25) = 3 may go to numbers seen in a burst.
LIMITS = LimitsConfig(per_minute=2, per_day=6, distinct_recipients_per_month=12, burst_share=0.25)
BURST_CAP = 3
RAIDERS = [f"+336{n:08d}" for n in range(10_000_001, 10_000_025)]  # 24 numbers
RAID_CALLER = "+33600000099"
REAL_BEFORE = ["+33611111111", "+33622222222"]
REAL_AFTER = [f"+3365555{n:04d}" for n in range(1, 8)]  # 7 numbers: 9 real people in all
TEXTS_PER_RAIDER = 5
SLOTS = 10


def _raid_story(tmp_path, clock) -> Story:
    story = Story(tmp_path, clock, slots=SLOTS)
    story.config = replace(
        story.config,
        limits=LIMITS,
        flood=FloodConfig(max_per_sender=4, raid_rate=20),
    )
    return story


def _arrive(story: Story, texts: list[tuple[str, str]], recorded: int) -> int:
    """Texts arrive all at once, faster than the daemon drains them; wait until recorded."""
    for sender, text in texts:
        story.text_arrives(sender, text)
    story.wait_recorded(recorded + len(texts))
    return recorded + len(texts)


def _time_passes_until(story: Story, moment: datetime, step: float) -> None:
    """The clock runs to `moment` in steps of `step` seconds, the daemon keeping up."""
    while story.clock.now() < moment:
        story.time_passes(min(step, (moment - story.clock.now()).total_seconds()))


def test_a_raid_is_recorded_whole_and_never_exceeds_a_limit(tmp_path, clock):
    """The budget as it is spent (the story starts at 12:00; a reply is due an hour after):

    day 1, 13:05: the 2 real senders from before the raid; 13:06 and 13:07: 3 raiders, the
    burst share; 14:10: the first of the 7 real senders who wrote after the raid, and the
    day's 6 are spent. Day 2, from 13:05: the other 6, and the month's 12 recipients are
    reached. The raiders' replies still held expire a week after they fell due.
    """
    story = _raid_story(tmp_path, clock)
    start = clock.now()
    try:
        story.start_daemon()
        recorded = _arrive(story, [(n, "bonjour") for n in REAL_BEFORE], 0)
        story.time_passes(5 * 60)  # well before the raid: not part of its first minute
        raid = [(n, f"spam {i}") for i in range(TEXTS_PER_RAIDER) for n in RAIDERS]
        half = len(raid) // 2
        for sender, text in raid[:half]:
            story.text_arrives(sender, text)
        story.call_arrives(RAID_CALLER, ton=0x91)  # rings in the middle of the flood
        recorded = _arrive(story, raid[half:], recorded + half + 1)  # + 1: the call
        peak_during_raid, _ = story.sim.storage_peak
        story.time_passes(HOUR)  # the raid is over; real people write again
        recorded = _arrive(story, [(n, "salut") for n in REAL_AFTER], recorded)
        rows = story.wait_recorded(recorded)

        # Steps shorter than a minute where the per-minute limit is at stake.
        _time_passes_until(story, start + timedelta(hours=1, minutes=10), 20)
        _time_passes_until(story, start + timedelta(hours=3), 10 * 60)
        _time_passes_until(story, start + timedelta(hours=25), 6 * HOUR)
        _time_passes_until(story, start + timedelta(hours=25, minutes=10), 20)
        _time_passes_until(story, start + timedelta(hours=28), 10 * 60)
        _time_passes_until(story, start + timedelta(days=10), 12 * HOUR)

        # The flood outran the daemon: the SIM filled and the network held texts back.
        assert peak_during_raid == SLOTS
        _check_raid_invariants(story, rows)
    finally:
        story.close()


def _check_raid_invariants(story: Story, rows: list[dict]) -> None:
    # Every text and the call recorded, once; nothing left on the SIM or held back.
    texts = len(REAL_BEFORE) + len(REAL_AFTER) + len(RAIDERS) * TEXTS_PER_RAIDER
    assert Counter(r["kind"] for r in rows) == {"sms": texts, "call": 1}
    assert len(story.inbound()) == texts + 1, "a text was recorded twice"
    assert story.sim.stored == {} and story.sim.held == [], "texts left on the SIM"
    peak, _ = story.sim.storage_peak
    assert peak <= SLOTS

    decisions = Counter(r["decision"] for r in rows)
    assert decisions["abusive"] > 0
    assert any(r["raid"] for r in rows)

    store = story.db()
    try:
        replies = list(store.db["replies"].rows)
        assert len(store.raids()) >= 1
    finally:
        store.close()
    states = Counter(r["state"] for r in replies)
    assert states["pending"] == states["sending"] == 0, "a reply neither left nor expired"
    assert states["expired"] > 0, "the limits never held a reply back"

    # At most one reply per number, and the modem sent exactly what the database says.
    recipients = [m.submit.recipient.number for m in story.sim.sent]
    assert len(recipients) == len(set(recipients)), "a number got two replies"
    attempted = {r["number"]: from_db(r["attempted_at"]) for r in replies if r["attempted_at"]}
    assert len(attempted) == sum(1 for r in replies if r["attempted_at"])
    assert set(recipients) == set(attempted)
    assert states["sent"] == len(recipients)
    handed_over = [c for c in story.sim.commands if c.upper().startswith("AT+CMGS=")]
    assert len(handed_over) == len(attempted), "a send the database does not know of"
    for person in REAL_BEFORE + REAL_AFTER:
        assert person in recipients, f"real sender {person} got no reply"

    # Each SMS the modem sent, at the time the database says it was handed over: every
    # limit was reached, none exceeded.
    sends = sorted((attempted[number], number) for number in recipients)
    times = [at for at, _ in sends]
    assert _most_within(times, timedelta(minutes=1)) == LIMITS.per_minute
    assert _most_within(times, timedelta(days=1)) == LIMITS.per_day
    assert (
        _most_recipients_within(sends, timedelta(days=31)) == LIMITS.distinct_recipients_per_month
    )
    burst = {r["number"] for r in replies if r["priority"] == "burst"}
    # The raiders granted a reply in the minute before raid mode switched on are burst too.
    assert {r["number"] for r in replies if r["number"] in RAIDERS} <= burst
    assert len(burst & set(recipients)) == BURST_CAP, "burst replies took more (or no) share"
    assert set(recipients) - burst <= set(REAL_BEFORE + REAL_AFTER)


def _most_within(times: list[datetime], width: timedelta) -> int:
    """The most of the sorted `times` that fall within any window `width` wide."""
    return max(
        (sum(1 for t in times[i:] if t < start + width) for i, start in enumerate(times)),
        default=0,
    )


def _most_recipients_within(sends: list[tuple[datetime, str]], width: timedelta) -> int:
    """The most distinct numbers among the sorted (time, number) `sends` within any window."""
    return max(
        (len({n for t, n in sends[i:] if t < start + width}) for i, (start, _) in enumerate(sends)),
        default=0,
    )


def test_raid_mode_shows_in_status_and_in_the_systemd_status_line(tmp_path):
    # A clock at the real time, so that `relouphone status` finds a fresh heartbeat.
    story = Story(tmp_path, FakeClock(datetime.now(UTC)))
    story.config = replace(story.config, flood=FloodConfig(raid_rate=20))
    try:
        story.start_daemon()
        assert not _status(story)["raid_mode"]

        _arrive(story, [(n, "spam") for n in RAIDERS], 0)  # 24 numbers within a minute
        story.settle()

        report = _status(story)
        assert report["raid_mode"] is True
        assert report["daemon"].startswith("running")
        assert "RAID MODE:" in relouphone(story, "status").output
        assert story.daemon.notifier.last_status.startswith("RAID MODE, modem registered")
        [raid] = _raids(story)
        assert raid["ended_at"] is None

        story.time_passes(5 * 60)  # calm, but not for long enough yet
        assert _status(story)["raid_mode"] is True

        story.time_passes(7 * 60)  # calm for ten minutes: the raid is over
        assert _status(story)["raid_mode"] is False
        assert "RAID MODE" not in relouphone(story, "status").output
        assert "RAID MODE" not in story.daemon.notifier.last_status
        [raid] = _raids(story)
        assert raid["ended_at"] is not None
    finally:
        story.close()


def _status(story: Story) -> dict:
    result = relouphone(story, "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _raids(story: Story) -> list[dict]:
    store = story.db()
    try:
        return store.raids()
    finally:
        store.close()
