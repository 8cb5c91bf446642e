"""The `relouphone` command: thin click wrappers, each calling one function of the package."""

from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import Config, format_duration, load_config
from .display import safe, safe_json
from .errors import RelouphoneError
from .timefmt import to_db

DEFAULT_CONFIG = "/etc/relouphone/relouphone.toml"

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("RELOUPHONE_CONFIG", DEFAULT_CONFIG),
    show_default=DEFAULT_CONFIG,
    help="Configuration file (also $RELOUPHONE_CONFIG).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _config(path: Path) -> Config:
    try:
        return load_config(path)
    except RelouphoneError as exc:
        raise click.ClickException(str(exc)) from exc


def _open_store(config: Config):
    """The database, for reading: never create an empty one where the daemon would look."""
    from .store import Store

    path = config.storage.database
    if not path.exists():
        raise click.ClickException(
            f"{path}: no database yet ([storage] database in {config.source});"
            " start the daemon once with `relouphone run`"
        )
    try:
        return Store(path)
    except RelouphoneError as exc:
        raise click.ClickException(str(exc)) from exc


def _emit_json(data: Any) -> None:
    # Newlines and indentation are the only control characters json.dumps leaves raw.
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    click.echo("\n".join(safe_json(line) for line in text.split("\n")))


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "never"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="relouphone")
def cli() -> None:
    """relouphone: a decoy number that answers pushy senders with a delayed SMS."""


@cli.command()
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log every modem exchange.")
def run(config_path: Path, verbose: bool) -> None:
    """Run the daemon in the foreground (systemd runs this)."""
    from .daemon import Daemon
    from .service import setup_logging

    config = _config(config_path)
    setup_logging(verbose)
    daemon = Daemon(config)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.stop())
    try:
        code = daemon.run()
    except RelouphoneError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


@cli.command("check-config")
@config_option
def check_config(config_path: Path) -> None:
    """Validate the configuration file and show what it means."""
    config = _config(config_path)
    click.echo(f"{config.source}: ok")
    click.echo(
        f"  modem:    {config.modem.port} at {config.modem.baudrate} baud"
        f"{', with PIN' if config.modem.pin else ''}"
    )
    click.echo(f"  reply:    after {format_duration(config.reply.delay)}: {config.reply.text}")
    click.echo(f"  database: {config.storage.database}")


@cli.command()
@config_option
@json_option
def status(config_path: Path, as_json: bool) -> None:
    """Modem state, signal, queue depth and last activity, from the daemon's heartbeat."""
    from .report import status_report

    config = _config(config_path)
    store = _open_store(config)
    with closing(store):
        report = status_report(store, datetime.now().astimezone(), config.daemon.heartbeat)
    if as_json:
        _emit_json(report)
        return
    click.echo(f"daemon:        {report['daemon']}")
    if report["raid_mode"]:
        click.echo("RAID MODE:     inbound flood in progress; new numbers go last in line")
    click.echo(
        f"modem:         {safe(report['modem_state'])}, signal "
        f"{'?' if report['signal'] is None else report['signal']}/31"
        f"{', ' + safe(report['operator']) if report['operator'] else ''}"
    )
    if report["detail"]:
        click.echo(f"detail:        {safe(report['detail'])}")
    click.echo(
        f"queue:         {report['replies_pending']} replies pending"
        + (f", next due {report['next_due_at']}" if report["next_due_at"] else "")
    )
    click.echo(f"last activity: {report['last_activity'] or 'never'}")


@cli.command()
@config_option
@json_option
def queue(config_path: Path, as_json: bool) -> None:
    """Replies waiting to be sent, soonest first."""
    store = _open_store(_config(config_path))
    with closing(store):
        replies = store.pending_replies()
    rows = [
        {
            "id": r.id,
            "number": r.number,
            "due_at": to_db(r.due_at),
            "state": r.state,
            "attempts": r.attempts,
        }
        for r in replies
    ]
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        click.echo("no reply pending")
    for r, reply in zip(rows, replies, strict=True):
        click.echo(f"#{r['id']:<6} {safe(r['number']):<16} due {_when(reply.due_at)}  {r['state']}")


@cli.command()
@config_option
@json_option
def stats(config_path: Path, as_json: bool) -> None:
    """Counts over the whole database."""
    store = _open_store(_config(config_path))
    with closing(store):
        now = datetime.now().astimezone()
        figures: dict[str, Any] = {**store.stats(), "decisions": store.decisions(now)}
    if as_json:
        _emit_json(figures)
        return
    decisions = figures.pop("decisions")
    for key, value in figures.items():
        click.echo(f"{key.replace('_', ' ')}: {value}")
    if decisions:
        click.echo("decisions: " + ", ".join(f"{k} {v}" for k, v in decisions.items()))


@cli.command()
@config_option
@json_option
@click.option("--limit", default=50, show_default=True, help="How many to show, newest first.")
def quarantine(config_path: Path, as_json: bool, limit: int) -> None:
    """Messages that could not be decoded: kept raw, with the reason, off the SIM."""
    store = _open_store(_config(config_path))
    with closing(store):
        rows = store.quarantine(limit)
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        click.echo("no undecodable message")
    for row in rows:
        where = f"{row['storage']}/{row['slot']}" if row["storage"] else "-"
        click.echo(f"#{row['id']:<6} read {row['read_at']} from {safe(where)}")
        click.echo(f"        error: {safe(row['error'])}")
        click.echo(f"        pdu:   {safe(row['pdu'])}")


def _number(config: Config, text: str) -> str:
    """A number as users type it, in the form the database keeps (E.164)."""
    from .numbers import identify

    sender = identify(text, None, home_regions=config.policy.home_regions)
    if sender.e164 is None:
        raise click.ClickException(
            f"{safe(text)}: not a phone number (expected e.g. +33612345678 or 0612345678)"
        )
    return sender.e164


@cli.command()
@config_option
@click.argument("number")
@click.option("--reason", default=None, help="Why, for the record (e.g. a complaint number).")
def block(config_path: Path, number: str, reason: str | None) -> None:
    """Never reply to NUMBER again; a waiting reply to it is cancelled at once."""
    config = _config(config_path)
    e164 = _number(config, number)
    store = _open_store(config)
    with closing(store):
        cancelled = store.block(e164, reason, datetime.now().astimezone())
    click.echo(f"{e164} blocked" + (f"; {cancelled} waiting reply cancelled" if cancelled else ""))


@cli.command()
@config_option
@click.argument("number")
def unblock(config_path: Path, number: str) -> None:
    """Take NUMBER off the block list (cancelled replies stay cancelled)."""
    config = _config(config_path)
    e164 = _number(config, number)
    store = _open_store(config)
    with closing(store):
        removed = store.unblock(e164)
    click.echo(f"{e164} unblocked" if removed else f"{e164} was not blocked")


@cli.command()
@config_option
@click.argument("number")
@click.option("--reason", default=None, help="What the number is for (e.g. 'test phone').")
def allow(config_path: Path, number: str, reason: str | None) -> None:
    """Exempt NUMBER (a test phone) from once-per-number: it gets a reply every time."""
    config = _config(config_path)
    e164 = _number(config, number)
    store = _open_store(config)
    with closing(store):
        store.allow(e164, reason, datetime.now().astimezone())
    click.echo(f"{e164} allowed: it gets a reply to every text or call, within the limits")


@cli.command()
@config_option
@click.argument("number")
def unallow(config_path: Path, number: str) -> None:
    """Take NUMBER off the allow list."""
    config = _config(config_path)
    e164 = _number(config, number)
    store = _open_store(config)
    with closing(store):
        removed = store.unallow(e164)
    click.echo(f"{e164} no longer allowed" if removed else f"{e164} was not on the allow list")


@cli.command("pin-retry")
@config_option
def pin_retry(config_path: Path) -> None:
    """Let the daemon try the configured SIM PIN once more after the SIM refused it.

    Only once the SIM is known to take this PIN (unlocked in a phone, say): each refused
    try brings it closer to PUK.
    """
    store = _open_store(_config(config_path))
    with closing(store):
        forgotten = store.forget_refused_pins()
    if forgotten:
        click.echo("the daemon will try the configured PIN once more at its next start")
    else:
        click.echo("no refused PIN on record: nothing to do")


@cli.command("lists")
@config_option
@json_option
def lists_command(config_path: Path, as_json: bool) -> None:
    """The block list and the allow list."""
    store = _open_store(_config(config_path))
    with closing(store):
        lists = store.lists()
    if as_json:
        _emit_json(lists)
        return
    for name, rows in lists.items():
        click.echo(f"{name} ({len(rows)}):")
        for row in rows:
            reason = f"  {safe(row['reason'])}" if row["reason"] else ""
            click.echo(f"  {safe(row['number']):<16} since {row['created_at']}{reason}")


@cli.command()
@config_option
@json_option
@click.option("--limit", default=50, show_default=True, help="How many numbers to show.")
@click.option(
    "--order",
    type=click.Choice(["last_seen", "count"]),
    default="last_seen",
    show_default=True,
    help="Most recent first, or most active first.",
)
def senders(config_path: Path, as_json: bool, limit: int, order: str) -> None:
    """Numbers that wrote or called, with their counts and what was decided."""
    store = _open_store(_config(config_path))
    with closing(store):
        rows = store.senders(limit=limit, order=order)
    for row in rows:
        row["decisions"] = _decision_counts(row["decisions"])
        row["blocked"], row["allowed"] = bool(row["blocked"]), bool(row["allowed"])
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        click.echo("no sender yet")
    for row in rows:
        flags = " BLOCKED" if row["blocked"] else " allowed" if row["allowed"] else ""
        decided = ", ".join(f"{k} {v}" for k, v in row["decisions"].items())
        click.echo(
            f"{safe(row['number']):<16} {row['sms_count']:>5} sms {row['call_count']:>3} calls"
            f"  {row['category'] or '-':<10} reply {row['reply_state'] or '-':<8}"
            f" {decided}{flags}"
        )


def _decision_counts(packed: str | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in (packed or "").split(","):
        if item:
            reason, _, count = item.rpartition(":")
            counts[reason] = int(count)
    return counts


@cli.command()
@config_option
@json_option
@click.option("--text", default=None, help="Try this text instead of [reply] text.")
def message(config_path: Path, as_json: bool, text: str | None) -> None:
    """How the reply will be sent: encoding, number of parts, characters forcing UCS-2."""
    from . import gsm7
    from .pdu import plan_text

    config = _config(config_path)
    original = config.reply.text if text is None else text
    sent = gsm7.normalize(original) if config.reply.gsm7_normalize else original
    try:
        plan = plan_text(sent)
    except RelouphoneError as exc:  # too long for any concatenated SMS
        raise click.ClickException(f"--text: {exc}") from exc
    report = {
        "text": sent,
        "normalized": sent != original,
        "encoding": plan.encoding,
        "parts": plan.parts,
        "characters": len(sent),
        "forcing_ucs2": list(plan.forcing),
    }
    if as_json:
        _emit_json(report)
        return
    click.echo(f"text:      {safe(sent, keep_newlines=True)}")
    if report["normalized"]:
        click.echo("           (typography mapped to GSM characters: [reply] gsm7_normalize)")
    click.echo(f"encoding:  {plan.encoding} ({len(sent)} characters)")
    click.echo(f"parts:     {plan.parts} SMS")
    if plan.forcing:
        shown = " ".join(safe(c) for c in plan.forcing)
        click.echo(f"UCS-2 because of: {shown} (replace them to fit 160 characters per SMS)")


@cli.command()
@click.option("--delay", default=3.0, show_default=True, help="Reply delay in seconds.")
def demo(delay: float) -> None:
    """The whole loop on the built-in simulated modem: a text and a call, then the replies."""
    from .demo import run_demo

    try:
        ok = run_demo(delay=delay, echo=click.echo)
    except RelouphoneError as exc:
        raise click.ClickException(str(exc)) from exc
    if not ok:
        raise click.ClickException("the demo did not complete: see the lines above")


@cli.command()
@click.option(
    "--link",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also offer the modem at this stable path (a symlink to the pty).",
)
@click.option(
    "--control",
    type=click.Path(dir_okay=False),
    default=None,
    help="Unix socket for `relouphone inject` (default: beside the link, or /tmp).",
)
@click.option("--slots", default=20, show_default=True, help="Message slots on the SIM.")
@click.option("--pin", default=None, help="Require this SIM PIN.")
def simulator(link: str | None, control: str | None, slots: int, pin: str | None) -> None:
    """Run the simulated modem standalone; point a daemon (or gammu) at the path it prints."""
    from .simulator import serve

    control = control or (f"{link}.control" if link else f"/tmp/relouphone-sim-{os.getpid()}.sock")
    click.echo(
        f"inject from another terminal: relouphone inject sms --control {control}"
        " --from +33612345678 'hello'",
        err=True,
    )
    serve(symlink=link, control=control, slots=slots, pin=pin)


@cli.group()
def inject() -> None:
    """Make a running `relouphone simulator` receive a text or a call."""


@inject.command("sms")
@click.option("--control", required=True, type=click.Path(), help="The simulator's socket.")
@click.option("--from", "sender", required=True, help="Sender number, e.g. +33612345678.")
@click.argument("text")
def inject_sms(control: str, sender: str, text: str) -> None:
    """Deliver TEXT from --from to the simulated modem."""
    _control(control, {"sms": {"from": sender, "text": text}})


@inject.command("call")
@click.option("--control", required=True, type=click.Path(), help="The simulator's socket.")
@click.option("--from", "caller", default=None, help="Caller number; omit for a withheld one.")
def inject_call(control: str, caller: str | None) -> None:
    """Ring the simulated modem from --from."""
    _control(control, {"call": {"from": caller}})


def _control(path: str, command: dict) -> None:
    from .simulator import send_control

    try:
        answer = send_control(path, command)
    except RelouphoneError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit_json(answer)


def main() -> None:
    cli(prog_name="relouphone")
