"""No import cycle anywhere in the toolkit: the graph of `toolkit...` imports (at the top of a
module and inside its functions alike, as the AST has them) is acyclic, and every module
imports on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from toolkit.catalog import ROOT

PACKAGE = ROOT / "toolkit"


def modules() -> dict[str, Path]:
    """Every module of the toolkit by dotted name (a package by its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Nodes under `if TYPE_CHECKING:` (never run, so no cycle at run time)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for inner in ast.walk(node))
    return skipped


def _ancestors(name: str) -> list[str]:
    bits = name.split(".")
    return [".".join(bits[:i]) for i in range(1, len(bits) + 1)]


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The toolkit modules `name` imports, anywhere in it. Importing a.b.c runs a/__init__.py
    and a/b/__init__.py too: those are edges as well, except the importer's own packages
    (already being imported when it runs)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            targets.update(subs)
            if len(subs) < len(node.names):  # some names are attributes of `base` itself
                targets.add(base)
    own = set(_ancestors(name))
    edges = set()
    for target in targets:
        for step in _ancestors(target):
            if step in known and step != name and (step not in own or step == target):
                edges.add(step)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets (each as the path round it)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_the_toolkit_import_graph_is_acyclic() -> None:
    known = modules()
    assert {"toolkit.bench", "toolkit.bench.cli", "toolkit.bench.measure.build"} <= set(known)
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert "toolkit.bench.measure.seed_strategy" in graph["toolkit.bench.measure.build"]
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_finds_one_inside_a_function(tmp_path) -> None:
    # The cycle bench_build <-> seed_strategy was an import inside a function.
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from toolkit import b\n")
    b.write_text("from toolkit.a import f\n")
    known = {"toolkit.a": a, "toolkit.b": b}
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert cycles(graph) == [["toolkit.a", "toolkit.b", "toolkit.a"]]


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    # One interpreter; before each module, every toolkit module is forgotten, so each is the
    # first toolkit import (a cycle fails with whichever module it is entered from).
    names = sorted(modules())
    code = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'toolkit']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
