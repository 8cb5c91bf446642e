"""What the daemon needs from a modem: a small interface and the events it yields.

The daemon talks only to `Modem`; `gsmmodem_backend.GsmModemBackend` implements it over
python-gsmmodem-new for real USB modems and for the pseudo-terminal simulator alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .pdu import EncodedPdu

__all__ = [
    "UNREAD",
    "IncomingCall",
    "Modem",
    "ModemHealth",
    "ModemLost",
    "NewMessage",
    "StoredMessage",
]

# The <stat> of a message received and not yet read (3GPP TS 27.005, PDU mode).
UNREAD = 0


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message held in the modem's storage, as its raw PDU; `stat` is 27.005's <stat>
    (UNREAD, or 1 once read), taken as UNREAD when the modem did not say."""

    storage: str
    slot: int
    stat: int
    pdu: str


@dataclass(frozen=True, slots=True)
class NewMessage:
    """+CMTI: the modem stored a new message at this slot (None: somewhere; rescan)."""

    storage: str
    slot: int | None


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A ringing call; `number` is None when the caller withheld it or the network gave none."""

    number: str | None
    ton: int | None


@dataclass(frozen=True, slots=True)
class ModemLost:
    """The serial link died (unplugged, or the reader failed)."""

    reason: str


Event = NewMessage | IncomingCall | ModemLost


@dataclass(frozen=True, slots=True)
class ModemHealth:
    """What `status` shows: signal 0-31 (None: unknown), registration, operator."""

    signal: int | None
    registration: str
    operator: str | None

    @property
    def can_send(self) -> bool:
        """Registered, or a modem that does not say (then a send attempt will tell)."""
        return self.registration.startswith("registered") or self.registration == "unknown"


class Modem(Protocol):
    def connect(self) -> None:
        """Open the port and prepare the modem (PIN, PDU mode, notifications, caller ID)."""

    def next_event(self, timeout: float) -> Event | None:
        """The next unsolicited event, waiting at most `timeout` seconds."""

    def list_stored(self) -> list[StoredMessage]:
        """Every message in the modem's storage, read or not."""

    def read_stored(self, storage: str, slot: int) -> StoredMessage | None:
        """One stored message; None when the slot is empty."""

    def delete_stored(self, storage: str, slot: int) -> None:
        """Free a slot once its message is safely committed."""

    def send(self, pdus: list[EncodedPdu]) -> list[int]:
        """Send the parts of one message; returns the message references the network gave."""

    def hang_up(self) -> None:
        """End the ringing call."""

    def health(self) -> ModemHealth:
        """Ask the modem for signal, registration and operator."""

    def reset(self) -> None:
        """Restart the modem (AT+CFUN=1,1) when it stopped answering; no answer awaited."""

    def close(self) -> None:
        """Stop the reader and close the port."""
