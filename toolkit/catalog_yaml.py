"""Reading catalog.yaml with the position of every key and value, and turning the catalog's
problems into messages that name them: `catalog.yaml:57:5: services.user-service: ...`.

PyYAML's composer gives each node its start mark; walking the node tree records, for every
path (`("services", "user-service", "depends_on", 0)`), the (line, column) of its key and of
its value, and notes duplicate keys (which plain YAML loading silently resolves to the last).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from toolkit.catalog_models import Position, Problem
from toolkit.errors import ToolkitError


def one_line(error: ToolkitError) -> str:
    """A loading error in one line: the first problem, how many more, the fix."""
    lines = error.problem.splitlines() or [""]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return f"{lines[0]}{more}; {error.fix}" if error.fix else lines[0] + more


def _path_text(data: object, loc: tuple) -> str:
    text, node = "", data
    for part in loc:
        text += f"[{part}]" if isinstance(node, list) else f"{'.' if text else ''}{part}"
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            node = None
    return text or "top level"


def error(source: str, data: object, positions: dict, problems: list[Problem]) -> ToolkitError:
    def position(problem: Problem) -> Position | None:
        if problem.pos:
            return problem.pos
        at = problem.where if problem.at is None else problem.at
        for end in range(len(at), -1, -1):
            if at[:end] in positions:
                key_mark, value_mark = positions[at[:end]]
                return key_mark if problem.key or end < len(at) else value_mark
        return None

    placed = [(position(p), p) for p in problems]
    if positions:
        placed.sort(key=lambda item: item[0] or (0, 0))
    lines = [
        f"{source}{f':{pos[0]}:{pos[1]}' if pos else ''}: {_path_text(data, p.where)}: {p.what}"
        for pos, p in placed
    ]
    return ToolkitError("\n".join(dict.fromkeys(lines)), f"fix {source} and retry")


def display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def walk(loader: yaml.SafeLoader, node: yaml.Node, path: tuple, out: dict, dups: list) -> None:
    """Record the (line, column) of every key and value under `node`; note duplicate keys."""

    def mark(n: yaml.Node) -> Position:
        return n.start_mark.line + 1, n.start_mark.column + 1

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                key_node, yaml.ScalarNode
            ):
                continue
            key = loader.construct_object(key_node)
            here = (*path, key)
            if here in out:
                first = out[here][0][0]
                what = f"duplicate key {key!r} (first on line {first}; YAML keeps the last)"
                dups.append(Problem(path, what, pos=mark(key_node)))
                continue
            out[here] = (mark(key_node), mark(value_node))
            walk(loader, value_node, here, out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = (mark(item), mark(item))
            walk(loader, item, (*path, index), out, dups)


def read(path: Path, source: str) -> tuple[object, dict, list[Problem]]:
    """The YAML's data, the positions of its keys and values, and its duplicate keys."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ToolkitError(
            f"{path} not found", "run the toolkit from the repository (or set TIERED_CATALOG)"
        ) from None
    positions: dict = {}
    duplicates: list[Problem] = []
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None, positions, duplicates
        positions[()] = ((1, 1), (root.start_mark.line + 1, root.start_mark.column + 1))
        walk(loader, root, (), positions, duplicates)
        return loader.construct_document(root), positions, duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        raise ToolkitError(
            f"{source}{where}: not valid YAML: {exc.problem}{context}",
            f"fix the syntax of {source}",
        ) from None
    except yaml.YAMLError as exc:
        raise ToolkitError(
            f"{source}: not valid YAML: {exc}", f"fix the syntax of {source}"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
