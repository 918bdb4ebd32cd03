"""An import inside a function says why (issue 10): a comment on its block, or on the line before it,
names the heavy or optional dependency it keeps out of start-up."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src" / "aideon_resilience"


def uncommented_function_imports(path: Path, root: Path = REPO) -> list[str]:
    """`file:line` of each block of imports inside a function with no comment on it or just above."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[str] = []
    for fn in ast.walk(ast.parse(text)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        imports = sorted((n for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)),
                         key=lambda n: n.lineno)
        blocks: list[list[ast.stmt]] = []
        for node in imports:
            if blocks and node.lineno - (blocks[-1][-1].end_lineno or node.lineno) <= 2:
                blocks[-1].append(node)
            else:
                blocks.append([node])
        for block in blocks:
            span = lines[max(0, block[0].lineno - 2):block[-1].end_lineno]
            if not any("#" in line for line in span):
                found.append(f"{path.relative_to(root)}:{block[0].lineno}")
    return found


def test_every_import_inside_a_function_says_why() -> None:
    found = [where for path in sorted(SRC.rglob("*.py")) for where in uncommented_function_imports(path)]
    assert found == []


def test_the_check_finds_an_uncommented_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import json\n    return json\n\n\n"
                      "def g():\n    import csv  # why\n    return csv\n", encoding="utf-8")
    assert uncommented_function_imports(module, tmp_path) == ["m.py:2"]
