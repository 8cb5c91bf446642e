"""Who sent it: turn an address as the network gave it into a number we can reply to, and
say what kind of line it is.

Pure functions over `phonenumbers` (Google's libphonenumber metadata), which knows every
country's numbering plan far better than rules we would write ourselves.

The category decides whether a reply may cost money or reach no one. In order:

- no address: "withheld"; letters, or a type of number saying so: "alphanumeric";
- digits without a '+' that no person's number could be: "short_code". Any 3-6 digits are a
  short code, even one libphonenumber does not list (operators open new ones all the time,
  and no subscriber's number is that short); other lengths only when libphonenumber's short
  number data for the first home region allows them and no full number has that length;
- not even a possible number: "invalid" with no `e164`; possible but not valid in
  libphonenumber's data (an unallocated range, e.g. +33 7 12...): "invalid" with its `e164`,
  since no one may be answered there;
- premium rate, in any country: "premium" (checked before "foreign", so that a config that
  allows foreign numbers still never reaches a premium one);
- a number of a region not in the home regions: "foreign", whatever its type. Regions are
  compared, not country calling codes: +1 spans some twenty countries billed as
  international, and UK plans often bill Guernsey, Jersey and Isle of Man mobiles (+44 7781,
  +44 7911...) apart, so "GB" does not cover "GG", "JE" or "IM": list them to include them;
- then by type: "mobile", "fixed_line", "toll_free", "shared_cost", and "mobile" for
  FIXED_LINE_OR_MOBILE (the North American plan and a few others cannot tell the two apart,
  and price texts to both alike); anything else valid (VoIP, UAN, personal, pager, voicemail,
  unknown type) is "other".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

__all__ = ["CATEGORIES", "Sender", "identify"]

# Type-of-address values (3GPP TS 24.008 10.5.4.7), high nibble without the extension bit.
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5

CATEGORIES = (
    "mobile",
    "fixed_line",
    "short_code",
    "premium",
    "toll_free",
    "shared_cost",
    "foreign",
    "alphanumeric",
    "withheld",
    "invalid",
    "other",
)
"""Every value `Sender.category` takes."""

_BY_TYPE = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.PREMIUM_RATE: "premium",
}

# Visual separators a sender's digits may come with.
_SEPARATORS = re.compile(r"[\s.()-]")
_DIGITS = re.compile(r"[0-9]+")

# A raid of 20,000 texts comes from a few thousand numbers: remember that many answers.
_CACHE_SIZE = 8192


@dataclass(frozen=True, slots=True)
class Sender:
    """An inbound address, classified.

    `kind` says how it is written: "phone" (then `e164` is set), "withheld", "alphanumeric" or
    "invalid" (short codes included: they have no international form). `category` says what
    it reaches (one of `CATEGORIES`); left out, it follows `kind`, "other" for a phone.
    `region` is the number's region, the home region for a short code.
    """

    raw: str
    kind: str
    e164: str | None = None
    region: str | None = None
    category: str = ""

    def __post_init__(self) -> None:
        if not self.category:
            object.__setattr__(self, "category", "other" if self.kind == "phone" else self.kind)


def identify(
    raw: str | None,
    ton: int | None,
    home_region: str = "FR",
    *,
    home_regions: Sequence[str] | None = None,
) -> Sender:
    """Classify an address; `ton` is the 3-bit type of number when the network gave one.

    `home_regions` (when given, it replaces `home_region`) are the regions whose numbers are
    not "foreign"; national numbers are read in the first. Raises ValueError for an empty or
    unknown region, never for the address.
    """
    given = [home_region] if home_regions is None else home_regions
    regions = tuple(region.upper() for region in given)
    if not regions:
        raise ValueError("home_regions must name at least one region")
    unknown = [region for region in regions if region not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"unknown region {unknown[0]!r}")
    return _identify((raw or "").strip(), ton, regions)


@lru_cache(maxsize=_CACHE_SIZE)
def _identify(raw: str, ton: int | None, regions: tuple[str, ...]) -> Sender:
    if not raw:
        return Sender(raw=raw, kind="withheld")
    if ton == TON_ALPHANUMERIC or any(c.isalpha() for c in raw):
        return Sender(raw=raw, kind="alphanumeric")
    if _is_short_code(raw, regions[0]):
        return Sender(raw=raw, kind="invalid", region=regions[0], category="short_code")
    candidates = [raw]
    # An international type of number without the '+' still means "country code first";
    # some modems claim it for national numbers too, so the digits as given come second.
    if ton == TON_INTERNATIONAL and not raw.startswith("+"):
        candidates.insert(0, "+" + raw)
    parsed = next(filter(None, (_parse(c, regions[0]) for c in candidates)), None)
    if parsed is None:
        return Sender(raw=raw, kind="invalid")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    return Sender(
        raw=raw, kind="phone", e164=e164, region=region, category=_category(parsed, region, regions)
    )


def _is_short_code(raw: str, region: str) -> bool:
    """Digits without '+' that only a short code could be (see the module's docstring)."""
    digits = _SEPARATORS.sub("", raw)
    if not _DIGITS.fullmatch(digits):
        return False
    if 3 <= len(digits) <= 6:
        return True
    number = _parse_any(digits, region)
    return (
        number is not None
        and shortnumberinfo.is_possible_short_number_for_region(number, region)
        and not phonenumbers.is_possible_number(number)
    )


def _category(number: phonenumbers.PhoneNumber, region: str | None, home: tuple[str, ...]) -> str:
    if not phonenumbers.is_valid_number(number):
        return "invalid"
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.PREMIUM_RATE:
        return "premium"
    if region not in home:
        return "foreign"
    return _BY_TYPE.get(number_type, "other")


def _parse_any(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None


def _parse(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    parsed = _parse_any(digits, region)
    return parsed if parsed is not None and phonenumbers.is_possible_number(parsed) else None
