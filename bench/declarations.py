"""What a method or metric declares, read from its source without importing it.

``bench ls`` prints names, papers, needs and definitions; importing every method to read them
costs torch's import and every module's (about 10 s here). The declarations are literal class
attributes (``paper = "..."``, ``needs = MethodNeeds(style="pair")``, ``info = MetricInfo(...)``),
so they are read from the class's source with `ast`; a class whose declarations are not all
literal there (inherited, computed) is imported instead, as is one whose source is not a file.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any


def _literal(node: ast.expr, constants: dict[str, Any]) -> Any:
    """A literal, an f-string of the module's literal constants, or a call of those
    (``MethodNeeds(style="pair")``) as a dict of its keyword arguments; ValueError otherwise."""
    if isinstance(node, ast.Call) and not node.args:
        return {kw.arg: _literal(kw.value, constants) for kw in node.keywords if kw.arg}
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if not (isinstance(part.value, ast.Name) and part.value.id in constants):
                    raise ValueError("not a module constant")
                parts.append(format(constants[part.value.id]))
            else:
                parts.append(str(ast.literal_eval(part)))
        return "".join(parts)
    return ast.literal_eval(node)


def _constants(tree: ast.Module) -> dict[str, Any]:
    """The module's top-level ``NAME = literal`` assignments."""
    found = {}
    for statement in tree.body:
        value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                try:
                    found[target.id] = ast.literal_eval(value)
                except (ValueError, SyntaxError, TypeError):
                    continue
    return found


def read(target: str, wanted: tuple[str, ...]) -> dict[str, Any] | None:
    """The class attributes ``wanted`` of ``module:Class`` as literals, or None when any of
    them cannot be read from the source (the caller imports the class then)."""
    module, _, name = target.partition(":")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
    if node is None:
        return None
    constants = _constants(tree)
    found: dict[str, Any] = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        elif isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        else:
            continue
        for target_node in targets:
            if isinstance(target_node, ast.Name) and target_node.id in wanted:
                try:
                    found[target_node.id] = _literal(value, constants)
                except (ValueError, SyntaxError, TypeError):
                    return None
    return found if set(wanted) <= set(found) else None
