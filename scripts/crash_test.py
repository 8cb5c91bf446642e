#!/usr/bin/env python3
"""Crash test: SIGKILL the daemon at random moments during a flood, and lose nothing.

One simulated modem (`relouphone simulator`) lives through the whole run and receives a
steady flood of texts from a pool of French mobiles, each with a unique body, plus runs of
byte-identical copies (same sender, body and timestamp). Each round starts `relouphone
run`, lets it live a random 0.2 to 2 seconds and kills it with SIGKILL. A last daemon
drains what waits on the SIM and sends the replies due, then stops on SIGTERM. Checked
directly in the database and the simulator: every injected text recorded exactly once
(each identical copy too), no reply sent twice to one number, no number with two 'sent'
rows, nothing left on the SIM, and `PRAGMA integrity_check` is ok.

Prints the figures; exits 1 if any check fails. The seed repeats the flood and the kill
times (not the exact interleaving, which depends on the machine).

    .venv/bin/python scripts/crash_test.py --rounds 50 --seed 7 --rate 10
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

# The crash test lives with the tests (the suite runs a short version of it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crashing import Plan, print_figures, run_crash_test


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="daemons to kill (50)")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (default: random)")
    parser.add_argument("--rate", type=float, default=10.0, help="texts per second (10)")
    parser.add_argument("--numbers", type=int, default=40, help="senders in the pool (40)")
    parser.add_argument(
        "--identical",
        type=float,
        default=0.1,
        help="share of texts that start a run of identical copies (0.1)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the files in this folder")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    plan = Plan(
        rounds=args.rounds,
        seed=seed,
        rate=args.rate,
        numbers=args.numbers,
        repeat_share=args.identical,
    )
    print(f"crash test: {plan.rounds} rounds, seed {seed}, {plan.rate:g} texts/s", flush=True)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="relouphone-crash-"))
    try:
        figures = run_crash_test(workdir, plan, say=lambda line: print(line, flush=True))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_figures(figures)
    print("PASSED" if not figures.failures else f"FAILED (seed {seed}; files: --keep DIR)")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
