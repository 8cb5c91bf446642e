"""The GSM 7-bit alphabet: tables, lengths, packing, and a decoder that never gives up."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relouphone import gsm7
from relouphone.errors import PduError

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
