"""The `relouphone` command as an operator meets it: help, config checks, figures, escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from relouphone.cli import cli
from relouphone.config import DEFAULT_REPLY_TEXT
from relouphone.store import Store

NOW = datetime.now(UTC)
ESCAPE = "\x1b[2J"  # clears the operator's screen
RLO = "\u202e"  # right-to-left override: disguises a number
# The figures `stats --json` promises to scripts (it may add more).
COUNTS = ("received_sms", "received_calls", "senders", "replies_sent", "replies_pending")


# -- helpers ------------------------------------------------------------------------------


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="relouphone")


def write_config(tmp_path: Path, body: str = "", name: str = "relouphone.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def config_for(tmp_path: Path, database: Path | None = None) -> Path:
    database = database or tmp_path / "relouphone.db"
    return write_config(tmp_path, f'[storage]\ndatabase = "{database}"\n')


def database_of(config: Path) -> Path:
    return config.parent / "relouphone.db"


def add_inbound(store: Store, kind: str, sender: str | None, *, text: str | None = None) -> int:
    return store.add_inbound(
        kind=kind,
        received_at=NOW - timedelta(minutes=5),
        sender_raw=sender or "",
        sender_ton=0x91 if sender else None,
        sender=sender,
        sender_kind="international" if sender else "withheld",
        text=text,
    )


def add_reply(store: Store, number: str, inbound_id: int, *, due_in: float = 600.0) -> int:
    return store.add_reply(
        number=number,
        inbound_id=inbound_id,
        text=DEFAULT_REPLY_TEXT,
        created_at=NOW - timedelta(minutes=5),
        due_at=NOW + timedelta(seconds=due_in),
    )


def populated(database: Path) -> None:
    """Six inbound events from four numbers (and a withheld one), replies in every state."""
    store = Store(database)
    try:
        first = add_inbound(store, "sms", "+33611111111", text="Salut")
        sent = add_reply(store, "+33611111111", first, due_in=-60)
        store.mark_sending(sent, NOW)
        store.mark_sent(sent, NOW, [7])
        add_inbound(store, "sms", "+33611111111", text="Tu réponds ?")
        call = add_inbound(store, "call", "+33622222222")
        add_reply(store, "+33622222222", call)
        sending = add_inbound(store, "sms", "+33633333333", text="Allô")
        store.mark_sending(add_reply(store, "+33633333333", sending, due_in=-1), NOW)
        add_inbound(store, "call", None)
        failed = add_inbound(store, "sms", "+33644444444", text="?")
        store.mark_failed(add_reply(store, "+33644444444", failed, due_in=-1), NOW, "refused")
    finally:
        store.close()


def with_heartbeat(database: Path, *, age: float | None, **fields) -> None:
    store = Store(database)
    try:
        if age is not None:
            store.write_heartbeat(
                at=NOW - timedelta(seconds=age),
                pid=4242,
                modem_state=fields.pop("modem_state", "registered (home)"),
                signal=fields.pop("signal", 17),
                operator=fields.pop("operator", "Orange F"),
                detail=fields.pop("detail", None),
            )
    finally:
        store.close()


def one_error_line(result: Result) -> str:
    """The whole of what a failing command printed: exactly one line, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(cli))


# -- every command explains itself --------------------------------------------------------


def test_the_command_tree_is_the_one_documented():
    assert {" ".join(path) for path, _ in COMMANDS} >= {
        "",
        "run",
        "check-config",
        "status",
        "queue",
        "stats",
        "demo",
        "simulator",
        "inject",
        "inject sms",
        "inject call",
    }


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "relouphone" for p, _ in COMMANDS]
)
def test_every_command_has_help_text(path, command):
    assert (command.help or "").strip(), f"`relouphone {' '.join(path)}` has no help text"
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    first_line = " ".join(command.help.strip().splitlines()[0].split())
    assert first_line[:60] in " ".join(result.output.split())
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts[0]} has no help"


# -- check-config -------------------------------------------------------------------------


def test_a_good_config_is_ok_and_shown(tmp_path):
    config = write_config(
        tmp_path,
        '[modem]\nport = "/dev/ttyUSB2"\n[reply]\ndelay = "2h"\n'
        f'[storage]\ndatabase = "{tmp_path}/r.db"\n',
    )
    result = run("check-config", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert f"{config}: ok" in result.output
    assert "/dev/ttyUSB2" in result.output
    assert "after 2h" in result.output
    assert f"{tmp_path}/r.db" in result.output


def test_the_config_can_come_from_the_environment(tmp_path):
    config = write_config(tmp_path, "")
    result = CliRunner(env={"RELOUPHONE_CONFIG": str(config)}).invoke(cli, ["check-config"])
    assert result.exit_code == 0, result.output
    assert f"{config}: ok" in result.output


def test_an_unknown_key_is_one_line_naming_file_and_key(tmp_path):
    config = write_config(tmp_path, '[reply]\ndelai = "1h"\n')
    line = one_error_line(run("check-config", "--config", str(config)))
    assert str(config) in line
    assert "[reply] delai" in line
    assert "unknown key" in line


def test_a_value_of_the_wrong_type_is_one_line_naming_file_and_key(tmp_path):
    config = write_config(tmp_path, '[modem]\nbaudrate = "fast"\n')
    line = one_error_line(run("check-config", "--config", str(config)))
    assert str(config) in line
    assert "[modem] baudrate" in line


def test_a_toml_syntax_error_is_one_line_naming_file_and_line(tmp_path):
    config = write_config(tmp_path, '[reply]\ndelay = "1h"\ntext = "unterminated\n')
    line = one_error_line(run("check-config", "--config", str(config)))
    assert str(config) in line
    assert "line 3" in line


def test_a_missing_file_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "nowhere.toml"
    line = one_error_line(run("check-config", "--config", str(missing)))
    assert str(missing) in line
    assert "no such file" in line


@pytest.mark.parametrize("command", ["run", "status", "queue", "stats"])
def test_every_command_reading_the_config_refuses_a_bad_one_in_one_line(tmp_path, command):
    config = write_config(tmp_path, "[modem]\nbaudrate = 12\n")
    line = one_error_line(run(command, "--config", str(config)))
    assert str(config) in line
    assert "[modem] baudrate" in line


# -- stats ----------------------------------------------------------------------------------


def test_stats_as_json_counts_the_whole_database(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))
    result = run("stats", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {key: figures[key] for key in COUNTS} == {
        "received_sms": 4,
        "received_calls": 2,
        "senders": 4,  # the withheld caller is no sender
        "replies_sent": 1,
        "replies_pending": 2,  # one pending, one caught mid-send
    }
    assert figures["replies_failed"] == 1


def test_stats_without_json_reads_as_plain_lines(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))
    result = run("stats", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "received sms: 4" in lines
    assert "received calls: 2" in lines
    assert "senders: 4" in lines
    assert "replies sent: 1" in lines
    assert "replies pending: 2" in lines
    assert "{" not in result.stdout


def test_stats_of_an_empty_database_are_zeros(tmp_path):
    config = config_for(tmp_path)
    Store(database_of(config)).close()
    figures = json.loads(run("stats", "--config", str(config), "--json").stdout)
    assert {key: figures[key] for key in COUNTS} == dict.fromkeys(COUNTS, 0)


# -- status ---------------------------------------------------------------------------------


def status_json(config: Path) -> dict:
    result = run("status", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_of_a_daemon_with_a_fresh_heartbeat_says_running(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))
    with_heartbeat(database_of(config), age=5)
    report = status_json(config)
    assert report["daemon"].startswith("running (pid 4242")
    assert report["daemon_pid"] == 4242
    assert report["modem_state"] == "registered (home)"
    assert report["signal"] == 17
    assert report["operator"] == "Orange F"
    assert report["detail"] is None
    assert report["replies_pending"] == 2
    assert 4 <= report["heartbeat_age_seconds"] < 60
    assert report["next_due_at"] is not None
    assert report["last_activity"] is not None


def test_status_of_a_stale_heartbeat_doubts_the_daemon_runs(tmp_path):
    config = config_for(tmp_path)
    with_heartbeat(database_of(config), age=3600)
    report = status_json(config)
    assert report["daemon"].startswith("not running?")
    assert "pid 4242" in report["daemon"]
    assert report["heartbeat_age_seconds"] >= 3600


def test_status_of_a_database_no_daemon_ever_ran_on(tmp_path):
    config = config_for(tmp_path)
    Store(database_of(config)).close()
    report = status_json(config)
    assert report["daemon"] == "never ran on this database"
    assert report["modem_state"] == "unknown"
    assert report["daemon_pid"] is None
    assert report["heartbeat_at"] is None
    assert report["replies_pending"] == 0
    assert report["next_due_at"] is None
    assert report["last_activity"] is None


def test_status_of_a_stopped_daemon_says_stopped(tmp_path):
    config = config_for(tmp_path)
    with_heartbeat(database_of(config), age=5, modem_state="stopped")
    assert status_json(config)["daemon"].startswith("stopped")


def test_status_without_json_reads_as_labelled_lines(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))
    with_heartbeat(database_of(config), age=5)
    result = run("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "daemon:        running (pid 4242" in result.stdout
    assert "modem:         registered (home), signal 17/31, Orange F" in result.stdout
    assert "queue:         2 replies pending, next due " in result.stdout


# -- queue ----------------------------------------------------------------------------------


def test_queue_as_json_lists_pending_and_sending_replies_soonest_first(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))
    result = run("queue", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["number"], r["state"], r["attempts"]) for r in rows] == [
        ("+33633333333", "sending", 1),
        ("+33622222222", "pending", 0),
    ]
    assert set(rows[0]) == {"id", "number", "due_at", "state", "attempts"}


def test_queue_without_json_shows_one_line_per_reply(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))
    result = run("queue", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "+33633333333" in lines[0] and "sending" in lines[0]
    assert "+33622222222" in lines[1] and "pending" in lines[1]


def test_an_empty_queue_says_so(tmp_path):
    config = config_for(tmp_path)
    Store(database_of(config)).close()
    assert run("queue", "--config", str(config)).stdout == "no reply pending\n"
    assert json.loads(run("queue", "--config", str(config), "--json").stdout) == []


# -- no database yet ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "queue", "stats"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_reading_commands_never_create_the_database(tmp_path, command, as_json):
    database = tmp_path / "not-yet" / "relouphone.db"
    config = config_for(tmp_path, database)
    line = one_error_line(run(command, "--config", str(config), *(["--json"] if as_json else [])))
    assert str(database) in line
    assert "no database" in line
    assert not database.exists()
    assert not database.parent.exists()


# -- untrusted text on the operator's terminal ---------------------------------------------


def hostile_queue(config: Path) -> str:
    """A pending reply to a 'number' that carries terminal controls; returns it."""
    number = f"+336{ESCAPE}1{RLO}2345678"
    store = Store(database_of(config))
    try:
        inbound = add_inbound(store, "sms", number, text=f"{ESCAPE}hello{RLO}")
        add_reply(store, number, inbound)
    finally:
        store.close()
    return number


def assert_nothing_raw(output: str) -> None:
    assert "\x1b" not in output
    assert RLO not in output


def test_queue_shows_a_hostile_number_escaped(tmp_path):
    config = config_for(tmp_path)
    hostile_queue(config)
    result = run("queue", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    assert "+336\\x1b[2J1\\u202e2345678" in result.stdout


def test_queue_json_keeps_a_hostile_number_exact_but_not_raw(tmp_path):
    config = config_for(tmp_path)
    number = hostile_queue(config)
    result = run("queue", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    [row] = json.loads(result.stdout)
    assert row["number"] == number


def hostile_heartbeat(config: Path) -> None:
    hostile_queue(config)
    with_heartbeat(
        database_of(config),
        age=5,
        modem_state=f"registered{ESCAPE}",
        operator=f"{RLO}Orange",
        detail=f"modem said {ESCAPE}{RLO}",
    )


def test_status_shows_hostile_modem_strings_escaped(tmp_path):
    config = config_for(tmp_path)
    hostile_heartbeat(config)
    result = run("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    assert "registered\\x1b[2J" in result.stdout
    assert "\\u202eOrange" in result.stdout
    assert "modem said \\x1b[2J\\u202e" in result.stdout


def test_status_json_keeps_hostile_modem_strings_exact_but_not_raw(tmp_path):
    config = config_for(tmp_path)
    hostile_heartbeat(config)
    result = run("status", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    report = json.loads(result.stdout)
    assert report["operator"] == f"{RLO}Orange"
    assert report["detail"] == f"modem said {ESCAPE}{RLO}"


# -- demo -------------------------------------------------------------------------------


def test_the_demo_shows_both_replies_decoded(tmp_path):
    result = run("demo", "--delay", "0.5")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    replies = [line for line in result.stdout.splitlines() if line.strip().startswith("to ")]
    assert len(replies) == 2, result.stdout
    assert any("+33612345678" in line for line in replies)
    assert any("+33698765432" in line for line in replies)
    for line in replies:
        assert line.endswith(f": {DEFAULT_REPLY_TEXT}")
    assert "replies sent 2" in result.stdout


# -- quarantine -----------------------------------------------------------------------------


def quarantined(database: Path, pdu: str, error: str) -> None:
    store = Store(database)
    try:
        store.add_pdu(read_at=NOW, storage="SM", slot=4, pdu=pdu, kind="undecodable", error=error)
    finally:
        store.close()


def test_quarantine_lists_undecodable_messages_with_their_reason(tmp_path):
    config = config_for(tmp_path)
    quarantined(database_of(config), "0791FFFF", "PDU truncated in SMSC address")

    result = run("quarantine", "--config", str(config))

    assert result.exit_code == 0, result.output
    assert "SM/4" in result.stdout
    assert "error: PDU truncated in SMSC address" in result.stdout
    assert "pdu:   0791FFFF" in result.stdout
    figures = json.loads(run("stats", "--config", str(config), "--json").stdout)
    assert figures["quarantined"] == 1


def test_quarantine_as_json_keeps_the_raw_pdu(tmp_path):
    config = config_for(tmp_path)
    quarantined(database_of(config), "07=96p", "PDU is not hexadecimal")
    [row] = json.loads(run("quarantine", "--config", str(config), "--json").stdout)
    assert (row["pdu"], row["error"], row["slot"]) == ("07=96p", "PDU is not hexadecimal", 4)


def test_quarantine_shows_hostile_bytes_escaped(tmp_path):
    config = config_for(tmp_path)
    quarantined(database_of(config), f"07{ESCAPE}{RLO}\x00", "PDU is not hexadecimal")
    result = run("quarantine", "--config", str(config))
    assert "\x1b" not in result.stdout
    assert RLO not in result.stdout
    assert "\x00" not in result.stdout
    assert "07\\x1b[2J\\u202e\\x00" in result.stdout


def test_an_empty_quarantine_says_so(tmp_path):
    config = config_for(tmp_path)
    Store(database_of(config)).close()
    assert run("quarantine", "--config", str(config)).stdout == "no undecodable message\n"
