"""The configuration file: read once at start-up, validated once, then frozen.

Every mistake is reported as one line naming the file, the ``[section] key`` and
what was expected, so whoever edits the file over SSH on the Raspberry Pi can fix
it without reading Python. The defaults live in the dataclasses below; the sample
file etc/relouphone.toml spells out the very same values.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from relouphone.errors import ConfigError

__all__ = [
    "DEFAULT_REPLY_TEXT",
    "MAX_REPLY_LENGTH",
    "REPLYABLE",
    "Config",
    "DaemonConfig",
    "FilterRule",
    "FloodConfig",
    "LimitsConfig",
    "ModemConfig",
    "PolicyConfig",
    "ReplyConfig",
    "StorageConfig",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
]

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# One SMS when possible: 151 characters, all in the GSM-7 alphabet (é and à are
# in it, ê and ç are not), so it is not sent as UCS-2 at 70 characters a part.
DEFAULT_REPLY_TEXT = (
    "Ce numéro est un leurre : elle ne voulait pas vous donner le sien. "
    "Vous l'avez mise mal à l'aise. Non, c'est non. "
    "Message automatique, ne répondez pas."
)

# Ten concatenated GSM-7 parts of 153 characters: a cap on what we send, not a target.
MAX_REPLY_LENGTH = 10 * 153


@dataclass(frozen=True, slots=True)
class ModemConfig:
    """Where the GSM modem is and how to talk to it."""

    port: str = "/dev/ttyUSB0"
    baudrate: int = 115200
    pin: str = ""
    command_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class ReplyConfig:
    """The automatic answer: how long after the first contact, and what it says."""

    delay: float = 1.0 * HOUR
    text: str = DEFAULT_REPLY_TEXT
    gsm7_normalize: bool = True
    max_attempts: int = 4


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where every text and call is recorded."""

    database: Path = Path("/var/lib/relouphone/relouphone.db")
    max_text_length: int = 2000
    missing_parts_timeout: float = 1.0 * HOUR


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """The daemon's own rhythm."""

    heartbeat: float = 30.0


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Who may get a reply, and how often."""

    reply_to: tuple[str, ...] = ("mobile",)
    home_regions: tuple[str, ...] = ("FR",)
    cooldown: float | None = None  # None: one reply per number, ever


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """The SIM plan's fair-use limits on what we send."""

    per_minute: int = 5
    per_day: int = 100
    distinct_recipients_per_month: int = 99
    max_wait: float = 7 * DAY
    burst_share: float = 0.05


@dataclass(frozen=True, slots=True)
class FloodConfig:
    """What counts as a flood from one number, and as a raid on the whole service."""

    max_per_sender: int = 10
    window: float = 1.0 * HOUR
    raid_rate: int = 30  # inbound events per minute
    reply_to_abusive: bool = True
    raid_withhold: bool = False


@dataclass(frozen=True, slots=True)
class FilterRule:
    """A [[filter]]: messages whose text (and sender, if given) match are marked or ignored."""

    name: str
    pattern: str
    regex: bool = False
    sender: str | None = None
    action: str = "ignore"  # "ignore": recorded, no reply; "mark": recorded with the label


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, with the file it came from (for messages)."""

    modem: ModemConfig = field(default_factory=ModemConfig)
    reply: ReplyConfig = field(default_factory=ReplyConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    flood: FloodConfig = field(default_factory=FloodConfig)
    filters: tuple[FilterRule, ...] = ()
    source: str = "<defaults>"


class _Invalid(ValueError):
    """A value a converter refuses; the message says what was expected."""


# ---------------------------------------------------------------------------
# Durations: shared with other modules for their own keys.

# At most 12 digits a unit: longer numbers are typos, and int() refuses past 4300 digits.
_DURATION = re.compile(
    r"(?:([0-9]{1,12})d)?(?:([0-9]{1,12})h)?(?:([0-9]{1,12})m)?(?:([0-9]{1,12})s)?"
)
_UNITS = {"d": DAY, "h": HOUR, "m": MINUTE, "s": 1}
_DURATION_HINT = (
    'expected seconds as an integer or a duration like "90s", "15m", "1h", "2d" or "1h30m"'
)


def parse_duration(
    value: object, *, key: str, minimum: float = 0, maximum: float = 365 * DAY
) -> float:
    """Seconds from a TOML value: an integer of seconds, or a string like "15m" or "1h30m".

    Floats are refused (whole seconds are enough for every key, and ``1.5`` next to
    ``"1h"`` invites unit mistakes). `key` names the setting in the error, e.g.
    ``"[reply] delay"``; the default `maximum` of a year catches typos like "3000d".
    """
    try:
        return _duration(value, minimum, maximum)
    except _Invalid as exc:
        raise ConfigError(f"{key} = {_show(value)}: {exc}") from None


def format_duration(seconds: float) -> str:
    """Whole seconds written as the file accepts them: 5400 -> "1h30m", 0 -> "0s"."""
    remaining = round(seconds)
    if remaining < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    parts = []
    for unit, size in _UNITS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _duration(value: object, minimum: float, maximum: float) -> float:
    seconds = _whole_seconds(value)
    # Compared as integers first: a huge value must not overflow float().
    if seconds < minimum:
        raise _Invalid(f"expected at least {format_duration(minimum)}")
    if seconds > maximum:
        raise _Invalid(f"expected at most {format_duration(maximum)}")
    return float(seconds)


def _whole_seconds(value: object) -> int:
    if isinstance(value, bool):  # bool is an int subclass: True would mean 1 second
        raise _Invalid(_DURATION_HINT)
    if isinstance(value, int):
        if value < 0:
            raise _Invalid("expected a duration, not a negative number")
        return value
    if isinstance(value, float):
        raise _Invalid(f"{_DURATION_HINT} (whole seconds only)")
    if isinstance(value, str) and value and (match := _DURATION.fullmatch(value)):
        return sum(
            int(n) * size for n, size in zip(match.groups(), _UNITS.values(), strict=True) if n
        )
    raise _Invalid(_DURATION_HINT)


def _bounded_duration(minimum: float, maximum: float) -> Callable[[object], float]:
    return lambda value: _duration(value, minimum, maximum)


# ---------------------------------------------------------------------------
# Converters: each takes the raw TOML value and returns the typed one, or
# raises _Invalid saying what was expected.

_PORT_HINT = 'expected a device path like "/dev/ttyUSB0" or a pyserial URL like "loop://"'
# pyserial's URL handlers (serial/urlhandler/protocol_*.py).
_PYSERIAL_SCHEMES = ("alt", "cp2110", "hwgrep", "loop", "rfc2217", "socket", "spy")
# The rates termios offers on Linux; anything else is a typo or a modem we cannot drive.
_BAUDRATES = (
    *(300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800),
    *(500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000),
    *(3500000, 4000000),
)
_PIN = re.compile(r"[0-9]{4,8}")
_PIN_HINT = "expected a SIM PIN of 4 to 8 digits, or an empty string for none"


def _port(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{_PORT_HINT} (a string)")
    url = re.fullmatch(r"([A-Za-z0-9+.-]+)://.*", value)
    if url:
        scheme = url.group(1).lower()  # pyserial lowercases the scheme too
        if scheme not in _PYSERIAL_SCHEMES:
            raise _Invalid(
                f"unknown pyserial URL scheme {scheme!r}"
                + _suggest(
                    scheme, _PYSERIAL_SCHEMES, f"; expected one of: {', '.join(_PYSERIAL_SCHEMES)}"
                )
            )
    elif not value.startswith("/"):
        raise _Invalid(_PORT_HINT)
    return value


def _baudrate(value: object) -> int:
    if isinstance(value, str) and value.isdecimal():
        raise _Invalid(f"expected an integer: baudrate = {value} (without quotes)")
    if isinstance(value, bool) or not isinstance(value, int) or value not in _BAUDRATES:
        raise _Invalid(
            "expected a standard baud rate (an integer) such as 9600, 57600, 115200 or 921600"
        )
    return value


def _pin(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # An integer has already lost any leading 0 of the PIN.
        raise _Invalid(
            'expected a string of 4 to 8 digits: quote the PIN (pin = "0123") '
            "so a leading 0 is kept"
        )
    if not isinstance(value, str) or (value and not _PIN.fullmatch(value)):
        raise _Invalid(_PIN_HINT)
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid("expected a string: the text of the reply")
    if not value.strip():
        raise _Invalid("expected the text of the reply, not an empty string")
    if len(value) > MAX_REPLY_LENGTH:
        raise _Invalid(
            f"expected at most {MAX_REPLY_LENGTH} characters (10 SMS parts), got {len(value)}"
        )
    return value


def _database(value: object) -> Path:
    # Relative paths are refused: under systemd the working directory is not
    # where the person editing the file thinks it is.
    if not isinstance(value, str) or not value.startswith("/"):
        raise _Invalid('expected an absolute path like "/var/lib/relouphone/relouphone.db"')
    return Path(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("expected true or false (without quotes)")
    return value


def _integer(minimum: int, maximum: int) -> Callable[[object], int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"expected a whole number from {minimum} to {maximum}")
        if not minimum <= value <= maximum:
            raise _Invalid(f"expected a whole number from {minimum} to {maximum}")
        return value

    return convert


def _share(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _Invalid("expected a share from 0 to 1, like 0.05 for 5%")
    return float(value)


# Categories a reply may go to; short codes, premium numbers, alphanumeric and withheld
# senders are not offered: they never get one, whatever the file says.
REPLYABLE = ("mobile", "fixed_line", "toll_free", "shared_cost", "foreign", "other")
_NEVER = ("short_code", "premium", "alphanumeric", "withheld", "invalid")


def _reply_to(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(
            f'expected a list of categories like ["mobile"], from: {", ".join(REPLYABLE)}'
        )
    for item in value:
        if item in _NEVER:
            raise _Invalid(f'"{item}" never gets a reply (it costs money or reaches no one)')
        if item not in REPLYABLE:
            raise _Invalid(
                f'unknown category "{item}"'
                + _suggest(item, REPLYABLE, f"; expected some of: {', '.join(REPLYABLE)}")
            )
    return tuple(dict.fromkeys(value))


def _regions(value: object) -> tuple[str, ...]:
    import phonenumbers

    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _Invalid('expected a non-empty list of country codes like ["FR"]')
    for item in value:
        if item not in phonenumbers.SUPPORTED_REGIONS:
            raise _Invalid(f'unknown region "{item}": expected ISO 3166 codes like "FR", "BE"')
    return tuple(dict.fromkeys(value))


def _cooldown(value: object) -> float | None:
    if value == "forever":
        return None
    try:
        return _duration(value, HOUR, 5 * 365 * DAY)
    except _Invalid as exc:
        raise _Invalid(f'expected "forever" (one reply per number, ever) or {exc}') from None


_Converter = Callable[[object], object]

# Section -> (dataclass, key -> converter). Keys absent from the file keep the
# dataclass default, so defaults are written in one place only.
_SCHEMA: dict[str, tuple[type, dict[str, _Converter]]] = {
    "modem": (
        ModemConfig,
        {
            "port": _port,
            "baudrate": _baudrate,
            "pin": _pin,
            "command_timeout": _bounded_duration(1, 5 * MINUTE),
        },
    ),
    "reply": (
        ReplyConfig,
        {
            "delay": _bounded_duration(0, 30 * DAY),
            "text": _text,
            "gsm7_normalize": _bool,
            "max_attempts": _integer(1, 20),
        },
    ),
    "storage": (
        StorageConfig,
        {
            "database": _database,
            "max_text_length": _integer(160, 100_000),
            "missing_parts_timeout": _bounded_duration(MINUTE, 7 * DAY),
        },
    ),
    # The watchdog must hear from us well within its own timeout: keep beats frequent.
    "daemon": (DaemonConfig, {"heartbeat": _bounded_duration(1, 10 * MINUTE)}),
    "policy": (
        PolicyConfig,
        {"reply_to": _reply_to, "home_regions": _regions, "cooldown": _cooldown},
    ),
    "limits": (
        LimitsConfig,
        {
            "per_minute": _integer(1, 60),
            "per_day": _integer(1, 10_000),
            "distinct_recipients_per_month": _integer(1, 100_000),
            "max_wait": _bounded_duration(HOUR, 90 * DAY),
            "burst_share": _share,
        },
    ),
    "flood": (
        FloodConfig,
        {
            "max_per_sender": _integer(1, 100_000),
            "window": _bounded_duration(MINUTE, 30 * DAY),
            "raid_rate": _integer(1, 100_000),
            "reply_to_abusive": _bool,
            "raid_withhold": _bool,
        },
    ),
}

# [[filter]] tables: a list, so they sit apart from the one-table sections above.
_FILTER_KEYS = ("name", "pattern", "regex", "sender", "action")

# Values never echoed in messages, which end up in the journal.
_SECRET_KEYS = {("modem", "pin")}


# ---------------------------------------------------------------------------
# Reading the file.


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the TOML file at `path`; any problem is one ConfigError line."""
    source = os.fspath(path)
    try:
        data = Path(source).read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: no such file (a commented sample: etc/relouphone.toml)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, expected a TOML file") from None
    except PermissionError:
        raise ConfigError(f"{source}: permission denied; the daemon's user must read it") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    return parse_config(_decode(data, source), source)


def parse_config(text: str, source: str) -> Config:
    """Validate TOML `text`; `source` names it in error messages (a path, or "<test>")."""
    try:
        document = tomllib.loads(text)
    except ValueError as exc:
        # A TOMLDecodeError ends with "(at line N, column M)": keep it whole. Plain
        # ValueError comes from an integer too long for int() (over 4300 digits).
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    for name, value in document.items():
        if name != "filter":
            _check_section(name, value, source)
    sections = {name: _build_section(name, document.get(name, {}), source) for name in _SCHEMA}
    filters = _build_filters(document.get("filter", []), source)
    return Config(**sections, filters=filters, source=source)


def _build_filters(tables: object, source: str) -> tuple[FilterRule, ...]:
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: filter: expected [[filter]] tables (double brackets)")
    rules = []
    for number, table in enumerate(tables, start=1):
        where = f"{source}: [[filter]] #{number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table")
        for key in table:
            if key not in _FILTER_KEYS:
                hint = _suggest(key, _FILTER_KEYS, f"; expected one of: {', '.join(_FILTER_KEYS)}")
                raise ConfigError(f"{where} {key}: unknown key{hint}")
        rules.append(_filter_rule(table, where))
    return tuple(rules)


def _filter_rule(table: dict, where: str) -> FilterRule:
    name, pattern = table.get("name"), table.get("pattern")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{where} name: expected a short label, like "operator"')
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where} pattern: expected a keyword or a regular expression")
    regex, sender, action = (
        table.get("regex", False),
        table.get("sender"),
        table.get("action", "ignore"),
    )
    if not isinstance(regex, bool):
        raise ConfigError(f"{where} regex = {_show(regex)}: expected true or false")
    if regex:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"{where} pattern = {_show(pattern)}: invalid regular expression: {exc}"
            ) from None
    if sender is not None and not isinstance(sender, str):
        raise ConfigError(
            f"{where} sender = {_show(sender)}: expected the sender as received, a string"
        )
    if action not in ("ignore", "mark"):
        raise ConfigError(f'{where} action = {_show(action)}: expected "ignore" or "mark"')
    return FilterRule(name=name, pattern=pattern, regex=regex, sender=sender, action=action)


def _decode(data: bytes, source: str) -> str:
    try:
        # utf-8-sig: an editor's byte-order mark is harmless, so accept it.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None


def _check_section(name: str, value: object, source: str) -> None:
    if name in _SCHEMA:
        if not isinstance(value, dict):
            raise ConfigError(
                f"{source}: {name} = {_show(value)}: expected a section, written [{name}] "
                "on a line of its own"
            )
        return
    if isinstance(value, dict):
        hint = _suggest(name, _SCHEMA, f"; expected one of: {_section_list()}", "[{}]")
        raise ConfigError(f"{source}: [{name}]: unknown section{hint}")
    # A key above the first [section] header; its value is not echoed (it may be the PIN).
    owner = _section_of(name)
    hint = f"; move it under [{owner}]" if owner else f"; sections are {_section_list()}"
    raise ConfigError(f"{source}: {name}: key outside any section{hint}")


def _build_section(name: str, table: Mapping[str, object], source: str) -> object:
    cls, converters = _SCHEMA[name]
    values = {}
    for key, raw in table.items():
        if key not in converters:
            raise ConfigError(f"{source}: [{name}] {key}: unknown key{_key_hint(name, key)}")
        try:
            values[key] = converters[key](raw)
        except _Invalid as exc:
            shown = "" if (name, key) in _SECRET_KEYS else f" = {_show(raw)}"
            raise ConfigError(f"{source}: [{name}] {key}{shown}: {exc}") from None
    return cls(**values)


def _key_hint(section: str, key: str) -> str:
    owner = _section_of(key)
    if owner:
        return f"; did you mean [{owner}] {key}?"
    keys = _SCHEMA[section][1]
    return _suggest(key, keys, f"; expected one of: {', '.join(keys)}")


def _section_of(key: str) -> str | None:
    return next((name for name, (_, keys) in _SCHEMA.items() if key in keys), None)


def _section_list() -> str:
    return ", ".join([*(f"[{name}]" for name in _SCHEMA), "[[filter]]"])


def _suggest(word: str, choices: Iterable[str], otherwise: str, form: str = '"{}"') -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {form.format(close[0])}?" if close else otherwise


def _show(value: object) -> str:
    """A value as it would be written in TOML, cut short to keep the message one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)  # escapes newlines: stays one line
        return shown if len(shown) <= 40 else shown[:36] + '..."'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return "[...]" if isinstance(value, list) else "{...}"
