"""The configuration file: what it accepts, its defaults, and how it says no."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.config import (
    DEFAULT_REPLY_TEXT,
    MAX_REPLY_LENGTH,
    Config,
    DaemonConfig,
    ModemConfig,
    ReplyConfig,
    StorageConfig,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
)
from relouphone.errors import ConfigError

SAMPLE = Path(__file__).resolve().parent.parent / "etc" / "relouphone.toml"
SOURCE = "relouphone.toml"

# GSM 03.38: the default alphabet, and the extension table (two septets each).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("\f^{}\\[~]|€")


def gsm7_septets(text: str) -> int | None:
    """Length in GSM-7 septets, or None if the text needs UCS-2."""
    if not set(text) <= GSM7_BASIC | GSM7_EXTENSION:
        return None
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def config_error(text: str) -> str:
    """The message of the ConfigError that `text` raises."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, SOURCE)
    message = str(caught.value)
    assert "\n" not in message, "an error is one line"
    assert message.startswith(f"{SOURCE}: ")
    return message


# --- Defaults --------------------------------------------------------------


def test_an_empty_file_gives_the_defaults() -> None:
    config = parse_config("", SOURCE)
    assert config == Config(source=SOURCE)
    assert config.modem == ModemConfig("/dev/ttyUSB0", 115200, "", 10.0)
    assert config.reply == ReplyConfig(3600.0, DEFAULT_REPLY_TEXT)
    assert config.storage == StorageConfig(Path("/var/lib/relouphone/relouphone.db"))
    assert config.daemon == DaemonConfig(30.0)


def test_empty_sections_give_the_defaults() -> None:
    text = "[modem]\n[reply]\n[storage]\n[daemon]\n"
    assert parse_config(text, SOURCE) == Config(source=SOURCE)


def test_the_sample_file_loads_to_exactly_the_defaults() -> None:
    assert load_config(SAMPLE) == Config(source=str(SAMPLE))


def test_the_sample_file_sets_every_key_explicitly() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    for section in dataclasses.fields(Config):
        if section.name in ("source", "filters"):
            continue  # filters are [[filter]] tables: none by default, an example commented
        assert f"\n[{section.name}]\n" in text
        for key in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            assert re.search(rf"^{key.name} = ", text, re.MULTILINE), key.name


def test_the_default_reply_fits_one_gsm7_sms() -> None:
    assert gsm7_septets(DEFAULT_REPLY_TEXT) is not None, "no character forcing UCS-2"
    assert gsm7_septets(DEFAULT_REPLY_TEXT) <= 160
    assert "'" in DEFAULT_REPLY_TEXT and "\u2019" not in DEFAULT_REPLY_TEXT


def test_the_english_alternative_in_the_sample_is_valid_and_fits_one_sms() -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index('# text = """\\')
    block = [line.removeprefix("# ") for line in lines[start : start + 3]]
    english = parse_config("[reply]\n" + "\n".join(block), SOURCE).reply.text
    assert english.startswith("This number is a decoy")
    assert gsm7_septets(english) is not None
    assert gsm7_septets(english) <= 160


def test_a_full_file_is_read_into_typed_values() -> None:
    config = parse_config(
        """
        [modem]
        port = "/dev/serial/by-id/usb-HUAWEI-if00"
        baudrate = 9600
        pin = "0123"
        command_timeout = 30
        [reply]
        delay = "1h30m"
        text = "Non, c'est non."
        [storage]
        database = "/tmp/r.db"
        [daemon]
        heartbeat = "1m"
        """,
        SOURCE,
    )
    assert config.modem == ModemConfig("/dev/serial/by-id/usb-HUAWEI-if00", 9600, "0123", 30.0)
    assert config.reply == ReplyConfig(5400.0, "Non, c'est non.")
    assert config.storage.database == Path("/tmp/r.db")
    assert config.daemon.heartbeat == 60.0


# --- The configuration is frozen -------------------------------------------


def test_the_configuration_cannot_be_mutated() -> None:
    config = parse_config("", SOURCE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.reply.delay = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.modem = ModemConfig()  # type: ignore[misc]


def test_variants_are_derived_with_dataclasses_replace() -> None:
    config = parse_config("", SOURCE)
    quick = dataclasses.replace(config, reply=dataclasses.replace(config.reply, delay=0.0))
    assert quick.reply.delay == 0.0
    assert config.reply.delay == 3600.0


# --- Durations -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (3600, 3600.0),
        (0, 0.0),
        ("0s", 0.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
    ],
)
def test_durations_are_integer_seconds_or_strings_with_units(value: object, seconds: float) -> None:
    assert parse_duration(value, key="[reply] delay") == seconds


@pytest.mark.parametrize(
    "value",
    [
        "1 hour",  # words are not units
        "1h 30m",  # no spaces inside
        "30m1h",  # units in order, largest first
        "-5s",
        "",
        "3600",  # a number of seconds is written without quotes
        "1H",
        True,  # a boolean is not 1 second
        1.5,  # whole seconds only: a float next to "1h" invites unit mistakes
        [60],
    ],
)
def test_other_duration_spellings_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^\[reply\] delay = .*: expected seconds as an int"):
        parse_duration(value, key="[reply] delay")


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^\[reply\] delay = -5: .*not a negative"):
        parse_duration(-5, key="[reply] delay")


def test_parse_duration_applies_the_bounds_it_is_given() -> None:
    assert parse_duration("30d", key="[retention] keep", maximum=30 * 86400) == 2592000.0
    with pytest.raises(ConfigError, match=r'= "31d": expected at most 30d$'):
        parse_duration("31d", key="[retention] keep", maximum=30 * 86400)
    with pytest.raises(ConfigError, match=r"= 0: expected at least 1s$"):
        parse_duration(0, key="[retention] keep", minimum=1)


def test_absurd_durations_are_refused_without_overflow() -> None:
    with pytest.raises(ConfigError, match="expected at most 365d"):
        parse_duration("9" * 12 + "d", key="[x] y")
    with pytest.raises(ConfigError, match="expected seconds as an integer"):
        parse_duration("9" * 5000 + "d", key="[x] y")
    with pytest.raises(ConfigError, match="expected at most 365d"):
        parse_duration(10**400, key="[x] y")


@given(st.integers(min_value=0, max_value=365 * 86400))
def test_format_duration_round_trips_through_parse_duration(seconds: int) -> None:
    assert parse_duration(format_duration(seconds), key="k") == seconds


UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@given(st.dictionaries(st.sampled_from(list(UNIT_SECONDS)), st.integers(0, 99), min_size=1))
def test_units_combine_largest_first_and_add_up(counts: dict[str, int]) -> None:
    text = "".join(f"{counts[unit]}{unit}" for unit in UNIT_SECONDS if unit in counts)
    expected = sum(count * UNIT_SECONDS[unit] for unit, count in counts.items())
    assert parse_duration(text, key="k") == expected


def test_format_duration_writes_the_largest_units() -> None:
    assert format_duration(0) == "0s"
    assert format_duration(5400) == "1h30m"
    assert format_duration(30 * 86400) == "30d"


# --- [reply] ---------------------------------------------------------------


def test_reply_delay_may_be_zero_but_not_beyond_thirty_days() -> None:
    assert parse_config("[reply]\ndelay = 0", SOURCE).reply.delay == 0.0
    assert parse_config('[reply]\ndelay = "30d"', SOURCE).reply.delay == 30 * 86400
    message = config_error('[reply]\ndelay = "31d"')
    assert message == 'relouphone.toml: [reply] delay = "31d": expected at most 30d'


def test_reply_delay_error_names_file_key_value_and_expected_forms() -> None:
    assert config_error('[reply]\ndelay = "1 hour"') == (
        'relouphone.toml: [reply] delay = "1 hour": expected seconds as an integer '
        'or a duration like "90s", "15m", "1h", "2d" or "1h30m"'
    )


@pytest.mark.parametrize("text", ['""', '"   \\n "'])
def test_an_empty_reply_text_is_refused(text: str) -> None:
    message = config_error(f"[reply]\ntext = {text}")
    assert "[reply] text" in message
    assert "not an empty string" in message


def test_a_reply_text_of_ten_sms_parts_is_accepted_but_not_more() -> None:
    longest = "a" * MAX_REPLY_LENGTH
    assert parse_config(f'[reply]\ntext = "{longest}"', SOURCE).reply.text == longest
    message = config_error(f'[reply]\ntext = "{longest}a"')
    assert "[reply] text = " in message
    assert "at most 1530 characters" in message
    assert len(message) < 200, "the text itself is cut short in the message"


def test_a_multiline_reply_text_is_kept_as_written() -> None:
    config = parse_config('[reply]\ntext = """\nNon.\nC\'est non."""', SOURCE)
    assert config.reply.text == "Non.\nC'est non."


# --- [modem] ---------------------------------------------------------------


@pytest.mark.parametrize(
    "port",
    [
        "/dev/ttyUSB0",
        "/dev/serial/by-id/usb-ZTE-if02-port0",
        "/tmp/relouphone-sim",
        "loop://",
        "rfc2217://192.168.1.5:7000",
        "socket://localhost:7777",
        "spy://loop://?file=/tmp/log",
    ],
)
def test_a_port_is_a_device_path_or_a_pyserial_url(port: str) -> None:
    assert parse_config(f'[modem]\nport = "{port}"', SOURCE).modem.port == port


def test_a_relative_port_is_refused() -> None:
    assert config_error('[modem]\nport = "ttyUSB0"') == (
        'relouphone.toml: [modem] port = "ttyUSB0": expected a device path like '
        '"/dev/ttyUSB0" or a pyserial URL like "loop://"'
    )


def test_an_unknown_pyserial_scheme_is_refused_with_a_suggestion() -> None:
    message = config_error('[modem]\nport = "sockt://localhost:7777"')
    assert "[modem] port" in message
    assert 'did you mean "socket"?' in message


@pytest.mark.parametrize("baudrate", [9600, 19200, 57600, 115200, 460800, 921600, 4000000])
def test_standard_baudrates_are_accepted(baudrate: int) -> None:
    assert parse_config(f"[modem]\nbaudrate = {baudrate}", SOURCE).modem.baudrate == baudrate


@pytest.mark.parametrize("baudrate", ["115201", "0", "-9600", "true", "115200.0"])
def test_other_baudrates_are_refused(baudrate: str) -> None:
    message = config_error(f"[modem]\nbaudrate = {baudrate}")
    assert f"[modem] baudrate = {baudrate}:" in message
    assert "expected a standard baud rate" in message


def test_a_quoted_baudrate_is_refused_with_a_hint() -> None:
    message = config_error('[modem]\nbaudrate = "9600"')
    assert message.endswith("expected an integer: baudrate = 9600 (without quotes)")


@pytest.mark.parametrize("pin", ["", "0000", "0123", "12345678"])
def test_a_pin_is_empty_or_four_to_eight_digits(pin: str) -> None:
    assert parse_config(f'[modem]\npin = "{pin}"', SOURCE).modem.pin == pin


@pytest.mark.parametrize("pin", ['"12a4"', '"123"', '"123456789"', '" 1234"', '"١٢٣٤"', "true"])
def test_a_malformed_pin_is_refused_without_echoing_it(pin: str) -> None:
    message = config_error(f"[modem]\npin = {pin}")
    assert message == (
        "relouphone.toml: [modem] pin: expected a SIM PIN of 4 to 8 digits, "
        "or an empty string for none"
    )


def test_an_integer_pin_is_refused_with_a_hint_to_quote_it() -> None:
    message = config_error("[modem]\npin = 1234")
    assert "[modem] pin:" in message
    assert "1234" not in message, "the journal must not learn the PIN"
    assert 'quote the PIN (pin = "0123")' in message


def test_command_timeout_is_a_bounded_duration() -> None:
    assert parse_config('[modem]\ncommand_timeout = "2m"', SOURCE).modem.command_timeout == 120
    assert config_error("[modem]\ncommand_timeout = 0").endswith(
        "[modem] command_timeout = 0: expected at least 1s"
    )
    assert config_error('[modem]\ncommand_timeout = "1h"').endswith("expected at most 5m")


# --- [storage] and [daemon] ------------------------------------------------


def test_the_database_path_must_be_absolute() -> None:
    message = config_error('[storage]\ndatabase = "relouphone.db"')
    assert message.startswith('relouphone.toml: [storage] database = "relouphone.db": ')
    assert "expected an absolute path" in message


def test_heartbeat_is_a_bounded_duration() -> None:
    assert parse_config("[daemon]\nheartbeat = 5", SOURCE).daemon.heartbeat == 5.0
    assert config_error('[daemon]\nheartbeat = "0s"').endswith(
        '[daemon] heartbeat = "0s": expected at least 1s'
    )
    assert config_error('[daemon]\nheartbeat = "1h"').endswith("expected at most 10m")


# --- Wrong types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[modem]\nport = 0", "[modem] port = 0: expected a device path"),
        ("[reply]\ntext = 42", "[reply] text = 42: expected a string"),
        ("[reply]\ndelay = 2026-03-08", "[reply] delay = 2026-03-08: expected seconds"),
        ("[storage]\ndatabase = false", "[storage] database = false: expected an absolute path"),
        ("[daemon]\nheartbeat = [30]", "[daemon] heartbeat = [...]: expected seconds"),
        ("modem = 3", "modem = 3: expected a section, written [modem] on a line of its own"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_expected_one(text: str, expected: str) -> None:
    assert config_error(text).startswith(f"{SOURCE}: {expected}")


# --- Unknown sections and keys ---------------------------------------------


def test_an_unknown_key_is_refused_with_a_suggestion() -> None:
    assert config_error('[reply]\ndealy = "1h"') == (
        'relouphone.toml: [reply] dealy: unknown key; did you mean "delay"?'
    )


def test_an_unknown_key_without_a_close_match_lists_the_keys() -> None:
    assert config_error("[reply]\ncolour = 1") == (
        "relouphone.toml: [reply] colour: unknown key; expected one of: delay, text,"
        " gsm7_normalize, max_attempts"
    )


def test_a_key_in_the_wrong_section_points_to_the_right_one() -> None:
    assert config_error('[modem]\ndelay = "1h"') == (
        "relouphone.toml: [modem] delay: unknown key; did you mean [reply] delay?"
    )


def test_an_unknown_section_is_refused_with_a_suggestion() -> None:
    assert config_error("[repli]\n") == (
        "relouphone.toml: [repli]: unknown section; did you mean [reply]?"
    )


def test_an_unknown_section_without_a_close_match_lists_the_sections() -> None:
    assert config_error("[web]\nport = 80") == (
        "relouphone.toml: [web]: unknown section; "
        "expected one of: [modem], [reply], [storage], [daemon], [policy], [limits], [flood],"
        " [[filter]]"
    )


def test_a_key_before_any_section_header_is_refused() -> None:
    assert config_error('delay = "1h"') == (
        "relouphone.toml: delay: key outside any section; move it under [reply]"
    )
    assert "1234" not in config_error("pin = 1234")


def test_a_nested_table_is_an_unknown_key() -> None:
    message = config_error("[modem.extra]\nx = 1")
    assert message.startswith("relouphone.toml: [modem] extra: unknown key")


# --- Reading the file ------------------------------------------------------


def test_a_toml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "relouphone.toml"
    path.write_text('[reply]\ndelay = "1h"\ntext = "unterminated\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "(at line 3, column" in message


def test_an_integer_too_long_for_python_is_a_config_error() -> None:
    assert config_error("[reply]\ndelay = " + "9" * 5000).startswith(
        "relouphone.toml: invalid TOML: "
    )


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: no such file"):
        load_config(path)


def test_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path))}: is a directory"):
        load_config(tmp_path)


def test_an_unreadable_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated: chmod 0 does not stop root, who may be running the tests.
    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    path = tmp_path / "relouphone.toml"
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: permission denied"):
        load_config(path)


def test_a_file_that_is_not_utf8_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "relouphone.toml"
    path.write_bytes('[reply]\ntext = "Non, c\'est non, ça suffit"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (f"{path}: line 2: not UTF-8 (byte 0xe7); save the file as UTF-8")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "relouphone.toml"
    path.write_bytes(b"\xef\xbb\xbf[reply]\ndelay = 0\n")
    assert load_config(path).reply.delay == 0.0


def test_the_source_is_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "relouphone.toml"
    path.write_text("", encoding="utf-8")
    assert load_config(str(path)).source == str(path)
    assert load_config(path) == Config(source=str(path))


# -- raid defence: [policy], [limits], [flood], [[filter]] ------------------------------


def test_policy_limits_and_flood_defaults() -> None:
    config = parse_config("", "relouphone.toml")
    assert config.policy.reply_to == ("mobile",)
    assert config.policy.home_regions == ("FR",)
    assert config.policy.cooldown is None
    assert config.limits.distinct_recipients_per_month == 99
    assert config.limits.max_wait == 7 * 86400
    assert config.flood.reply_to_abusive is True
    assert config.filters == ()


def test_cooldown_is_forever_or_a_duration_of_an_hour_or_more() -> None:
    assert parse_config('[policy]\ncooldown = "30d"', "f").policy.cooldown == 30 * 86400
    assert parse_config('[policy]\ncooldown = "forever"', "f").policy.cooldown is None
    assert "[policy] cooldown" in config_error('[policy]\ncooldown = "5m"')
    assert "forever" in config_error('[policy]\ncooldown = "never"')


def test_categories_that_never_get_a_reply_cannot_be_listed() -> None:
    message = config_error('[policy]\nreply_to = ["mobile", "premium"]')
    assert message.startswith("relouphone.toml: [policy] reply_to")
    assert "never gets a reply" in message


def test_an_unknown_category_gets_a_suggestion() -> None:
    assert 'did you mean "mobile"' in config_error('[policy]\nreply_to = ["mobil"]')


def test_home_regions_are_iso_codes() -> None:
    config = parse_config('[policy]\nhome_regions = ["FR", "BE"]', "f")
    assert config.policy.home_regions == ("FR", "BE")
    assert "[policy] home_regions" in config_error('[policy]\nhome_regions = ["France"]')
    assert "[policy] home_regions" in config_error("[policy]\nhome_regions = []")


def test_limits_are_bounded_whole_numbers() -> None:
    assert "[limits] per_minute" in config_error("[limits]\nper_minute = 0")
    assert "[limits] per_day" in config_error('[limits]\nper_day = "100"')
    assert "[limits] burst_share" in config_error("[limits]\nburst_share = 1.5")
    assert parse_config("[limits]\nburst_share = 0", "f").limits.burst_share == 0.0


def test_flood_switches_are_booleans() -> None:
    assert "[flood] reply_to_abusive" in config_error('[flood]\nreply_to_abusive = "no"')
    assert parse_config("[flood]\nraid_withhold = true", "f").flood.raid_withhold is True


def test_a_filter_with_a_bad_regular_expression_names_the_filter() -> None:
    message = config_error('[[filter]]\nname = "x"\npattern = "(unclosed"\nregex = true')
    assert message.startswith("relouphone.toml: [[filter]] #1 pattern")
    assert "invalid regular expression" in message


def test_a_filter_needs_a_name_and_a_pattern() -> None:
    assert "[[filter]] #1 name" in config_error('[[filter]]\npattern = "x"')
    assert "[[filter]] #1 pattern" in config_error('[[filter]]\nname = "x"')


def test_a_filter_action_is_ignore_or_mark() -> None:
    message = config_error('[[filter]]\nname = "x"\npattern = "y"\naction = "drop"')
    assert '"ignore" or "mark"' in message


def test_a_filter_with_an_unknown_key_gets_a_suggestion() -> None:
    message = config_error('[[filter]]\nname = "x"\npattern = "y"\nsenders = "SFR"')
    assert 'did you mean "sender"' in message


def test_a_filter_written_as_a_single_table_is_explained() -> None:
    assert "double brackets" in config_error('[filter]\nname = "x"\npattern = "y"')
