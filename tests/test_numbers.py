"""Who sent it: an address as the network gave it becomes one international number, however
it was written, or is classified as withheld, alphanumeric or invalid; and every address gets
a category that says whether a reply could cost money or reach no one."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.numbers import CATEGORIES, Sender, identify

# Replies never go to these, whatever the config says (relouphone.policy enforces it).
NEVER_REPLY = {"short_code", "premium", "alphanumeric", "withheld", "invalid"}

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
    assert identify(raw, None) == Sender(raw="", kind="withheld", category="withheld")


@pytest.mark.parametrize(("raw", "ton"), [("Megafon", 5), ("Megafon", None), ("Megafon", 0)])
def test_a_name_is_an_alphanumeric_sender(raw, ton):
    assert identify(raw, ton) == Sender(raw=raw, kind="alphanumeric", category="alphanumeric")


def test_digits_announced_as_alphanumeric_stay_alphanumeric():
    assert identify("38100", 5).kind == "alphanumeric"


@pytest.mark.parametrize(
    ("raw", "ton"),
    [
        ("1234567", 0),
        ("999999999999999999", 1),
        ("*#21#", 0),
        ("+3361234567890123", 1),
        ("+123", 1),
    ],
)
def test_digits_that_are_no_possible_number_are_invalid(raw, ton):
    sender = identify(raw, ton, "FR")
    assert (sender.kind, sender.category, sender.e164) == ("invalid", "invalid", None)


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
    assert sender.category in CATEGORIES
    assert (sender.e164 is not None) == (sender.kind == "phone")
    if sender.e164 is not None:
        assert sender.e164.startswith("+")
        assert sender.e164[1:].isdigit()


# ---------------------------------------------------------------------------- categories

CATEGORY_EXAMPLES = [
    # French mobiles: 06 and 07
    ("0612345678", 0, "mobile"),
    ("+33612345678", 1, "mobile"),
    ("0756123456", 0, "mobile"),
    ("+33781234567", 1, "mobile"),
    # French fixed lines: 01 Paris to 05 South-West
    ("0140123456", 0, "fixed_line"),
    ("0299123456", 0, "fixed_line"),
    ("0491234567", 0, "fixed_line"),
    ("+33556123456", 1, "fixed_line"),
    # 09: VoIP (internet boxes), neither mobile nor fixed
    ("0970123456", 0, "other"),
    ("+33912345678", 1, "other"),
    # 080x free, 081x/082x shared cost, 0806 UAN, 089x premium
    ("0801234567", 0, "toll_free"),
    ("0805123456", 0, "toll_free"),
    ("0811234567", 0, "shared_cost"),
    ("0821234567", 0, "shared_cost"),
    ("0806123456", 0, "other"),
    ("0891234567", 0, "premium"),
    ("+33899123456", 1, "premium"),
    # short codes, known or not, whatever type of number the network claims
    ("36179", 0, "short_code"),
    ("9494", 0, "short_code"),
    ("3010", 2, "short_code"),
    ("38100", 3, "short_code"),
    ("36105", None, "short_code"),
    ("30000", 0, "short_code"),
    ("12345", 1, "short_code"),
    ("15", 0, "short_code"),
    # foreign mobiles and landlines
    ("+447400123456", 1, "foreign"),
    ("+4915123456789", 1, "foreign"),
    ("4915123456789", 1, "foreign"),
    ("+14155552671", 1, "foreign"),
    ("+32470123456", 1, "foreign"),
    ("+4930123456", 1, "foreign"),
    ("+262692123456", 1, "foreign"),  # Réunion has its own region
    # premium stays premium abroad
    ("+499001234567", 1, "premium"),
    ("+449012345678", 1, "premium"),
    ("+19005551234", 1, "premium"),
    # names and no name
    ("InfoSMS", 5, "alphanumeric"),
    ("InfoSMS", 0, "alphanumeric"),
    ("", None, "withheld"),
    # ranges libphonenumber knows to be unallocated
    ("+33712345678", 1, "invalid"),
    ("+33700000000", 1, "invalid"),
    ("0639123456", 0, "invalid"),
]


@pytest.mark.parametrize(("raw", "ton", "category"), CATEGORY_EXAMPLES)
def test_every_sender_gets_the_category_of_line_it_comes_from(raw, ton, category):
    assert identify(raw, ton, "FR").category == category


def test_a_short_code_has_no_international_form_and_belongs_to_the_home_region():
    assert identify("36179", 0, "FR") == Sender(
        raw="36179", kind="invalid", region="FR", category="short_code"
    )


def test_a_number_in_an_unallocated_range_keeps_its_international_form():
    sender = identify("+33712345678", 1, "FR")
    assert (sender.kind, sender.e164, sender.category) == ("phone", "+33712345678", "invalid")


@pytest.mark.parametrize(
    ("raw", "home_regions", "e164", "category"),
    [
        ("+32470123456", ["FR", "BE"], "+32470123456", "mobile"),
        ("+33612345678", ["FR", "BE"], "+33612345678", "mobile"),
        ("+4915123456789", ["FR", "BE"], "+4915123456789", "foreign"),
        # national numbers are read in the first region
        ("0470123456", ["BE", "FR"], "+32470123456", "mobile"),
        ("0470123456", ["FR", "BE"], "+33470123456", "fixed_line"),
    ],
)
def test_several_home_regions_are_all_home_and_the_first_reads_national_numbers(
    raw, home_regions, e164, category
):
    sender = identify(raw, 0, home_regions=home_regions)
    assert (sender.e164, sender.category) == (e164, category)


def test_home_regions_win_over_home_region():
    assert identify("0470123456", 0, "FR", home_regions=["BE"]).e164 == "+32470123456"
    assert identify("+32470123456", 1, "FR", home_regions=("BE",)).category == "mobile"


def test_region_codes_may_be_written_in_lower_case():
    assert identify("+32470123456", 1, home_regions=["fr", "be"]).category == "mobile"


@pytest.mark.parametrize("home_regions", [[], ["XX"], ["FR", "France"]])
def test_no_home_region_or_an_unknown_one_is_a_programming_error(home_regions):
    with pytest.raises(ValueError, match="region"):
        identify("+33612345678", 1, home_regions=home_regions)


@pytest.mark.parametrize(
    ("raw", "region"),
    [("+447911123456", "GG"), ("+447797123456", "JE"), ("+447624123456", "IM")],
)
def test_crown_dependency_mobiles_are_foreign_to_gb_unless_listed(raw, region):
    # UK plans often bill them apart: regions are compared, not country calling codes.
    assert identify("+447400123456", 1, "GB").category == "mobile"
    sender = identify(raw, 1, "GB")
    assert (sender.region, sender.category) == (region, "foreign")
    assert identify(raw, 1, home_regions=["GB", "GG", "JE", "IM"]).category == "mobile"


def test_north_american_numbers_are_mobile_at_home_and_foreign_elsewhere_in_plus_one():
    # +1 cannot tell mobiles from landlines: FIXED_LINE_OR_MOBILE counts as mobile at home.
    assert identify("+14155552671", 1, "US").category == "mobile"
    assert identify("+14165550123", 1, "US").category == "foreign"  # Toronto, Canada
    assert identify("+14155552671", 1, "CA").category == "foreign"


def test_premium_rate_is_premium_even_at_home():
    assert identify("+19005551234", 1, "US").category == "premium"
    assert identify("+449012345678", 1, "GB").category == "premium"


def test_the_categories_no_config_may_reply_to_are_categories():
    assert set(CATEGORIES) > NEVER_REPLY


def test_the_examples_cover_every_category():
    assert {category for _, _, category in CATEGORY_EXAMPLES} == set(CATEGORIES)


@pytest.mark.parametrize(
    ("kind", "category"),
    [("withheld", "withheld"), ("alphanumeric", "alphanumeric"), ("invalid", "invalid")],
)
def test_a_sender_built_without_a_category_takes_it_from_its_kind(kind, category):
    assert Sender(raw="x", kind=kind).category == category


def test_a_phone_built_without_a_category_is_other_so_never_replied_by_default():
    sender = Sender(raw="0612345678", kind="phone", e164="+33612345678", region="FR")
    assert sender.category == "other"


short_digits = st.from_regex(r"[0-9]{3,6}", fullmatch=True)


@given(short_digits, st.one_of(st.none(), st.sampled_from([0, 1, 2, 3, 4, 6, 7])))
def test_three_to_six_digits_without_a_plus_are_a_short_code_never_a_person(digits, ton):
    sender = identify(digits, ton, "FR")
    assert (sender.category, sender.e164) == ("short_code", None)


addresses = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\+?[0-9]{0,16}", fullmatch=True),
    st.from_regex(r"\+(33|32|44|49|1|262)[0-9]{6,11}", fullmatch=True),
    st.from_regex(r"0[1-9][0-9]{8}", fullmatch=True),
)
home_region_lists = st.lists(st.sampled_from(["FR", "BE", "GB", "GG", "US", "DE"]), min_size=1)


@given(addresses, st.one_of(st.none(), st.integers(0, 7)), home_region_lists)
def test_a_category_open_to_config_is_a_valid_non_premium_number(raw, ton, home_regions):
    sender = identify(raw, ton, home_regions=home_regions)
    assert sender.category in CATEGORIES
    if sender.category in NEVER_REPLY:
        return
    number = phonenumbers.parse(sender.e164)
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.PREMIUM_RATE
    assert (sender.region in home_regions) == (sender.category != "foreign")


@given(addresses, st.one_of(st.none(), st.integers(0, 7)), home_region_lists)
def test_kind_and_category_agree(raw, ton, home_regions):
    sender = identify(raw, ton, home_regions=home_regions)
    if sender.kind in {"withheld", "alphanumeric"}:
        assert sender.category == sender.kind
    elif sender.kind == "invalid":
        assert sender.category in {"invalid", "short_code"}
    else:
        assert sender.category not in {"withheld", "alphanumeric", "short_code"}
