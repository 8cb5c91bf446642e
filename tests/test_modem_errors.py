"""The meaning of modem error codes for a reply: give up, retry, or wait for the modem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.modem_errors import explain


@pytest.mark.parametrize(
    ("kind", "code", "verdict"),
    [
        ("CMS", 1, "fail"),  # unassigned number
        ("CMS", 21, "fail"),  # transfer rejected
        ("CMS", 195, "fail"),  # invalid recipient address
        ("CMS", 304, "fail"),  # a PDU the modem cannot take
        ("CMS", 42, "retry"),  # congestion
        ("CMS", 192, "retry"),  # service centre busy
        ("CMS", 314, "retry"),  # SIM busy
        ("CMS", 500, "retry"),  # unknown
        ("CMS", 331, "wait"),  # no network service
        ("CMS", 332, "wait"),  # network timeout
        ("CMS", 330, "wait"),  # no service centre number
        ("CMS", 311, "wait"),  # SIM PIN required
        ("CME", 14, "retry"),  # SIM busy
        ("CME", 30, "wait"),  # no network service
        ("CME", 10, "wait"),  # SIM not inserted
        ("CME", 4, "fail"),  # operation not supported
    ],
)
def test_known_codes_have_their_verdict(kind, code, verdict):
    assert explain(kind, code).verdict == verdict


def test_a_bare_error_is_taken_as_passing():
    assert explain(None, None).verdict == "retry"


def test_manufacturer_codes_are_taken_as_passing():
    meaning = explain("CMS", 515)
    assert meaning.verdict == "retry"
    assert "515" in meaning.text


@given(st.sampled_from(["CMS", "CME", None]), st.none() | st.integers(0, 100_000))
def test_every_code_has_a_meaning(kind, code):
    meaning = explain(kind, code)
    assert meaning.verdict in ("fail", "retry", "wait")
    assert meaning.text
