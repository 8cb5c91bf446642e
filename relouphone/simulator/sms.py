"""SMS commands of 3GPP TS 27.005, in PDU mode.

Choices where modems differ (each one modelled on a capture in the corpus):

* Slots are numbered from `ModemOptions.first_index` (1, as SIMCom and Quectel; Huawei
  uses 0) and each storage has `slots` of them.
* Reading an empty slot answers a bare OK by default (gammu#89, malformed.jsonl), or
  ``+CMS ERROR: 321`` with ``empty_slot_reply="error"``; a slot outside the storage is
  always 321.
* Text mode (AT+CMGF=1) can be selected, but listing, reading, writing and sending in it
  answer ``+CMS ERROR: 302``: relouphone and gammu use PDU mode.
* AT+CMGS checks the declared length against the PDU (``+CMS ERROR: 304`` if they differ,
  as 27.005 asks), decodes it with `relouphone.pdu` and records it in `Engine.sent`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relouphone.errors import PduError
from relouphone.pdu import Submit, decode_pdu
from relouphone.simulator.atparse import Command, Kind
from relouphone.simulator.general import from_charset, to_charset
from relouphone.simulator.registry import Handler, Prompt, registrar, setting
from relouphone.simulator.results import CmeError, CmsError
from relouphone.simulator.state import MessageStore, SentMessage, Stat, tpdu_length

if TYPE_CHECKING:
    from relouphone.simulator.engine import Engine

__all__ = ["HANDLERS"]

HANDLERS: dict[str, Handler] = {}
command = registrar(HANDLERS)

STORAGES = ("SM", "ME")
CNMI_RANGES = (range(3), range(4), range(4), range(3), range(2))


def _require_sim(engine: Engine) -> None:
    if engine.sim.blocked:
        raise CmsError(316)
    if not engine.sim.ready:
        raise CmsError(311)


def _pdu_mode(engine: Engine) -> None:
    if engine.settings.cmgf != 0:
        raise CmsError(302)


def _int(
    command: Command,
    position: int,
    allowed: range,
    *,
    default: int | None = None,
    error: int = 304,
) -> int:
    """Argument `position` as an int in `allowed`; 27.005 commands fail with +CMS ERROR."""
    args = command.args
    raw = args[position] if position < len(args) else None
    if raw is None:
        if default is None:
            raise CmsError(302)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CmsError(error) from None
    if value not in allowed:
        raise CmsError(error)
    return value


def _slot(engine: Engine, command: Command) -> tuple[MessageStore, int]:
    store = engine.stores[engine.memories[0]]
    index = _int(command, 0, range(100000), error=321)
    if not store.valid(index):
        raise CmsError(321)
    return store, index


setting(HANDLERS, "+CMGF", "cmgf", range(2))
setting(HANDLERS, "+CSDH", "csdh", range(2))


@command("+CSMS")
def service(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CSMS: (0,1)"]
    if command.kind is Kind.SET:
        engine.settings.csms = _int(command, 0, range(2))
        return ["+CSMS: 1,1,1"]
    return [f"+CSMS: {engine.settings.csms},1,1,1"]


@command("+CSCA")
def service_centre(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return []
    _require_sim(engine)
    if command.kind is Kind.SET:
        args = command.args
        if not args or args[0] is None:
            raise CmeError(50)
        engine.smsc = from_charset(engine, args[0])
        return []
    smsc = engine.smsc
    return [f'+CSCA: "{to_charset(engine, smsc)}",{145 if smsc.startswith("+") else 129}']


@command("+CSMP")
def parameters(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return []
    if command.kind is Kind.SET:
        values = list(engine.settings.csmp)
        for i, raw in enumerate(command.args[:4]):
            if raw is not None:
                values[i] = _int(command, i, range(256), error=303)
        engine.settings.csmp = (values[0], values[1], values[2], values[3])
        return []
    return ["+CSMP: " + ",".join(map(str, engine.settings.csmp))]


@command("+CPMS")
def storage(engine: Engine, command: Command) -> list[str]:
    listed = "(" + ",".join(f'"{s}"' for s in STORAGES) + ")"
    if command.kind is Kind.TEST:
        return [f"+CPMS: {listed},{listed},{listed}"]
    _require_sim(engine)
    if command.kind is Kind.SET:
        names = [a.upper() if a else "" for a in command.args]
        if not 1 <= len(names) <= 3 or any(n not in STORAGES for n in names):
            raise CmsError(302)
        engine.memories[: len(names)] = names
        return ["+CPMS: " + ",".join(_usage(engine.stores[m]) for m in engine.memories)]
    return ["+CPMS: " + ",".join(f'"{m}",{_usage(engine.stores[m])}' for m in engine.memories)]


def _usage(store: MessageStore) -> str:
    return f"{store.used},{store.capacity}"


@command("+CNMI")
def notifications(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CNMI: (0-2),(0-3),(0-3),(0-2),(0,1)"]
    if command.kind is not Kind.SET:
        return ["+CNMI: " + ",".join(map(str, engine.settings.cnmi))]
    args = command.args
    if not 1 <= len(args) <= 5:
        raise CmsError(302)
    values = [0, 0, 0, 0, 0]
    for i, allowed in enumerate(CNMI_RANGES):
        values[i] = _int(command, i, allowed, default=0, error=303)
    engine.settings.cnmi = (values[0], values[1], values[2], values[3], values[4])
    return []


@command("+CNMA")
def acknowledge(engine: Engine, command: Command) -> list[str]:
    return []


@command("+CMGL")
def list_messages(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CMGL: (0-4)"]
    _require_sim(engine)
    _pdu_mode(engine)
    wanted = _int(command, 0, range(5), default=0) if command.kind is Kind.SET else 0
    store = engine.stores[engine.memories[0]]
    lines = []
    for index in sorted(store.slots):
        message = store.slots[index]
        if wanted == 4 or message.stat == wanted:
            lines += [f"+CMGL: {index},{message.stat},,{tpdu_length(message.pdu)}", message.pdu]
            if message.stat == Stat.REC_UNREAD:
                message.stat = Stat.REC_READ  # 27.005: listing marks them read
    return lines


@command("+CMGR")
def read_message(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return []
    _require_sim(engine)
    _pdu_mode(engine)
    store, index = _slot(engine, command)
    message = store.slots.get(index)
    if message is None:
        if engine.options.empty_slot_reply == "error":
            raise CmsError(321)
        return []
    lines = [f"+CMGR: {message.stat},,{tpdu_length(message.pdu)}", message.pdu]
    if message.stat == Stat.REC_UNREAD:
        message.stat = Stat.REC_READ
    return lines


@command("+CMGD")
def delete_message(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CMGD: (" + _index_range(engine) + "),(0-4)"]
    _require_sim(engine)
    store = engine.stores[engine.memories[0]]
    flag = _int(command, 1, range(5), default=0)
    if flag:
        store.delete_flagged(flag)
    else:
        _, index = _slot(engine, command)
        store.slots.pop(index, None)  # deleting an empty slot is OK on real modems
    engine.slot_freed()
    return []


def _index_range(engine: Engine) -> str:
    store = engine.stores[engine.memories[0]]
    return ",".join(str(i) for i in sorted(store.slots))


def _checked_pdu(text: str, declared: int) -> str:
    """The PDU text of a prompt, if it is hex and its TPDU has the declared length."""
    try:
        bytes.fromhex(text)
    except ValueError:
        raise CmsError(304) from None
    if not text or tpdu_length(text) != declared:
        raise CmsError(304)
    return text.upper()


@command("+CMGS")
def send_message(engine: Engine, command: Command) -> list[str] | Prompt:
    if command.kind is Kind.TEST:
        return []
    _require_sim(engine)
    _pdu_mode(engine)
    declared = _int(command, 0, range(1, 256))
    if engine.cfun != 1 or not engine.network:
        raise CmsError(331)

    def finish(text: str) -> list[str]:
        pdu_hex = _checked_pdu(text, declared)
        try:
            submit = decode_pdu(pdu_hex, smsc_included=True)
        except PduError:
            raise CmsError(304) from None
        if not isinstance(submit, Submit):
            raise CmsError(304)
        if engine.send_failures:
            raise CmsError(engine.send_failures.popleft())
        reference = engine.next_reference
        engine.next_reference = (reference + 1) % 256
        engine.sent.append(SentMessage(pdu_hex, submit, reference, engine.wall_clock()))
        return [f"+CMGS: {reference}"]

    return Prompt(finish)


@command("+CMGW")
def write_message(engine: Engine, command: Command) -> list[str] | Prompt:
    if command.kind is Kind.TEST:
        return []
    _require_sim(engine)
    _pdu_mode(engine)
    declared = _int(command, 0, range(1, 256))
    stat = _int(command, 1, range(4), default=Stat.STO_UNSENT)
    store = engine.stores[engine.memories[1]]

    def finish(text: str) -> list[str]:
        pdu_hex = _checked_pdu(text, declared)
        index = store.put(pdu_hex, stat)
        if index is None:
            raise CmsError(322)
        return [f"+CMGW: {index}"]

    return Prompt(finish)
