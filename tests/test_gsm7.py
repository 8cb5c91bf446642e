"""The GSM 7-bit alphabet: tables, lengths, packing, a decoder that never gives up, and the
typography a reply can do without."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone import gsm7
from relouphone.errors import PduError
from relouphone.pdu import plan_text

GSM_CHARS = [c for c in gsm7.DEFAULT_ALPHABET if c != "\x1b"] + list(gsm7.EXTENSION_TABLE.values())


def test_the_default_table_has_128_entries_and_the_usual_landmarks():
    assert len(gsm7.DEFAULT_ALPHABET) == 128
    assert gsm7.DEFAULT_ALPHABET[0x00] == "@"
    assert gsm7.DEFAULT_ALPHABET[0x11] == "_"
    assert gsm7.DEFAULT_ALPHABET[0x41] == "A"
    assert gsm7.DEFAULT_ALPHABET[0x7F] == "à"


def test_extension_characters_are_escape_plus_code():
    assert gsm7.encode("€[]") == [0x1B, 0x65, 0x1B, 0x3C, 0x1B, 0x3E]
    assert gsm7.encode("{}\\^~|\f") == [
        0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x14, 0x1B, 0x3D, 0x1B, 0x40, 0x1B, 0x0A,
    ]  # fmt: skip


def test_length_counts_extension_characters_twice():
    assert gsm7.gsm7_length("hello") == 5
    assert gsm7.gsm7_length("€5") == 3
    assert gsm7.gsm7_length("") == 0


def test_is_gsm7_accepts_the_alphabet_and_rejects_the_rest():
    assert gsm7.is_gsm7("Café à 10€ [ok] ΩΠ")
    assert not gsm7.is_gsm7("ça")  # only the capital Ç is in the table
    assert not gsm7.is_gsm7("😀")


def test_unencodable_chars_are_distinct_and_in_order_of_appearance():
    assert gsm7.unencodable_chars("ça coûte 5€ 😀 ça") == ["ç", "û", "😀"]
    assert gsm7.unencodable_chars("plain") == []


def test_encoding_a_foreign_character_raises_pdu_error():
    with pytest.raises(PduError, match="'ç'"):
        gsm7.encode("ç")
    with pytest.raises(PduError):
        gsm7.gsm7_length("ç")


def test_packing_matches_the_textbook_example():
    # "hellohello", the classic 23.040 illustration: 10 septets in 9 octets.
    packed = gsm7.pack(gsm7.encode("hellohello"))
    assert packed.hex().upper() == "E8329BFD4697D9EC37"
    assert gsm7.decode(gsm7.unpack(packed, 10)) == "hellohello"


def test_fill_bits_shift_the_text_onto_a_septet_boundary():
    septets = gsm7.encode("Hi")
    packed = gsm7.pack(septets, fill_bits=1)
    assert packed[0] & 0x01 == 0  # the fill bit stays zero
    assert gsm7.unpack(packed, 2, fill_bits=1) == septets


def test_unpacking_more_septets_than_the_data_holds_raises():
    with pytest.raises(PduError):
        gsm7.unpack(b"\x41", 2)


def test_a_dangling_escape_decodes_as_a_space():
    assert gsm7.decode([0x41, 0x1B]) == "A "


def test_an_escape_before_an_unknown_code_shows_the_default_character():
    assert gsm7.decode([0x1B, 0x41]) == "A"
    assert gsm7.decode([0x1B, 0x1B, 0x42]) == " B"


@given(st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=200), st.integers(0, 6))
@settings(max_examples=150)
def test_encode_pack_unpack_decode_round_trips(text, fill_bits):
    septets = gsm7.encode(text)
    packed = gsm7.pack(septets, fill_bits)
    assert gsm7.decode(gsm7.unpack(packed, len(septets), fill_bits)) == text
    assert gsm7.gsm7_length(text) == len(septets)


@given(st.lists(st.integers(0, 255), max_size=50))
def test_decoding_never_raises(septets):
    assert isinstance(gsm7.decode(septets), str)


# ---------------------------------------------------------------------------- normalize

RSQUO = "\N{RIGHT SINGLE QUOTATION MARK}"
NNBSP = "\N{NARROW NO-BREAK SPACE}"
NBSP = "\N{NO-BREAK SPACE}"
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"

TYPOGRAPHY_NAMES = [
    "RIGHT SINGLE QUOTATION MARK",
    "LEFT SINGLE QUOTATION MARK",
    "SINGLE LOW-9 QUOTATION MARK",
    "SINGLE HIGH-REVERSED-9 QUOTATION MARK",
    "PRIME",
    "SINGLE LEFT-POINTING ANGLE QUOTATION MARK",
    "SINGLE RIGHT-POINTING ANGLE QUOTATION MARK",
    "MODIFIER LETTER APOSTROPHE",
    "GRAVE ACCENT",
    "ACUTE ACCENT",
    "LEFT DOUBLE QUOTATION MARK",
    "RIGHT DOUBLE QUOTATION MARK",
    "DOUBLE LOW-9 QUOTATION MARK",
    "DOUBLE HIGH-REVERSED-9 QUOTATION MARK",
    "DOUBLE PRIME",
    "LEFT-POINTING DOUBLE ANGLE QUOTATION MARK",
    "RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK",
    "HYPHEN",
    "NON-BREAKING HYPHEN",
    "FIGURE DASH",
    "EN DASH",
    "EM DASH",
    "HORIZONTAL BAR",
    "MINUS SIGN",
    "HORIZONTAL ELLIPSIS",
    "NO-BREAK SPACE",
    "EN SPACE",
    "EM SPACE",
    "THIN SPACE",
    "HAIR SPACE",
    "NARROW NO-BREAK SPACE",
    "SOFT HYPHEN",
    "ZERO WIDTH SPACE",
    "WORD JOINER",
    "ZERO WIDTH NO-BREAK SPACE",
    "LATIN SMALL LIGATURE OE",
    "LATIN CAPITAL LIGATURE OE",
]
TYPOGRAPHY = [unicodedata.lookup(name) for name in TYPOGRAPHY_NAMES]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (
            "C\N{RIGHT SINGLE QUOTATION MARK}est l\N{LEFT SINGLE QUOTATION MARK}heure",
            "C'est l'heure",
        ),
        ("\N{SINGLE LOW-9 QUOTATION MARK}ja\N{PRIME}", "'ja'"),
        ("\N{LEFT DOUBLE QUOTATION MARK}Salut\N{RIGHT DOUBLE QUOTATION MARK}", '"Salut"'),
        ("\N{DOUBLE LOW-9 QUOTATION MARK}hallo\N{LEFT DOUBLE QUOTATION MARK}", '"hallo"'),
        ("10\N{EN DASH}12 \N{EM DASH} fin \N{MINUS SIGN}3", "10-12 - fin -3"),
        (f"Attends{ELLIPSIS}", "Attends..."),
        (f"Merci{NNBSP}! Quoi{NBSP}?", "Merci ! Quoi ?"),
        (f"Il dit «{NBSP}non{NBSP}».", 'Il dit "non".'),
        ("Il dit « non ».", 'Il dit "non".'),
        ("«non»", '"non"'),
        (
            "Un c\N{LATIN SMALL LIGATURE OE}ur, une \N{LATIN CAPITAL LIGATURE OE}uvre",
            "Un coeur, une OEuvre",
        ),
        ("\N{ZERO WIDTH NO-BREAK SPACE}Rap\N{SOFT HYPHEN}pel\N{ZERO WIDTH SPACE}", "Rappel"),
    ],
)
def test_normalize_makes_typography_plain(text, plain):
    assert gsm7.normalize(text) == plain
    assert gsm7.is_gsm7(plain)


def test_a_french_reply_with_curly_apostrophes_fits_one_sms_once_normalized():
    reply = (
        f"Bonjour{NNBSP}! Ce numéro n{RSQUO}est pas celui que vous croyez{NBSP}: la personne "
        f"à qui vous écrivez ne souhaitait pas donner le sien{ELLIPSIS} Bonne journée{NNBSP}!"
    )
    before, after = plan_text(reply), plan_text(gsm7.normalize(reply))
    assert (before.encoding, before.parts) == ("ucs2", 2)
    assert (after.encoding, after.parts) == ("gsm7", 1)


def test_letters_outside_the_alphabet_are_kept_and_still_force_ucs2():
    text = f"Ça coûte cher, n{RSQUO}est-ce pas ?"
    assert gsm7.normalize(text) == "Ça coûte cher, n'est-ce pas ?"
    assert plan_text(gsm7.normalize(text)).forcing == ("û",)
    assert gsm7.normalize("ê â î ô û ï ë ç á í ó ú ã õ") == "ê â î ô û ï ë ç á í ó ú ã õ"


def test_an_ellipsis_that_would_cost_a_part_is_left_alone():
    # 60 ellipses: one UCS-2 part, but 180 septets would take two GSM-7 parts.
    text = ELLIPSIS * 60
    assert gsm7.normalize(text) == text


def test_no_typographic_character_is_in_the_alphabet():
    assert gsm7.unencodable_chars("".join(TYPOGRAPHY)) == TYPOGRAPHY


any_text = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=st.sampled_from(GSM_CHARS + TYPOGRAPHY + ["ê", "ç", "😀"]), max_size=400),
)


@given(any_text)
@settings(max_examples=300)
def test_normalize_is_idempotent_and_never_costs_more_parts(text):
    once = gsm7.normalize(text)
    assert gsm7.normalize(once) == once
    assert plan_text(once).parts <= plan_text(text).parts


@given(st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=300))
def test_normalize_never_changes_a_gsm7_text(text):
    assert gsm7.normalize(text) == text
