"""Who sent it: an address as the network gave it becomes one international number, however
it was written, or is classified as withheld, alphanumeric or invalid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.numbers import Sender, identify

E164 = "+33612345678"


@pytest.mark.parametrize(
    ("raw", "ton"),
    [
        ("+33612345678", 1),
        ("33612345678", 1),
        ("0612345678", 0),
        ("0612345678", 2),
        ("0612345678", None),
        ("0033612345678", 0),
        ("+33 6 12 34 56 78", 1),
        (" +33612345678 ", 1),
    ],
)
def test_a_french_mobile_in_any_usual_form_is_one_international_number(raw, ton):
    sender = identify(raw, ton, "FR")
    assert sender.kind == "phone"
    assert sender.e164 == E164
    assert sender.region == "FR"


def test_the_raw_address_is_kept_trimmed():
    assert identify(" 0612345678\n", 0).raw == "0612345678"


@pytest.mark.parametrize("raw", ["", None, "   "])
def test_no_address_means_the_caller_withheld_it(raw):
    assert identify(raw, None) == Sender(raw="", kind="withheld")


@pytest.mark.parametrize(("raw", "ton"), [("Megafon", 5), ("Megafon", None), ("Megafon", 0)])
def test_a_name_is_an_alphanumeric_sender(raw, ton):
    assert identify(raw, ton) == Sender(raw=raw, kind="alphanumeric")


def test_digits_announced_as_alphanumeric_stay_alphanumeric():
    assert identify("38100", 5).kind == "alphanumeric"


@pytest.mark.parametrize(
    ("raw", "ton"),
    [("123", 1), ("0000", 0), ("999999999999999999", 1), ("*#21#", 0), ("+3361234567890123", 1)],
)
def test_digits_that_are_no_possible_number_are_invalid(raw, ton):
    sender = identify(raw, ton, "FR")
    assert sender.kind == "invalid"
    assert sender.e164 is None


@pytest.mark.parametrize(
    ("raw", "ton", "e164", "region"),
    [
        ("+4915112345678", 1, "+4915112345678", "DE"),
        ("4915112345678", 1, "+4915112345678", "DE"),
        ("+32470123456", 1, "+32470123456", "BE"),
        ("0032470123456", 0, "+32470123456", "BE"),
    ],
)
def test_a_foreign_number_keeps_its_own_country(raw, ton, e164, region):
    sender = identify(raw, ton, "FR")
    assert (sender.kind, sender.e164, sender.region) == ("phone", e164, region)


def test_a_national_number_is_read_in_the_home_region():
    assert identify("0470123456", 0, "BE").e164 == "+32470123456"


subscriber = st.from_regex(r"[67][0-9]{8}", fullmatch=True)


@given(subscriber)
def test_every_written_form_of_a_french_mobile_gives_the_same_number(digits):
    forms = [
        identify("+33" + digits, 1, "FR"),
        identify("33" + digits, 1, "FR"),
        identify("0" + digits, 0, "FR"),
        identify("0" + digits, 2, "FR"),
        identify("0033" + digits, 0, "FR"),
    ]
    assert {s.e164 for s in forms} == {"+33" + digits}
    assert {s.kind for s in forms} == {"phone"}


@given(st.text(max_size=30), st.one_of(st.none(), st.integers(0, 7)), st.sampled_from(["FR", "BE"]))
def test_any_address_is_classified_without_raising(raw, ton, region):
    sender = identify(raw, ton, region)
    assert sender.kind in {"phone", "withheld", "alphanumeric", "invalid"}
    assert (sender.e164 is not None) == (sender.kind == "phone")
    if sender.e164 is not None:
        assert sender.e164.startswith("+")
        assert sender.e164[1:].isdigit()
