"""`relouphone demo`: the whole loop, live, on the simulated modem.

A text and a call arrive from two numbers; the daemon records them, schedules a reply for
each, hangs up the call, and a few seconds later the simulated modem receives the two
replies, which are decoded and shown.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .config import Config, ModemConfig, ReplyConfig, StorageConfig
from .daemon import Daemon
from .display import safe
from .ingest import Outcome
from .outbox import SendResult
from .service import Notifier
from .simulator import SimulatedModem
from .store import Store

__all__ = ["run_demo"]

TEXTER = "+33612345678"
CALLER = "0698765432"  # national form, as many networks present a caller
TIMEOUT_SECONDS = 60.0


def run_demo(*, delay: float = 3.0, echo: Callable[[str], None] = print) -> bool:
    """Run the scenario; True when both replies reached the simulated modem."""
    with tempfile.TemporaryDirectory(prefix="relouphone-demo-") as tmp, SimulatedModem() as sim:
        config = _demo_config(Path(tmp) / "demo.db", sim.port, delay)
        echo(f"simulated modem on {sim.port}, database {config.storage.database}")
        echo(f"reply delay: {delay:g}s; reply text: {config.reply.text}")
        daemon = Daemon(config, notifier=Notifier(environ={}))
        sent = threading.Semaphore(0)
        daemon.on_event(lambda what, detail: _narrate(echo, what, detail, sent))
        thread = threading.Thread(target=daemon.run, name="relouphone-daemon")
        thread.start()
        try:
            ok = _scenario(sim, daemon, echo, config, sent)
        finally:
            daemon.stop()
            thread.join(timeout=10)
        if ok:
            _show_records(sim, config, echo)
        return ok


def _demo_config(database: Path, port: str, delay: float) -> Config:
    base = Config(source="<demo>")
    return replace(
        base,
        modem=ModemConfig(port=port, command_timeout=5.0),
        reply=ReplyConfig(delay=delay, text=base.reply.text),
        storage=StorageConfig(database=database),
    )


def _scenario(
    sim: SimulatedModem, daemon: Daemon, echo, config: Config, sent: threading.Semaphore
) -> bool:
    if not daemon.ready.wait(TIMEOUT_SECONDS):
        echo("the daemon could not set up the simulated modem")
        return False
    echo(f"\n>> {TEXTER} texts the decoy number")
    sim.deliver_sms(TEXTER, "Allez, donne-moi ton vrai numéro 😉")
    echo(f">> {CALLER} calls it")
    sim.ring(CALLER, ton=0x81)
    echo(f"\n.. waiting for the replies (due {config.reply.delay:g}s after arrival)")
    for _ in range(2):
        if not sent.acquire(timeout=TIMEOUT_SECONDS):
            echo("the replies did not leave in time")
            return False
    return True


def _show_records(sim: SimulatedModem, config: Config, echo: Callable[[str], None]) -> None:
    echo("\n<< what the simulated modem was asked to send, decoded:")
    for message in sim.sent:
        submit = message.submit
        echo(f"   to {safe(submit.recipient.number)} ({submit.encoding}): {safe(submit.text)}")
    store = Store(config.storage.database)
    try:
        figures = store.stats()
    finally:
        store.close()
    echo(
        "\nin the database: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in figures.items())
    )


def _narrate(
    echo: Callable[[str], None], what: str, detail: object, sent: threading.Semaphore
) -> None:
    if isinstance(detail, Outcome) and detail.sender is not None:
        who = detail.sender.e164 or detail.sender.raw or "a withheld number"
        heard = f": {safe(detail.text)!s}" if detail.text else ""
        verdict = detail.decision.reason if detail.decision else "-"
        hung_up = ", hung up" if what == "call" else ""
        echo(
            f"   recorded {what} from {safe(who)}{heard}{hung_up} -> {verdict}"
            + (", reply scheduled" if detail.decision and detail.decision.reply else "")
        )
    elif isinstance(detail, SendResult):
        echo(
            f"   reply #{detail.reply_id} to {detail.number}: {detail.state}"
            + (f" ({detail.error})" if detail.error else "")
        )
        if detail.state == "sent":
            sent.release()
