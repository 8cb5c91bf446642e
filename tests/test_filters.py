"""Filters mark or ignore messages by keyword or regular expression, optionally per sender."""

from __future__ import annotations

from relouphone.config import FilterRule, parse_config
from relouphone.filters import Filters, Match

OPERATOR = FilterRule(name="operator", pattern="votre facture", sender="SFR")
PROMO = FilterRule(name="promo", pattern=r"\bcode\s*promo\b", regex=True, action="mark")


def test_a_keyword_matches_anywhere_ignoring_case():
    filters = Filters([FilterRule(name="spam", pattern="GAGNEZ")])
    assert filters.match("Vous pouvez gagnez un iPhone", "+33612345678") == Match("spam", "ignore")


def test_a_keyword_is_not_a_regular_expression():
    filters = Filters([FilterRule(name="dots", pattern="a.b")])
    assert filters.match("axb", "x") is None
    assert filters.match("a.b", "x") == Match("dots", "ignore")


def test_a_rule_with_a_sender_only_applies_to_that_sender():
    filters = Filters([OPERATOR])
    assert filters.match("Votre facture est disponible", "SFR") == Match("operator", "ignore")
    assert filters.match("Votre facture est disponible", "sfr") == Match("operator", "ignore")
    assert filters.match("Votre facture est disponible", "+33612345678") is None


def test_a_regular_expression_rule():
    filters = Filters([PROMO])
    assert filters.match("Ton CODE PROMO: X1", "+33612345678") == Match("promo", "mark")
    assert filters.match("codepromotion", "+33612345678") is None


def test_the_first_matching_rule_wins():
    filters = Filters([PROMO, FilterRule(name="all", pattern="code")])
    assert filters.match("code promo", "x").name == "promo"
    assert filters.match("mon code", "x").name == "all"


def test_no_rules_and_no_text_match_nothing():
    assert Filters([]).match("anything", "x") is None
    assert Filters([PROMO]).match(None, "x") is None


def test_rules_come_from_filter_tables_in_the_configuration():
    config = parse_config(
        '[[filter]]\nname = "operator"\nsender = "SFR"\npattern = "facture"\n'
        '[[filter]]\nname = "promo"\npattern = "promo"\naction = "mark"\n',
        "relouphone.toml",
    )
    assert [rule.name for rule in config.filters] == ["operator", "promo"]
    assert Filters(config.filters).match("Facture", "SFR") == Match("operator", "ignore")
