"""Voice-call commands: caller ID, extended RING, answering and hanging up.

Only incoming calls are simulated (relouphone never dials): ATD is an unknown command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relouphone.simulator.atparse import Command, Kind
from relouphone.simulator.registry import Handler, int_arg, registrar, setting
from relouphone.simulator.results import CommandError

if TYPE_CHECKING:
    from relouphone.simulator.engine import Engine

__all__ = ["HANDLERS", "NoCarrier"]

HANDLERS: dict[str, Handler] = {}
command = registrar(HANDLERS)


class NoCarrier(CommandError):
    """ATA with nothing ringing ends with NO CARRIER, not ERROR."""

    def result_line(self, cmee: int) -> str:
        return "NO CARRIER"


setting(HANDLERS, "+CRC", "crc", range(2))
setting(HANDLERS, "+CVHU", "cvhu", range(2))


@command("+CLIP")
def caller_id(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return ["+CLIP: (0,1)"]
    if command.kind is Kind.SET:
        engine.settings.clip = int_arg(command, 0, range(2))
        return []
    # <m>=1: CLIP is provisioned by the network.
    return [f"+CLIP: {engine.settings.clip},1"]


@command("H", "+CHUP")
def hang_up(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return []
    call = engine.current_call()
    if call is not None:
        call.state, call.hung_up = "ended", True
    return []


@command("A")
def answer(engine: Engine, command: Command) -> list[str]:
    call = engine.current_call()
    if call is None or call.state != "ringing":
        raise NoCarrier()
    call.state, call.answered = "active", True
    return []


@command("+CLCC")
def list_calls(engine: Engine, command: Command) -> list[str]:
    if command.kind is Kind.TEST:
        return []
    call = engine.current_call()
    if call is None:
        return []
    stat = 4 if call.state == "ringing" else 0  # 4 = incoming, 0 = active
    return [f'+CLCC: 1,1,{stat},0,0,"{call.caller or ""}",{call.ton}']
