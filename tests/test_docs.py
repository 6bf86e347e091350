"""The README documents every command, option, plugin option and front-matter key."""

from __future__ import annotations

import re

import click
import pytest
from support import ROOT

from kb.articles import CATEGORY_KEYS, KNOWN_KEYS
from kb.cli import main
from kb.site.plugin import ContactChannel, KbPluginConfig

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "kb") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(commands(command, path))
    return found


ALL_COMMANDS = commands(main)


def test_readme_opens_with_the_two_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    first = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(first) == 2
    assert first[0].startswith("pip install -e . && kb serve")
    assert first[1].startswith("pip install -e '.[test]' && python -m pytest")
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [path for path, _ in ALL_COMMANDS])
def test_every_command_is_documented(path: str):
    assert f"`{path}" in README or f"\n{path}" in README or f" {path} " in README, f"README lacks {path}"


@pytest.mark.parametrize(
    "path,option",
    [(path, opt) for path, command in ALL_COMMANDS for param in command.params
     if isinstance(param, click.Option) for opt in param.opts if opt.startswith("--") and opt != "--help"],
)
def test_every_option_is_documented(path: str, option: str):
    assert f"`{option}" in README or f" {option} " in README or f" {option}\n" in README, \
        f"README lacks {option} of {path}"


@pytest.mark.parametrize("key", [k for k, _ in [*KbPluginConfig._schema, *ContactChannel._schema]])
def test_every_plugin_option_is_documented(key: str):
    assert re.search(rf"\b{key}:", README) or f"`{key}`" in README, f"README lacks the plugin option {key}"


@pytest.mark.parametrize("key", [*KNOWN_KEYS, *CATEGORY_KEYS])
def test_every_front_matter_key_is_documented(key: str):
    assert f"`{key}`" in README or re.search(rf"^{key}:", README, re.M), f"README lacks the key {key}"
