"""Who sent it: turn an address as the network gave it into a number we can reply to.

Pure functions over `phonenumbers` (Google's libphonenumber metadata), which knows every
country's numbering plan far better than rules we would write ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

__all__ = ["Sender", "identify"]

# Type-of-address values (3GPP TS 24.008 10.5.4.7), high nibble without the extension bit.
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5


@dataclass(frozen=True, slots=True)
class Sender:
    """An inbound address, classified.

    `kind` is "phone" (then `e164` is set), "withheld", "alphanumeric" or "invalid".
    """

    raw: str
    kind: str
    e164: str | None = None
    region: str | None = None


def identify(raw: str | None, ton: int | None, home_region: str = "FR") -> Sender:
    """Classify an address; `ton` is the 3-bit type of number when the network gave one."""
    raw = (raw or "").strip()
    if not raw:
        return Sender(raw=raw, kind="withheld")
    if ton == TON_ALPHANUMERIC or any(c.isalpha() for c in raw):
        return Sender(raw=raw, kind="alphanumeric")
    candidates = [raw]
    # An international type of number without the '+' still means "country code first";
    # some modems claim it for national numbers too, so the digits as given come second.
    if ton == TON_INTERNATIONAL and not raw.startswith("+"):
        candidates.insert(0, "+" + raw)
    parsed = next(filter(None, (_parse(c, home_region) for c in candidates)), None)
    if parsed is None:
        return Sender(raw=raw, kind="invalid")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    return Sender(raw=raw, kind="phone", e164=e164, region=region)


def _parse(digits: str, home_region: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(digits, home_region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None
