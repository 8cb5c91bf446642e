"""The database: every inbound event, sender and reply, and the only module that speaks SQL.

SQLite through sqlite-utils, in WAL mode with `synchronous=FULL`: a message the daemon
has committed survives a power cut, which is what allows it to delete the message from the
SIM afterwards. The schema is versioned with `PRAGMA user_version` and migrated on open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import StoreError
from .timefmt import from_db, to_db

__all__ = ["Heartbeat", "PartRow", "Reply", "Store"]

BUSY_TIMEOUT_SECONDS = 10.0

# Each entry migrates the schema from version N to N+1; never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE inbound (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('sms', 'call')),
        received_at TEXT NOT NULL,
        sender_raw TEXT NOT NULL,
        sender_ton INTEGER,
        sender TEXT,
        sender_kind TEXT NOT NULL,
        category TEXT,
        text TEXT,
        truncated INTEGER NOT NULL DEFAULT 0,
        encoding TEXT,
        sent_at TEXT,
        parts INTEGER NOT NULL DEFAULT 1,
        decision TEXT,
        label TEXT,
        raid INTEGER NOT NULL DEFAULT 0,
        reply_id INTEGER REFERENCES replies(id)
    );
    CREATE INDEX inbound_sender ON inbound(sender, received_at);
    CREATE INDEX inbound_received ON inbound(received_at);

    CREATE TABLE pdus (
        id INTEGER PRIMARY KEY,
        read_at TEXT NOT NULL,
        storage TEXT,
        slot INTEGER,
        pdu TEXT NOT NULL,
        kind TEXT NOT NULL,
        on_modem INTEGER NOT NULL DEFAULT 1,
        inbound_id INTEGER REFERENCES inbound(id),
        sender_raw TEXT,
        concat_ref INTEGER,
        concat_total INTEGER,
        concat_seq INTEGER,
        text TEXT,
        error TEXT
    );
    CREATE INDEX pdus_on_modem ON pdus(storage, slot) WHERE on_modem = 1;
    CREATE INDEX pdus_waiting_parts ON pdus(sender_raw, concat_ref, concat_total)
        WHERE inbound_id IS NULL AND concat_total IS NOT NULL;

    CREATE TABLE senders (
        number TEXT PRIMARY KEY,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        sms_count INTEGER NOT NULL DEFAULT 0,
        call_count INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE replies (
        id INTEGER PRIMARY KEY,
        number TEXT NOT NULL,
        inbound_id INTEGER NOT NULL REFERENCES inbound(id),
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        due_at TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'expired', 'blocked')),
        priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'burst')),
        attempts INTEGER NOT NULL DEFAULT 0,
        attempted_at TEXT,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        message_refs TEXT,
        error TEXT
    );
    CREATE INDEX replies_state_due ON replies(state, due_at);
    CREATE INDEX replies_number ON replies(number, state);
    CREATE INDEX replies_attempted ON replies(attempted_at) WHERE attempted_at IS NOT NULL;

    CREATE TABLE blocklist (
        number TEXT PRIMARY KEY,
        reason TEXT,
        created_at TEXT NOT NULL
    );

    CREATE TABLE allowlist (
        number TEXT PRIMARY KEY,
        reason TEXT,
        created_at TEXT NOT NULL
    );

    CREATE TABLE raids (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        ended_at TEXT
    );

    CREATE TABLE heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        updated_at TEXT NOT NULL,
        pid INTEGER,
        modem_state TEXT,
        signal INTEGER,
        operator TEXT,
        last_activity TEXT,
        raid INTEGER NOT NULL DEFAULT 0,
        detail TEXT
    );
    """,
    # 2: a long text whose parts never all arrived is recorded as it is, after a timeout.
    """
    ALTER TABLE inbound ADD COLUMN missing_parts INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX pdus_parts ON pdus(sender_raw, concat_ref, concat_total)
        WHERE concat_total IS NOT NULL;
    """,
    # 3: senders without a phone number (short codes, names) are counted too, as received;
    # a PIN the SIM refused is remembered, so that no restart spends another attempt on it.
    """
    CREATE INDEX inbound_sender_raw ON inbound(sender_raw) WHERE sender IS NULL;
    INSERT OR IGNORE INTO senders (number, first_seen, last_seen, sms_count, call_count)
        SELECT sender_raw, min(received_at), max(received_at),
               sum(kind = 'sms'), sum(kind = 'call')
        FROM inbound WHERE sender IS NULL AND sender_raw != '' GROUP BY sender_raw;
    CREATE TABLE refused_pins (
        fingerprint TEXT PRIMARY KEY,
        refused_at TEXT NOT NULL
    );
    """,
    # 4: every time a reply is handed to the modem, for the limits: a reply the network
    # refused for a passing reason and retried was handed over twice, and counts twice.
    """
    CREATE TABLE send_attempts (
        id INTEGER PRIMARY KEY,
        reply_id INTEGER NOT NULL REFERENCES replies(id),
        number TEXT NOT NULL,
        priority TEXT NOT NULL,
        attempted_at TEXT NOT NULL
    );
    CREATE INDEX send_attempts_time ON send_attempts(attempted_at);
    INSERT INTO send_attempts (reply_id, number, priority, attempted_at)
        SELECT id, number, priority, attempted_at FROM replies WHERE attempted_at IS NOT NULL;
    """,
)


# The inbound events of the sender `s.number`: its normalised number or, lacking one, the
# address as received (see record_inbound).
_FROM_SENDER = "(sender = s.number OR (sender IS NULL AND sender_raw = s.number))"


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    number: str
    text: str
    due_at: datetime
    state: str
    attempts: int


@dataclass(frozen=True, slots=True)
class PartRow:
    pdu_id: int
    seq: int
    text: str | None
    pdu: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    updated_at: datetime
    pid: int | None
    modem_state: str | None
    signal: int | None
    operator: str | None
    last_activity: datetime | None
    detail: str | None
    raid: bool = False


class Store:
    """Named operations over the relouphone database."""

    def __init__(self, path: str | Path | None = None) -> None:
        """Open (creating and migrating if needed) the database at `path`; None means memory."""
        target = ":memory:" if path is None else str(path)
        self.path = target
        conn: sqlite3.Connection | None = None
        try:
            if path is not None:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # One connection, used by one thread at a time; the daemon's loop owns it.
            conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self._configure(in_memory=path is None)
            self._migrate()
        except (sqlite3.Error, OSError, StoreError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{target}: cannot open the database: {exc}") from exc

    def _configure(self, *, in_memory: bool) -> None:
        if not in_memory:
            self.db.enable_wal()
        # FULL: a commit is on the SD card before we tell the modem to delete the message.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")

    def _migrate(self) -> None:
        version = self._scalar("PRAGMA user_version")
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: database schema version {version} is newer than this relouphone "
                f"understands ({len(MIGRATIONS)}): upgrade relouphone"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.atomic():
                for statement in _statements(script):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")

    def close(self) -> None:
        self.db.close()

    @property
    def schema_version(self) -> int:
        return self._scalar("PRAGMA user_version")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction: everything inside commits together or not at all."""
        try:
            with self.db.atomic():
                yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    def _insert(self, sql: str, params: Sequence[Any]) -> int:
        cursor = self.db.execute(sql, params)
        return int(cursor.lastrowid)

    # -- raw PDUs read from the modem ------------------------------------------------------

    def pdu_still_on_modem(self, storage: str, slot: int, pdu: str) -> int | None:
        """The row of a PDU we stored but whose deletion from the modem was never confirmed.

        Reading it again (after a crash between commit and delete) is a re-read, not a new
        message: identical texts from a flooder arrive as distinct reads and are all kept.
        """
        return self._scalar(
            "SELECT id FROM pdus WHERE on_modem = 1 AND storage = ? AND slot = ? AND pdu = ?",
            (storage, slot, pdu),
        )

    def add_pdu(
        self,
        *,
        read_at: datetime,
        storage: str | None,
        slot: int | None,
        pdu: str,
        kind: str,
        sender_raw: str | None = None,
        concat: tuple[int, int, int] | None = None,
        text: str | None = None,
        error: str | None = None,
    ) -> int:
        ref, total, seq = concat if concat else (None, None, None)
        return self._insert(
            "INSERT INTO pdus (read_at, storage, slot, pdu, kind, sender_raw, concat_ref,"
            " concat_total, concat_seq, text, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (to_db(read_at), storage, slot, pdu, kind, sender_raw, ref, total, seq, text, error),
        )

    def mark_pdus_deleted(self, pdu_ids: Sequence[int]) -> None:
        """The modem confirmed it deleted these messages."""
        self.db.execute(
            f"UPDATE pdus SET on_modem = 0 WHERE id IN ({','.join('?' * len(pdu_ids))})",
            list(pdu_ids),
        )

    def slots_awaiting_deletion(self) -> list[tuple[int, str, int, str]]:
        """(pdu id, storage, slot, pdu) of committed messages the modem may still hold."""
        rows = self._rows("SELECT id, storage, slot, pdu FROM pdus WHERE on_modem = 1")
        return [(r["id"], r["storage"], r["slot"], r["pdu"]) for r in rows]

    def waiting_parts(self, sender_raw: str, ref: int, total: int) -> list[PartRow]:
        """Parts of one concatenated message not yet assembled, first arrival per sequence."""
        rows = self._rows(
            "SELECT id, concat_seq, text, pdu FROM pdus WHERE inbound_id IS NULL"
            " AND sender_raw = ? AND concat_ref = ? AND concat_total = ? AND error IS NULL"
            " ORDER BY id",
            (sender_raw, ref, total),
        )
        first: dict[int, PartRow] = {}
        for r in rows:
            first.setdefault(
                r["concat_seq"], PartRow(r["id"], r["concat_seq"], r["text"], r["pdu"])
            )
        return sorted(first.values(), key=lambda p: p.seq)

    def link_waiting_parts(self, sender_raw: str, ref: int, total: int, inbound_id: int) -> None:
        """Attach every waiting part of a message, duplicates too, to the assembled message.

        A duplicate left waiting would otherwise complete a later message that reuses the
        same reference (8-bit references wrap around).
        """
        self.db.execute(
            "UPDATE pdus SET inbound_id = ? WHERE inbound_id IS NULL AND sender_raw = ?"
            " AND concat_ref = ? AND concat_total = ? AND error IS NULL",
            (inbound_id, sender_raw, ref, total),
        )

    def stale_part_groups(self, arrived_before: datetime) -> list[tuple[str, int, int, datetime]]:
        """Concatenated messages still missing parts, first part older than the cut-off:
        (sender as received, reference, total, when the first part was read)."""
        rows = self._rows(
            "SELECT sender_raw, concat_ref, concat_total, min(read_at) AS first FROM pdus"
            " WHERE inbound_id IS NULL AND concat_total IS NOT NULL AND error IS NULL"
            " GROUP BY sender_raw, concat_ref, concat_total HAVING min(read_at) <= ?",
            (to_db(arrived_before),),
        )
        return [
            (r["sender_raw"], r["concat_ref"], r["concat_total"], from_db(r["first"])) for r in rows
        ]

    def incomplete_message(
        self, sender_raw: str, ref: int, total: int, since: datetime
    ) -> int | None:
        """The message recorded without all its parts that a late part belongs to."""
        return self._scalar(
            "SELECT inbound.id FROM pdus JOIN inbound ON inbound.id = pdus.inbound_id"
            " WHERE pdus.sender_raw = ? AND pdus.concat_ref = ? AND pdus.concat_total = ?"
            " AND inbound.missing_parts > 0 AND inbound.received_at >= ?"
            " ORDER BY inbound.id DESC LIMIT 1",
            (sender_raw, ref, total, to_db(since)),
        )

    def parts_of(self, inbound_id: int) -> list[PartRow]:
        rows = self._rows(
            "SELECT id, concat_seq, text, pdu FROM pdus WHERE inbound_id = ? ORDER BY id",
            (inbound_id,),
        )
        return [PartRow(r["id"], r["concat_seq"], r["text"], r["pdu"]) for r in rows]

    def update_message_text(
        self, inbound_id: int, *, text: str | None, truncated: bool, parts: int, missing: int
    ) -> None:
        """A late part completed (or filled in) a message recorded without it."""
        self.db.execute(
            "UPDATE inbound SET text = ?, truncated = ?, parts = ?, missing_parts = ? WHERE id = ?",
            (text, int(truncated), parts, missing, inbound_id),
        )

    def link_pdus(self, pdu_ids: Sequence[int], inbound_id: int) -> None:
        self.db.execute(
            f"UPDATE pdus SET inbound_id = ? WHERE id IN ({','.join('?' * len(pdu_ids))})",
            [inbound_id, *pdu_ids],
        )

    def quarantine(self, limit: int = 100) -> list[dict[str, Any]]:
        """PDUs that could not be decoded, newest first."""
        return self._rows(
            "SELECT id, read_at, storage, slot, pdu, error FROM pdus WHERE error IS NOT NULL"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )

    # -- inbound events and senders --------------------------------------------------------

    def add_inbound(
        self,
        *,
        kind: str,
        received_at: datetime,
        sender_raw: str,
        sender_ton: int | None,
        sender: str | None,
        sender_kind: str,
        category: str | None = None,
        text: str | None = None,
        truncated: bool = False,
        encoding: str | None = None,
        sent_at: datetime | None = None,
        parts: int = 1,
        label: str | None = None,
        raid: bool = False,
        missing_parts: int = 0,
    ) -> int:
        inbound_id = self._insert(
            "INSERT INTO inbound (kind, received_at, sender_raw, sender_ton, sender, sender_kind,"
            " category, text, truncated, encoding, sent_at, parts, label, raid, missing_parts)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                kind,
                to_db(received_at),
                sender_raw,
                sender_ton,
                sender,
                sender_kind,
                category,
                text,
                int(truncated),
                encoding,
                to_db(sent_at) if sent_at else None,
                parts,
                label,
                int(raid),
                missing_parts,
            ),
        )
        # A sender without a phone number (a short code, a name) is counted as received.
        if sender or sender_raw:
            self._count_sender(sender or sender_raw, kind, received_at)
        return inbound_id

    def _count_sender(self, number: str, kind: str, at: datetime) -> None:
        column = "sms_count" if kind == "sms" else "call_count"
        self.db.execute(
            f"INSERT INTO senders (number, first_seen, last_seen, {column}) VALUES (?, ?, ?, 1)"
            f" ON CONFLICT(number) DO UPDATE SET last_seen = excluded.last_seen,"
            f" {column} = {column} + 1",
            (number, to_db(at), to_db(at)),
        )

    def set_decision(self, inbound_id: int, decision: str, reply_id: int | None = None) -> None:
        self.db.execute(
            "UPDATE inbound SET decision = ?, reply_id = ? WHERE id = ?",
            (decision, reply_id, inbound_id),
        )

    def inbound(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest inbound events, newest first."""
        return self._rows("SELECT * FROM inbound ORDER BY id DESC LIMIT ?", (limit,))

    def last_activity(self) -> datetime | None:
        value = self._scalar("SELECT max(received_at) FROM inbound")
        return from_db(value) if value else None

    # -- replies ---------------------------------------------------------------------------

    def has_reply(self, number: str) -> bool:
        """Whether this number has a reply that counts (see `last_reply_at`)."""
        return self.last_reply_at(number) is not None

    def last_reply_at(self, number: str) -> datetime | None:
        """When the latest reply that counts for this number was granted or, later, sent.

        The later of the two: a reply that waited days for the budget starts the cooldown
        when it leaves, not when it was granted.

        Pending, sending and sent replies count, and failed ones too: a failure may have
        left the modem anyway, or was refused again and again. Expired and blocked
        replies never left, so they do not.
        """
        value = self._scalar(
            "SELECT max(max(created_at, coalesce(attempted_at, created_at))) FROM replies"
            " WHERE number = ? AND state IN ('pending', 'sending', 'sent', 'failed')",
            (number,),
        )
        return from_db(value) if value else None

    def number_history(self, number: str, since: datetime) -> dict[str, Any]:
        """All the policy needs to know about a number, in one query (see `last_reply_at`)."""
        row = self.db.execute(
            "SELECT"
            " (SELECT max(max(created_at, coalesce(attempted_at, created_at))) FROM replies"
            "   WHERE number = :n AND state IN ('pending', 'sending', 'sent', 'failed')),"
            " EXISTS (SELECT 1 FROM replies WHERE number = :n"
            "   AND state IN ('pending', 'sending')),"
            " (SELECT count(*) FROM inbound WHERE sender = :n AND received_at > :since),"
            " EXISTS (SELECT 1 FROM blocklist WHERE number = :n),"
            " EXISTS (SELECT 1 FROM allowlist WHERE number = :n)",
            {"n": number, "since": to_db(since)},
        ).fetchone()
        last, pending, recent, blocked, allowed = row
        return {
            "last_reply_at": from_db(last) if last else None,
            "reply_pending": bool(pending),
            "recent_events": recent,
            "blocked": bool(blocked),
            "allowed": bool(allowed),
        }

    def reply_pending(self, number: str) -> bool:
        """Whether a reply to this number is waiting to leave, or leaving."""
        found = self._scalar(
            "SELECT 1 FROM replies WHERE number = ? AND state IN ('pending', 'sending') LIMIT 1",
            (number,),
        )
        return found is not None

    def recent_events(self, number: str, since: datetime) -> int:
        """Inbound texts and calls from this number received after `since`."""
        return self._scalar(
            "SELECT count(*) FROM inbound WHERE sender = ? AND received_at > ?",
            (number, to_db(since)),
        )

    def recent_inbound_times(self, since: datetime) -> list[datetime]:
        """Arrival times after `since`, oldest first: raid detection resumes from them."""
        rows = self.db.execute(
            "SELECT received_at FROM inbound WHERE received_at > ? ORDER BY received_at",
            (to_db(since),),
        )
        return [from_db(r[0]) for r in rows]

    def add_reply(
        self,
        *,
        number: str,
        inbound_id: int,
        text: str,
        created_at: datetime,
        due_at: datetime,
        priority: str = "normal",
    ) -> int:
        return self._insert(
            "INSERT INTO replies (number, inbound_id, text, created_at, due_at, state, priority,"
            " updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                number,
                inbound_id,
                text,
                to_db(created_at),
                to_db(due_at),
                priority,
                to_db(created_at),
            ),
        )

    def demote_pending(self, number: str, at: datetime) -> None:
        """A number turned out to flood: its waiting reply goes after everyone else's."""
        self.db.execute(
            "UPDATE replies SET priority = 'burst', updated_at = ? WHERE number = ?"
            " AND state = 'pending' AND priority = 'normal'",
            (to_db(at), number),
        )

    def demote_granted_since(self, since: datetime, at: datetime) -> int:
        """Replies granted since `since` and still waiting go after everyone else's.

        A raid is recognised only once its rate is measured: the numbers that started it
        were granted normal replies in the minute before. Returns how many were demoted.
        """
        cursor = self.db.execute(
            "UPDATE replies SET priority = 'burst', updated_at = ? WHERE state = 'pending'"
            " AND priority = 'normal' AND created_at >= ?",
            (to_db(at), to_db(since)),
        )
        return cursor.rowcount

    def due_candidates(self, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Pending replies that are due, with what the budget needs to rank them.

        Normal replies first: a raid's thousands of burst replies must not push a real
        sender's reply past the limit of this query.
        """
        return self._rows(
            "SELECT id, number, created_at, due_at, priority FROM replies"
            " WHERE state = 'pending' AND due_at <= ?"
            " ORDER BY priority = 'burst', due_at, id LIMIT ?",
            (to_db(now), limit),
        )

    def reply(self, reply_id: int) -> Reply:
        rows = self._rows(
            "SELECT id, number, text, due_at, state, attempts FROM replies WHERE id = ?",
            (reply_id,),
        )
        if not rows:
            raise StoreError(f"{self.path}: no reply #{reply_id}")
        return _reply(rows[0])

    def usage(self, now: datetime, month_seconds: float) -> tuple[int, int, frozenset[str], int]:
        """Sends handed to the modem in the last minute, day and month (and burst recipients).

        Attempts stamped after `now` count too: a clock that jumped back must not free budget.
        """

        def since(seconds: float) -> str:
            return to_db(now - timedelta(seconds=seconds))

        # Every attempt, whatever came of it: refused, retried, then blocked or expired, it
        # was still handed to the modem.
        counted = "FROM send_attempts WHERE attempted_at > ?"
        minute = self._scalar(f"SELECT count(*) {counted}", (since(60),))
        day = self._scalar(f"SELECT count(*) {counted}", (since(86400),))
        rows = self.db.execute(
            f"SELECT number, max(priority = 'burst') {counted} GROUP BY number",
            (since(month_seconds),),
        ).fetchall()
        recipients = frozenset(number for number, _ in rows)
        burst = sum(1 for _, is_burst in rows if is_burst)
        return minute, day, recipients, burst

    def mark_expired(self, reply_id: int, at: datetime) -> None:
        self.db.execute(
            "UPDATE replies SET state = 'expired', updated_at = ?,"
            " error = 'waited longer than [limits] max_wait' WHERE id = ? AND state = 'pending'",
            (to_db(at), reply_id),
        )

    # -- block and allow lists -------------------------------------------------------------

    def block(self, number: str, reason: str | None, at: datetime) -> int:
        """Block a number; its waiting replies are cancelled. Returns how many were."""
        self.db.execute(
            "INSERT INTO blocklist (number, reason, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(number) DO UPDATE SET reason = excluded.reason",
            (number, reason, to_db(at)),
        )
        cursor = self.db.execute(
            "UPDATE replies SET state = 'blocked', updated_at = ?, error = 'number blocked'"
            " WHERE number = ? AND state = 'pending'",
            (to_db(at), number),
        )
        return cursor.rowcount

    def unblock(self, number: str) -> bool:
        return self.db.execute("DELETE FROM blocklist WHERE number = ?", (number,)).rowcount > 0

    def allow(self, number: str, reason: str | None, at: datetime) -> None:
        self.db.execute(
            "INSERT INTO allowlist (number, reason, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(number) DO UPDATE SET reason = excluded.reason",
            (number, reason, to_db(at)),
        )

    def unallow(self, number: str) -> bool:
        return self.db.execute("DELETE FROM allowlist WHERE number = ?", (number,)).rowcount > 0

    def is_blocked(self, number: str) -> bool:
        found = self._scalar("SELECT 1 FROM blocklist WHERE number = ?", (number,))
        return found is not None

    def is_allowed(self, number: str) -> bool:
        found = self._scalar("SELECT 1 FROM allowlist WHERE number = ?", (number,))
        return found is not None

    def lists(self) -> dict[str, list[dict[str, Any]]]:
        return {
            name: self._rows(f"SELECT number, reason, created_at FROM {name} ORDER BY number")
            for name in ("blocklist", "allowlist")
        }

    # -- the SIM PIN -------------------------------------------------------------------------

    def pin_refused_at(self, fingerprint: str) -> datetime | None:
        """When the SIM refused the PIN with this fingerprint, if it ever did."""
        value = self._scalar(
            "SELECT refused_at FROM refused_pins WHERE fingerprint = ?", (fingerprint,)
        )
        return from_db(value) if value else None

    def note_pin_refused(self, fingerprint: str, at: datetime) -> None:
        with self.atomic():
            self.db.execute(
                "INSERT OR REPLACE INTO refused_pins (fingerprint, refused_at) VALUES (?, ?)",
                (fingerprint, to_db(at)),
            )

    def forget_refused_pins(self) -> int:
        with self.atomic():
            return self.db.execute("DELETE FROM refused_pins").rowcount

    # -- raids -----------------------------------------------------------------------------

    def raid_started(self, at: datetime) -> None:
        self.db.execute("INSERT INTO raids (started_at) VALUES (?)", (to_db(at),))

    def raid_ended(self, at: datetime) -> None:
        self.db.execute("UPDATE raids SET ended_at = ? WHERE ended_at IS NULL", (to_db(at),))

    def raids(self) -> list[dict[str, Any]]:
        return self._rows("SELECT started_at, ended_at FROM raids ORDER BY id")

    # -- senders ---------------------------------------------------------------------------

    def senders(self, limit: int = 100, order: str = "last_seen") -> list[dict[str, Any]]:
        """Numbers with their counts, latest decision and reply state."""
        orders = {"last_seen": "s.last_seen DESC", "count": "s.sms_count + s.call_count DESC"}
        return self._rows(
            "SELECT s.number, s.first_seen, s.last_seen, s.sms_count, s.call_count,"
            f" (SELECT category FROM inbound WHERE {_FROM_SENDER} ORDER BY id DESC LIMIT 1)"
            "   AS category,"
            " (SELECT group_concat(decision || ':' || n) FROM (SELECT decision, count(*) AS n"
            f"   FROM inbound WHERE {_FROM_SENDER} GROUP BY decision)) AS decisions,"
            " (SELECT state FROM replies WHERE number = s.number ORDER BY id DESC LIMIT 1)"
            "   AS reply_state,"
            " EXISTS (SELECT 1 FROM blocklist WHERE number = s.number) AS blocked,"
            " EXISTS (SELECT 1 FROM allowlist WHERE number = s.number) AS allowed"
            f" FROM senders s ORDER BY {orders[order]} LIMIT ?",
            (limit,),
        )

    def decisions(self, now: datetime | None = None) -> dict[str, int]:
        """Inbound events by decision, as things turned out: a granted reply ("replied")
        that expired or was cancelled by a block counts as "expired" or "blocked", and, given
        `now`, one due but still held by the limits as "deferred". The events keep the
        decision made when they arrived."""
        rows = self.db.execute(
            "SELECT CASE"
            "   WHEN i.decision = 'replied' AND r.state IN ('expired', 'blocked') THEN r.state"
            "   WHEN i.decision = 'replied' AND r.state = 'pending' AND r.due_at <= ?"
            "     THEN 'deferred'"
            "   ELSE coalesce(i.decision, 'undecided') END AS outcome, count(*)"
            " FROM inbound i LEFT JOIN replies r ON r.id = i.reply_id"
            " GROUP BY outcome ORDER BY outcome",
            (to_db(now) if now is not None else "",),
        )
        return {reason: count for reason, count in rows}

    def due_replies(self, now: datetime, limit: int = 50) -> list[Reply]:
        """Pending replies whose time has come, oldest due first."""
        rows = self._rows(
            "SELECT id, number, text, due_at, state, attempts FROM replies"
            " WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
            (to_db(now), limit),
        )
        return [_reply(r) for r in rows]

    def next_due_at(self) -> datetime | None:
        value = self._scalar("SELECT min(due_at) FROM replies WHERE state = 'pending'")
        return from_db(value) if value else None

    def count_pending(self) -> int:
        return self._scalar("SELECT count(*) FROM replies WHERE state IN ('pending', 'sending')")

    def pending_replies(self) -> list[Reply]:
        rows = self._rows(
            "SELECT id, number, text, due_at, state, attempts FROM replies"
            " WHERE state IN ('pending', 'sending') ORDER BY due_at, id"
        )
        return [_reply(r) for r in rows]

    def mark_sending(self, reply_id: int, at: datetime) -> bool:
        """Committed before the modem is asked: a crash now must never lead to a resend.

        False when the reply is no longer pending (blocked meanwhile, say): do not send it.
        """
        with self.atomic():
            cursor = self.db.execute(
                "UPDATE replies SET state = 'sending', attempts = attempts + 1, updated_at = ?,"
                " attempted_at = ? WHERE id = ? AND state = 'pending'",
                (to_db(at), to_db(at), reply_id),
            )
            if cursor.rowcount != 1:
                return False
            self.db.execute(
                "INSERT INTO send_attempts (reply_id, number, priority, attempted_at)"
                " SELECT id, number, priority, attempted_at FROM replies WHERE id = ?",
                (reply_id,),
            )
        return True

    def mark_sent(self, reply_id: int, at: datetime, refs: Sequence[int]) -> None:
        self.db.execute(
            "UPDATE replies SET state = 'sent', sent_at = ?, updated_at = ?, message_refs = ?,"
            " error = NULL WHERE id = ?",
            (to_db(at), to_db(at), json.dumps(list(refs)), reply_id),
        )

    def mark_failed(self, reply_id: int, at: datetime, error: str) -> None:
        self.db.execute(
            "UPDATE replies SET state = 'failed', updated_at = ?, error = ? WHERE id = ?",
            (to_db(at), error, reply_id),
        )

    def retry_later(
        self, reply_id: int, at: datetime, due_at: datetime, error: str, *, spent: bool = True
    ) -> None:
        """The modem refused for a reason that may pass: back to pending, later.

        `spent` False: the refusal was the modem's state, not this reply's, so the attempt
        does not count towards the limit.
        """
        self.db.execute(
            "UPDATE replies SET state = 'pending', due_at = ?, updated_at = ?, error = ?,"
            " attempts = attempts - ? WHERE id = ?",
            (to_db(due_at), to_db(at), error, 0 if spent else 1, reply_id),
        )

    def settle_interrupted_sends(self, at: datetime) -> list[int]:
        """Resolve replies left in `sending` by a crash: at most once, so never resend them.

        The modem may or may not have sent such a reply before the crash; sending it again
        could message the same person twice, so it is marked failed with the reason.
        """
        ids = [r["id"] for r in self._rows("SELECT id FROM replies WHERE state = 'sending'")]
        for reply_id in ids:
            self.mark_failed(reply_id, at, "interrupted while sending: not retried (at most once)")
        return ids

    def sent_replies(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM replies WHERE state = 'sent' ORDER BY sent_at, id")

    # -- heartbeat and figures -------------------------------------------------------------

    def write_heartbeat(
        self,
        *,
        at: datetime,
        pid: int,
        modem_state: str,
        signal: int | None = None,
        operator: str | None = None,
        raid: bool = False,
        detail: str | None = None,
    ) -> None:
        last = self.last_activity()
        self.db.execute(
            "INSERT INTO heartbeat (id, updated_at, pid, modem_state, signal, operator,"
            " last_activity, raid, detail) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, pid = excluded.pid,"
            " modem_state = excluded.modem_state, signal = excluded.signal,"
            " operator = excluded.operator, last_activity = excluded.last_activity,"
            " raid = excluded.raid, detail = excluded.detail",
            (
                to_db(at),
                pid,
                modem_state,
                signal,
                operator,
                to_db(last) if last else None,
                int(raid),
                detail,
            ),
        )

    def heartbeat(self) -> Heartbeat | None:
        rows = self._rows("SELECT * FROM heartbeat WHERE id = 1")
        if not rows:
            return None
        r = rows[0]
        return Heartbeat(
            updated_at=from_db(r["updated_at"]),
            pid=r["pid"],
            modem_state=r["modem_state"],
            signal=r["signal"],
            operator=r["operator"],
            last_activity=from_db(r["last_activity"]) if r["last_activity"] else None,
            detail=r["detail"],
            raid=bool(r["raid"]),
        )

    def stats(self) -> dict[str, int]:
        """Counts over the whole database (the keys are a public interface)."""
        row = self._rows(
            "SELECT"
            " (SELECT count(*) FROM inbound WHERE kind = 'sms') AS received_sms,"
            " (SELECT count(*) FROM inbound WHERE kind = 'call') AS received_calls,"
            " (SELECT count(*) FROM senders) AS senders,"
            " (SELECT count(*) FROM replies WHERE state = 'sent') AS replies_sent,"
            " (SELECT count(*) FROM replies WHERE state IN ('pending', 'sending'))"
            "   AS replies_pending,"
            " (SELECT count(*) FROM replies WHERE state = 'failed') AS replies_failed,"
            " (SELECT count(*) FROM pdus WHERE error IS NOT NULL) AS quarantined,"
            " (SELECT count(*) FROM inbound WHERE missing_parts > 0) AS incomplete"
        )[0]
        return {key: int(value) for key, value in row.items()}


def _reply(row: dict[str, Any]) -> Reply:
    return Reply(
        id=row["id"],
        number=row["number"],
        text=row["text"],
        due_at=from_db(row["due_at"]),
        state=row["state"],
        attempts=row["attempts"],
    )


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
