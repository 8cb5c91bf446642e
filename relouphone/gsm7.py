"""The GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1) and its septet packing.

A GSM-7 text is a list of septets: one per character of the default table, two (escape 0x1B,
then a code) per character of the extension table. Septets travel packed, eight per seven
octets, least significant bit first; when a User Data Header precedes the text, the packing
starts after `fill_bits` padding bits so that the text begins on a septet boundary.

Decoding never fails: radio data is whatever the network delivered. Encoding refuses what the
alphabet cannot say, because sending a silently altered text would be worse than not sending.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from relouphone.errors import PduError

__all__ = [
    "DEFAULT_ALPHABET",
    "ESCAPE",
    "EXTENSION_TABLE",
    "decode",
    "encode",
    "gsm7_length",
    "is_gsm7",
    "pack",
    "unencodable_chars",
    "unpack",
]

ESCAPE = 0x1B
"""The septet that switches the next septet to the extension table."""

# Index = septet value. 0x1B is the escape: it never stands for itself, the decoder shows it
# as a space when nothing sensible follows (TS 23.038, note to §6.2.1.1).
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

EXTENSION_TABLE: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
"""Septets that follow an escape, and the characters they stand for."""

_ESCAPE_REPLACEMENT = " "

_ENCODE: dict[str, tuple[int, ...]] = {
    char: (code,) for code, char in enumerate(DEFAULT_ALPHABET) if code != ESCAPE
}
_ENCODE.update({char: (ESCAPE, code) for code, char in EXTENSION_TABLE.items()})


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the default or the extension table."""
    return all(char in _ENCODE for char in text)


def gsm7_length(text: str) -> int:
    """Septets `text` takes in GSM-7: extension characters count two (escape + code).

    Raises PduError when a character is not in the alphabet.
    """
    return len(encode(text))


def unencodable_chars(text: str) -> list[str]:
    """The distinct characters that keep `text` out of GSM-7, in order of first appearance."""
    # dict keeps insertion order: a cheap ordered set.
    return list(dict.fromkeys(char for char in text if char not in _ENCODE))


def encode(text: str) -> list[int]:
    """Septets for `text`; raises PduError naming the first character the alphabet lacks."""
    septets: list[int] = []
    for char in text:
        codes = _ENCODE.get(char)
        if codes is None:
            raise PduError(f"character {char!r} is not in the GSM 7-bit alphabet")
        septets.extend(codes)
    return septets


def decode(septets: Iterable[int]) -> str:
    """Text for `septets`, leniently.

    An escape followed by a code the extension table lacks shows the default-table character
    for that code, and a trailing escape (or escape + escape) shows a space, as TS 23.038
    asks of a receiver. Values above 0x7F are read modulo 128.
    """
    chars: list[str] = []
    escaped = False
    for value in septets:
        code = value & 0x7F
        if escaped:
            escaped = False
            if code in EXTENSION_TABLE:
                chars.append(EXTENSION_TABLE[code])
            elif code == ESCAPE:
                chars.append(_ESCAPE_REPLACEMENT)
            else:
                chars.append(DEFAULT_ALPHABET[code])
        elif code == ESCAPE:
            escaped = True
        else:
            chars.append(DEFAULT_ALPHABET[code])
    if escaped:
        chars.append(_ESCAPE_REPLACEMENT)
    return "".join(chars)


def pack(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB-first into octets, after `fill_bits` (0-6) zero padding bits."""
    if not 0 <= fill_bits <= 6:
        raise PduError(f"fill bits must be 0-6, not {fill_bits}")
    accumulator = 0
    for index, septet in enumerate(septets):
        accumulator |= (septet & 0x7F) << (fill_bits + 7 * index)
    total_bits = fill_bits + 7 * len(septets)
    return accumulator.to_bytes((total_bits + 7) // 8, "little")


def unpack(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first `count` septets packed in `data` after `fill_bits` padding bits.

    Raises PduError when `data` is too short to hold them.
    """
    if count < 0 or not 0 <= fill_bits <= 6:
        raise PduError(f"cannot unpack {count} septets after {fill_bits} fill bits")
    if fill_bits + 7 * count > 8 * len(data):
        raise PduError(f"{len(data)} octets cannot hold {count} septets")
    used = data[: (fill_bits + 7 * count + 7) // 8]
    accumulator = int.from_bytes(used, "little") >> fill_bits
    return [(accumulator >> (7 * index)) & 0x7F for index in range(count)]
