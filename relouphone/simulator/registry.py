"""How command handlers are declared: each feature module fills its own table.

A handler takes the engine and the parsed command and returns the information lines of its
response (the engine adds the final ``OK``), or a `Prompt` when the command goes on with
a ``> `` prompt (AT+CMGS, AT+CMGW), or raises a `CommandError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relouphone.simulator.atparse import Command, Kind
from relouphone.simulator.results import CmeError

if TYPE_CHECKING:
    from relouphone.simulator.engine import Engine

__all__ = ["Handler", "Prompt", "int_arg", "registrar", "setting"]


@dataclass(frozen=True)
class Prompt:
    """Show ``> ``, collect text up to Ctrl-Z, then `finish(text)` returns the info lines."""

    finish: Callable[[str], list[str]]


Handler = Callable[["Engine", Command], "list[str] | Prompt"]


def registrar(table: dict[str, Handler]) -> Callable[..., Callable[[Handler], Handler]]:
    """A decorator ``@command("+CGMI", "+GMI")`` that files a handler under its names."""

    def command(*names: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                table[name] = handler
            return handler

        return register

    return command


def int_arg(command: Command, position: int, allowed: range, *, default: int | None = None) -> int:
    """Argument `position` as an int within `allowed`, else +CME ERROR: 50."""
    args = command.args
    raw = args[position] if position < len(args) else None
    if raw is None:
        if default is None:
            raise CmeError(50)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CmeError(50) from None
    if value not in allowed:
        raise CmeError(50)
    return value


def setting(table: dict[str, Handler], name: str, attr: str, allowed: range) -> None:
    """Register a one-integer setting: ``=n`` sets, ``?`` shows ``+NAME: n``, ``=?`` the range."""
    low, high = allowed.start, allowed.stop - 1

    def handler(engine: Engine, command: Command) -> list[str]:
        if command.kind is Kind.READ:
            return [f"{name}: {getattr(engine.settings, attr)}"]
        if command.kind is Kind.TEST:
            return [f"{name}: ({low}-{high})" if high > low + 1 else f"{name}: ({low},{high})"]
        setattr(engine.settings, attr, int_arg(command, 0, allowed, default=low))
        return []

    table[name] = handler
