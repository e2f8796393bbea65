"""Explanation is off by default and then costs nothing: ``classify``, ``search`` and ``ask`` without ``--explain``
never import ``multimodal.explain`` (checked in a fresh interpreter, so nothing else has imported it first)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sceneqa.cli import main
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
from sceneqa.cli import main

def loaded():
    return sorted(m for m in sys.modules if m == "multimodal.explain" or m.startswith("multimodal.explain."))

argv, image, index = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
seen = {}
for name, cmd in (
    ("classify", ["classify", image, "--labels", "red, green, a cat"]),
    ("search", ["search", "--index", index, "--text", "a red circle", "-k", "3"]),
    ("ask", ["ask", image, "is there a cat?"]),
    ("ask colour", ["ask", image, "what colour is the circle?"]),
):
    code = main([*argv, *cmd])
    seen[name] = {"code": code, "explain_modules": loaded()}
print("RESULT " + json.dumps(seen))
"""


def test_classify_search_and_ask_without_explain_never_import_it(cache_dir, tmp_path, capsys):
    rows = make_catalog(tmp_path, 4)
    index = tmp_path / "idx"
    csv_path = write_csv(tmp_path / "c.csv", rows)
    assert main([*tiny_argv(cache_dir), "index", "add", str(csv_path), "--index", str(index)]) == 0
    capsys.readouterr()
    argv = [*tiny_argv(cache_dir), "--answerer", "lite"]  # the answerer that routes where-questions
    image = str(tmp_path / rows[0]["image"])
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv), image, str(index)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and line, proc.stderr[-2000:]
    seen = json.loads(line[0][len("RESULT ") :])
    assert all(v["code"] == 0 for v in seen.values()), seen
    assert {k: v["explain_modules"] for k, v in seen.items()} == {k: [] for k in seen}
