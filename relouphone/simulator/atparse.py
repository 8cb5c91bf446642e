"""Split an AT command line into commands and their arguments, as a V.250 modem does.

A line such as ``AT&FE0+CMGF=0;+CNMI=2,1,0,0,0`` holds several commands: basic ones (a
letter, or ``&`` and a letter, with an optional number) run together, extended ones
(``+``, ``^``, ``$``, ``%``, ``*``, ``#`` then a name) separated by ``;``. This module only
parses; it knows nothing about what the commands do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["AtSyntaxError", "Command", "Kind", "parse_args", "split_line"]

_EXTENDED_PREFIXES = "+^$%*#!"


class AtSyntaxError(ValueError):
    """The line cannot be split into commands: a real modem answers ERROR."""


class Kind(Enum):
    """The four forms of a command: ``AT+X``, ``AT+X=...``, ``AT+X?``, ``AT+X=?``."""

    EXEC = "exec"
    SET = "set"
    READ = "read"
    TEST = "test"


@dataclass(frozen=True)
class Command:
    """One command of a line: its upper-cased name, its form and its raw argument text."""

    name: str
    kind: Kind
    arg: str = ""

    @property
    def args(self) -> list[str | None]:
        """The comma-separated arguments, unquoted; an empty argument is None."""
        return parse_args(self.arg)


def split_line(line: str) -> list[Command]:
    """Split a line that starts with ``AT`` (any case) into its commands."""
    if line[:2].upper() != "AT":
        raise AtSyntaxError(f"not an AT command: {line!r}")
    rest = line[2:]
    commands: list[Command] = []
    i = 0
    while i < len(rest):
        char = rest[i]
        if char in " ;":
            i += 1
        elif char in _EXTENDED_PREFIXES:
            end = _end_of_extended(rest, i)
            commands.append(_extended(rest[i:end]))
            i = end
        else:
            command, i = _basic(rest, i)
            commands.append(command)
    return commands


def _end_of_extended(text: str, start: int) -> int:
    """Index of the ``;`` ending the extended command at `start` (quotes protect ``;``)."""
    quoted = False
    for i in range(start, len(text)):
        if text[i] == '"':
            quoted = not quoted
        elif text[i] == ";" and not quoted:
            return i
    return len(text)


def _extended(text: str) -> Command:
    name_end = len(text)
    for i, char in enumerate(text[1:], start=1):
        if char in "=?":
            name_end = i
            break
    name = text[:name_end].upper().strip()
    tail = text[name_end:]
    if not tail:
        return Command(name, Kind.EXEC)
    if tail == "?":
        return Command(name, Kind.READ)
    if tail.replace(" ", "") == "=?":
        return Command(name, Kind.TEST)
    if tail.startswith("="):
        return Command(name, Kind.SET, tail[1:].strip())
    raise AtSyntaxError(f"bad extended command: {text!r}")


def _basic(text: str, i: int) -> tuple[Command, int]:
    """Parse one basic command (``E0``, ``&F``, ``S0=1``, ``S7?``, ``D...``) at `i`."""
    char = text[i].upper()
    if char == "&":
        if i + 1 >= len(text) or not text[i + 1].isalpha():
            raise AtSyntaxError(f"bad & command in {text!r}")
        name, i = "&" + text[i + 1].upper(), i + 2
    elif char.isalpha():
        name, i = char, i + 1
    else:
        raise AtSyntaxError(f"unexpected {char!r} in {text!r}")
    if name == "D":
        # Dialling takes the rest of the line, ';' included (it means "voice call").
        return Command(name, Kind.SET, text[i:].strip()), len(text)
    if name == "S":
        start = i
        while i < len(text) and text[i].isdigit():
            i += 1
        name += text[start:i]
        if text[i : i + 1] == "?":
            return Command(name, Kind.READ), i + 1
        if text[i : i + 1] == "=":
            start = i + 1
            i = start
            while i < len(text) and text[i].isdigit():
                i += 1
            return Command(name, Kind.SET, text[start:i]), i
        return Command(name, Kind.EXEC), i
    start = i
    while i < len(text) and text[i].isdigit():
        i += 1
    if i > start:
        return Command(name, Kind.SET, text[start:i]), i
    return Command(name, Kind.EXEC), i


def parse_args(text: str) -> list[str | None]:
    """Split ``"SM", 2,,"a,b"`` into ``["SM", "2", None, "a,b"]``.

    Quoted arguments keep their inner spaces; unquoted ones are stripped. An empty
    argument is None, so ``AT+CMGD=1,`` and ``AT+CMGD=1`` can be told apart if needed.
    """
    if not text.strip():
        return []
    args: list[str | None] = []
    current: list[str] = []
    quoted = False
    was_quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            was_quoted = True
        elif char == "," and not quoted:
            args.append(_finish(current, was_quoted))
            current, was_quoted = [], False
        elif char == " " and not quoted:
            continue  # spaces outside quotes are padding ("SM", "SM"), never data
        else:
            current.append(char)
    if quoted:
        raise AtSyntaxError(f"unterminated quote in {text!r}")
    args.append(_finish(current, was_quoted))
    return args


def _finish(chars: list[str], was_quoted: bool) -> str | None:
    value = "".join(chars)
    if was_quoted:
        return value
    return value or None
