"""The package's shape: one subpackage per capability, arrows pointing one way, no silent fallbacks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support import ROOT

KB = ROOT / "kb"
CORE = ["kb.articles", "kb.manifest", "kb.site.pages", "kb.site.state", "kb.site.build", "kb.search.text", "kb.search.index", "kb.search.ranker",
        "kb.search.site_index", "kb.votes.schema", "kb.votes.store", "kb.votes.collector", "kb.votes.io",
        "kb.votes.openapi", "kb.votes.widget", "kb.votes.simulate", "kb.report.tally", "kb.report.review", "kb.report.gaps",
        "kb.report.sql", "kb.report.formats"]
MAX_LINES = 600
#: The MkDocs renderer: the only modules that know MkDocs (they adapt MkDocs' own objects: its
#: config, files, pages and navigation, whose attribute names are often kb's too).
MKDOCS_RENDERER = {"kb.site.plugin", "kb.site.renderers.mkdocs", "kb.site.renderers.mkdocs.pagewise",
                   "kb.site.renderers.mkdocs.edit", "kb.site.renderers.mkdocs.sidebar"}
#: Writes of another module's object's attributes that are known and not yet gone, each with its owner.
KNOWN_ATTRIBUTE_WRITES = {"kb/report/sql.py": {"tallies.raw_votes"}}  # the report's counting, in SQL


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


def _third_party_imports(path: Path) -> set[str]:
    """The top-level packages outside kb that `path` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found - {"kb"}


def test_mkdocs_is_imported_only_inside_the_mkdocs_renderer_and_zensical_inside_its_own() -> None:
    modules = {_module_name(p): _third_party_imports(p) for p in KB.rglob("*.py")}
    assert sorted(name for name, imports in modules.items() if {"mkdocs", "material"} & imports) \
        == sorted(MKDOCS_RENDERER)
    assert sorted(name for name, imports in modules.items() if "zensical" in imports) \
        == [name for name in ["kb.site.renderers.zensical"] if name in modules]


def test_the_build_does_not_import_the_preview_nor_a_renderer() -> None:
    graph = _graph()
    assert sorted(m for m in graph["kb.site.build"] if m.startswith(("kb.site.preview", "kb.site.renderers",
                                                                    "kb.site.plugin"))) == []
    assert sorted(m for m in graph["kb.site.state"] if m.startswith("kb.site.") and m not in (
        "kb.site.pages", "kb.site.languages", "kb.site.dates", "kb.site.unfinished")) == []
    users = sorted(name for name, deps in graph.items() if any(d.startswith("kb.site.preview") for d in deps)
                   and not name.startswith("kb.site.preview"))
    assert users == ["kb.cli.site"]


def test_only_the_finish_step_writes_a_sites_search_index() -> None:
    """kb build, mkdocs build, the preview and build_search.py all write the index through kb.site.build
    (the benchmarks index their eval sets into scratch folders)."""
    writers = []
    for path in KB.rglob("*.py"):
        if _module_name(path).startswith(("kb.search", "kb.bench")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("write_index", "write_site_index"):
                    writers.append(_module_name(path))
    assert sorted(set(writers)) == ["kb.site.build"]


def _own_fields(tree: ast.AST) -> set[str]:
    """The attributes the classes of a module have: annotated fields and what their methods set on self."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.FunctionDef):
                    names.update(sub.attr for sub in ast.walk(item) if isinstance(sub, ast.Attribute)
                                 and isinstance(sub.ctx, ast.Store) and isinstance(sub.value, ast.Name)
                                 and sub.value.id == "self")
    return names


def test_no_module_writes_the_attributes_of_another_modules_objects() -> None:
    """State is changed by its owner's methods: `state.adopt(...)`, not `plugin.url_of = ...` from outside.

    An attribute set on anything but `self` (or `self._cache.fresh`, through self) counts when a
    class of another kb module has an attribute of that name and no class of the writing module
    does. The MkDocs renderer is left out: it sets MkDocs' own objects' attributes (title, docs_dir...).
    """
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in KB.rglob("*.py")}
    fields = {path: _own_fields(tree) for path, tree in trees.items()}
    found: dict[str, set[str]] = {}
    for path, tree in trees.items():
        if _module_name(path) in MKDOCS_RENDERER:
            continue
        others = set().union(*(f for other, f in fields.items() if other != path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                    and node.attr in others and node.attr not in fields[path]):
                found.setdefault(path.relative_to(ROOT).as_posix(), set()).add(ast.unparse(node))
    assert found == KNOWN_ATTRIBUTE_WRITES
