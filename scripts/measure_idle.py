#!/usr/bin/env python3
"""Measure the idle daemon: CPU share and memory, against the simulated modem.

Starts the simulator in this process and `relouphone run` as a child process, lets a text
and a call go through so every code path is loaded, then watches the idle daemon for
`--seconds` and prints its CPU time, CPU share and resident memory.

    .venv/bin/python scripts/measure_idle.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from relouphone.simulator import SimulatedModem
from relouphone.store import Store

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def memory_kib(pid: int) -> dict[str, int]:
    wanted = {"VmRSS", "VmHWM"}
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            values[key] = int(rest.split()[0])
    return values


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


def stats(database: Path) -> dict[str, int]:
    store = Store(database)
    try:
        return store.stats()
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="idle time to measure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="relouphone-idle-") as tmp, SimulatedModem() as sim:
        database = Path(tmp) / "idle.db"
        config = Path(tmp) / "relouphone.toml"
        config.write_text(
            f'[modem]\nport = "{sim.port}"\n[reply]\ndelay = 1\n'
            f'[storage]\ndatabase = "{database}"\n'
        )
        relouphone = Path(sys.executable).with_name("relouphone")
        daemon = subprocess.Popen([str(relouphone), "run", "--config", str(config)])
        try:
            wait_until(lambda: any("CNMI" in c for c in sim.commands), 30, "the daemon to start")
            sim.deliver_sms("+33612345678", "warm-up text")
            sim.ring("+33698765432", ton=0x91)
            wait_until(lambda: len(sim.sent) >= 2, 30, "the warm-up replies")
            time.sleep(1.0)

            cpu_before, started = cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu_used, elapsed = cpu_seconds(daemon.pid) - cpu_before, time.monotonic() - started
            memory = memory_kib(daemon.pid)
            figures = stats(database)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=30)

    print(f"idle for {elapsed:.1f} s after a text and a call went through")
    share = 100 * cpu_used / elapsed
    print(f"daemon CPU time while idle: {cpu_used:.3f} s ({share:.3f} % of one core)")
    rss, peak = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024
    print(f"daemon resident memory: {rss:.1f} MiB (peak {peak:.1f} MiB)")
    print(f"records: {figures}")
    print(f"exit code after SIGTERM: {code}")


if __name__ == "__main__":
    main()
