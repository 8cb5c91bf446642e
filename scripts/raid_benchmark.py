#!/usr/bin/env python3
"""Raid benchmark: throughput of the real daemon under a flood, and a month of budget.

Part 1, throughput: the simulated modem (pacing its link like a 115200-baud serial line,
unless --unpaced) receives TEXTS texts from NUMBERS numbers (about 70% home mobiles, the
rest short codes, alphanumeric names, foreign mobiles and landlines) and CALLS calls, as
fast as the daemon (a separate `relouphone run` process) drains them. Replies are due at
once, so the outbound path and its limits work under load too. Prints the drain rate, the
daemon's CPU time per 1,000 texts, its peak memory and the database size, and checks:
every text and call recorded, at most one reply per number, no limit exceeded, the SIM
never full.

Part 2, a month: the same decision code (ingest, policy, budget, outbox) over a fake
clock and a fake modem. Real people text or call once or twice, scattered through the
month; on day 3 a raid sends TEXTS texts from NUMBERS numbers in two hours. Prints the
share of real senders that got their reply under the default limits, and the share of the
month's recipient budget that went to raiders.

    .venv/bin/python scripts/raid_benchmark.py                  # the full 20,000 texts
    .venv/bin/python scripts/raid_benchmark.py --texts 2000 --numbers 200 --calls 50
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from relouphone.budget import MONTH_SECONDS
from relouphone.config import Config
from relouphone.daemon import RAID_LOOKBACK, Daemon
from relouphone.ingest import ReplyRule, ingest_call, ingest_message
from relouphone.modem import IncomingCall, StoredMessage
from relouphone.outbox import send_due
from relouphone.pdu import decode_pdu, encode_deliver
from relouphone.simulator import SimulatedModem
from relouphone.store import Store
from relouphone.timefmt import from_db

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IN_FLIGHT = 8  # texts waiting on the SIM at most: arrivals keep pace with the drain


@dataclass(frozen=True)
class Sender:
    number: str
    kind: str  # "home_mobile", "short_code", "alphanumeric", "foreign", "landline"


def raiders(count: int, rng: random.Random) -> list[Sender]:
    """About 70% home mobiles; the rest short codes, names, foreign mobiles, landlines."""
    senders = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.70:
            senders.append(Sender(f"+3367{n:07d}", "home_mobile"))
        elif roll < 0.78:
            senders.append(Sender(f"3{n % 10000:04d}", "short_code"))
        elif roll < 0.86:
            senders.append(Sender(f"Promo{n % 1000:03d}", "alphanumeric"))
        elif roll < 0.94:
            senders.append(Sender(f"+4479{n:08d}", "foreign"))
        else:
            senders.append(Sender(f"+33140{n:06d}", "landline"))
    return senders


# -- part 1: throughput against the simulated modem ---------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def throughput(texts: int, numbers: int, calls: int, paced: bool, seed: int) -> bool:
    rng = random.Random(seed)
    senders = raiders(numbers, rng)
    plan = [senders[i % numbers] for i in range(texts)]
    rng.shuffle(plan)
    call_every = texts // calls if calls else 0
    callers = [s for s in senders if s.kind in ("home_mobile", "landline", "foreign")]

    with tempfile.TemporaryDirectory(prefix="relouphone-raid-") as tmp:
        database = Path(tmp) / "raid.db"
        config = Path(tmp) / "relouphone.toml"
        sim = SimulatedModem(slots=30, link_baudrate=None if not paced else 115200).start()
        config.write_text(
            f'[modem]\nport = "{sim.port}"\n[reply]\ndelay = 0\n'
            f'[storage]\ndatabase = "{database}"\n'
        )
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("relouphone")), "run", "--config", str(config)],
            stderr=subprocess.DEVNULL,
        )
        try:
            if not sim.wait_for(lambda s: any("CLIP=1" in c for c in s.commands), 60):
                sys.exit("the daemon did not start")
            time.sleep(0.5)
            cpu_before, started = cpu_seconds(daemon.pid), time.monotonic()
            rung = _flood(sim, plan, call_every, callers, rng)
            # Drained: every text read and deleted from the SIM.
            sim.wait_for(lambda s: not s.stored and not s.held, 600)
            elapsed = time.monotonic() - started
            time.sleep(1.0)
            cpu = cpu_seconds(daemon.pid) - cpu_before
            rss = peak_rss_mib(daemon.pid)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            sim.stop()
        size = sum(p.stat().st_size for p in Path(tmp).glob("raid.db*")) / 2**20
        ok = _check_run(database, texts, rung, sim)

    link = "115200-baud paced link" if paced else "unpaced link"
    print(f"\n== throughput: {texts} texts from {numbers} numbers + {rung} calls, {link}")
    print(f"inbound drain rate:        {texts / elapsed:.1f} SMS/s ({elapsed:.1f} s)")
    print(f"daemon CPU per 1,000 SMS:  {1000 * cpu / texts:.3f} s ({cpu:.2f} s in all)")
    print(f"daemon peak RSS:           {rss:.1f} MiB")
    print(f"database size:             {size:.1f} MiB")
    return ok


def _flood(sim, plan, call_every, callers, rng) -> int:
    rung = 0
    for n, sender in enumerate(plan, start=1):
        sim.wait_for(lambda s: len(s.stored) < IN_FLIGHT, 60)
        sim.deliver_sms(sender.number, f"message {n} pour toi")
        if call_every and n % call_every == 0:
            # One call at a time: a new ring would replace a call still ringing.
            sim.wait_for(lambda s: not s.calls or not s.calls[-1].ringing, 30)
            sim.ring(rng.choice(callers).number, ton=0x91)
            rung += 1
    sim.wait_for(lambda s: not s.calls or not s.calls[-1].ringing, 30)
    return rung


def _check_run(database: Path, texts: int, calls: int, sim: SimulatedModem) -> bool:
    store = Store(database)
    try:
        stats = store.stats()
        per_number = store.db.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM replies"
            " WHERE state IN ('sending', 'sent') GROUP BY number)"
        ).fetchone()[0]
        attempts = _attempts(store)
    finally:
        store.close()
    peak, refusals = sim.storage_peak
    recipients = [m.submit.recipient.number for m in sim.sent]
    checks = {
        f"every text recorded ({stats['received_sms']}/{texts})": stats["received_sms"] == texts,
        f"every call recorded ({stats['received_calls']}/{calls})": stats["received_calls"]
        == calls,
        "at most one reply per number": (per_number or 0) <= 1
        and len(recipients) == len(set(recipients)),
        **_limit_checks(attempts),
        f"the SIM never full (peak {peak} of 30 slots)": refusals == 0,
    }
    return _print_checks(checks)


def _attempts(store: Store) -> list[tuple[datetime, str, str]]:
    """(attempt time, number, priority) of every reply handed to the modem, oldest first."""
    rows = store.db.execute(
        "SELECT attempted_at, number, priority FROM replies WHERE attempted_at IS NOT NULL"
    )
    return sorted((from_db(at), number, priority) for at, number, priority in rows)


def _limit_checks(attempts: list[tuple[datetime, str, str]]) -> dict[str, bool]:
    """Every [limits] of the default configuration, over every window of the attempts."""
    limits = Config().limits
    times = [at for at, _, _ in attempts]
    # A recipient a burst reply brought in: his first reply was a burst one.
    first: dict[str, tuple[datetime, str]] = {}
    for at, number, priority in attempts:
        first.setdefault(number, (at, priority))
    burst_newcomers = sorted(at for at, priority in first.values() if priority != "normal")
    month = timedelta(seconds=MONTH_SECONDS)
    cap = limits.distinct_recipients_per_month
    burst = math.floor(cap * limits.burst_share + 1e-9)
    return {
        f"no more than {limits.per_minute} replies in any minute": _max_in(
            times, timedelta(minutes=1)
        )
        <= limits.per_minute,
        f"no more than {limits.per_day} replies in any day": _max_in(times, timedelta(days=1))
        <= limits.per_day,
        # Replies bound the distinct recipients from above: within the cap, so are they.
        f"no more than {cap} recipients in any 31 days": _max_in(times, month) <= cap,
        f"no more than {burst} of them brought in by burst replies": _max_in(burst_newcomers, month)
        <= burst,
    }


def _print_checks(checks: dict[str, bool]) -> bool:
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAILED'}] {name}")
    return all(checks.values())


def _max_in(times: list[datetime], width: timedelta) -> int:
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


# -- part 2: a month of budget through the decision code ---------------------------------


class FakeModem:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, pdus) -> list[int]:
        self.sent.append(decode_pdu(pdus[0].hex).recipient.number)
        return list(range(len(pdus)))


def month(texts: int, numbers: int, calls: int, real_senders: int, seed: int) -> bool:
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    events: list[tuple[datetime, str, str, bool]] = []  # when, number, "sms"/"call", is_raider
    for n in range(real_senders):
        number = f"+3366{n:07d}"
        first = start + timedelta(seconds=rng.uniform(0, 29 * 86400))
        kind = "call" if rng.random() < 0.3 else "sms"
        events.append((first, number, kind, False))
        if rng.random() < 0.4:  # he insists once more, a little later
            events.append((first + timedelta(minutes=rng.uniform(1, 120)), number, "sms", False))
    raid_start = start + timedelta(days=3, hours=21)
    crew = raiders(numbers, rng)
    for n in range(texts):
        when = raid_start + timedelta(seconds=rng.uniform(0, 7200))
        events.append((when, crew[n % numbers].number, "sms", True))
    callers = [s for s in crew if s.kind == "home_mobile"]
    for _ in range(calls):
        when = raid_start + timedelta(seconds=rng.uniform(0, 7200))
        events.append((when, rng.choice(callers).number, "call", True))
    events.sort()

    config = Config()
    rule = ReplyRule.from_config(config)
    daemon_limits = Daemon(config).limits
    store, modem = Store(None), FakeModem()
    raid = Daemon(config).raid
    try:
        now = start
        for when, number, kind, _ in events:
            while now < when:  # the daemon's loop: send what is due as time goes by
                now = min(when, now + timedelta(minutes=5))
                send_due(store, modem, now, daemon_limits)
                raid.update(now)
            if raid.observe(when) and raid.active:
                # What the daemon does when raid mode switches on (Daemon._raid_changed).
                store.demote_granted_since(when - RAID_LOOKBACK, when)
            if kind == "call":
                ingest_call(store, IncomingCall(number, 1), when, rule, raid=raid.active)
            else:
                pdu = encode_deliver(number, "tu es où ?", when)[0]
                message = StoredMessage("SM", 1, 0, pdu)
                ingest_message(store, message, when, rule, raid=raid.active)
                store.mark_pdus_deleted(
                    [r[0] for r in store.db.execute("SELECT id FROM pdus WHERE on_modem = 1")]
                )
        end = start + timedelta(seconds=MONTH_SECONDS)
        while now < end:
            now += timedelta(minutes=5)
            send_due(store, modem, now, daemon_limits)
        decisions = store.decisions(now)
        attempts = _attempts(store)
    finally:
        store.close()

    real = {number for _, number, _, is_raider in events if not is_raider}
    crew_numbers = {s.number for s in crew}
    answered = Counter(modem.sent)
    real_answered = sum(1 for n in real if n in answered)
    raider_recipients = sum(1 for n in answered if n in crew_numbers)
    budget = config.limits.distinct_recipients_per_month
    print(
        f"\n== a month: {len(real)} real senders, a raid of {texts} texts from {numbers}"
        f" numbers + {calls} calls on day 3; budget {budget} recipients"
    )
    print(
        f"real senders who got their reply:   {real_answered}/{len(real)}"
        f" ({100 * real_answered / len(real):.1f}%)"
    )
    print(
        f"budget spent on raiders:            {raider_recipients}/{budget}"
        f" ({100 * raider_recipients / budget:.1f}%)"
    )
    print(
        f"replies sent in all:                {sum(answered.values())}"
        f" to {len(answered)} numbers (max per number: {max(answered.values(), default=0)})"
    )
    print(f"decisions: {decisions}")
    checks = {
        "at least 95% of the real senders answered": real_answered >= 0.95 * len(real),
        "at most 5% of the budget spent on raiders": raider_recipients <= 0.05 * budget,
        "at most one reply per number": max(answered.values(), default=0) <= 1,
        **_limit_checks(attempts),
    }
    return _print_checks(checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--numbers", type=int, default=2_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--real", type=int, default=80, help="real senders in the month")
    parser.add_argument("--unpaced", action="store_true", help="no 115200-baud pacing")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-month", action="store_true")
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    ok = True
    if not args.skip_throughput:
        ok &= throughput(args.texts, args.numbers, args.calls, not args.unpaced, args.seed)
    if not args.skip_month:
        ok &= month(args.texts, args.numbers, args.calls, args.real, args.seed)
    print("\nall invariants hold" if ok else "\nSOME INVARIANTS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
