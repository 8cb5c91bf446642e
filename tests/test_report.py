"""`relouphone status`: whether the daemon runs, judged by the age of its heartbeat, with
the queue of replies and the last activity, all JSON-ready."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from relouphone.report import STALE_AFTER_SECONDS, status_report
from relouphone.store import Store

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[Store]:
    db = Store(None)
    yield db
    db.close()


def beat(store: Store, seconds_ago: float, modem_state: str = "ready") -> None:
    store.write_heartbeat(
        at=NOW - timedelta(seconds=seconds_ago),
        pid=4242,
        modem_state=modem_state,
        signal=17,
        operator="Orange F",
        detail="registered",
    )


def schedule(store: Store, number: str, due_at: datetime) -> int:
    inbound_id = store.add_inbound(
        kind="sms",
        received_at=NOW - timedelta(minutes=30),
        sender_raw=number,
        sender_ton=1,
        sender=number,
        sender_kind="phone",
    )
    return store.add_reply(
        number=number, inbound_id=inbound_id, text="Non.", created_at=NOW, due_at=due_at
    )


def test_a_database_the_daemon_never_ran_on_says_so(store):
    report = status_report(store, NOW)
    assert report == {
        "daemon": "never ran on this database",
        "daemon_pid": None,
        "heartbeat_at": None,
        "heartbeat_age_seconds": None,
        "modem_state": "unknown",
        "signal": None,
        "operator": None,
        "detail": None,
        "raid_mode": False,
        "replies_pending": 0,
        "next_due_at": None,
        "last_activity": None,
    }


def test_a_fresh_heartbeat_means_running(store):
    beat(store, seconds_ago=12)
    report = status_report(store, NOW)
    assert report["daemon"] == "running (pid 4242, heartbeat 12s ago)"
    assert report["daemon_pid"] == 4242
    assert report["heartbeat_at"] == "2026-03-08T11:59:48.000000Z"
    assert report["heartbeat_age_seconds"] == 12.0
    assert (report["modem_state"], report["signal"], report["operator"], report["detail"]) == (
        "ready",
        17,
        "Orange F",
        "registered",
    )


def test_a_heartbeat_exactly_at_the_limit_still_means_running(store):
    beat(store, seconds_ago=STALE_AFTER_SECONDS)
    assert status_report(store, NOW)["daemon"].startswith("running")


def test_an_old_heartbeat_means_the_daemon_may_be_gone(store):
    beat(store, seconds_ago=STALE_AFTER_SECONDS + 1)
    report = status_report(store, NOW)
    assert report["daemon"] == "not running? last heartbeat 181s ago (pid 4242)"
    assert report["heartbeat_age_seconds"] == STALE_AFTER_SECONDS + 1


def test_a_long_configured_heartbeat_is_not_taken_for_a_stopped_daemon(store):
    beat(store, seconds_ago=500)  # [daemon] heartbeat = "5m": a beat every 300 s
    assert status_report(store, NOW, heartbeat_seconds=300)["daemon"].startswith("running")
    beat(store, seconds_ago=901)
    assert status_report(store, NOW, heartbeat_seconds=300)["daemon"].startswith("not running?")


def test_a_daemon_that_stopped_cleanly_says_stopped_however_recent(store):
    beat(store, seconds_ago=5, modem_state="stopped")
    assert status_report(store, NOW)["daemon"] == "stopped (last heartbeat 5s ago)"
    beat(store, seconds_ago=3600, modem_state="stopped")
    assert status_report(store, NOW)["daemon"] == "stopped (last heartbeat 3600s ago)"


def test_the_queue_counts_pending_and_sending_replies_and_names_the_next_due(store):
    first = schedule(store, "+33600000001", NOW + timedelta(minutes=10))
    schedule(store, "+33600000002", NOW + timedelta(minutes=40))
    sent = schedule(store, "+33600000003", NOW - timedelta(minutes=1))
    store.mark_sent(sent, NOW, [1])
    store.mark_sending(first, NOW)

    report = status_report(store, NOW)

    assert report["replies_pending"] == 2
    assert report["next_due_at"] == "2026-03-08T12:10:00.000000Z"
    assert report["last_activity"] == "2026-03-08T11:30:00.000000Z"


def test_the_report_is_json_ready(store):
    beat(store, seconds_ago=30)
    schedule(store, "+33600000001", NOW)
    report = status_report(store, NOW)
    assert json.loads(json.dumps(report)) == report
