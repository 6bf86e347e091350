"""The layout the product card fixes: core modules stay free of MkDocs and the command line."""

from __future__ import annotations

import subprocess
import sys

CORE = ["kb.articles", "kb.pages", "kb.search", "kb.search_text", "kb.search_site", "kb.store", "kb.votes",
        "kb.votes_io", "kb.votes_widget", "kb.report", "kb.report_formats", "kb.report_sql", "kb.simulate"]


def test_core_modules_import_neither_mkdocs_nor_click() -> None:
    code = ("import sys\n"
            f"for name in {CORE!r}:\n"
            "    __import__(name)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'mkdocs', 'material', 'click'}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_the_plugin_and_the_command_are_registered() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="mkdocs.plugins")}
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert plugins["kb"] == "kb.plugin:KbPlugin"
    assert scripts["kb"] == "kb.cli:main"
