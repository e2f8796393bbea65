"""The house holds: no import circle and no upward arrow between the floors (``tests/import_graph.py`` draws the
graph), every third-party package the library imports is declared, and evaluation-only packages stay in ``eval/``
behind the ``eval`` extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

from eval.requires import DISTRIBUTIONS, require
from multimodal.errors import DependencyError
from tests.code_size import long_files, long_functions
from tests.import_graph import LAYERS, ROOT, circles, graph, library_files, upward_arrows

EVAL_ONLY = {"easy_vqa", "httpx"}  # import names of the `eval` extra (matplotlib is core: the Teach tab's plot)


def test_no_upward_arrow():
    assert upward_arrows(graph()) == []


def test_no_import_circle():
    assert circles(graph()) == []


def test_no_file_over_400_lines_and_no_function_over_80():
    assert long_files() == [] and long_functions() == []


def third_party_imports(path) -> list[tuple[str, int, bool]]:
    """(top-level name, line, at module level) of every import of something outside the stdlib and the library,
    ``require("name")`` included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        elif _is_require(node):  # eval.requires.require("easy_vqa", ...): an import too
            names = [node.args[0].value]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in (*LAYERS, "tests"):
                out.append((top, node.lineno, id(node) in top_level))
    return out


def _is_require(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "require"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_norm(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requirements}


def _declared(pyproject: str | None = None) -> tuple[set[str], dict[str, set[str]]]:
    """Normalised names of the core dependencies, and of each extra."""
    project = tomllib.loads(pyproject or (ROOT / "pyproject.toml").read_text())["project"]
    return _names(project["dependencies"]), {k: _names(v) for k, v in project["optional-dependencies"].items()}


def test_every_imported_package_is_declared():
    core, extras = _declared()
    dists = packages_distributions()
    missing = []
    for path in library_files():
        in_eval = path.relative_to(ROOT).parts[0] == "eval"
        allowed = core | extras["ray"] | (extras["eval"] if in_eval else set())
        for top, line, _ in third_party_imports(path):
            if not {_norm(d) for d in dists.get(top, [top])} & allowed:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {top}")
    assert missing == []


def test_eval_only_packages_stay_in_eval_and_load_on_demand():
    _, extras = _declared()
    assert {_norm(DISTRIBUTIONS.get(m, m)) for m in EVAL_ONLY} <= extras["eval"] <= extras["test"]
    found = []
    for path in library_files():
        in_eval = path.relative_to(ROOT).parts[0] == "eval"
        for top, line, module_level in third_party_imports(path):
            if top in EVAL_ONLY and (module_level or not in_eval):
                found.append(f"{path.relative_to(ROOT)}:{line}: {top}")
    assert found == []


def test_a_missing_eval_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "easy_vqa", None)  # makes `import easy_vqa` raise ImportError
    with pytest.raises(DependencyError, match=r"easy-vqa .*--data easy-vqa.*pip install 'sceneqa\[eval\]'"):
        require("easy_vqa", purpose="--data easy-vqa")
