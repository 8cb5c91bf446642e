"""The README documents every command and every configuration key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest

from relouphone.cli import cli
from relouphone.config import Config, FilterRule

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "relouphone") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix} {name}"))
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_is_in_the_cli_reference(command):
    assert re.search(rf"`{re.escape(command)}(\s|`)", README), f"{command} missing from README"


def _config_keys() -> list[str]:
    defaults = Config()
    keys = []
    for section in dataclasses.fields(Config):
        value = getattr(defaults, section.name)
        if dataclasses.is_dataclass(value):
            keys.extend(f"[{section.name}] {key.name}" for key in dataclasses.fields(value))
    keys.extend(f"[[filter]] {key.name}" for key in dataclasses.fields(FilterRule))
    return keys


@pytest.mark.parametrize("key", _config_keys())
def test_every_configuration_key_is_in_the_reference(key):
    assert f"`{key}`" in README


def test_the_readme_gives_the_two_set_up_commands():
    assert "scripts/demo.sh" in README
    assert "scripts/test.sh" in README
    assert "relouphone demo" in README
