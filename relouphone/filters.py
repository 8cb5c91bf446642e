"""Configured filters: rules that mark or ignore messages by their text and sender. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .config import FilterRule

__all__ = ["Filters", "Match"]


@dataclass(frozen=True, slots=True)
class Match:
    """The first rule that matched: its name and what it asks for ("ignore" or "mark")."""

    name: str
    action: str


class Filters:
    """The [[filter]] rules of the configuration, compiled once."""

    def __init__(self, rules: Sequence[FilterRule]) -> None:
        self._rules = [(rule, _compile(rule)) for rule in rules]

    def match(self, text: str | None, sender_raw: str) -> Match | None:
        """The first rule, in file order, whose sender and pattern both match."""
        for rule, pattern in self._rules:
            if rule.sender is not None and rule.sender.casefold() != sender_raw.casefold():
                continue
            if text is not None and pattern.search(text):
                return Match(rule.name, rule.action)
        return None


def _compile(rule: FilterRule) -> re.Pattern[str]:
    # A keyword is matched anywhere, ignoring case: "facture" finds "Votre FACTURE".
    source = rule.pattern if rule.regex else re.escape(rule.pattern)
    return re.compile(source, re.IGNORECASE)
