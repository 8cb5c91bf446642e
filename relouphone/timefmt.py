"""One text form for instants in the database: ISO 8601 in UTC, fixed width, so it sorts."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_db", "to_db"]


def to_db(moment: datetime) -> str:
    """`2026-03-08T12:00:00.000000Z`: comparable as text, readable as evidence."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: relouphone only stores timezone-aware instants")
    # isoformat is C code, several times faster than strftime on the hot path of a flood.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)
