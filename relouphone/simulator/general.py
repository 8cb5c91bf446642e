"""General commands: V.250 basics, identity, SIM PIN, network and error reporting.

Identity answers follow what Huawei/Quectel sticks print (huawei-e1752.txt, huawei-e3372.txt):
the bare value, then OK. Network answers describe a registered home network, unless the
radio is off (AT+CFUN=0/4) or the SIM is still locked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relouphone.simulator.atparse import Command, Kind
from relouphone.simulator.registry import Handler, int_arg, registrar, setting
from relouphone.simulator.results import CmeError, CommandError

if TYPE_CHECKING:
    from relouphone.simulator.engine import Engine

__all__ = ["HANDLERS", "from_charset", "require_sim", "s_register", "to_charset"]

HANDLERS: dict[str, Handler] = {}
command = registrar(HANDLERS)

CHARSETS = ("IRA", "GSM", "UCS2")


def to_charset(engine: Engine, text: str) -> str:
    """A string as the modem shows it in the AT+CSCS character set (UCS2 = hex)."""
    if engine.settings.cscs == "UCS2":
        return text.encode("utf-16-be").hex().upper()
    return text


def from_charset(engine: Engine, text: str) -> str:
    """A string argument as the client sent it in the AT+CSCS character set."""
    if engine.settings.cscs == "UCS2" and len(text) % 4 == 0:
        try:
            return bytes.fromhex(text).decode("utf-16-be")
        except ValueError:
            pass  # not hex after all: take it literally, as lenient modems do
    return text


def require_sim(engine: Engine) -> None:
    """Commands that read the SIM fail with +CME ERROR: 11/12 until it is unlocked."""
    if engine.sim.blocked:
        raise CmeError(12)
    if not engine.sim.ready:
        raise CmeError(11)


def _no_args(command: Command) -> None:
    if command.kind is Kind.SET or command.kind is Kind.READ:
        raise CmeError(50)


# -- V.250 basics -------------------------------------------------------------------


@command("E")
def echo(engine: Engine, command: Command) -> list[str]:
    engine.settings.echo = int_arg(command, 0, range(2), default=0) == 1
    return []


@command("V")
def verbose(engine: Engine, command: Command) -> list[str]:
    # Numeric result codes (ATV0) are not simulated: nobody we serve asks for them.
    if int_arg(command, 0, range(2), default=0) != 1:
        raise CommandError()
    return []


@command("Z", "&F")
def reset(engine: Engine, command: Command) -> list[str]:
    engine.reset_settings()
    return []


@command("Q", "X", "L", "M", "&C", "&D", "&K", "&W", "&V", "+IFC", "+ICF", "+IPR")
def accepted(engine: Engine, command: Command) -> list[str]:
    """Serial-line and speaker settings that mean nothing on a pty: accepted, ignored."""
    return []


def s_register(engine: Engine, command: Command) -> list[str]:
    return ["000"] if command.kind is Kind.READ else []


@command("I")
def information(engine: Engine, command: Command) -> list[str]:
    options = engine.options
    return [
        f"Manufacturer: {options.manufacturer}",
        f"Model: {options.model}",
        f"Revision: {options.revision}",
        f"IMEI: {options.imei}",
        "+GCAP: +CGSM,+DS,+ES",
    ]


@command("+GCAP")
def capabilities(engine: Engine, command: Command) -> list[str]:
    return [] if command.kind is Kind.TEST else ["+GCAP: +CGSM,+DS,+ES"]


def _identity(attribute: str, *, sim: bool = False) -> Handler:
    def handler(engine: Engine, command: Command) -> list[str]:
        if command.kind is Kind.TEST:
            return []
        _no_args(command)
        if sim:
            require_sim(engine)
        return [getattr(engine.options, attribute)]

    return handler


HANDLERS["+CGMI"] = HANDLERS["+GMI"] = _identity("manufacturer")
HANDLERS["+CGMM"] = HANDLERS["+GMM"] = _identity("model")
HANDLERS["+CGMR"] = HANDLERS["+GMR"] = _identity("revision")
HANDLERS["+CGSN"] = HANDLERS["+GSN"] = _identity("imei")
HANDLERS["+CIMI"] = _identity("imsi", sim=True)


@command("+CNUM")
def own_number(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return []
    require_sim(engine)
    number = engine.options.own_number
    return [f'+CNUM: "","{to_charset(engine, number)}",{145 if number.startswith("+") else 129}']


@command("+CLAC")
def list_commands(engine: Engine, command: Command) -> list[str]:
    """One command per line, without the AT prefix (Huawei and Quectel print it so)."""
    return engine.command_names()


setting(HANDLERS, "+CMEE", "cmee", range(3))


# -- SIM --------------------------------------------------------------------------


@command("+CPIN")
def pin(engine: Engine, command: Command) -> list[str]:
    sim = engine.sim
    if command.kind is Kind.TEST:
        return []
    if command.kind is not Kind.SET:
        return [f"+CPIN: {sim.status}"]
    args = command.args
    if not args or args[0] is None:
        raise CmeError(50)
    if sim.blocked:
        # AT+CPIN="<puk>","<new pin>" unblocks the SIM and sets a new PIN.
        if args[0] != sim.puk or len(args) < 2 or not args[1]:
            raise CmeError(16)
        sim.pin, sim.blocked, sim.unlocked, sim.attempts_left = args[1], False, True, 3
        return []
    if sim.ready:
        raise CmeError(3)  # SIM800 and Quectel refuse a PIN the SIM did not ask for
    if args[0] != sim.pin:
        sim.attempts_left -= 1
        if sim.attempts_left <= 0:
            sim.blocked = True
        raise CmeError(16)
    sim.unlocked, sim.attempts_left = True, 3
    return []


# -- network ------------------------------------------------------------------------


def _registered(engine: Engine) -> bool:
    return engine.cfun == 1 and engine.sim.ready and engine.network


@command("+CSQ")
def signal(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CSQ: (0-31,99),(0-7,99)"]
    rssi = engine.options.rssi if engine.cfun == 1 else 99
    return [f"+CSQ: {rssi},99"]


def _registration(name: str, attr: str) -> Handler:
    def handler(engine: Engine, command: Command) -> list[str]:
        if command.kind is Kind.TEST:
            return [f"{name}: (0-2)"]
        if command.kind is Kind.SET:
            setattr(engine.settings, attr, int_arg(command, 0, range(3), default=0))
            return []
        n = getattr(engine.settings, attr)
        line = f"{name}: {n},{1 if _registered(engine) else 0}"
        if n == 2 and _registered(engine):
            line += ',"1A2B","01C3D4E5"'
        return [line]

    return handler


HANDLERS["+CREG"] = _registration("+CREG", "creg")
HANDLERS["+CGREG"] = _registration("+CGREG", "cgreg")


@command("+CGATT")
def attach(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CGATT: (0,1)"]
    if command.kind is Kind.SET:
        int_arg(command, 0, range(2))
        return []
    return [f"+CGATT: {1 if _registered(engine) else 0}"]


@command("+COPS")
def operator(engine: Engine, command: Command) -> list[str]:
    long_name, short_name, numeric = engine.options.operator
    if command.kind is Kind.TEST:
        return [f'+COPS: (2,"{long_name}","{short_name}","{numeric}",2),,(0-4),(0-2)']
    if command.kind is Kind.SET:
        int_arg(command, 0, range(5))
        if len(command.args) > 1:
            engine.settings.cops_format = int_arg(command, 1, range(3))
        return []
    if not _registered(engine):
        return ["+COPS: 0"]
    fmt = engine.settings.cops_format
    name = (long_name, short_name, numeric)[fmt]
    return [f'+COPS: 0,{fmt},"{name}",2']


@command("+CFUN")
def functionality(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CFUN: (0,1,4),(0,1)"]
    if command.kind is not Kind.SET:
        return [f"+CFUN: {engine.cfun}"]
    level = int_arg(command, 0, range(5))
    if level not in (0, 1, 4):
        raise CmeError(50)
    if int_arg(command, 1, range(2), default=0) == 1:
        # Reset after the OK, like a real modem: the boot URCs follow a moment later.
        engine.reboot(engine.now)
        return []
    engine.cfun = level
    return []


@command("+CPAS")
def activity(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CPAS: (0-5)"]
    call = engine.current_call()
    state = 0 if call is None else 3 if call.state == "ringing" else 4
    return [f"+CPAS: {state}"]


@command("+CSCS")
def charset(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")"]
    if command.kind is not Kind.SET:
        return [f'+CSCS: "{engine.settings.cscs}"']
    args = command.args
    # The name itself is given in the current charset: "UCS2" in UCS2 mode is 0055...
    name = from_charset(engine, args[0]).upper() if args and args[0] else ""
    if name not in CHARSETS:
        raise CmeError(50)
    engine.settings.cscs = name
    return []
