"""Hypothesis strategies for fuzzing: PDUs a modem may hand over, and bytes a serial line may
carry. Shared by tests/test_fuzz.py (a few hundred examples per property) and scripts/fuzz.py
(hundreds of thousands); not a test module itself.

PDUs are built field by field, so that most get past the first octets and reach the deep
parts of the decoder: SMSC, first octet, addresses, protocol identifier, coding scheme,
timestamps, validity, user data header and text. Each field is mostly well formed and
sometimes lies (a length off by a little or by a lot, a sequence number of 0 or beyond the
total, an information element longer than its header). The octets may then be truncated or
overwritten, and the hex rendered as sloppily as modems render it, or worse.

Serial noise mixes the lines a modem really sends with random bytes, invalid UTF-8, NULs,
lone CRs and LFs and lines far longer than any modem's. A `MarkedStream` hides unique
unsolicited lines in such noise, cut into chunks the way reads may cut it.

Strategies are built once, at import: building them inside a draw costs more than drawing.
The `_draw_*` helpers draw one field with the `draw` of the composite that calls them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from hypothesis import strategies as st

from relouphone import gsm7
from relouphone.gsmmodem_backend import MAX_LINE_BYTES

__all__ = [
    "MAX_INT_DIGITS",
    "MarkedStream",
    "alphanumeric_senders",
    "command_responses",
    "concatenated_parts",
    "marked_streams",
    "message_texts",
    "modem_lines",
    "pdu_strings",
    "phone_numbers",
    "scts_moments",
    "serial_noise",
    "short_line_noise",
    "short_line_streams",
    "stored_pdus",
    "structured_pdus",
]

CRLF = b"\r\n"
MAX_INT_DIGITS = 4300  # sys.get_int_max_str_digits(): int() refuses longer decimal strings
SEMI_OCTET_DIGITS = "0123456789*#abc"
GSM7_CHARS = "".join(c for c in gsm7.DEFAULT_ALPHABET if c != "\x1b") + "".join(
    gsm7.EXTENSION_TABLE.values()
)

octets = st.integers(0, 255)
# What a line decoded with errors="replace" can hold: anything but lone surrogates.
characters = st.characters(exclude_categories=("Cs",))
line_texts = st.text(characters, max_size=40)
# One time in eight: for a field to lie, a flag to disagree... Shrinks towards honesty.
rarely = st.sampled_from((False,) * 7 + (True,))


# ------------------------------------------------------------------------------ PDU fields

_small_errors = st.integers(-2, 2)


def _draw_length(draw: st.DrawFn, truth: int) -> int:
    """A length or count field: mostly the truth, else a near miss or any octet."""
    truth = min(truth, 255)
    if not draw(rarely):
        return truth
    if draw(st.booleans()):
        return draw(octets)
    return min(255, max(0, truth + draw(_small_errors)))


def _swap(digits: str) -> bytes:
    """Digits as swapped semi-octets, F-filled (TS 23.040 §9.1.2.3)."""
    nibbles = [SEMI_OCTET_DIGITS.index(d) for d in digits]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


_address_styles = st.sampled_from(("international", "national", "alphanumeric", "raw"))
_names = st.text(GSM7_CHARS, max_size=11)
_address_digits = st.text(SEMI_OCTET_DIGITS, max_size=20)
_short_binary = st.binary(max_size=12)


def _draw_address(draw: st.DrawFn) -> bytes:
    """A TP address: digit count (or semi-octets of a packed name), type, value."""
    style = draw(_address_styles)
    if style == "alphanumeric":
        septets = gsm7.encode(draw(_names))
        value, count, kind = gsm7.pack(septets), (len(septets) * 7 + 3) // 4, 0xD0
    elif style == "raw":
        value = draw(_short_binary)
        count, kind = 2 * len(value), draw(octets)
    else:
        digits = draw(_address_digits)
        value, count = _swap(digits), len(digits)
        kind = 0x91 if style == "international" else 0x81
    return bytes([_draw_length(draw, count), kind]) + value


_smsc_styles = st.sampled_from(("none", "none", "number", "number", "number", "raw", "absent"))
_smsc_digits = st.text("0123456789", min_size=1, max_size=16)


def _draw_smsc(draw: st.DrawFn) -> bytes:
    """The SMSC field: none (00), a number, raw octets, or absent (a bare TPDU)."""
    style = draw(_smsc_styles)
    if style == "absent":
        return b""
    if style == "none":
        return b"\x00"
    body = b"\x91" + _swap(draw(_smsc_digits)) if style == "number" else draw(_short_binary)
    return bytes([_draw_length(draw, len(body))]) + body


def _bcd(value: int) -> int:
    return (value % 10) << 4 | value // 10


_timestamp_styles = st.sampled_from(("real", "real", "real", "impossible", "raw"))
_scts_dates = st.datetimes(datetime(1990, 1, 1), datetime(2089, 12, 31))
_decimal_fields = st.lists(st.integers(0, 99), min_size=6, max_size=6)
_seven_octets = st.binary(min_size=7, max_size=7)


def _draw_timestamp(draw: st.DrawFn) -> bytes:
    """A 7-octet SCTS: a real date, impossible decimal fields (month 13, day 0), or raw."""
    style = draw(_timestamp_styles)
    if style == "raw":
        return draw(_seven_octets)
    if style == "real":
        moment = draw(_scts_dates)
        fields = [moment.year % 100, *moment.timetuple()[1:6]]  # month to second
    else:
        fields = draw(_decimal_fields)
    # Any zone octet: the sign bit, and digits beyond 9, are seen from real modems.
    return bytes(_bcd(value) for value in fields) + bytes([draw(octets)])


# A few coding schemes per alphabet (general, message class, waiting, compressed), so that
# the user data length is mostly counted in the unit the scheme implies.
_SCHEMES = {
    "gsm7": (0x00, 0x01, 0x10, 0x11, 0x40, 0x80, 0xC0, 0xD0, 0xF0, 0xF1),
    "ucs2": (0x08, 0x18, 0x48, 0xE0),
    "8bit": (0x04, 0x14, 0x20, 0x24, 0xF4, 0xF6),
}
_encodings = st.sampled_from(tuple(_SCHEMES))
_schemes = {encoding: st.sampled_from(values) for encoding, values in _SCHEMES.items()}


def _draw_coding(draw: st.DrawFn) -> tuple[int, str]:
    """(TP-DCS, the alphabet the body is written in): mostly agreeing, rarely any DCS."""
    encoding = draw(_encodings)
    dcs = draw(octets) if draw(rarely) else draw(_schemes[encoding])
    return dcs, encoding


_element_styles = st.sampled_from(("concat8", "concat16", "other", "overrunning"))
_totals, _seqs = st.integers(0, 4), st.integers(0, 5)
_seq_offsets = st.integers(0, 3)


def _draw_part_numbers(draw: st.DrawFn) -> tuple[int, int]:
    """(total, seq): mostly part 1-4 of 1-4, rarely anything (seq 0, seq beyond total)."""
    if draw(rarely):
        return draw(_totals), draw(_seqs)
    total = 1 + draw(_seq_offsets)
    return total, 1 + draw(_seq_offsets) % total


_concat_ieis = st.sampled_from((0x00, 0x08))
_element_values = st.binary(max_size=8)


def _draw_information_element(draw: st.DrawFn) -> bytes:
    """One UDH information element: concatenation (8- or 16-bit reference, sequence numbers
    0 to beyond the total), any other element, or one whose length overruns the header."""
    style = draw(_element_styles)
    total, seq = _draw_part_numbers(draw)
    if style == "concat8":
        return bytes([0x00, 3, draw(octets), total, seq])
    if style == "concat16":
        return bytes([0x08, 4, draw(octets), draw(octets), total, seq])
    iei = draw(octets) if draw(st.booleans()) else draw(_concat_ieis)
    value = draw(_element_values)
    length = draw(octets) if style == "overrunning" else len(value)
    return bytes([iei, length]) + value


_element_counts = st.integers(0, 3)


def _draw_user_data_header(draw: st.DrawFn) -> bytes:
    """A UDH: its length octet (which may lie), then up to three information elements."""
    count = draw(_element_counts)
    elements = b"".join(_draw_information_element(draw) for _ in range(count))
    return bytes([_draw_length(draw, len(elements))]) + elements


_text_septets = st.text(GSM7_CHARS, max_size=170).map(gsm7.encode)
_any_septets = st.lists(st.integers(0, 127), max_size=170)  # lone escapes included
_ucs2_texts = st.text(characters, max_size=70)
_data_bodies = st.binary(max_size=140)
_paddings = st.sampled_from((b"", b"", b"\xff", b"\xff" * 9, b"\x00"))


def _draw_body(draw: st.DrawFn, encoding: str, udh: bytes) -> tuple[int, bytes]:
    """(the true TP-UDL, the octets after the header) for a body in `encoding`."""
    if encoding == "gsm7":
        septets = draw(_any_septets) if draw(rarely) else draw(_text_septets)
        header_septets = (len(udh) * 8 + 6) // 7
        fill_bits = header_septets * 7 - len(udh) * 8
        return header_septets + len(septets), gsm7.pack(septets, fill_bits)
    if encoding == "ucs2":
        body = draw(_ucs2_texts).encode("utf-16-be")
        if draw(rarely):  # cut anywhere, even in the middle of a UTF-16 unit
            body = body[: draw(st.integers(0, len(body)))]
    else:
        body = draw(_data_bodies)
    return len(udh) + len(body), body


def _draw_user_data(draw: st.DrawFn, encoding: str) -> tuple[bool, bytes]:
    """(TP-UDHI, TP-UDL + TP-UD): a header or none, a body, a length that may lie, padding."""
    udh = _draw_user_data_header(draw) if draw(st.booleans()) else b""
    udhi = bool(udh) != draw(rarely)  # rarely announcing a header that is not there, or not
    length, body = _draw_body(draw, encoding, udh)
    return udhi, bytes([_draw_length(draw, length)]) + udh + body + draw(_paddings)


_deliver_flags = st.sampled_from((0x00, 0x04, 0x20, 0x80, 0xA4))  # MMS, SRI, reply path


@st.composite
def deliver_tpdus(draw: st.DrawFn) -> bytes:
    """An SMS-DELIVER: first octet, originator, PID, DCS, SCTS, user data."""
    dcs, encoding = _draw_coding(draw)
    udhi, ud = _draw_user_data(draw, encoding)
    first = draw(_deliver_flags) | (0x40 if udhi else 0)
    head = bytes([first]) + _draw_address(draw) + bytes([draw(octets), dcs])
    return head + _draw_timestamp(draw) + ud


_VALIDITY_OCTETS = {0b00: 0, 0b10: 1, 0b01: 7, 0b11: 7}
_vpfs = st.integers(0, 3)
_validity_sizes = st.integers(0, 7)
_submit_flags = st.sampled_from((0x00, 0x04, 0x20))  # reject duplicates, status report


@st.composite
def submit_tpdus(draw: st.DrawFn) -> bytes:
    """An SMS-SUBMIT: first octet (validity format, status report request), reference,
    destination, PID, DCS, a validity period of the announced size or not, user data."""
    dcs, encoding = _draw_coding(draw)
    udhi, ud = _draw_user_data(draw, encoding)
    vpf = draw(_vpfs)
    size = draw(_validity_sizes) if draw(rarely) else _VALIDITY_OCTETS[vpf]
    first = 0x01 | vpf << 3 | (0x40 if udhi else 0) | draw(_submit_flags)
    head = bytes([first, draw(octets)]) + _draw_address(draw) + bytes([draw(octets), dcs])
    return head + draw(st.binary(min_size=size, max_size=size)) + ud


_report_flags = st.sampled_from((0x00, 0x04, 0x20, 0x40))
_report_extras = st.binary(max_size=20)


@st.composite
def status_report_tpdus(draw: st.DrawFn) -> bytes:
    """An SMS-STATUS-REPORT: reference, recipient, two timestamps, status, optional extras."""
    head = bytes([0x02 | draw(_report_flags), draw(octets)]) + _draw_address(draw)
    times = _draw_timestamp(draw) + _draw_timestamp(draw)
    return head + times + bytes([draw(octets)]) + draw(_report_extras)


reserved_tpdus = st.tuples(octets, st.binary(max_size=40)).map(
    lambda t: bytes([t[0] | 0x03]) + t[1]
)
"""TP-MTI 11, which no decoder may read as a message."""

_damage_counts = st.sampled_from((0, 0, 0, 1, 2))
_damages = st.sampled_from(("truncate", "overwrite", "delete", "insert"))


def _draw_damage(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` mostly intact, else truncated, overwritten, shortened or lengthened."""
    buffer = bytearray(data)
    for _ in range(draw(_damage_counts)):
        where = draw(st.integers(0, len(buffer)))
        damage = draw(_damages)
        if damage == "truncate":
            del buffer[where:]
        elif damage == "insert":
            buffer.insert(where, draw(octets))
        elif where < len(buffer):
            if damage == "overwrite":
                buffer[where] = draw(octets)
            else:
                del buffer[where]
    return bytes(buffer)


_cases = st.sampled_from(("upper", "lower", "mixed"))
_flaws = st.sampled_from(("none",) * 6 + ("odd", "foreign", "quoted", "spaced"))
_foreign = st.one_of(st.sampled_from("GgZz-x: \x00\r\n\ufffd\u0660"), characters)


def _draw_rendering(draw: st.DrawFn, data: bytes) -> str:
    """`data` as hex the way modems show it (any case, quoted, wrapped in whitespace), or
    spoilt: a digit missing or extra, a character that is no hex digit."""
    digits = data.hex()
    case = draw(_cases)
    if case == "upper":
        digits = digits.upper()
    elif case == "mixed":
        digits = "".join(c.upper() if i % 3 else c for i, c in enumerate(digits))
    flaw = draw(_flaws)
    where = draw(st.integers(0, len(digits)))
    if flaw == "odd":
        return digits[:-1] if draw(st.booleans()) else digits[:where] + "7" + digits[where:]
    if flaw == "foreign":
        return digits[:where] + draw(_foreign) + digits[where:]
    if flaw == "quoted":
        return f'"{digits}"'
    return f" \t{digits}\r\n" if flaw == "spaced" else digits


# Mostly messages a phone receives; a reserved type now and then.
_tpdu_kinds = st.sampled_from(
    (deliver_tpdus(),) * 3 + (submit_tpdus(), status_report_tpdus()) * 2 + (reserved_tpdus,)
)


@st.composite
def _structured_pdus(draw: st.DrawFn) -> str:
    data = _draw_smsc(draw) + draw(draw(_tpdu_kinds))
    return _draw_rendering(draw, _draw_damage(draw, data))


structured_pdus = _structured_pdus()
"""PDUs built field by field, then perhaps damaged, rendered as hex."""

pdu_strings = st.one_of(
    structured_pdus,
    st.binary(max_size=200).map(bytes.hex),
    st.text("0123456789ABCDEFabcdef", max_size=120),
    line_texts,
)
"""Anything that may stand where a PDU line should: structured, random hex, any text."""


# ------------------------------------------------------------- concatenated parts to ingest

_part_senders = st.sampled_from(("33612345678", "33698765432"))
_part_codings = st.sampled_from(((0x00, "gsm7"), (0x08, "ucs2"), (0x04, "8bit")))
_part_refs, _part_numbers = st.integers(0, 1), st.integers(0, 3)
_part_texts = st.text(GSM7_CHARS, max_size=20)
_SCTS = bytes([0x62, 0x30, 0x80, 0x21, 0x00, 0x00, 0x40])  # 2026-03-08 12:00 +01:00


@st.composite
def _concatenated_parts(draw: st.DrawFn) -> str:
    sender = draw(_part_senders)
    dcs, encoding = draw(_part_codings)
    udh = bytes([5, 0x00, 3, draw(_part_refs), draw(_part_numbers), draw(_part_numbers)])
    text = draw(_part_texts)
    if encoding == "gsm7":
        septets = gsm7.encode(text)
        udl, body = 7 + len(septets), gsm7.pack(septets, 1)  # 6 header octets: 7 septets
    else:
        body = text.encode("utf-16-be" if encoding == "ucs2" else "utf-8")
        udl = len(udh) + len(body)
    originator = bytes([len(sender), 0x91]) + _swap(sender)
    tpdu = b"\x44" + originator + bytes([0x00, dcs]) + _SCTS + bytes([udl]) + udh + body
    return (b"\x00" + tpdu).hex().upper()


concatenated_parts = _concatenated_parts()
"""A well-formed SMS-DELIVER part from one of two senders with one of two references, 0 to
3 parts, seq 0 to 3: drawn together, parts complete, repeat or contradict one another."""

stored_pdus = st.one_of(pdu_strings, concatenated_parts)
"""What `AT+CMGL`/`AT+CMGR` may show as a stored message's PDU."""


# --------------------------------------------------------------------------- round trips

phone_numbers = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
"""Every number the encoders accept: optional '+', 1 to 20 digits."""

alphanumeric_senders = st.text(GSM7_CHARS, min_size=1, max_size=11).filter(
    lambda name: not re.fullmatch(r"\+?[0-9]+", name)
)
"""Names of 1 to 11 GSM-7 characters that do not read as a number."""

message_texts = st.one_of(
    st.text(GSM7_CHARS, max_size=700),
    st.text(characters, max_size=300),
    st.text(st.sampled_from([*GSM7_CHARS[:30], "€", "[", "😀", "ж", "ê", "\u200b"])),
)
"""GSM-7 texts (extension characters included), any Unicode text, and a mix of both."""

_zones = st.integers(-79, 79).map(lambda quarters: timezone(timedelta(minutes=15 * quarters)))
scts_moments = st.datetimes(datetime(1990, 1, 1), datetime(2089, 12, 31), timezones=_zones).map(
    lambda moment: moment.replace(microsecond=0)
)
"""Instants an SCTS can hold: 1990-2089, whole seconds, quarter-hour zones to ±19:45."""


# --------------------------------------------------------------------------- serial lines

# Prefixes of lines modems send, unsolicited or in answers, for lines with arbitrary tails.
_prefixes = st.sampled_from(
    (
        "+CMTI:",
        '+CMTI: "SM",',
        "+CDSI:",
        "RING",
        "+CRING: ",
        '+CLIP: "',
        '+CLIP: "0612345678",',
        "+CMGR: ",
        "+CMGL: ",
        "+CMGS: ",
        "+CSQ: ",
        "+CREG: ",
        '+COPS: 0,0,"',
        "+CPIN: ",
        "+CMS ERROR: ",
        "+CME ERROR: ",
        "^RSSI:",
        "^BOOT:",
        "^SYSSTART",
        "+CUSD: ",
        "RDY",
        "OK",
        "ERROR",
        "",
    )
)
# Fields, separators and oddities; "\u0663\u0664" are digits int() reads, "²" and "①" digits
# (str.isdigit) it does not.
_atoms = ('"', ",", ", ", " ", "SM", "ME", "129", "145", "\ufffd", "\x00", "> ")
_atoms += ("\u0663\u0664", "²", "①")
_small_numbers = st.integers(0, 10**6).map(str)
# Beyond what int() reads (MAX_INT_DIGITS), and far beyond any field a parser should take.
_nines = st.integers(1, 3 * MAX_INT_DIGITS).map(lambda n: "9" * n)


@st.composite
def digit_runs(draw: st.DrawFn) -> str:
    """Decimal numbers, small or absurdly long (a line of noise can be mostly digits)."""
    if draw(st.booleans()):
        return draw(_small_numbers)
    return draw(_nines)


_line_atoms = st.lists(st.one_of(st.sampled_from(_atoms), digit_runs(), line_texts), max_size=8)


modem_lines = st.tuples(_prefixes, _line_atoms).map(lambda t: t[0] + "".join(t[1]))
"""A line as the reader hands it on: a modem's prefix, then fields, digits, noise."""

_lengths = st.one_of(digit_runs(), st.sampled_from(("24", " 24", "", "²", "24\x00")))
_headers = st.tuples(
    st.sampled_from(("+CMGR: ", "+CMGL: ")), digit_runs(), digit_runs(), _lengths
).map(lambda t: f"{t[0]}{t[1]},{t[2]},,{t[3]}")
# A stored message as +CMGR/+CMGL show it: header, then its PDU (or something else).
_stored_blocks = st.tuples(_headers, st.one_of(structured_pdus, modem_lines)).map(list)
_blocks = st.lists(st.one_of(modem_lines.map(lambda line: [line]), _stored_blocks), max_size=6)
_final_lines = st.one_of(
    st.sampled_from(("OK", "ERROR", "COMMAND NOT SUPPORT", "+CMS ERROR: 321", "+CME ERROR: 10")),
    st.tuples(st.sampled_from(("+CMS ERROR: ", "+CME ERROR: ")), digit_runs()).map("".join),
    st.tuples(st.sampled_from(("OK", "ERROR")), line_texts).map("".join),
)


@st.composite
def _command_responses(draw: st.DrawFn) -> list[str]:
    return [line for block in draw(_blocks) for line in block] + [draw(_final_lines)]


command_responses = _command_responses()
"""A command's response as python-gsmmodem returns it: lines, then one its RESPONSE_TERM ends
on (OK, ERROR, +CMx ERROR: n, or a line that merely starts with OK or ERROR)."""

_AT_LINES = (
    "OK",
    "ERROR",
    "+CMS ERROR: 500",
    '+CMTI: "SM",3',
    "RING",
    '+CLIP: "0612345678",129,,,,0',
    "+CSQ: 17,99",
    "^RSSI: 14",
    "+CMGR: 0,,24",
    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
    "> ",
    "RDY",
)
_INVALID_UTF8 = (b"\xff", b"\xfe\xff", b"\x80", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")
_CONTROLS = (b"\x00", b"\r", b"\n", b"\r\r\n", b"\n\r", b"\x1a", b"\x1b", b" ")
_run_units = st.binary(min_size=1, max_size=4).map(
    lambda unit: unit.replace(b"\r", b".").replace(b"\n", b".")
)
_run_lengths = st.one_of(
    st.integers(MAX_LINE_BYTES - 4, MAX_LINE_BYTES + 4), st.integers(1, 3 * MAX_LINE_BYTES)
)


@st.composite
def long_runs(draw: st.DrawFn) -> bytes:
    """A run without line ends, around or beyond MAX_LINE_BYTES: built by repetition, so
    that an example stays small for hypothesis however long the run."""
    unit, length = draw(_run_units), draw(_run_lengths)
    run = (unit * (length // len(unit) + 1))[:length]
    return run


_short_pieces = (
    st.sampled_from(_AT_LINES).map(lambda line: CRLF + line.encode() + CRLF),
    st.binary(max_size=64),
    st.sampled_from(_INVALID_UTF8),
    st.sampled_from(_CONTROLS),
    modem_lines.map(lambda line: line.encode(errors="replace")),
)
serial_noise = st.lists(st.one_of(*_short_pieces, long_runs()), max_size=12).map(b"".join)
"""Bytes on a noisy line: modem lines, random bytes, bad UTF-8, controls, long runs."""

short_line_noise = st.lists(st.one_of(*_short_pieces), max_size=12).map(b"".join)
"""Serial noise without the long runs: its lines nearly always fit MAX_LINE_BYTES."""

MAX_CHUNKS = 400  # a byte-by-byte read of a 200 kB stream would rescan its buffer for seconds
_cut_styles = st.sampled_from(("whole", "fixed", "random", "line ends"))
_chunk_sizes = st.integers(1, 512)


def _draw_chunks(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut as reads may cut it: whole, in fixed sizes (down to single bytes), at
    random places, or right after every CR and every LF (splitting each CRLF)."""
    style = draw(_cut_styles)
    cuts: set[int] = set()
    if style == "fixed":
        size = max(draw(_chunk_sizes), len(data) // MAX_CHUNKS + 1)
        cuts = set(range(size, len(data), size))
    elif style == "random":
        cuts = set(draw(st.lists(st.integers(0, len(data)), max_size=40)))
    elif style == "line ends":
        cuts = {match.end() for match in re.finditer(rb"[\r\n]", data)}
    bounds = [0, *sorted(cuts - {0, len(data)}), len(data)]
    return [data[start:end] for start, end in pairwise(bounds) if end > start]


_markers = st.sampled_from(
    ('+CMTI: "SM",{}', '+CMTI: "ME",{}', '+CDSI: "SR",{}', '+CLIP: "+3361{}",145,,,,0')
)
_marker_counts = st.integers(0, 5)
FIRST_MARKER_ID = 1_000_000  # far from any slot or number the noise itself holds


@dataclass(frozen=True)
class MarkedStream:
    """Noise with well-formed unsolicited lines (`markers`) set between CRLFs, in chunks."""

    chunks: tuple[bytes, ...]
    markers: tuple[str, ...]

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


@st.composite
def _marked_streams(draw: st.DrawFn, noise: st.SearchStrategy[bytes]) -> MarkedStream:
    pieces, markers = [draw(noise)], []
    for index in range(draw(_marker_counts)):
        marker = draw(_markers).format(FIRST_MARKER_ID + index)
        markers.append(marker)
        pieces += [CRLF + marker.encode() + CRLF, draw(noise)]
    chunks = _draw_chunks(draw, b"".join(pieces))
    return MarkedStream(chunks=tuple(chunks), markers=tuple(markers))


marked_streams = _marked_streams(serial_noise)
"""Up to five unique unsolicited lines, each between CRLFs, among serial noise, in reads."""

short_line_streams = _marked_streams(short_line_noise)
"""Marked streams of `short_line_noise`."""
