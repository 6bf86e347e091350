"""The package's shape: one subpackage per capability, arrows pointing one way, no silent fallbacks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support import ROOT

KB = ROOT / "kb"
CORE = ["kb.articles", "kb.manifest", "kb.site.pages", "kb.search.text", "kb.search.index", "kb.search.ranker",
        "kb.search.site_index", "kb.votes.schema", "kb.votes.store", "kb.votes.collector", "kb.votes.io",
        "kb.votes.openapi", "kb.votes.widget", "kb.votes.simulate", "kb.report.tally", "kb.report.review",
        "kb.report.sql", "kb.report.formats"]
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _kb_imports(path: Path) -> set[str]:
    """The kb modules `path` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "kb")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kb":
            for alias in node.names:
                # `from kb.search import index` names a module; `from kb.search.index import X` a name in one
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if (KB.parent / Path(*candidate.split("."))).with_suffix(".py").exists()
                          else node.module)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in KB.rglob("*.py")}
    return {name: {m for m in _kb_imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_the_import_graph_of_kb_has_no_circle() -> None:
    graph = _graph()
    assert len(graph) > 30
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                circles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert circles == []


def test_the_layout_rooms_exist_and_the_old_flat_modules_are_gone() -> None:
    for room in ("site", "search", "votes", "report", "bench", "cli"):
        assert (KB / room / "__init__.py").is_file(), room
    flat = sorted(p.name for p in KB.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "articles.py", "manifest.py"]


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {_module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in KB.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_silent_fallback_for_our_own_code() -> None:
    offenders = []
    for path in KB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Try):
                imports = [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
                names = [a.name for n in imports if isinstance(n, ast.Import) for a in n.names]
                names += [n.module or "" for n in imports if isinstance(n, ast.ImportFrom)]
                if any(name.split(".")[0] == "kb" for name in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and len(node.args) == 3 and isinstance(node.args[2], ast.Constant) and node.args[2].value is None
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in {"search", "report", "engine"}):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_collector_does_not_import_the_report_or_the_search() -> None:
    graph = _graph()
    reachable, todo = set(), ["kb.votes.collector"]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in reachable:
                reachable.add(dep)
                todo.append(dep)
    assert sorted(m for m in reachable if m.startswith(("kb.report", "kb.search", "kb.site", "kb.cli"))) == []


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
    assert plugins["kb"] == "kb.site.plugin:KbPlugin"
    assert scripts["kb"] == "kb.cli:main"
