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
RED = "\x1b[31m"  # paints the rest of the terminal red
RLO = "\u202e"  # right-to-left override: disguises a number
NUL = "\x00"  # cuts a line short in some terminals and tools
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
                raid=fields.pop("raid", False),
                detail=fields.pop("detail", None),
            )
    finally:
        store.close()


def one_error_line(result: Result) -> str:
    """The whole of what a failing command printed: exactly one line, no traceback."""
    assert result.exit_code != 0, result.output
    # CliRunner keeps an uncaught exception instead of printing its traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
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
        "quarantine",
        "senders",
        "block",
        "unblock",
        "allow",
        "unallow",
        "lists",
        "message",
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


# Every command that reads the configuration, with the arguments it needs.
CONFIGURED = [
    ("run",),
    ("status",),
    ("queue",),
    ("stats",),
    ("quarantine",),
    ("senders",),
    ("lists",),
    ("message",),
    ("block", "0612345678"),
    ("unblock", "0612345678"),
    ("allow", "0612345678"),
    ("unallow", "0612345678"),
]


@pytest.mark.parametrize("command", CONFIGURED, ids=" ".join)
def test_every_command_reading_the_config_refuses_a_bad_one_in_one_line(tmp_path, command):
    config = write_config(tmp_path, "[modem]\nbaudrate = 12\n")
    line = one_error_line(run(*command, "--config", str(config)))
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


def decided(database: Path, events: list[tuple[str, str | None, str]]) -> None:
    """Inbound events (kind, sender, decision), each with the decision the daemon recorded."""
    store = Store(database)
    try:
        for kind, sender, decision in events:
            store.set_decision(add_inbound(store, kind, sender, text="?"), decision)
    finally:
        store.close()


DECIDED = [
    ("sms", "+33611111111", "replied"),
    ("sms", "+33611111111", "duplicate"),
    ("call", "+33611111111", "duplicate"),
    ("sms", "+33622222222", "blocked"),
    ("sms", "+33899123456", "premium"),
    ("call", None, "withheld"),
    ("sms", "+33633333333", "filtered"),
    ("sms", "+33633333333", "replied"),
]


def test_stats_as_json_counts_the_decisions_by_reason(tmp_path):
    config = config_for(tmp_path)
    decided(database_of(config), DECIDED)
    figures = json.loads(run("stats", "--config", str(config), "--json").stdout)
    assert figures["decisions"] == {
        "replied": 2,
        "duplicate": 2,
        "blocked": 1,
        "premium": 1,
        "withheld": 1,
        "filtered": 1,
    }
    assert sum(figures["decisions"].values()) == (
        figures["received_sms"] + figures["received_calls"]
    )


def test_stats_without_json_shows_the_decisions_on_one_line(tmp_path):
    config = config_for(tmp_path)
    decided(database_of(config), DECIDED)
    lines = run("stats", "--config", str(config)).stdout.splitlines()
    assert (
        "decisions: blocked 1, duplicate 2, filtered 1, premium 1, replied 2, withheld 1" in lines
    )


def test_stats_count_a_granted_reply_as_it_turned_out(tmp_path):
    config = config_for(tmp_path)
    store = Store(database_of(config))
    try:
        replies = {}
        for number, due_in in [
            ("+33611111111", 600.0),  # still to come: replied
            ("+33622222222", -60.0),  # sent: replied
            ("+33633333333", -60.0),  # due, held by the limits: deferred
            ("+33644444444", -60.0),  # held too long: expired
            ("+33655555555", 600.0),  # cancelled by a block: blocked
        ]:
            inbound = add_inbound(store, "sms", number, text="?")
            replies[number] = add_reply(store, number, inbound, due_in=due_in)
            store.set_decision(inbound, "replied", replies[number])
        store.mark_sending(replies["+33622222222"], NOW)
        store.mark_sent(replies["+33622222222"], NOW, [1])
        store.mark_expired(replies["+33644444444"], NOW)
        store.block("+33655555555", None, NOW)
    finally:
        store.close()
    figures = json.loads(run("stats", "--config", str(config), "--json").stdout)
    assert figures["decisions"] == {"replied": 2, "deferred": 1, "expired": 1, "blocked": 1}


def test_stats_of_an_empty_database_have_no_decisions(tmp_path):
    config = config_for(tmp_path)
    Store(database_of(config)).close()
    assert json.loads(run("stats", "--config", str(config), "--json").stdout)["decisions"] == {}
    assert "decisions" not in run("stats", "--config", str(config)).stdout


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


def test_status_says_raid_mode_while_the_daemon_is_in_it(tmp_path):
    config = config_for(tmp_path)
    with_heartbeat(database_of(config), age=5, raid=True)
    result = run("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "RAID MODE:" in result.stdout
    assert status_json(config)["raid_mode"] is True


def test_status_says_no_raid_mode_once_the_daemon_stopped(tmp_path):
    config = config_for(tmp_path)
    with_heartbeat(database_of(config), age=5, raid=True, modem_state="stopped")
    assert "RAID MODE" not in run("status", "--config", str(config)).stdout
    assert status_json(config)["raid_mode"] is False


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


@pytest.mark.parametrize("command", ["status", "queue", "stats", "senders", "lists"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_reading_commands_never_create_the_database(tmp_path, command, as_json):
    database = tmp_path / "not-yet" / "relouphone.db"
    config = config_for(tmp_path, database)
    line = one_error_line(run(command, "--config", str(config), *(["--json"] if as_json else [])))
    assert str(database) in line
    assert "no database" in line
    assert not database.exists()
    assert not database.parent.exists()


@pytest.mark.parametrize("command", ["block", "unblock", "allow", "unallow"])
def test_list_commands_never_create_the_database(tmp_path, command):
    database = tmp_path / "not-yet" / "relouphone.db"
    config = config_for(tmp_path, database)
    line = one_error_line(run(command, "0612345678", "--config", str(config)))
    assert "no database" in line
    assert not database.parent.exists()


# -- block and allow lists --------------------------------------------------------------


def fresh(tmp_path: Path) -> Path:
    config = config_for(tmp_path)
    Store(database_of(config)).close()
    return config


def lists_json(config: Path) -> dict:
    result = run("lists", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def listed(config: Path) -> dict[str, list[tuple[str, str | None]]]:
    """list name -> (number, reason) rows, as `lists --json` gives them."""
    return {
        name: [(row["number"], row["reason"]) for row in rows]
        for name, rows in lists_json(config).items()
    }


def test_block_puts_a_national_number_on_the_list_in_international_form(tmp_path):
    config = fresh(tmp_path)
    result = run("block", "0612345678", "--config", str(config), "--reason", "plainte 42")
    assert result.exit_code == 0, result.output
    assert result.stdout == "+33612345678 blocked\n"
    assert listed(config) == {"blocklist": [("+33612345678", "plainte 42")], "allowlist": []}


@pytest.mark.parametrize("written", ["+33612345678", "06 12 34 56 78", "06.12.34.56.78"])
def test_block_takes_a_number_however_it_is_written(tmp_path, written):
    config = fresh(tmp_path)
    assert run("block", written, "--config", str(config)).exit_code == 0
    assert listed(config)["blocklist"] == [("+33612345678", None)]


def test_block_cancels_the_waiting_reply_and_says_so(tmp_path):
    config = config_for(tmp_path)
    populated(database_of(config))  # +33622222222 has a reply pending
    result = run("block", "0622222222", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout == "+33622222222 blocked; 1 waiting reply cancelled\n"
    queued = json.loads(run("queue", "--config", str(config), "--json").stdout)
    assert "+33622222222" not in [row["number"] for row in queued]


def test_blocking_again_keeps_one_entry_with_the_new_reason(tmp_path):
    config = fresh(tmp_path)
    run("block", "0612345678", "--config", str(config), "--reason", "first")
    run("block", "+33612345678", "--config", str(config), "--reason", "second")
    assert listed(config)["blocklist"] == [("+33612345678", "second")]


def test_unblock_takes_the_number_off_the_list(tmp_path):
    config = fresh(tmp_path)
    run("block", "+33612345678", "--config", str(config))
    result = run("unblock", "0612345678", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout == "+33612345678 unblocked\n"
    assert listed(config)["blocklist"] == []


def test_unblocking_a_number_not_blocked_says_so(tmp_path):
    config = fresh(tmp_path)
    result = run("unblock", "0612345678", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout == "+33612345678 was not blocked\n"


def test_allow_and_unallow_edit_the_allow_list(tmp_path):
    config = fresh(tmp_path)
    result = run("allow", "0611111111", "--config", str(config), "--reason", "test phone")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("+33611111111 allowed")
    assert listed(config) == {"blocklist": [], "allowlist": [("+33611111111", "test phone")]}

    assert run("unallow", "+33611111111", "--config", str(config)).stdout == (
        "+33611111111 no longer allowed\n"
    )
    assert listed(config)["allowlist"] == []
    assert run("unallow", "+33611111111", "--config", str(config)).stdout == (
        "+33611111111 was not on the allow list\n"
    )


def test_lists_without_json_shows_both_lists_with_their_reasons(tmp_path):
    config = fresh(tmp_path)
    run("block", "0612345678", "--config", str(config), "--reason", "insults")
    run("block", "0698765432", "--config", str(config))
    run("allow", "0611111111", "--config", str(config), "--reason", "my phone")
    result = run("lists", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "blocklist (2):"
    assert lines[1].split()[0] == "+33612345678" and lines[1].endswith("  insults")
    assert lines[2].split()[0] == "+33698765432" and "since" in lines[2]
    assert lines[3] == "allowlist (1):"
    assert lines[4].split()[0] == "+33611111111" and lines[4].endswith("  my phone")
    assert len(lines) == 5


def test_empty_lists_are_shown_empty(tmp_path):
    config = fresh(tmp_path)
    assert run("lists", "--config", str(config)).stdout == "blocklist (0):\nallowlist (0):\n"
    assert lists_json(config) == {"blocklist": [], "allowlist": []}


@pytest.mark.parametrize("command", ["block", "unblock", "allow", "unallow"])
@pytest.mark.parametrize("given", ["hello", "36179", "+", "0612"])
def test_a_list_command_refuses_what_is_not_a_phone_number_in_one_line(tmp_path, command, given):
    config = fresh(tmp_path)
    line = one_error_line(run(command, given, "--config", str(config)))
    assert f"{given}: not a phone number" in line
    assert listed(config) == {"blocklist": [], "allowlist": []}


def test_a_hostile_argument_is_echoed_escaped_in_the_error(tmp_path):
    config = fresh(tmp_path)
    line = one_error_line(run("block", f"{RED}06{RLO}12", "--config", str(config)))
    assert_nothing_raw(line)
    assert "\\x1b[31m06\\u202e12: not a phone number" in line


def test_a_list_command_on_a_file_that_is_no_database_fails_in_one_line(tmp_path):
    config = config_for(tmp_path)
    database_of(config).write_text("not a database at all\n")
    line = one_error_line(run("block", "0612345678", "--config", str(config)))
    assert str(database_of(config)) in line


# -- senders ------------------------------------------------------------------------------


def senders_json(config: Path, *options: str) -> list[dict]:
    result = run("senders", "--config", str(config), "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_senders_as_json_lists_each_number_with_counts_decisions_and_reply(tmp_path):
    config = config_for(tmp_path)
    decided(database_of(config), DECIDED)
    store = Store(database_of(config))
    try:
        store.block("+33622222222", None, NOW)
        store.allow("+33633333333", None, NOW)
        add_reply(store, "+33611111111", 1)
    finally:
        store.close()

    rows = {row["number"]: row for row in senders_json(config)}

    assert set(rows) == {"+33611111111", "+33622222222", "+33899123456", "+33633333333"}
    first = rows["+33611111111"]
    assert (first["sms_count"], first["call_count"]) == (2, 1)
    assert first["decisions"] == {"replied": 1, "duplicate": 2}
    assert first["reply_state"] == "pending"
    assert (first["blocked"], first["allowed"]) == (False, False)
    assert rows["+33622222222"]["decisions"] == {"blocked": 1}
    assert (rows["+33622222222"]["blocked"], rows["+33622222222"]["allowed"]) == (True, False)
    assert rows["+33633333333"]["decisions"] == {"filtered": 1, "replied": 1}
    assert (rows["+33633333333"]["blocked"], rows["+33633333333"]["allowed"]) == (False, True)
    assert rows["+33899123456"]["reply_state"] is None


def test_senders_come_most_recent_first_or_most_active_first(tmp_path):
    config = config_for(tmp_path)
    store = Store(database_of(config))
    try:
        for minutes, number in [(30, "+33611111111"), (20, "+33622222222"), (10, "+33633333333")]:
            store.add_inbound(
                kind="sms",
                received_at=NOW - timedelta(minutes=minutes),
                sender_raw=number,
                sender_ton=0x91,
                sender=number,
                sender_kind="phone",
            )
        add_inbound(store, "call", "+33622222222")  # five minutes ago: the latest
        add_inbound(store, "sms", "+33622222222")
    finally:
        store.close()
    numbers = [row["number"] for row in senders_json(config)]
    assert numbers == ["+33622222222", "+33633333333", "+33611111111"]
    assert [row["number"] for row in senders_json(config, "--limit", "2")] == numbers[:2]
    assert senders_json(config, "--order", "count")[0]["number"] == "+33622222222"


def test_senders_without_json_show_one_line_per_number(tmp_path):
    config = config_for(tmp_path)
    decided(database_of(config), DECIDED)
    store = Store(database_of(config))
    try:
        store.block("+33622222222", None, NOW)
    finally:
        store.close()
    result = run("senders", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert set(lines) == {"+33611111111", "+33622222222", "+33899123456", "+33633333333"}
    assert "2 sms" in lines["+33611111111"] and "1 calls" in lines["+33611111111"]
    assert "replied 1" in lines["+33611111111"] and "duplicate 2" in lines["+33611111111"]
    assert lines["+33622222222"].endswith("blocked 1 BLOCKED")


def test_no_sender_yet_says_so(tmp_path):
    config = fresh(tmp_path)
    assert run("senders", "--config", str(config)).stdout == "no sender yet\n"
    assert senders_json(config) == []


# -- message ------------------------------------------------------------------------------


def message_json(config: Path, *options: str) -> dict:
    result = run("message", "--config", str(config), "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def reply_config(tmp_path: Path, text: str, *, normalize: bool = True) -> Path:
    return write_config(
        tmp_path,
        f"[reply]\ntext = {json.dumps(text)}\ngsm7_normalize = {str(normalize).lower()}\n",
    )


def test_the_default_reply_is_one_gsm7_sms(tmp_path):
    report = message_json(write_config(tmp_path))
    assert report == {
        "text": DEFAULT_REPLY_TEXT,
        "normalized": False,
        "encoding": "gsm7",
        "parts": 1,
        "characters": len(DEFAULT_REPLY_TEXT),
        "forcing_ucs2": [],
    }


def test_message_needs_no_database(tmp_path):
    config = config_for(tmp_path)
    assert run("message", "--config", str(config)).exit_code == 0
    assert not database_of(config).exists()


RSQUO = "\N{RIGHT SINGLE QUOTATION MARK}"
NDASH = "\N{EN DASH}"
TYPOGRAPHIC = f"L{RSQUO}été… « Non », c{RSQUO}est non {NDASH} point."


def test_typography_is_mapped_to_gsm7_when_normalizing(tmp_path):
    report = message_json(reply_config(tmp_path, TYPOGRAPHIC))
    assert report["text"] == "L'été... \"Non\", c'est non - point."
    assert report["normalized"] is True
    assert (report["encoding"], report["parts"], report["forcing_ucs2"]) == ("gsm7", 1, [])


def test_typography_forces_ucs2_without_normalizing(tmp_path):
    report = message_json(reply_config(tmp_path, TYPOGRAPHIC, normalize=False))
    assert report["text"] == TYPOGRAPHIC
    assert report["normalized"] is False
    assert report["encoding"] == "ucs2"
    assert report["forcing_ucs2"] == [RSQUO, "…", "«", "»", NDASH]


def test_normalizing_saves_parts(tmp_path):
    text = f"Je t{RSQUO}ai dit non. " * 6  # 102 characters: one GSM-7 SMS, two in UCS-2
    assert message_json(reply_config(tmp_path, text))["parts"] == 1
    assert message_json(reply_config(tmp_path, text, normalize=False))["parts"] == 2


def test_a_letter_outside_gsm7_forces_ucs2_even_when_normalizing(tmp_path):
    config = reply_config(tmp_path, f"Ça s{RSQUO}arrête là.")
    report = message_json(config)
    assert report["text"] == "Ça s'arrête là."  # the apostrophe is mapped, the ê is kept
    assert (report["encoding"], report["forcing_ucs2"]) == ("ucs2", ["ê"])
    lines = run("message", "--config", str(config)).stdout.splitlines()
    assert "encoding:  ucs2 (15 characters)" in lines
    assert lines[-1].startswith("UCS-2 because of: ê ")


@pytest.mark.parametrize(("length", "parts"), [(160, 1), (161, 2), (306, 2), (307, 3), (1530, 10)])
def test_a_long_gsm7_reply_takes_153_characters_a_part(tmp_path, length, parts):
    report = message_json(write_config(tmp_path), "--text", "a" * length)
    assert (report["encoding"], report["parts"], report["characters"]) == ("gsm7", parts, length)


@pytest.mark.parametrize(("length", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_a_long_ucs2_reply_takes_67_characters_a_part(tmp_path, length, parts):
    report = message_json(write_config(tmp_path), "--text", "ê" * length)
    assert (report["encoding"], report["parts"]) == ("ucs2", parts)


def test_message_without_json_reads_as_labelled_lines(tmp_path):
    config = reply_config(tmp_path, TYPOGRAPHIC)
    result = run("message", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "text:      L'été... \"Non\", c'est non - point.",
        "           (typography mapped to GSM characters: [reply] gsm7_normalize)",
        "encoding:  gsm7 (34 characters)",
        "parts:     1 SMS",
    ]


def test_message_shows_a_hostile_trial_text_escaped(tmp_path):
    result = run("message", "--config", str(write_config(tmp_path)), "--text", f"a{RED}b{RLO}c")
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    assert "text:      a\\x1b[31mb\\u202ec" in result.stdout
    assert "UCS-2 because of: \\x1b \\u202e " in result.stdout


def test_a_trial_text_too_long_for_any_sms_is_one_error_line(tmp_path):
    line = one_error_line(
        run("message", "--config", str(write_config(tmp_path)), "--text", "a" * 50_000)
    )
    assert "255" in line


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
    assert NUL not in output


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


def hostile_lists(config: Path) -> tuple[str, str]:
    """A blocked 'number' and a reason that carry terminal controls; returns both."""
    number, reason = f"+336{RED}1{RLO}23{NUL}45678", f"{RED}plainte{RLO}{NUL}"
    store = Store(database_of(config))
    try:
        store.block(number, reason, NOW)
        store.allow(number, reason, NOW)
    finally:
        store.close()
    return number, reason


def test_lists_show_hostile_numbers_and_reasons_escaped(tmp_path):
    config = config_for(tmp_path)
    hostile_lists(config)
    result = run("lists", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    assert result.stdout.count("+336\\x1b[31m1\\u202e23\\x0045678") == 2
    assert result.stdout.count("\\x1b[31mplainte\\u202e\\x00") == 2


def test_lists_json_keeps_hostile_text_exact_but_not_raw(tmp_path):
    config = config_for(tmp_path)
    number, reason = hostile_lists(config)
    result = run("lists", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    assert listed(config) == {"blocklist": [(number, reason)], "allowlist": [(number, reason)]}


def hostile_sender(config: Path) -> str:
    number = f"+336{RED}1{RLO}23{NUL}45678"
    store = Store(database_of(config))
    try:
        add_inbound(store, "sms", number, text=f"{RED}hello{RLO}{NUL}")
    finally:
        store.close()
    return number


def test_senders_show_a_hostile_number_escaped(tmp_path):
    config = config_for(tmp_path)
    hostile_sender(config)
    result = run("senders", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    assert result.stdout.startswith("+336\\x1b[31m1\\u202e23\\x0045678 ")


def test_senders_json_keeps_a_hostile_number_exact_but_not_raw(tmp_path):
    config = config_for(tmp_path)
    number = hostile_sender(config)
    result = run("senders", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert_nothing_raw(result.output)
    [row] = json.loads(result.stdout)
    assert row["number"] == number


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
