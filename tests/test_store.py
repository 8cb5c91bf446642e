"""The store: the schema migrates by version, every named operation does what it says, and a
database relouphone cannot use is refused with a StoreError that names it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.errors import StoreError
from relouphone.store import MIGRATIONS, Heartbeat, PartRow, Store
from relouphone.timefmt import from_db, to_db

T0 = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
NUMBER = "+33612345678"
OTHER = "+33687654321"
STATS_KEYS = {
    "received_sms",
    "received_calls",
    "senders",
    "replies_sent",
    "replies_pending",
    "replies_failed",
    "quarantined",
    "incomplete",
}


@pytest.fixture
def store() -> Iterator[Store]:
    db = Store(None)
    yield db
    db.close()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def add_sms(store: Store, sender: str | None = NUMBER, at: datetime = T0, **extra) -> int:
    return store.add_inbound(
        kind="sms",
        received_at=at,
        sender_raw=sender or "",
        sender_ton=1,
        sender=sender,
        sender_kind="phone" if sender else "withheld",
        text=extra.pop("text", "hello"),
        **extra,
    )


def add_call(store: Store, sender: str | None = NUMBER, at: datetime = T0) -> int:
    return store.add_inbound(
        kind="call",
        received_at=at,
        sender_raw=sender or "",
        sender_ton=1 if sender else None,
        sender=sender,
        sender_kind="phone" if sender else "withheld",
    )


def add_reply(store: Store, number: str = NUMBER, due_at: datetime = T0, text="Bonjour") -> int:
    inbound_id = add_sms(store, number)
    return store.add_reply(
        number=number, inbound_id=inbound_id, text=text, created_at=T0, due_at=due_at
    )


def reply_row(store: Store, reply_id: int) -> dict:
    return store.db["replies"].get(reply_id)


# -- opening and migrating -----------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_latest_schema():
    store = Store(None)
    try:
        assert store.schema_version == len(MIGRATIONS) == 4
        tables = set(store.db.table_names())
        assert {"inbound", "pdus", "senders", "replies", "heartbeat"} <= tables
    finally:
        store.close()


def test_reopening_a_migrated_database_keeps_its_data_and_version(tmp_path):
    path = tmp_path / "relouphone.db"
    first = Store(path)
    add_sms(first)
    first.close()

    again = Store(path)
    try:
        assert again.schema_version == len(MIGRATIONS)
        assert len(again.inbound()) == 1
    finally:
        again.close()


def old_database(path: Path, version: int, sender: str, kind: str, text: str) -> Path:
    """A database left at schema `version` by an older relouphone, holding one text."""
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:version]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO inbound (kind, received_at, sender_raw, sender_kind, text)"
        " VALUES ('sms', '2026-03-08T12:00:00.000000Z', ?, ?, ?)",
        (sender, kind, text),
    )
    conn.execute(f"PRAGMA user_version={version}")
    conn.commit()
    conn.close()
    return path


def test_a_version_1_database_is_migrated_keeping_its_messages(tmp_path):
    path = old_database(tmp_path / "relouphone.db", 1, "0612345678", "mobile", "ancien")
    store = Store(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        [row] = store.inbound()
        assert (row["text"], row["missing_parts"]) == ("ancien", 0)
    finally:
        store.close()


def test_a_file_database_uses_wal_and_full_synchronous_commits(tmp_path):
    store = Store(tmp_path / "relouphone.db")
    try:
        assert store._scalar("PRAGMA journal_mode") == "wal"
        assert store._scalar("PRAGMA synchronous") == 2  # FULL
        assert store._scalar("PRAGMA foreign_keys") == 1
    finally:
        store.close()


def test_a_write_waits_for_another_process_s_transaction_instead_of_failing(tmp_path):
    # The CLI (relouphone block) writes while the daemon may be in the middle of a commit.
    daemon, cli = Store(tmp_path / "relouphone.db"), Store(tmp_path / "relouphone.db")
    holding = threading.Event()

    def long_transaction() -> None:
        with daemon.atomic():
            add_sms(daemon)
            holding.set()
            time.sleep(0.5)

    writer = threading.Thread(target=long_transaction)
    writer.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        cli.block(NUMBER, "harassment", T0)  # waits, then goes through
        assert time.monotonic() - started >= 0.3
    finally:
        writer.join()
        daemon.close()
    assert cli.is_blocked(NUMBER) and len(cli.inbound()) == 1
    assert cli._scalar("PRAGMA busy_timeout") >= 5000
    cli.close()


def test_the_parent_directory_is_created(tmp_path):
    path = tmp_path / "var" / "lib" / "relouphone.db"
    store = Store(path)
    store.close()
    assert path.exists()


def test_a_database_from_a_newer_relouphone_is_refused(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_a_path_under_a_regular_file_is_refused_naming_the_path(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = blocker / "relouphone.db"
    with pytest.raises(StoreError) as excinfo:
        Store(path)
    assert str(path) in str(excinfo.value)


def test_a_file_that_is_not_a_database_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError) as excinfo:
        Store(path)
    assert str(path) in str(excinfo.value)


def test_a_foreign_database_whose_tables_clash_is_refused_with_a_store_error(tmp_path):
    """Another program's SQLite file, at schema version 0 but with an `inbound` table."""
    path = tmp_path / "foreign.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE inbound (whatever TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as excinfo:
        Store(path)
    assert str(path) in str(excinfo.value)


# -- inbound events and senders ------------------------------------------------------------


def test_a_first_text_creates_the_sender_with_one_sms(store):
    add_sms(store, at=T0)
    [row] = store._rows("SELECT * FROM senders")
    assert row == {
        "number": NUMBER,
        "first_seen": "2026-03-08T12:00:00.000000Z",
        "last_seen": "2026-03-08T12:00:00.000000Z",
        "sms_count": 1,
        "call_count": 0,
    }


def test_texts_and_calls_are_counted_per_sender_with_first_and_last_seen(store):
    add_sms(store, at=T0)
    add_call(store, at=T0 + minutes(5))
    add_sms(store, at=T0 + minutes(10))
    add_sms(store, OTHER, at=T0 + minutes(20))

    rows = {r["number"]: r for r in store._rows("SELECT * FROM senders")}
    assert rows[NUMBER]["sms_count"] == 2
    assert rows[NUMBER]["call_count"] == 1
    assert rows[NUMBER]["first_seen"] == "2026-03-08T12:00:00.000000Z"
    assert rows[NUMBER]["last_seen"] == "2026-03-08T12:10:00.000000Z"
    assert rows[OTHER]["sms_count"] == 1


def test_an_event_without_a_number_is_recorded_but_counts_no_sender(store):
    add_call(store, sender=None)
    assert len(store.inbound()) == 1
    assert store._rows("SELECT * FROM senders") == []


def test_a_sender_without_a_phone_number_is_counted_as_received(store):
    for _ in range(3):
        store.add_inbound(
            kind="sms",
            received_at=T0,
            sender_raw="SFR",
            sender_ton=5,
            sender=None,
            sender_kind="alphanumeric",
            category="alphanumeric",
            text="Votre forfait",
        )
    [row] = store.senders()
    assert (row["number"], row["sms_count"], row["category"]) == ("SFR", 3, "alphanumeric")


def test_a_version_2_database_counts_its_senders_without_a_number_on_migrating(tmp_path):
    path = old_database(tmp_path / "relouphone.db", 2, "36179", "short_code", "promo")
    store = Store(path)
    try:
        [row] = store._rows("SELECT number, sms_count, call_count FROM senders")
        assert row == {"number": "36179", "sms_count": 1, "call_count": 0}
    finally:
        store.close()


def test_a_refused_pin_is_remembered_by_its_fingerprint_until_forgotten(tmp_path):
    path = tmp_path / "relouphone.db"
    first = Store(path)
    first.note_pin_refused("f1ngerpr1nt", T0)
    first.close()

    again = Store(path)
    try:
        assert again.pin_refused_at("f1ngerpr1nt") == T0
        assert again.pin_refused_at("another") is None
        assert again.forget_refused_pins() == 1
        assert again.pin_refused_at("f1ngerpr1nt") is None
    finally:
        again.close()


def test_inbound_lists_newest_first_and_keeps_what_was_given(store):
    sent_at = datetime(2026, 3, 8, 12, 59, 30, tzinfo=timezone(timedelta(hours=1)))
    first = add_sms(store, text="un", encoding="gsm7", sent_at=sent_at)
    second = add_sms(store, text="deux", at=T0 + minutes(1))
    rows = store.inbound()
    assert [r["id"] for r in rows] == [second, first]
    assert rows[1]["text"] == "un"
    assert rows[1]["encoding"] == "gsm7"
    assert datetime.fromisoformat(rows[1]["sent_at"]) == sent_at
    assert store.last_activity() == T0 + minutes(1)


def test_set_decision_stores_the_reason_and_the_reply(store):
    reply_id = add_reply(store)
    inbound_id = store.inbound()[0]["id"]
    store.set_decision(inbound_id, "replied", reply_id)
    row = store.inbound()[0]
    assert (row["decision"], row["reply_id"]) == ("replied", reply_id)


def test_decisions_count_how_granted_replies_turned_out(store):
    replies = [add_reply(store, f"+3360000000{n}", due_at=T0 + minutes(n)) for n in range(4)]
    for inbound, reply_id in zip(reversed(store.inbound()), replies, strict=True):
        store.set_decision(inbound["id"], "replied", reply_id)
    store.set_decision(add_sms(store, OTHER), "duplicate")
    store.mark_expired(replies[0], T0 + minutes(10))
    store.block("+33600000001", "harassment", T0)
    # replies[2], due at T0 + 2 min, still pending half a minute later: held by the limits.

    assert store.decisions(T0 + minutes(2.5)) == {
        "blocked": 1,
        "deferred": 1,
        "duplicate": 1,
        "expired": 1,
        "replied": 1,
    }
    assert store.decisions()["replied"] == 2  # without a `now`, nothing is called deferred
    assert {row["decision"] for row in store.inbound()} == {"replied", "duplicate"}


def test_each_attempt_of_a_retried_reply_counts_for_the_limits(store):
    reply_id = add_reply(store)
    assert store.mark_sending(reply_id, T0)
    store.retry_later(reply_id, T0, T0 + minutes(0.5), "+CMS ERROR: 42")  # back in line
    assert store.usage(T0, 31 * 86400)[:2] == (1, 1)  # still handed to the modem once
    assert store.mark_sending(reply_id, T0 + minutes(0.5))
    store.mark_sent(reply_id, T0 + minutes(0.5), [7])
    minute, day, recipients, bursts = store.usage(T0 + minutes(0.5), 31 * 86400)
    assert (minute, day, recipients, bursts) == (2, 2, frozenset({NUMBER}), 0)


def test_an_empty_database_has_no_last_activity(store):
    assert store.last_activity() is None


# -- replies -------------------------------------------------------------------------------


def test_has_reply_is_true_once_a_reply_exists_for_the_number(store):
    assert not store.has_reply(NUMBER)
    add_reply(store)
    assert store.has_reply(NUMBER)
    assert not store.has_reply(OTHER)


def test_has_reply_stays_true_whatever_became_of_the_reply(store):
    reply_id = add_reply(store)
    store.mark_failed(reply_id, T0, "refused")
    assert store.has_reply(NUMBER)


def test_due_replies_are_the_pending_ones_whose_time_has_come_oldest_first(store):
    late = add_reply(store, "+33600000001", due_at=T0 + minutes(30))
    early = add_reply(store, "+33600000002", due_at=T0 + minutes(10))
    future = add_reply(store, "+33600000003", due_at=T0 + minutes(90))
    exactly_now = add_reply(store, "+33600000004", due_at=T0 + minutes(60))

    due = store.due_replies(T0 + minutes(60))
    assert [r.id for r in due] == [early, late, exactly_now]
    assert future not in [r.id for r in due]
    assert due[0].number == "+33600000002"
    assert due[0].due_at == T0 + minutes(10)
    assert (due[0].state, due[0].attempts, due[0].text) == ("pending", 0, "Bonjour")


def test_due_replies_with_the_same_due_time_come_in_creation_order(store):
    ids = [add_reply(store, f"+3360000000{i}") for i in range(4)]
    assert [r.id for r in store.due_replies(T0)] == ids


def test_due_replies_respects_the_limit(store):
    ids = [add_reply(store, f"+3360000000{i}", due_at=T0 + minutes(i)) for i in range(5)]
    assert [r.id for r in store.due_replies(T0 + minutes(10), limit=2)] == ids[:2]


def test_due_replies_leave_out_replies_that_are_not_pending(store):
    sending = add_reply(store, "+33600000001")
    sent = add_reply(store, "+33600000002")
    failed = add_reply(store, "+33600000003")
    store.mark_sending(sending, T0)
    store.mark_sent(sent, T0, [1])
    store.mark_failed(failed, T0, "refused")
    assert store.due_replies(T0 + minutes(60)) == []


def test_next_due_at_is_the_earliest_pending_due_time(store):
    assert store.next_due_at() is None
    add_reply(store, "+33600000001", due_at=T0 + minutes(30))
    first = add_reply(store, "+33600000002", due_at=T0 + minutes(10))
    assert store.next_due_at() == T0 + minutes(10)
    store.mark_sent(first, T0, [1])
    assert store.next_due_at() == T0 + minutes(30)


def test_mark_sending_moves_a_pending_reply_and_counts_the_attempt(store):
    reply_id = add_reply(store)
    store.mark_sending(reply_id, T0 + minutes(1))
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == ("sending", 1)
    assert row["updated_at"] == "2026-03-08T12:01:00.000000Z"


@pytest.mark.parametrize("settle", ["sent", "failed", "sending"])
def test_mark_sending_only_moves_pending_replies(store, settle):
    reply_id = add_reply(store)
    store.mark_sending(reply_id, T0)
    if settle == "sent":
        store.mark_sent(reply_id, T0, [7])
    elif settle == "failed":
        store.mark_failed(reply_id, T0, "refused")
    store.mark_sending(reply_id, T0 + minutes(1))
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == (settle, 1)


def test_mark_sent_stores_the_time_and_the_message_references(store):
    reply_id = add_reply(store)
    store.mark_sending(reply_id, T0)
    store.mark_sent(reply_id, T0 + minutes(2), [41, 42])
    row = reply_row(store, reply_id)
    assert row["state"] == "sent"
    assert row["sent_at"] == "2026-03-08T12:02:00.000000Z"
    assert json.loads(row["message_refs"]) == [41, 42]
    assert row["error"] is None
    assert [r["id"] for r in store.sent_replies()] == [reply_id]


def test_retry_later_puts_the_reply_back_to_pending_at_a_later_time(store):
    reply_id = add_reply(store)
    store.mark_sending(reply_id, T0)
    store.retry_later(reply_id, T0, T0 + minutes(5), "+CMS ERROR: 500")
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"], row["error"]) == ("pending", 1, "+CMS ERROR: 500")
    assert store.due_replies(T0 + minutes(4)) == []
    assert [r.id for r in store.due_replies(T0 + minutes(5))] == [reply_id]


def test_pending_replies_include_those_being_sent(store):
    pending = add_reply(store, "+33600000001")
    sending = add_reply(store, "+33600000002")
    sent = add_reply(store, "+33600000003")
    store.mark_sending(sending, T0)
    store.mark_sent(sent, T0, [1])
    assert [r.id for r in store.pending_replies()] == [pending, sending]


def test_interrupted_sends_are_settled_as_failed_and_never_due_again(store):
    interrupted = add_reply(store, "+33600000001")
    untouched = add_reply(store, "+33600000002")
    store.mark_sending(interrupted, T0)

    assert store.settle_interrupted_sends(T0 + minutes(1)) == [interrupted]

    row = reply_row(store, interrupted)
    assert row["state"] == "failed"
    assert "at most once" in row["error"]
    assert reply_row(store, untouched)["state"] == "pending"
    assert [r.id for r in store.due_replies(T0 + minutes(60))] == [untouched]
    assert store.settle_interrupted_sends(T0 + minutes(2)) == []


def test_a_sending_mark_survives_a_crash_and_is_settled_on_reopening(tmp_path):
    path = tmp_path / "relouphone.db"
    before = Store(path)
    reply_id = add_reply(before)
    before.mark_sending(reply_id, T0)
    before.close()  # the daemon dies while the modem is sending

    after = Store(path)
    try:
        assert after.settle_interrupted_sends(T0 + minutes(1)) == [reply_id]
        assert after.due_replies(T0 + minutes(60)) == []
    finally:
        after.close()


# -- statistics ----------------------------------------------------------------------------


def test_stats_of_an_empty_database_are_all_zero_under_the_public_keys(store):
    assert store.stats() == dict.fromkeys(STATS_KEYS, 0)


def test_stats_count_events_senders_replies_and_quarantine(store):
    add_sms(store, NUMBER)
    add_sms(store, NUMBER)
    add_call(store, OTHER)
    add_call(store, None)
    sent = add_reply(store, "+33600000001")  # one more sms and sender each
    sending = add_reply(store, "+33600000002")
    add_reply(store, "+33600000003")
    failed = add_reply(store, "+33600000004")
    store.mark_sent(sent, T0, [1])
    store.mark_sending(sending, T0)
    store.mark_failed(failed, T0, "refused")
    store.add_pdu(read_at=T0, storage="SM", slot=1, pdu="00zz", kind="undecodable", error="bad")

    assert store.stats() == {
        "received_sms": 6,
        "received_calls": 2,
        "senders": 6,
        "replies_sent": 1,
        "replies_pending": 2,
        "replies_failed": 1,
        "quarantined": 1,
        "incomplete": 0,
    }


# -- heartbeat -----------------------------------------------------------------------------


def test_there_is_no_heartbeat_before_the_daemon_writes_one(store):
    assert store.heartbeat() is None


def test_a_heartbeat_reads_back_as_written_with_the_last_activity(store):
    add_sms(store, at=T0 - minutes(3))
    store.write_heartbeat(
        at=T0, pid=4242, modem_state="ready", signal=17, operator="Orange F", detail="ok"
    )
    assert store.heartbeat() == Heartbeat(
        updated_at=T0,
        pid=4242,
        modem_state="ready",
        signal=17,
        operator="Orange F",
        last_activity=T0 - minutes(3),
        detail="ok",
    )


def test_a_new_heartbeat_replaces_the_previous_one(store):
    store.write_heartbeat(at=T0, pid=1, modem_state="ready", signal=17, operator="Orange F")
    store.write_heartbeat(at=T0 + minutes(1), pid=2, modem_state="searching")
    beat = store.heartbeat()
    assert (beat.updated_at, beat.pid, beat.modem_state) == (T0 + minutes(1), 2, "searching")
    assert (beat.signal, beat.operator, beat.last_activity) == (None, None, None)
    assert store._scalar("SELECT count(*) FROM heartbeat") == 1


# -- raw PDUs ------------------------------------------------------------------------------


def add_pdu(store: Store, slot: int = 1, pdu: str = "0791AB", **extra) -> int:
    return store.add_pdu(read_at=T0, storage="SM", slot=slot, pdu=pdu, kind="deliver", **extra)


def test_a_stored_pdu_is_still_on_the_modem_until_its_deletion_is_confirmed(store):
    pdu_id = add_pdu(store, slot=3, pdu="07AA")
    assert store.pdu_still_on_modem("SM", 3, "07AA") == pdu_id
    assert store.slots_awaiting_deletion() == [(pdu_id, "SM", 3, "07AA")]

    store.mark_pdus_deleted([pdu_id])

    assert store.pdu_still_on_modem("SM", 3, "07AA") is None
    assert store.slots_awaiting_deletion() == []


def test_only_the_same_pdu_in_the_same_slot_and_storage_is_still_on_the_modem(store):
    add_pdu(store, slot=3, pdu="07AA")
    assert store.pdu_still_on_modem("SM", 4, "07AA") is None
    assert store.pdu_still_on_modem("ME", 3, "07AA") is None
    assert store.pdu_still_on_modem("SM", 3, "07AB") is None


def test_slots_awaiting_deletion_lists_every_undeleted_pdu(store):
    a = add_pdu(store, slot=1)
    b = add_pdu(store, slot=2)
    c = add_pdu(store, slot=3)
    store.mark_pdus_deleted([b])
    assert sorted(store.slots_awaiting_deletion()) == [
        (a, "SM", 1, "0791AB"),
        (c, "SM", 3, "0791AB"),
    ]


def test_waiting_parts_returns_the_first_arrival_of_each_part_in_order(store):
    concat = "+33612345678"
    p2 = add_pdu(store, slot=1, pdu="P2", sender_raw=concat, concat=(7, 3, 2), text="b")
    p1 = add_pdu(store, slot=2, pdu="P1", sender_raw=concat, concat=(7, 3, 1), text="a")
    add_pdu(store, slot=3, pdu="P2bis", sender_raw=concat, concat=(7, 3, 2), text="B")
    add_pdu(store, slot=4, pdu="X", sender_raw=concat, concat=(8, 3, 3), text="other ref")
    add_pdu(store, slot=5, pdu="Y", sender_raw="+33600000000", concat=(7, 3, 3), text="other")

    assert store.waiting_parts(concat, 7, 3) == [
        PartRow(pdu_id=p1, seq=1, text="a", pdu="P1"),
        PartRow(pdu_id=p2, seq=2, text="b", pdu="P2"),
    ]


def test_linked_parts_are_no_longer_waiting(store):
    ids = [
        add_pdu(store, slot=seq, sender_raw=NUMBER, concat=(9, 2, seq), text=str(seq))
        for seq in (1, 2)
    ]
    inbound_id = add_sms(store)
    store.link_pdus(ids, inbound_id)
    assert store.waiting_parts(NUMBER, 9, 2) == []
    linked = store._rows("SELECT inbound_id FROM pdus ORDER BY id")
    assert [r["inbound_id"] for r in linked] == [inbound_id, inbound_id]


def test_quarantine_lists_undecodable_pdus_newest_first_with_their_error(store):
    add_pdu(store, slot=1)
    first = store.add_pdu(
        read_at=T0, storage="SM", slot=2, pdu="00zz", kind="undecodable", error="not hex"
    )
    second = store.add_pdu(
        read_at=T0, storage="SM", slot=3, pdu="0791", kind="undecodable", error="truncated"
    )
    rows = store.quarantine()
    assert [(r["id"], r["pdu"], r["error"]) for r in rows] == [
        (second, "0791", "truncated"),
        (first, "00zz", "not hex"),
    ]
    assert [r["id"] for r in store.quarantine(limit=1)] == [second]


# -- transactions --------------------------------------------------------------------------


def test_atomic_rolls_everything_back_when_the_block_fails(store):
    with pytest.raises(RuntimeError), store.atomic():
        add_sms(store)
        raise RuntimeError("crash before the commit")
    assert store.inbound() == []
    assert store._rows("SELECT * FROM senders") == []


def test_an_sql_error_inside_atomic_is_a_store_error(store):
    with pytest.raises(StoreError), store.atomic():
        store.db.execute("INSERT INTO no_such_table VALUES (1)")


# -- instants as text ------------------------------------------------------------------------


def test_an_instant_is_written_in_utc_with_fixed_width():
    paris = timezone(timedelta(hours=1))
    assert to_db(datetime(2026, 3, 8, 13, 0, tzinfo=paris)) == "2026-03-08T12:00:00.000000Z"
    assert to_db(datetime(2026, 3, 8, 12, 0, 0, 5, tzinfo=UTC)) == "2026-03-08T12:00:00.000005Z"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 3, 8, 12, 0))


def test_storing_a_naive_datetime_is_refused(store):
    with pytest.raises(ValueError):
        add_sms(store, at=datetime(2026, 3, 8, 12, 0))


instants = st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5))]),
)


@given(instants)
def test_an_instant_reads_back_as_the_same_instant_in_utc(moment):
    back = from_db(to_db(moment))
    assert back == moment
    assert back.tzinfo == UTC


@given(instants, instants)
def test_instants_as_text_sort_like_the_instants(a, b):
    assert (to_db(a) < to_db(b)) == (a < b)
