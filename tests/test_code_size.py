"""The size rules the codebase keeps: no module over 300 lines, no function over 40.

A module or function that grows past them is telling us where a new room belongs; this test says
so in the suite rather than in review. Tests and migrations are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "imagegen", "vendors", "proxy", "playground", "bench")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 40


def production_modules() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    ]


def oversized(path: Path) -> list[str]:
    text = path.read_text()
    name = path.relative_to(ROOT)
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    return found


def test_the_packages_hold_their_modules():
    assert len(production_modules()) > 40


def test_no_module_is_over_300_lines_and_no_function_over_40():
    found = [problem for path in production_modules() for problem in oversized(path)]
    assert found == []
