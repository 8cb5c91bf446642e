"""Raid mode from the global inbound rate: on above the rate, off only after a calm spell,
bounded memory under any flood, and a clock that jumps back cannot wedge it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone.flood import RaidDetector

T0 = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def texts(detector: RaidDetector, start: float, count: int, every: float) -> list[bool]:
    """`count` texts, one every `every` seconds from `start`; the state changes reported."""
    return [detector.observe(at(start + i * every)) for i in range(count)]


# --- on -----------------------------------------------------------------------------------


def test_a_new_detector_is_calm():
    detector = RaidDetector(raid_rate=10)
    assert not detector.active
    assert detector.since is None


def test_raid_mode_starts_with_more_than_the_rate_within_the_window():
    detector = RaidDetector(raid_rate=10)  # more than 10 a minute
    assert texts(detector, 0, 10, every=1) == [False] * 10
    assert not detector.active
    assert detector.observe(at(10)) is True
    assert detector.active
    assert detector.since == at(10)


def test_the_threshold_scales_with_the_window():
    detector = RaidDetector(raid_rate=10, window=30)  # more than 5 in 30 s
    texts(detector, 0, 5, every=1)
    assert not detector.active
    detector.observe(at(5))
    assert detector.active


def test_a_steady_rate_at_the_limit_never_starts_a_raid():
    detector = RaidDetector(raid_rate=10)
    assert not any(texts(detector, 0, 1000, every=6))
    assert not detector.active


# --- off, with hysteresis -----------------------------------------------------------------


def test_raid_mode_ends_after_calm_after_seconds_of_calm():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    texts(detector, 0, 20, every=1)  # a raid, texts at 0..19 s
    # Calm (5 texts or fewer in the window) from 74 s, when the text sent at 14 s leaves it.
    assert detector.update(at(74 + 599)) is False
    assert detector.active
    assert detector.update(at(74 + 600)) is True
    assert not detector.active
    assert detector.since is None


def test_calm_is_measured_from_when_the_rate_fell_even_without_an_update_meanwhile():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    texts(detector, 0, 20, every=1)
    assert detector.update(at(5000)) is True


def test_a_raid_that_pauses_for_a_minute_stays_a_raid():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    for burst in range(5):  # 20 texts in 20 s, then 2 minutes of silence, five times
        texts(detector, burst * 140, 20, every=1)
        assert detector.active
        detector.update(at(burst * 140 + 139))
        assert detector.active
    assert detector.since == at(10)


def test_a_rate_between_half_and_the_threshold_keeps_a_raid_on():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    texts(detector, 0, 20, every=1)
    # 8 a minute: below the start threshold (10), above the calm level (5).
    assert not any(texts(detector, 20, 200, every=7.5))
    assert detector.active


def test_a_rate_at_half_the_threshold_lets_a_raid_end():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    texts(detector, 0, 20, every=1)
    changes = texts(detector, 80, 200, every=12)  # 5 a minute: calm
    assert changes.count(True) == 1
    assert not detector.active


def test_a_new_raid_after_the_end_starts_again():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    texts(detector, 0, 20, every=1)
    detector.update(at(2000))
    texts(detector, 3000, 11, every=1)
    assert detector.active
    assert detector.since == at(3010)


def test_a_zero_calm_after_ends_the_raid_as_soon_as_the_rate_falls():
    detector = RaidDetector(raid_rate=10, calm_after=0)
    texts(detector, 0, 11, every=1)  # texts at 0..10 s; 5 left in the window at 65 s
    assert not detector.update(at(64))
    assert detector.update(at(65))


# --- bounded memory -----------------------------------------------------------------------


def test_memory_is_bounded_under_any_flood():
    detector = RaidDetector(raid_rate=10)
    for i in range(50_000):
        detector.observe(at(i / 1000))  # 1,000 texts a second
        assert detector.held <= 11
    assert detector.active


def test_memory_empties_once_the_window_has_passed():
    detector = RaidDetector(raid_rate=10)
    texts(detector, 0, 5, every=1)
    detector.update(at(100))
    assert detector.held == 0


# --- a clock that jumps back --------------------------------------------------------------


def test_a_clock_jumping_back_during_a_raid_does_not_crash_and_the_raid_still_ends():
    detector = RaidDetector(raid_rate=10, calm_after=600)
    texts(detector, 0, 20, every=1)
    back = -86400 * 365  # a year back, as a Raspberry Pi without RTC may do
    detector.update(at(back))
    assert detector.active
    # The raid ends 600 s after calm, measured on the new clock, not a year later.
    assert detector.update(at(back + 60 + 600)) is True


def test_a_clock_jumping_back_keeps_the_rate_counted():
    detector = RaidDetector(raid_rate=10)
    texts(detector, 0, 6, every=1)
    texts(detector, -3600, 5, every=1)  # the clock went back an hour mid-flood
    assert detector.active


def test_events_slightly_out_of_order_count_as_usual():
    detector = RaidDetector(raid_rate=10)
    for s in [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9]:
        detector.observe(at(s))
    assert detector.active


def test_settings_are_checked():
    with pytest.raises(ValueError):
        RaidDetector(raid_rate=0)
    with pytest.raises(ValueError):
        RaidDetector(raid_rate=10, window=0)


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.floats(min_value=-4000, max_value=4000)), max_size=200
    ),
    rate=st.sampled_from([0.5, 1, 3, 10]),
)
def test_any_timeline_keeps_memory_bounded_and_ends_in_calm(steps, rate):
    detector = RaidDetector(raid_rate=rate, calm_after=600)
    clock = T0
    bound = int(rate) + 1
    for is_event, move in steps:
        clock += timedelta(seconds=move)
        changed = detector.observe(clock) if is_event else detector.update(clock)
        assert isinstance(changed, bool)
        assert detector.held <= bound
        assert (detector.since is not None) == detector.active
    # Whatever happened, silence for the window plus calm_after ends any raid.
    detector.update(clock + timedelta(seconds=60 + 600))
    assert not detector.active
