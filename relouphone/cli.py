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
from .display import safe
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
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


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

    store = _open_store(_config(config_path))
    with closing(store):
        report = status_report(store, datetime.now().astimezone())
    if as_json:
        _emit_json(report)
        return
    click.echo(f"daemon:        {report['daemon']}")
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
        figures = store.stats()
    if as_json:
        _emit_json(figures)
        return
    for key, value in figures.items():
        click.echo(f"{key.replace('_', ' ')}: {value}")


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
