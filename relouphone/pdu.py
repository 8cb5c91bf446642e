"""SMS transfer-layer PDUs (3GPP TS 23.040): decode what the modem hands us, encode what we send.

Pure functions over hex strings and dataclasses, no I/O. In PDU mode a modem shows a message
as hex: the SMSC address first (``00`` for "none" / "the modem's default"), then the TPDU.
Three TPDU types matter here, told apart by the message type indicator (TP-MTI, the two low
bits of the first octet): SMS-DELIVER (00) is what a phone receives, SMS-SUBMIT (01) what it
sends (and what the modem stores for sent messages), SMS-STATUS-REPORT (10) the network's
delivery receipt.

Decoding is lenient where real modems are sloppy (trailing ``FF`` padding, a stray quote,
lowercase hex, odd digits in addresses and time zones) and raises `PduError`, and only
`PduError`, for anything it cannot read.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from relouphone import gsm7
from relouphone.errors import PduError

__all__ = [
    "Address",
    "Concat",
    "Deliver",
    "EncodedPdu",
    "StatusReport",
    "Submit",
    "TextPlan",
    "decode_pdu",
    "encode_deliver",
    "encode_submit",
    "plan_text",
    "reassemble",
]

TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5

# Single-part capacities, and what remains once a 6-octet concatenation header
# (UDHL + IE 00, length 3, ref, total, seq) takes its share.
GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
OCTETS_SINGLE = 140
OCTETS_PART = 134
MAX_PARTS = 255

DEFAULT_VALIDITY = 0xA7
"""24 hours (TS 23.040 §9.2.3.12.1): a delayed reply that cannot reach the phone within a
day is stale, so the SMSC should drop it rather than keep retrying for its default of days."""

_SEMI_OCTET_DIGITS = "0123456789*#abc"  # nibble 0xF is fill
_IEI_CONCAT_8 = 0x00
_IEI_CONCAT_16 = 0x08


@dataclass(frozen=True)
class Concat:
    """Concatenation info from the UDH: part `seq` of `total` of message `ref`."""

    ref: int
    total: int
    seq: int
    ref_bits: int  # 8 or 16, the width of the reference in the information element


@dataclass(frozen=True)
class Address:
    """A TP address as received.

    `number` is "+digits" for an international number (TON 1), the digits as they came for
    any other numeric type, and the decoded text for an alphanumeric sender (TON 5).
    """

    number: str
    ton: int
    npi: int

    @property
    def is_alphanumeric(self) -> bool:
        return self.ton == TON_ALPHANUMERIC

    @property
    def is_international(self) -> bool:
        return self.ton == TON_INTERNATIONAL


@dataclass(frozen=True)
class Deliver:
    """An SMS-DELIVER: a message the phone received.

    `text` is None when the payload is not text (8-bit data, compressed text); `data` is the
    raw user data after the UDH (for GSM-7, the packed octets including any fill bits);
    `udh` is the raw header with its length octet, empty when there is none.
    """

    smsc: str | None
    sender: Address
    timestamp: datetime
    text: str | None
    encoding: str
    data: bytes
    concat: Concat | None
    pid: int
    dcs: int
    udh: bytes
    type: ClassVar[str] = "SMS-DELIVER"


@dataclass(frozen=True)
class Submit:
    """An SMS-SUBMIT: a message on its way from a phone to the network.

    `validity` is the raw TP-VP octet when the validity period is relative, else None.
    """

    smsc: str | None
    recipient: Address
    reference: int
    text: str | None
    encoding: str
    data: bytes
    concat: Concat | None
    pid: int
    dcs: int
    udh: bytes
    status_report_requested: bool
    validity: int | None
    type: ClassVar[str] = "SMS-SUBMIT"


@dataclass(frozen=True)
class StatusReport:
    """An SMS-STATUS-REPORT for the message we sent with TP-MR `reference`.

    `status` is TP-ST: 0x00-0x1F delivered, 0x20-0x3F still trying, 0x40 and up failed.
    """

    smsc: str | None
    reference: int
    recipient: Address
    timestamp: datetime
    discharge: datetime
    status: int
    type: ClassVar[str] = "SMS-STATUS-REPORT"


@dataclass(frozen=True)
class EncodedPdu:
    """One PDU ready for AT+CMGS: `hex` starts with ``00`` (the modem's default SMSC) and
    `tpdu_length` is the octet count after that field, the <length> AT+CMGS wants."""

    hex: str
    tpdu_length: int


@dataclass(frozen=True)
class TextPlan:
    """How a text would be sent: encoding, part count, size in septets or UTF-16 units, and
    the characters that forced UCS-2 (empty for GSM-7)."""

    encoding: str
    parts: int
    units: int
    forcing: tuple[str, ...]


# ---------------------------------------------------------------------------- decoding


class _Reader:
    """Octets consumed front to back; running out is a PduError naming the field."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def octet(self, field: str) -> int:
        return self.take(1, field)[0]

    def take(self, count: int, field: str) -> bytes:
        if self._pos + count > len(self._data):
            raise PduError(f"PDU truncated in {field}")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def rest(self) -> bytes:
        return self._data[self._pos :]


def _clean_hex(pdu_hex: str) -> bytes:
    # Modems wrap the PDU in whitespace and sometimes a stray quote; lowercase is valid hex.
    cleaned = pdu_hex.strip().strip('"').strip()
    if not cleaned:
        raise PduError("empty PDU")
    if not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
        raise PduError("PDU is not hexadecimal")
    if len(cleaned) % 2:
        raise PduError("PDU has an odd number of hex digits")
    return bytes.fromhex(cleaned)


def _semi_octets(data: bytes, count: int) -> str:
    """`count` swapped BCD digits; 0xA-0xE are * # a b c (TS 23.040 §9.1.2.3), F is fill."""
    digits = []
    for octet in data:
        digits.append(octet & 0x0F)
        digits.append(octet >> 4)
    return "".join(_SEMI_OCTET_DIGITS[d] for d in digits[:count] if d != 0x0F)


def _read_address(reader: _Reader, field: str) -> Address:
    """A TP address: digit count, type octet, then semi-octets (or packed GSM-7 text)."""
    length = reader.octet(field)
    type_octet = reader.octet(field)
    value = reader.take((length + 1) // 2, field)
    ton, npi = (type_octet >> 4) & 0x07, type_octet & 0x0F
    if ton == TON_ALPHANUMERIC:
        # The length counts semi-octets of packed septets: only whole septets are text.
        number = gsm7.decode(gsm7.unpack(value, length * 4 // 7))
    else:
        number = _semi_octets(value, length)
        if ton == TON_INTERNATIONAL and number:
            number = "+" + number
    return Address(number=number, ton=ton, npi=npi)


def _read_smsc(reader: _Reader) -> str | None:
    """The SMSC field: its length counts octets (type included); 0 or a bare type is none."""
    length = reader.octet("SMSC address")
    if length == 0:
        return None
    type_octet = reader.octet("SMSC address")
    number = _semi_octets(reader.take(length - 1, "SMSC address"), 2 * (length - 1))
    if not number:
        return None
    return "+" + number if (type_octet >> 4) & 0x07 == TON_INTERNATIONAL else number


def _bcd(octet: int, field: str) -> int:
    low, high = octet & 0x0F, octet >> 4
    if low > 9 or high > 9:
        raise PduError(f"{field} has a non-decimal digit")
    return low * 10 + high


def _read_timestamp(reader: _Reader, field: str) -> datetime:
    """A 7-octet SCTS: swapped BCD yy mm dd hh mm ss, then the zone in quarter hours."""
    raw = reader.take(7, field)
    year, month, day, hour, minute, second = (_bcd(octet, field) for octet in raw[:6])
    zone = raw[6]
    # Bit 3 of the zone octet is the sign. Its digits are read without the decimal check:
    # some modems put 0xC in the units (python-gsmmodem's "+08" report), and any value fits.
    quarters = (zone & 0x07) * 10 + (zone >> 4)
    offset = timedelta(minutes=15 * quarters)
    if zone & 0x08:
        offset = -offset
    # Two-digit years: 90-99 are the 1990s (as Gammu reads them), the rest this century.
    century = 1900 if year >= 90 else 2000
    try:
        return datetime(century + year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as error:
        raise PduError(f"{field} is not a valid date: {error}") from error


def _read_validity(reader: _Reader, vpf: int) -> int | None:
    """TP-VP by its format: none, relative (1 octet, returned raw), enhanced or absolute."""
    if vpf == 0b10:
        return reader.octet("validity period")
    if vpf in (0b01, 0b11):
        reader.take(7, "validity period")
    return None


def _dcs_encoding(dcs: int) -> str:
    """The alphabet a TP-DCS announces: "gsm7", "ucs2" or "8bit" (TS 23.038 §4).

    Compressed text is reported as "8bit": we cannot decompress it, so it is data.
    Reserved codings read as GSM-7, as the standard tells a receiver to.
    """
    group = dcs >> 4
    if group <= 0b0111:  # general data coding, with or without automatic deletion
        if dcs & 0x20:
            return "8bit"
        return {0b01: "8bit", 0b10: "ucs2"}.get((dcs >> 2) & 0x03, "gsm7")
    if group == 0b1110:  # message waiting, store, UCS-2
        return "ucs2"
    if group == 0b1111:  # data coding / message class; bit 3 is reserved
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"  # message waiting groups (GSM-7) and reserved groups


def _parse_concat(udh: bytes) -> Concat | None:
    """The concatenation IE of a UDH, if any; an IE overrunning the header ends the walk."""
    pos = 0
    while pos + 2 <= len(udh):
        iei, length = udh[pos], udh[pos + 1]
        value = udh[pos + 2 : pos + 2 + length]
        if len(value) < length:
            return None
        pos += 2 + length
        if iei == _IEI_CONCAT_8 and length == 3:
            concat = Concat(ref=value[0], total=value[1], seq=value[2], ref_bits=8)
        elif iei == _IEI_CONCAT_16 and length == 4:
            ref = int.from_bytes(value[:2], "big")
            concat = Concat(ref=ref, total=value[2], seq=value[3], ref_bits=16)
        else:
            continue
        # TS 23.040 §9.2.3.24.1: a receiver ignores a concatenation IE with impossible numbers.
        if 1 <= concat.seq <= concat.total:
            return concat
        return None
    return None


@dataclass(frozen=True)
class _UserData:
    text: str | None
    encoding: str
    data: bytes
    udh: bytes
    concat: Concat | None


def _decode_ucs2(data: bytes) -> str:
    # An odd trailing octet cannot be a UTF-16 unit: decode the rest, mark the loss.
    text = data[: len(data) // 2 * 2].decode("utf-16-be", errors="replace")
    return text + "\ufffd" if len(data) % 2 else text


def _read_user_data(reader: _Reader, dcs: int, has_udh: bool) -> _UserData:
    """TP-UDL and TP-UD: the optional UDH, then the text or data."""
    encoding = _dcs_encoding(dcs)
    udl = reader.octet("user data length")
    octets = (udl * 7 + 7) // 8 if encoding == "gsm7" else udl
    available = reader.rest()
    if len(available) < octets:
        raise PduError(f"user data length says {octets} octets but {len(available)} remain")
    payload = available[:octets]  # anything after is padding (often FF)
    udh = b""
    # UDHI with no user data at all (seen from real phones) just means "no header".
    if has_udh and payload:
        header_length = payload[0] + 1
        if header_length > len(payload):
            raise PduError("user data header is longer than the user data")
        udh = payload[:header_length]
    body = payload[len(udh) :]
    concat = _parse_concat(udh[1:])
    if encoding == "gsm7":
        # The text starts on the first septet boundary after the header.
        header_septets = (len(udh) * 8 + 6) // 7
        fill_bits = header_septets * 7 - len(udh) * 8
        text_septets = udl - header_septets
        if text_septets < 0:
            raise PduError("user data header is longer than the user data")
        text = gsm7.decode(gsm7.unpack(body, text_septets, fill_bits))
    elif encoding == "ucs2":
        text = _decode_ucs2(body)
    else:
        text = None
    return _UserData(text=text, encoding=encoding, data=body, udh=udh, concat=concat)


def _decode_deliver(reader: _Reader, first: int, smsc: str | None) -> Deliver:
    sender = _read_address(reader, "originating address")
    pid = reader.octet("protocol identifier")
    dcs = reader.octet("data coding scheme")
    timestamp = _read_timestamp(reader, "service centre timestamp")
    user_data = _read_user_data(reader, dcs, has_udh=bool(first & 0x40))
    return Deliver(
        smsc=smsc,
        sender=sender,
        timestamp=timestamp,
        text=user_data.text,
        encoding=user_data.encoding,
        data=user_data.data,
        concat=user_data.concat,
        pid=pid,
        dcs=dcs,
        udh=user_data.udh,
    )


def _decode_submit(reader: _Reader, first: int, smsc: str | None) -> Submit:
    reference = reader.octet("message reference")
    recipient = _read_address(reader, "destination address")
    pid = reader.octet("protocol identifier")
    dcs = reader.octet("data coding scheme")
    validity = _read_validity(reader, (first >> 3) & 0x03)
    user_data = _read_user_data(reader, dcs, has_udh=bool(first & 0x40))
    return Submit(
        smsc=smsc,
        recipient=recipient,
        reference=reference,
        text=user_data.text,
        encoding=user_data.encoding,
        data=user_data.data,
        concat=user_data.concat,
        pid=pid,
        dcs=dcs,
        udh=user_data.udh,
        status_report_requested=bool(first & 0x20),
        validity=validity,
    )


def _decode_status_report(reader: _Reader, first: int, smsc: str | None) -> StatusReport:
    reference = reader.octet("message reference")
    recipient = _read_address(reader, "recipient address")
    timestamp = _read_timestamp(reader, "service centre timestamp")
    discharge = _read_timestamp(reader, "discharge time")
    status = reader.octet("status")
    # Optional parameter indicator and what follows are of no use to us: ignored.
    return StatusReport(
        smsc=smsc,
        reference=reference,
        recipient=recipient,
        timestamp=timestamp,
        discharge=discharge,
        status=status,
    )


_DECODERS: dict[int, Callable[[_Reader, int, str | None], Deliver | Submit | StatusReport]] = {
    0b00: _decode_deliver,
    0b01: _decode_submit,
    0b10: _decode_status_report,
}


def decode_pdu(
    pdu_hex: str, *, smsc_included: bool = True, incoming: bool | None = None
) -> Deliver | Submit | StatusReport:
    """Decode a PDU-mode hex string into a Deliver, Submit or StatusReport.

    `smsc_included`: the hex starts with the SMSC field, as in +CMGR/+CMGL/+CMT output.
    `incoming`: None reads the type from TP-MTI alone (a stored sent message is a SUBMIT).
    True insists on a network-to-phone type (DELIVER or STATUS-REPORT), False on a SUBMIT
    (what the simulator expects from a daemon); a mismatch raises PduError.
    Raises PduError, and nothing else, for anything malformed.
    """
    if not isinstance(pdu_hex, str):
        raise PduError("PDU must be a hex string")
    reader = _Reader(_clean_hex(pdu_hex))
    smsc = _read_smsc(reader) if smsc_included else None
    first = reader.octet("first octet")
    mti = first & 0x03
    decoder = _DECODERS.get(mti)
    if decoder is None:
        raise PduError("reserved message type (TP-MTI 11)")
    if incoming is not None and incoming != (mti != 0b01):
        direction = "incoming" if incoming else "outgoing"
        raise PduError(f"not an {direction} message type (TP-MTI {mti:02b})")
    return decoder(reader, first, smsc)


def reassemble(parts: Iterable[tuple[int, str]]) -> str:
    """Join the texts of a concatenated message's parts, given as (seq, text), by seq.

    Meant for a complete set: a missing part is not detected. A part seen twice (a modem
    may deliver one again) counts once, the first copy winning.
    """
    by_seq: dict[int, str] = {}
    for seq, text in parts:
        by_seq.setdefault(seq, text)
    return "".join(by_seq[seq] for seq in sorted(by_seq))


# ---------------------------------------------------------------------------- encoding


def plan_text(text: str) -> TextPlan:
    """How `encode_submit` would send `text`: GSM-7 when it can, else UCS-2, and in how many
    parts. Raises PduError for a text too long even for 255 parts."""
    forcing = tuple(gsm7.unencodable_chars(text))
    encoding = "ucs2" if forcing else "gsm7"
    chunks = _split(text, encoding)
    units = sum(_unit_cost(char, encoding) for char in text)
    return TextPlan(encoding=encoding, parts=len(chunks), units=units, forcing=forcing)


def _unit_cost(char: str, encoding: str) -> int:
    """Septets (GSM-7), UTF-16 units (UCS-2) or UTF-8 octets (8-bit) one character takes."""
    if encoding == "gsm7":
        return 2 if char in gsm7.EXTENSION_TABLE.values() else 1
    if encoding == "ucs2":
        return 2 if ord(char) > 0xFFFF else 1
    return len(char.encode("utf-8", errors="surrogatepass"))


def _split(text: str, encoding: str) -> list[str]:
    """Cut `text` into part texts, whole characters only.

    Cutting between characters keeps escape sequences and surrogate pairs whole, so a
    part may hold a unit less than the maximum.
    """
    single, per_part = {
        "gsm7": (GSM7_SINGLE, GSM7_PART),
        "ucs2": (UCS2_SINGLE, UCS2_PART),
        "8bit": (OCTETS_SINGLE, OCTETS_PART),
    }[encoding]
    costs = [_unit_cost(char, encoding) for char in text]
    if sum(costs) <= single:
        return [text]
    chunks: list[str] = []
    start, used = 0, 0
    for index, cost in enumerate(costs):
        if used + cost > per_part:
            chunks.append(text[start:index])
            start, used = index, 0
        used += cost
    chunks.append(text[start:])
    if len(chunks) > MAX_PARTS:
        raise PduError(f"text needs {len(chunks)} parts, more than {MAX_PARTS}")
    return chunks


def _check_text(text: str) -> None:
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise PduError("text contains a lone UTF-16 surrogate")


def _user_data(chunk: str, encoding: str, udh: bytes) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for one part: the header, then the chunk in `encoding`."""
    if encoding == "gsm7":
        header_septets = (len(udh) * 8 + 6) // 7
        fill_bits = header_septets * 7 - len(udh) * 8
        septets = gsm7.encode(chunk)
        return header_septets + len(septets), udh + gsm7.pack(septets, fill_bits)
    body = chunk.encode("utf-16-be" if encoding == "ucs2" else "utf-8")
    return len(udh) + len(body), udh + body


def _concat_udh(ref: int, total: int, seq: int) -> bytes:
    return bytes([5, _IEI_CONCAT_8, 3, ref, total, seq])


def _encode_parts(text: str, encoding: str, ref: int) -> list[tuple[bool, int, bytes]]:
    """(has UDH, TP-UDL, TP-UD) for each part of `text`."""
    _check_text(text)
    if encoding == "gsm7" and not gsm7.is_gsm7(text):
        chars = "".join(gsm7.unencodable_chars(text))
        raise PduError(f"characters {chars!r} are not in the GSM 7-bit alphabet")
    chunks = _split(text, encoding)
    if len(chunks) == 1:
        return [(False, *_user_data(text, encoding, b""))]
    total = len(chunks)
    return [
        (True, *_user_data(chunk, encoding, _concat_udh(ref, total, seq)))
        for seq, chunk in enumerate(chunks, start=1)
    ]


def _encode_number(number: str) -> bytes:
    """Length, type and swapped digits of a phone number: "+" makes it international."""
    match = re.fullmatch(r"(\+?)([0-9]{1,20})", number)
    if match is None:
        raise PduError(f"not a phone number: {number!r}")
    plus, digits = match.groups()
    type_octet = 0x91 if plus else 0x81
    return bytes([len(digits), type_octet]) + _swap_digits(digits)


def _swap_digits(digits: str) -> bytes:
    padded = digits + "F" * (len(digits) % 2)
    return bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))


def _encode_alphanumeric(name: str) -> bytes:
    """An alphanumeric address: packed GSM-7, its length in semi-octets actually used."""
    if not 1 <= len(name) <= 11 or not gsm7.is_gsm7(name):
        raise PduError(f"not a valid alphanumeric sender: {name!r}")
    septets = gsm7.encode(name)
    semi_octets = (len(septets) * 7 + 3) // 4
    return bytes([semi_octets, 0xD0]) + gsm7.pack(septets)


def _encode_smsc(smsc: str | None) -> bytes:
    if smsc is None:
        return b"\x00"
    address = _encode_number(smsc)
    # The SMSC field counts octets, type included, unlike TP addresses.
    return bytes([len(address) - 1]) + address[1:]


def _encode_timestamp(moment: datetime) -> bytes:
    offset = moment.utcoffset()
    if offset is None:
        raise PduError("timestamp must be timezone-aware")
    quarters, remainder = divmod(abs(int(offset.total_seconds())), 15 * 60)
    if remainder or quarters > 79 or not 1990 <= moment.year <= 2089:
        raise PduError(f"timestamp {moment.isoformat()} cannot be written as an SCTS")
    fields = [moment.year % 100, moment.month, moment.day, moment.hour, moment.minute]
    octets = [(value % 10) << 4 | value // 10 for value in [*fields, moment.second, quarters]]
    if offset < timedelta(0):
        octets[6] |= 0x08
    return bytes(octets)


def encode_submit(
    number: str,
    text: str,
    *,
    reference: int = 0,
    concat_ref: int = 0,
    request_status_report: bool = False,
    validity: int | None = DEFAULT_VALIDITY,
) -> list[EncodedPdu]:
    """SMS-SUBMIT PDUs for sending `text` to `number`, one per part, for AT+CMGS.

    GSM-7 when the whole text fits the alphabet, else UCS-2. Beyond one part the text is
    split (whole characters only) under an 8-bit concatenation header with `concat_ref`.
    `number` is "+digits" (international) or digits (unknown type). `validity` is a raw
    relative TP-VP octet (default 24 hours), or None to leave it to the SMSC.
    Raises PduError for a bad number, an out-of-range value or an unsendable text.
    """
    for name, value in (("reference", reference), ("concat_ref", concat_ref)):
        if not 0 <= value <= 0xFF:
            raise PduError(f"{name} must be 0-255, not {value}")
    if validity is not None and not 0 <= validity <= 0xFF:
        raise PduError(f"validity must be 0-255 or None, not {validity}")
    destination = _encode_number(number)
    encoding = plan_text(text).encoding
    pdus = []
    for has_udh, udl, user_data in _encode_parts(text, encoding, concat_ref):
        first = 0x01
        first |= 0x10 if validity is not None else 0
        first |= 0x20 if request_status_report else 0
        first |= 0x40 if has_udh else 0
        dcs = 0x08 if encoding == "ucs2" else 0x00
        tpdu = bytes([first, reference]) + destination + bytes([0x00, dcs])
        tpdu += bytes([validity]) if validity is not None else b""
        tpdu += bytes([udl]) + user_data
        pdus.append(EncodedPdu(hex="00" + tpdu.hex().upper(), tpdu_length=len(tpdu)))
    return pdus


def encode_deliver(
    sender: str,
    text: str,
    timestamp: datetime,
    *,
    smsc: str | None = None,
    encoding: str | None = None,
    concat_ref: int | None = None,
) -> list[str]:
    """SMS-DELIVER PDU hex strings, SMSC field first, as a modem would show them received.

    For the simulator. `sender` is a phone number ("+digits" or digits) or, when it has
    other characters, an alphanumeric sender (at most 11 GSM-7 characters). `encoding`
    None chooses like `encode_submit`; "gsm7", "ucs2" force one, "8bit" sends the text's
    UTF-8 octets as data. Long texts are split like `encode_submit`'s; `concat_ref` None
    derives the reference from sender and text, so it is stable from run to run.
    """
    if encoding is None:
        encoding = plan_text(text).encoding
    if encoding not in ("gsm7", "ucs2", "8bit"):
        raise PduError(f"unknown encoding {encoding!r}")
    if concat_ref is None:
        concat_ref = zlib.crc32(f"{sender}\n{text}".encode(errors="surrogatepass")) & 0xFF
    if not 0 <= concat_ref <= 0xFF:
        raise PduError(f"concat_ref must be 0-255, not {concat_ref}")
    if re.fullmatch(r"\+?[0-9]+", sender):
        originator = _encode_number(sender)
    else:
        originator = _encode_alphanumeric(sender)
    head = _encode_smsc(smsc)
    dcs = {"gsm7": 0x00, "ucs2": 0x08, "8bit": 0x04}[encoding]
    scts = _encode_timestamp(timestamp)
    pdus = []
    for has_udh, udl, user_data in _encode_parts(text, encoding, concat_ref):
        # 0x04 is TP-MMS "no more messages waiting", what real SMSCs set.
        first = 0x04 | (0x40 if has_udh else 0)
        tpdu = bytes([first]) + originator + bytes([0x00, dcs]) + scts
        tpdu += bytes([udl]) + user_data
        pdus.append((head + tpdu).hex().upper())
    return pdus
