"""One text form for instants in the database: ISO 8601 in UTC, fixed width, so it sorts."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_db", "to_db"]

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_db(moment: datetime) -> str:
    """`2026-03-08T12:00:00.000000Z`: comparable as text, readable as evidence."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: relouphone only stores timezone-aware instants")
    return moment.astimezone(UTC).strftime(_FORMAT)


def from_db(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
