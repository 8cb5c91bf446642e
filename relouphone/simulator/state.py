"""Plain data of the simulated modem: its options, its settings, its SIM storage and calls.

Nothing here does I/O or knows the AT syntax; the engine and the command handlers change
these objects, the `SimulatedModem` hands out copies of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from relouphone.pdu import Submit

__all__ = [
    "Call",
    "CallRecord",
    "MessageStore",
    "ModemOptions",
    "SentMessage",
    "Settings",
    "SimLock",
    "Stat",
    "StoredMessage",
    "tpdu_length",
]

EmptySlotReply = Literal["ok", "error"]


@dataclass(frozen=True)
class ModemOptions:
    """What the modem is, chosen when it is built (a real modem's firmware and SIM)."""

    slots: int = 20
    storage: str = "SM"
    pin: str | None = None
    puk: str = "12345678"
    echo: bool = True
    # Reading an empty slot: "ok" = bare OK (Huawei, most modems in the corpus, gammu#89),
    # "error" = +CMS ERROR: 321 (what 27.005 suggests and some Qualcomm firmwares do).
    empty_slot_reply: EmptySlotReply = "ok"
    own_number: str = "+33700000000"
    smsc: str = "+33609001390"
    first_index: int = 1
    manufacturer: str = "relouphone"
    model: str = "SIM-20"
    revision: str = "relouphone-sim 1.0"
    imei: str = "356938035643809"
    imsi: str = "208019876543210"
    operator: tuple[str, str, str] = ("Orange F", "Orange", "20801")
    rssi: int = 20
    ring_interval: float = 3.0
    call_timeout: float = 30.0
    reboot_delay: float = 0.3

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError("slots must be at least 1")
        if self.storage not in ("SM", "ME"):
            raise ValueError(f"storage must be 'SM' or 'ME', not {self.storage!r}")
        if self.empty_slot_reply not in ("ok", "error"):
            raise ValueError("empty_slot_reply must be 'ok' or 'error'")


@dataclass
class Settings:
    """The volatile settings that ATZ, AT&F and a reboot bring back to their defaults."""

    echo: bool = True
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "IRA"
    # SIMCom's default (simcom-sim800.txt: "+CNMI: 2,1,0,0,0" after ATZ): +CMTI is on.
    cnmi: tuple[int, int, int, int, int] = (2, 1, 0, 0, 0)
    clip: int = 0
    crc: int = 0
    cvhu: int = 0
    creg: int = 0
    cgreg: int = 0
    cops_format: int = 0
    csdh: int = 0
    csms: int = 0
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)


@dataclass
class SimLock:
    """The SIM's PIN state: locked until the right PIN, blocked (PUK) after three wrong ones."""

    pin: str | None
    puk: str
    attempts_left: int = 3
    unlocked: bool = False
    blocked: bool = False

    @property
    def status(self) -> str:
        """What ``AT+CPIN?`` answers."""
        if self.blocked:
            return "SIM PUK"
        if self.pin is None or self.unlocked:
            return "READY"
        return "SIM PIN"

    @property
    def ready(self) -> bool:
        return self.status == "READY"

    def relock(self) -> None:
        """A power cycle asks for the PIN again (the attempt counter lives on the SIM)."""
        self.unlocked = False


class Stat(IntEnum):
    """Message status in PDU mode (27.005 3.1 <stat>)."""

    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3


@dataclass
class StoredMessage:
    pdu: str
    stat: int


def tpdu_length(pdu_hex: str) -> int:
    """The TPDU length in octets (without the SMSC field), as +CMGL/+CMGR/+CMGS count it.

    Garbage (a malformed PDU stored on purpose) gets its best guess, never an exception.
    """
    octets = len(pdu_hex) // 2
    try:
        smsc_octets = int(pdu_hex[:2], 16) + 1
    except ValueError:
        return octets
    return max(0, octets - smsc_octets)


@dataclass
class MessageStore:
    """One message storage (SIM "SM" or phone "ME") with a finite number of slots."""

    name: str
    capacity: int
    first_index: int = 1
    slots: dict[int, StoredMessage] = field(default_factory=dict)
    # For raid tests: the most slots ever used at once, and how often a message found it full.
    peak: int = 0
    refusals: int = 0

    @property
    def used(self) -> int:
        return len(self.slots)

    def valid(self, index: int) -> bool:
        return self.first_index <= index < self.first_index + self.capacity

    def put(self, pdu_hex: str, stat: int) -> int | None:
        """Store in the lowest free slot; None when the storage is full."""
        for index in range(self.first_index, self.first_index + self.capacity):
            if index not in self.slots:
                self.slots[index] = StoredMessage(pdu_hex, stat)
                self.peak = max(self.peak, len(self.slots))
                return index
        self.refusals += 1
        return None

    def delete_flagged(self, flag: int) -> None:
        """AT+CMGD=<i>,<flag> for flag 1-4: delete by status (27.005 3.5.4)."""
        doomed = {
            1: {Stat.REC_READ},
            2: {Stat.REC_READ, Stat.STO_SENT},
            3: {Stat.REC_READ, Stat.STO_SENT, Stat.STO_UNSENT},
            4: set(Stat),
        }[flag]
        for index in [i for i, m in self.slots.items() if m.stat in doomed]:
            del self.slots[index]


@dataclass(frozen=True)
class SentMessage:
    """One PDU the client sent with AT+CMGS, as the simulator recorded it."""

    pdu: str
    submit: Submit
    reference: int
    sent_at: datetime


@dataclass
class Call:
    """An incoming call; `state` is "ringing", "active" or "ended"."""

    caller: str | None
    ton: int
    validity: int | None
    rings: int
    started: float
    rings_emitted: int = 0
    state: str = "ringing"
    answered: bool = False
    hung_up: bool = False
    missed: bool = False


@dataclass(frozen=True)
class CallRecord:
    """What a test sees of a call: who called, and whether the client hung up."""

    caller: str | None
    hung_up: bool
    answered: bool
    missed: bool
    ringing: bool
    rings: int
