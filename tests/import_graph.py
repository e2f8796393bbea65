"""The library's import graph: prints the layers, every import circle and every upward arrow, and exits 1 when
there is either (``python -m tests.import_graph``; ``tests/test_layers.py`` runs it in CI).

Every ``import`` counts, also those inside functions (a lazy import is still a dependency). Layers, lowest
first: ``retrieval`` < ``multimodal`` < ``demos`` < ``eval`` < ``sceneqa`` (the command line); an arrow from a
lower layer to a higher one is upward. Tests are not part of the library."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

LAYERS = ("retrieval", "multimodal", "demos", "eval", "sceneqa")
ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for layer in LAYERS if (root / layer).is_dir() for p in (root / layer).rglob("*.py"))


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Library modules ``path`` imports (resolved to the longest known module name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in library_files(root)}
    known = set(files)
    return {name: imports_of(path, name, known) for name, path in files.items()}


def layer_of(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward_arrows(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, deps in g.items() for b in deps if layer_of(b) > layer_of(a))


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def main() -> int:
    g = graph()
    cyc, up = circles(g), upward_arrows(g)
    counts = defaultdict(int)
    for name in g:
        counts[name.split(".")[0]] += 1
    print("layers (lowest first): " + " < ".join(f"{layer} ({counts[layer]} modules)" for layer in LAYERS))
    print(f"import circles: {len(cyc)}")
    for c in cyc:
        print(f"  circle of {len(c)}: {', '.join(c)}")
    print(f"upward arrows: {len(up)}")
    for a, b in up:
        print(f"  {a} -> {b}")
    return 1 if cyc or up else 0


if __name__ == "__main__":
    raise SystemExit(main())
