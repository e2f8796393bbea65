"""Sizes of the library's files and functions: prints those over the bars (files > 400 lines, functions > 80
lines) and exits 1 when there are any (``python -m tests.code_size``; ``tests/test_layers.py`` runs it)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.import_graph import ROOT, library_files

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80


def long_files(root: Path = ROOT) -> list[tuple[str, int]]:
    out = []
    for path in library_files(root):
        n = len(path.read_text().splitlines())
        if n > MAX_FILE_LINES:
            out.append((str(path.relative_to(root)), n))
    return sorted(out, key=lambda x: -x[1])


def long_functions(root: Path = ROOT) -> list[tuple[str, int]]:
    out = []
    for path in library_files(root):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    out.append((f"{path.relative_to(root)}::{node.name}", n))
    return sorted(out, key=lambda x: -x[1])


def main() -> int:
    files, functions = long_files(), long_functions()
    print(f"files over {MAX_FILE_LINES} lines: {len(files)}")
    for name, n in files:
        print(f"  {name}: {n}")
    print(f"functions over {MAX_FUNCTION_LINES} lines: {len(functions)}")
    for name, n in functions:
        print(f"  {name}: {n}")
    return 1 if files or functions else 0


if __name__ == "__main__":
    raise SystemExit(main())
