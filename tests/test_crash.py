"""Killed at any moment, the daemon loses nothing and repeats nothing.

A short version of `scripts/crash_test.py`: real processes, a real pty, SIGKILL. A flood
of texts (with runs of byte-identical copies) reaches the simulated modem while the daemon
is killed and restarted; then a last daemon drains the SIM and stops on SIGTERM.
"""

from __future__ import annotations

from tests.crashing import Plan, run_crash_test

# A few rounds, a small flood: well under 30 seconds. The seed fixes the kill times.
SHORT = Plan(
    rounds=4, seed=2024, rate=8.0, numbers=12, repeat_share=0.25, alive=(0.2, 1.5), drain_timeout=15
)


def test_a_flood_through_repeated_sigkills_is_recorded_once_and_answered_at_most_once(tmp_path):
    figures = run_crash_test(tmp_path, SHORT, say=lambda _: None)

    assert figures.failures == [], "\n".join(figures.lines())
    assert figures.injected > 0
    assert figures.identical_copies > 0, "the flood must repeat some texts byte for byte"
    assert (figures.recorded, figures.lost, figures.duplicated) == (figures.injected, 0, 0)
    assert figures.duplicate_replies == 0
    assert figures.numbers_sent_twice_in_db == 0
    assert figures.replies_sent >= figures.replies_marked_sent > 0
    assert figures.left_on_sim == 0
    assert figures.integrity == "ok"
