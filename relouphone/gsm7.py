"""The GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1) and its septet packing.

A GSM-7 text is a list of septets: one per character of the default table, two (escape 0x1B,
then a code) per character of the extension table. Septets travel packed, eight per seven
octets, least significant bit first; when a User Data Header precedes the text, the packing
starts after `fill_bits` padding bits so that the text begins on a septet boundary.

Decoding never fails: radio data is whatever the network delivered. Encoding refuses what the
alphabet cannot say, because sending a silently altered text would be worse than not sending.

`normalize` is the one exception, asked for by name: it swaps typographic characters (curly
quotes, dashes, no-break spaces...) for plain ones before a reply is sent.
"""

from __future__ import annotations

import math
import re
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
    "normalize",
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


# Typography that word processors and phones put in, and its plain GSM-7 equivalent. Letters
# are left alone (ê is no e: writing it so would misspell the text); the one exception is the
# ligature œ, which French writes oe when it cannot write œ.
_TYPOGRAPHY = str.maketrans(
    {
        # curly, low and reversed single quotes, prime, single guillemets, modifier letter
        # apostrophe, grave and acute accents
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a\u02bc\u0060\u00b4", "'"),
        # curly, low and reversed double quotes, double prime, guillemets
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        # hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        # no-break space, the typographer's spaces (en, em, thin, hair...), narrow no-break
        # space (French, before ; : ! ?), medium mathematical space
        **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006", " "),
        **dict.fromkeys("\u2007\u2008\u2009\u200a\u202f\u205f", " "),
        # soft hyphen, zero-width space, word joiner, byte order mark: invisible, pasted along
        # with a text, and each would force UCS-2 on its own
        **dict.fromkeys("\u00ad\u200b\u2060\ufeff", ""),
        "\N{HORIZONTAL ELLIPSIS}": "...",
        "\N{LATIN SMALL LIGATURE OE}": "oe",
        "\N{LATIN CAPITAL LIGATURE OE}": "OE",
    }
)

# French sets « guillemets » off with (no-break) spaces; "quotes" hug the words they quote.
_GUILLEMET_SPACES = re.compile("(\u00ab)[ \u00a0\u2009\u202f]+|[ \u00a0\u2009\u202f]+(\u00bb)")


def normalize(text: str) -> str:
    """`text` with typographic quotes, apostrophes, dashes, ellipses and spaces made plain, so
    that it may fit GSM-7 and cost fewer parts.

    Letters outside the alphabet (ê, ç...) are kept, so such a text stays UCS-2. Never changes
    a GSM-7 text, and gives `text` back unchanged when the plain version would need more
    parts (an ellipsis takes three septets). Idempotent.
    """
    plain = _GUILLEMET_SPACES.sub(r"\1\2", text).translate(_TYPOGRAPHY)
    if plain == text or _parts(plain) > _parts(text):
        return text
    return plain


def _parts(text: str) -> float:
    """SMS parts `text` takes; infinite beyond what any message can hold."""
    # pdu builds on this module; importing it at the top would be circular.
    from relouphone.pdu import plan_text

    try:
        return plan_text(text).parts
    except PduError:
        return math.inf


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
