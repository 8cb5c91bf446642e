"""Showing untrusted text: anything that could act on a terminal or disguise a number is
shown as a visible escape; ordinary writing, accents and emoji are shown as they are."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relouphone.display import safe


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
        ("+33 6 \u202e87654321", "+33 6 \\u202e87654321"),
        ("a\x00b", "a\\x00b"),
        ("pay\u200bpal", "pay\\u200bpal"),
        ("\ufeffBOM", "\\ufeffBOM"),
        ("del\x7f", "del\\x7f"),
        ("nel\x85", "nel\\x85"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone \ud800", "lone \\ud800"),
        ("tab\there", "tab\\x09here"),
    ],
)
def test_controlling_and_invisible_characters_are_escaped(text, shown):
    assert safe(text) == shown


def test_a_backslash_is_doubled_so_an_escape_cannot_be_forged():
    assert safe("\\x1b") == "\\\\x1b"
    assert safe("\x1b") != safe("\\x1b")


@pytest.mark.parametrize(
    "text", ["Salut 😉", "Ça coûte 5€, d'accord ?", "Привет", "こんにちは", "Å\u0301", "👍🏽"]
)
def test_ordinary_writing_accents_and_emoji_pass_through(text):
    assert safe(text) == text


def test_newlines_are_escaped_unless_asked_to_keep_them():
    assert safe("un\ndeux") == "un\\x0adeux"
    assert safe("un\ndeux", keep_newlines=True) == "un\ndeux"


def test_keeping_newlines_still_escapes_carriage_returns():
    assert safe("un\r\ndeux", keep_newlines=True) == "un\\x0d\ndeux"


def test_nothing_to_show_is_an_empty_string():
    assert safe(None) == ""
    assert safe("") == ""


_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def _unescape(shown: str) -> str:
    return _ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), shown)


@given(st.text(st.characters(exclude_categories=())))
def test_what_is_shown_contains_nothing_invisible_and_reads_back_to_the_text(text):
    shown = safe(text)
    assert not any(unicodedata.category(c) in _HIDDEN for c in shown)
    assert _unescape(shown) == text


@given(st.text())
def test_with_newlines_kept_the_only_control_left_is_the_newline(text):
    shown = safe(text, keep_newlines=True)
    assert {c for c in shown if unicodedata.category(c) in _HIDDEN} <= {"\n"}
    assert shown.count("\n") == text.count("\n")
