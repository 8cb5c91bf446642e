"""What `relouphone status` says, computed from the database the daemon keeps up to date."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .config import DaemonConfig
from .store import Store
from .timefmt import to_db

__all__ = ["STALE_AFTER_SECONDS", "status_report"]

# Beyond this, or three of the configured heartbeats if longer, the heartbeat is old
# news: the daemon is stopped or stuck.
STALE_AFTER_SECONDS = 180.0


def status_report(
    store: Store, now: datetime, heartbeat_seconds: float = DaemonConfig().heartbeat
) -> dict[str, Any]:
    """The daemon's last heartbeat, queue depth and last activity (JSON-ready)."""
    stale_after = max(STALE_AFTER_SECONDS, 3 * heartbeat_seconds)
    beat = store.heartbeat()
    pending = store.pending_replies()
    age = (now - beat.updated_at).total_seconds() if beat else None
    if beat is None:
        daemon = "never ran on this database"
    elif beat.modem_state == "stopped":
        daemon = f"stopped (last heartbeat {age:.0f}s ago)"
    elif age is not None and age > stale_after:
        daemon = f"not running? last heartbeat {age:.0f}s ago (pid {beat.pid})"
    else:
        daemon = f"running (pid {beat.pid}, heartbeat {age:.0f}s ago)"
    last = store.last_activity()
    return {
        "daemon": daemon,
        "daemon_pid": beat.pid if beat else None,
        "heartbeat_at": to_db(beat.updated_at) if beat else None,
        "heartbeat_age_seconds": round(age, 1) if age is not None else None,
        "modem_state": beat.modem_state if beat else "unknown",
        "signal": beat.signal if beat else None,
        "operator": beat.operator if beat else None,
        "detail": beat.detail if beat else None,
        "raid_mode": bool(beat and beat.raid and beat.modem_state != "stopped"),
        "replies_pending": len(pending),
        "next_due_at": to_db(min(r.due_at for r in pending)) if pending else None,
        "last_activity": to_db(last) if last else None,
    }
