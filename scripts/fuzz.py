#!/usr/bin/env python3
"""Fuzz relouphone at length: the property tests of tests/test_fuzz.py (PDU decoder, the
encoders' round trips, ingestion, the serial line reader, the parsers of the modem's answers),
each run for --examples examples instead of the test suite's few hundred.

Prints, per property, the examples hypothesis actually ran (counted as the test is called:
hypothesis stops early once a small strategy has nothing new to give), the examples it
discarded (assume), the failures found and the time taken. Exits 1 if any property failed.

    .venv/bin/python scripts/fuzz.py                      # 100,000 examples per property
    .venv/bin/python scripts/fuzz.py --examples 5000 --seed 7 --jobs 2 -k stream
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import seed as hypothesis_seed
from hypothesis.errors import UnsatisfiedAssumption

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ is a package of the repository, not an installed one
EXAMPLES_VARIABLE = "RELOUPHONE_FUZZ_EXAMPLES"  # read by tests/test_fuzz.py's fuzz_settings
ERROR_CHARS = 1500  # per failure: a failing stream can be 200 kB, its repr is cut to this


@dataclass(frozen=True)
class Result:
    name: str
    examples: int  # test calls that ran to the end, passing or failing (shrinking included)
    discarded: int  # test calls that assume() rejected
    failures: int
    first_failure_at: int | None  # the example that failed first, before any shrinking
    seconds: float
    report: str = ""


@dataclass
class Counter:
    """Counts the calls of a property's inner test, the way hypothesis makes them."""

    passed: int = 0
    failed: int = 0
    discarded: int = 0
    first_failure_at: int | None = None

    def wrap(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                result = inner(*args, **kwargs)
            except UnsatisfiedAssumption:
                self.discarded += 1
                raise
            except BaseException:
                self.failed += 1
                if self.first_failure_at is None:
                    self.first_failure_at = self.passed + self.failed
                raise
            self.passed += 1
            return result

        return counted


def _properties() -> dict[str, Callable[[], None]]:
    """The hypothesis tests of tests/test_fuzz.py, by name, in file order."""
    from tests import test_fuzz

    return {
        name: test
        for name, test in vars(test_fuzz).items()
        if name.startswith("test_") and hasattr(test, "hypothesis")
    }


def _failures(error: BaseException) -> int:
    """Hypothesis reports distinct bugs of one property together, as an exception group."""
    if isinstance(error, BaseExceptionGroup):
        return len(error.exceptions)
    return 1


def _report(error: BaseException) -> str:
    """Each distinct failure: where it was raised, what it says, the example (cut short)."""
    errors = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
    return "\n".join(_one_failure(each) for each in errors)


def _one_failure(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    notes = "\n".join(getattr(error, "__notes__", []))
    text = f"{type(error).__name__} at {where}: {error}\n{notes}".strip()
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + " [...]"


def run_property(name: str, seed: int | None) -> Result:
    """Run one property to the end in this process; never raises for a failing property."""
    logging.disable(logging.CRITICAL)  # the reader warns of every overlong line it drops
    # A failing stream can be 200 kB; its repr is cut short in the report anyway.
    warnings.filterwarnings("ignore", "Generating overly large repr")
    test = _properties()[name]
    counter = Counter()
    test.hypothesis.inner_test = counter.wrap(test.hypothesis.inner_test)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    started = time.monotonic()
    failures, report = 0, ""
    try:
        test()
    except Exception as error:
        failures, report = _failures(error), _report(error)
    return Result(
        name=name,
        examples=counter.passed + counter.failed,
        discarded=counter.discarded,
        failures=failures,
        first_failure_at=counter.first_failure_at,
        seconds=time.monotonic() - started,
        report=report,
    )


def _print(result: Result) -> None:
    line = (
        f"{result.name:<72} {result.examples:>9,} examples {result.discarded:>7,} discarded"
        f" {result.failures:>2} failures {result.seconds:>8.1f} s"
    )
    if result.first_failure_at is not None:
        line += f"  (first failure at example {result.first_failure_at:,})"
    print(line, flush=True)
    if result.report:
        print("    " + result.report.replace("\n", "\n    "), flush=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="per property")
    parser.add_argument("--seed", type=int, default=None, help="for a reproducible run")
    parser.add_argument("--jobs", type=int, default=1, help="properties run side by side")
    parser.add_argument("-k", dest="select", default="", help="only properties naming this")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # Before tests.test_fuzz is imported: its settings read the number of examples then.
    os.environ[EXAMPLES_VARIABLE] = str(args.examples)
    names = [name for name in _properties() if args.select in name]
    if not names:
        print(f"no property names {args.select!r}", file=sys.stderr)
        return 2
    print(f"{len(names)} properties, {args.examples:,} examples each, seed {args.seed}")
    started = time.monotonic()
    # A fresh process per property: what hypothesis keeps of 100,000 examples goes with it.
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_property, name, args.seed) for name in names]
        results = []
        for future in as_completed(futures):
            results.append(future.result())
            _print(results[-1])
    failed = sum(result.failures for result in results)
    elapsed = time.monotonic() - started
    print(f"{failed} failures in {len(names)} properties, {elapsed:.1f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
