"""The outbox: a due reply leaves once, a refusal is retried a bounded number of times, and
a send that may have gone out is never attempted again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from relouphone.budget import Limits
from relouphone.errors import ModemError, ModemTimeout, SendUncertain
from relouphone.outbox import RETRY_DELAYS, send_due
from relouphone.pdu import EncodedPdu, Submit, decode_pdu, reassemble
from relouphone.store import Store

NOW = datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
NUMBER = "+33612345678"
REPLY = "Ce numéro ne répond pas."


class FakeModem:
    """Records every message it is asked to send; fails the way it is told to."""

    def __init__(self) -> None:
        self.sent: list[list[EncodedPdu]] = []
        self.failures: list[Exception] = []
        self.during_send = None
        self._next_ref = 40

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def send(self, pdus: list[EncodedPdu]) -> list[int]:
        if self.during_send:
            self.during_send()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(list(pdus))
        refs = list(range(self._next_ref, self._next_ref + len(pdus)))
        self._next_ref += len(pdus)
        return refs

    def recipients(self) -> list[str]:
        return [decode_pdu(message[0].hex).recipient.number for message in self.sent]


def refused() -> ModemError:
    return ModemError("+CMS ERROR: 500", kind="CMS", code=500)


@pytest.fixture
def store() -> Iterator[Store]:
    db = Store(None)
    yield db
    db.close()


@pytest.fixture
def modem() -> FakeModem:
    return FakeModem()


def schedule(store: Store, number: str = NUMBER, due_at: datetime = NOW, text=REPLY) -> int:
    inbound_id = store.add_inbound(
        kind="sms",
        received_at=due_at - timedelta(hours=1),
        sender_raw=number,
        sender_ton=1,
        sender=number,
        sender_kind="phone",
        text="allo?",
    )
    return store.add_reply(
        number=number,
        inbound_id=inbound_id,
        text=text,
        created_at=due_at - timedelta(hours=1),
        due_at=due_at,
    )


def reply_row(store: Store, reply_id: int) -> dict:
    return store.db["replies"].get(reply_id)


# -- the ordinary case ---------------------------------------------------------------------


def test_a_due_reply_is_sent_once_and_marked_sent_with_its_references(store, modem):
    reply_id = schedule(store)

    [result] = send_due(store, modem, NOW).results

    assert (result.state, result.refs, result.error) == ("sent", (40,), None)
    assert result.reply_id == reply_id
    [[pdu]] = modem.sent
    submit = decode_pdu(pdu.hex)
    assert isinstance(submit, Submit)
    assert (submit.recipient.number, submit.text) == (NUMBER, REPLY)
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"], row["message_refs"]) == ("sent", 1, "[40]")
    assert row["sent_at"] == "2026-03-08T13:00:00.000000Z"


def test_a_reply_not_yet_due_is_not_sent(store, modem):
    reply_id = schedule(store, due_at=NOW + timedelta(seconds=1))
    assert send_due(store, modem, NOW).results == ()
    assert modem.sent == []
    assert reply_row(store, reply_id)["state"] == "pending"


def test_only_due_replies_leave_and_the_rest_wait_their_turn(store, modem):
    schedule(store, "+33600000001", due_at=NOW - timedelta(minutes=5))
    schedule(store, "+33600000002", due_at=NOW + timedelta(minutes=5))
    schedule(store, "+33600000003", due_at=NOW)
    send_due(store, modem, NOW)
    assert modem.recipients() == ["+33600000001", "+33600000003"]
    send_due(store, modem, NOW + timedelta(minutes=5))
    assert modem.recipients() == ["+33600000001", "+33600000003", "+33600000002"]


def test_send_due_sends_no_more_than_the_per_minute_limit(store, modem):
    for i in range(5):
        schedule(store, f"+3360000000{i}")
    round_ = send_due(store, modem, NOW, Limits(per_minute=2))
    assert (len(round_.results), round_.waiting) == (2, 3)
    assert len(modem.sent) == 2
    assert len(store.due_replies(NOW)) == 3
    assert send_due(store, modem, NOW + timedelta(seconds=30), Limits(per_minute=2)).results == ()
    later = send_due(store, modem, NOW + timedelta(seconds=61), Limits(per_minute=2))
    assert [r.state for r in later.results] == ["sent", "sent"]


def test_a_reply_that_waited_longer_than_max_wait_expires_unsent(store, modem):
    reply_id = schedule(store)
    [result] = send_due(store, modem, NOW + timedelta(days=8)).results
    assert result.state == "expired"
    assert reply_row(store, reply_id)["state"] == "expired"
    assert modem.sent == []


def test_a_reply_blocked_after_it_was_planned_is_not_sent(store, modem):
    reply_id = schedule(store)
    modem.during_send = None
    store.block(NUMBER, "harassment", NOW)
    assert send_due(store, modem, NOW).results == ()
    assert reply_row(store, reply_id)["state"] == "blocked"
    assert modem.sent == []


def test_sending_twice_at_the_same_moment_never_sends_a_reply_twice(store, modem):
    schedule(store, "+33600000001")
    schedule(store, "+33600000002")
    first = send_due(store, modem, NOW).results
    second = send_due(store, modem, NOW).results
    assert [r.state for r in first] == ["sent", "sent"]
    assert second == ()
    assert sorted(modem.recipients()) == ["+33600000001", "+33600000002"]


def test_the_reply_is_marked_sending_and_committed_before_the_modem_is_asked(tmp_path, modem):
    path = tmp_path / "relouphone.db"
    store = Store(path)
    try:
        reply_id = schedule(store)
        seen: list[tuple[str, int]] = []

        def look_from_another_connection() -> None:
            other = sqlite3.connect(path)
            try:
                seen.append(
                    other.execute(
                        "SELECT state, attempts FROM replies WHERE id = ?", (reply_id,)
                    ).fetchone()
                )
            finally:
                other.close()

        modem.during_send = look_from_another_connection
        send_due(store, modem, NOW)
        assert seen == [("sending", 1)]
    finally:
        store.close()


# -- long replies --------------------------------------------------------------------------


def test_a_long_reply_leaves_as_the_parts_of_one_concatenated_message(store, modem):
    text = "Ce numéro ne répond jamais. " * 12  # 336 characters, GSM-7 after all
    reply_id = schedule(store, text=text)

    [result] = send_due(store, modem, NOW).results

    [message] = modem.sent
    parts = [decode_pdu(pdu.hex) for pdu in message]
    assert len(parts) == 3
    assert {p.recipient.number for p in parts} == {NUMBER}
    assert {p.concat.ref for p in parts} == {parts[0].concat.ref}
    assert [(p.concat.total, p.concat.seq) for p in parts] == [(3, 1), (3, 2), (3, 3)]
    assert reassemble((p.concat.seq, p.text) for p in parts) == text
    assert result.refs == (40, 41, 42)
    assert reply_row(store, reply_id)["message_refs"] == "[40, 41, 42]"


def test_a_long_ucs2_reply_reassembles_to_its_text(store, modem):
    text = "Merci de ne plus écrire 🙏 " * 6
    schedule(store, text=text)
    send_due(store, modem, NOW)
    [message] = modem.sent
    parts = [decode_pdu(pdu.hex) for pdu in message]
    assert len(parts) > 1
    assert {p.encoding for p in parts} == {"ucs2"}
    assert reassemble((p.concat.seq, p.text) for p in parts) == text


# -- refusals and doubts -------------------------------------------------------------------


def test_a_refused_reply_goes_back_to_pending_after_the_first_retry_delay(store, modem):
    reply_id = schedule(store)
    modem.fail_next(refused())

    [result] = send_due(store, modem, NOW).results

    assert result.state == "pending"
    assert "500" in result.error
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert "500" in row["error"]
    assert store.next_due_at() == NOW + RETRY_DELAYS[0]
    assert send_due(store, modem, NOW + RETRY_DELAYS[0] - timedelta(seconds=1)).results == ()


def test_a_refused_reply_is_retried_on_schedule_then_failed(store, modem):
    reply_id = schedule(store)
    modem.fail_next(*(refused() for _ in range(len(RETRY_DELAYS) + 1)))
    at = NOW
    for delay in RETRY_DELAYS:
        [result] = send_due(store, modem, at).results
        assert result.state == "pending"
        assert store.next_due_at() == at + delay
        at += delay

    [result] = send_due(store, modem, at).results

    assert result.state == "failed"
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == ("failed", len(RETRY_DELAYS) + 1)
    assert "gave up" in row["error"]
    assert modem.sent == []
    assert send_due(store, modem, at + timedelta(days=1)).results == ()


def test_a_refused_reply_that_later_goes_through_is_sent_once(store, modem):
    reply_id = schedule(store)
    modem.fail_next(refused())
    send_due(store, modem, NOW)
    [result] = send_due(store, modem, NOW + RETRY_DELAYS[0]).results
    assert result.state == "sent"
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"], row["error"]) == ("sent", 2, None)
    assert len(modem.sent) == 1


def test_a_modem_timeout_before_handing_over_is_retried_later(store, modem):
    reply_id = schedule(store)
    modem.fail_next(ModemTimeout("no prompt"))
    [result] = send_due(store, modem, NOW).results
    assert result.state == "pending"
    assert reply_row(store, reply_id)["state"] == "pending"
    assert store.next_due_at() == NOW + RETRY_DELAYS[0]


def test_an_uncertain_send_is_failed_and_never_sent_again(store, modem):
    reply_id = schedule(store)
    modem.fail_next(SendUncertain("no verdict on a sent part"))

    [result] = send_due(store, modem, NOW).results

    assert result.state == "failed"
    row = reply_row(store, reply_id)
    assert row["state"] == "failed"
    assert "not retried" in row["error"]
    assert store.stats()["replies_failed"] == 1
    for later in (NOW, NOW + timedelta(hours=1), NOW + timedelta(days=7)):
        assert send_due(store, modem, later).results == ()
    assert modem.sent == []


def test_one_failing_reply_does_not_hold_back_the_others(store, modem):
    schedule(store, "+33600000001")
    schedule(store, "+33600000002")
    modem.fail_next(SendUncertain("link dropped"))
    results = send_due(store, modem, NOW).results
    assert [r.state for r in results] == ["failed", "sent"]
    assert modem.recipients() == ["+33600000002"]


def cms(code: int) -> ModemError:
    return ModemError(f"+CMS ERROR: {code}", kind="CMS", code=code)


def test_a_refusal_for_good_fails_at_once_with_its_meaning(store, modem):
    reply_id = schedule(store)
    modem.fail_next(cms(1))  # unassigned number: no retry will change that

    [result] = send_due(store, modem, NOW).results

    assert result.state == "failed"
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == ("failed", 1)
    assert "unassigned number" in row["error"]
    assert send_due(store, modem, NOW + timedelta(days=1)).results == ()


def test_no_network_makes_a_reply_wait_without_spending_an_attempt(store, modem):
    reply_id = schedule(store)
    modem.fail_next(*(cms(331) for _ in range(10)))
    at = NOW
    for _ in range(10):
        [result] = send_due(store, modem, at).results
        assert result.state == "pending"
        at += RETRY_DELAYS[0]

    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == ("pending", 0)
    assert "no network service" in row["error"]
    [result] = send_due(store, modem, at).results
    assert result.state == "sent"


def test_the_number_of_attempts_is_configurable(store, modem):
    reply_id = schedule(store)
    modem.fail_next(cms(42), cms(42))  # congestion: passing, but not forever

    send_due(store, modem, NOW, max_attempts=2)
    [result] = send_due(store, modem, NOW + RETRY_DELAYS[0], max_attempts=2).results

    assert result.state == "failed"
    row = reply_row(store, reply_id)
    assert (row["state"], row["attempts"]) == ("failed", 2)
    assert "gave up after 2 attempts" in row["error"]
