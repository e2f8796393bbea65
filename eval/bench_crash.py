"""``sceneqa bench crash``: SIGKILL catalog writers at random moments, ``--kills`` times, alternating two kinds:

- *upsert/remove*: ``eval.crash_worker`` adds, updates and removes items (synthetic vectors) and prints an
  acknowledgement after each committed transaction;
- *ingest*: a real ``sceneqa index add`` of generated JPEGs (tiny encoder); an item counts as acknowledged once
  its row is visible to another reader of the store.

After each kill the index folder is reopened and checked: it opens, the ids FAISS can return == the store's
ids, the manifest names the right encoder and dimension, every acknowledged add is present and every
acknowledged remove is gone. The next writer resumes on the same folder; the ingest is finally run to the end
and must hold every item exactly once."""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from eval.machine import header_line, machine_info


def check(folder: Path, present: set[str], absent: set[str], encoder: str, dim: int) -> dict[str, object]:
    from retrieval.catalog import Catalog

    with Catalog.open(folder, encoder=None, dim=None) as cat:
        live = set(cat.store.all_vids().tolist())
        visible = set(cat.index.live_ids().tolist())
        ids = [it.id for it in cat.store.items(sorted(live))]
        found = set(ids)
        return {
            "ids_match": visible == live and len(ids) == len(found),
            "manifest_ok": cat.manifest.encoder == encoder and cat.manifest.dim == dim,
            "acked": len(present),
            "acked_present": len(present & found),
            "acked_missing": sorted(present - found)[:5],
            "removed_but_found": sorted(absent & found)[:5],
            "items": len(found),
            "reconciled": (cat.reconciled.added, cat.reconciled.removed),
        }


class Ledger:
    """What the writers acknowledged: ids that must be present, ids that must be gone."""

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.absent: set[str] = set()

    def apply_lines(self, lines: list[str]) -> int:
        """Fold a worker's TRY/ACK lines in; returns the number of acknowledged transactions."""
        in_flight: list[str] = []
        acked = 0
        for line in lines:
            parts = line.split()
            if len(parts) < 3 or parts[0] not in ("TRY", "ACK"):
                continue
            if parts[0] == "TRY":
                in_flight = parts[2:]
                continue
            acked += 1
            in_flight = []
            if parts[1] == "add":
                self.present.update(parts[2:])
                self.absent.difference_update(parts[2:])
            else:
                self.absent.update(parts[2:])
                self.present.difference_update(parts[2:])
        # the write the kill interrupted was never acknowledged: applied or not, both are correct
        self.present.difference_update(in_flight)
        self.absent.difference_update(in_flight)
        return acked


def committed_ids(folder: Path) -> set[str]:
    """Ids another reader sees committed in the store right now."""
    path = folder / "store.sqlite"
    if not path.exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return {r[0] for r in db.execute("SELECT id FROM items")}
        finally:
            db.close()
    except sqlite3.OperationalError:
        return set()  # the writer is creating the schema right now


def kill_upsert_worker(folder: Path, seed: int, kind: str, delay: float, ledger: Ledger) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "eval.crash_worker", str(folder), str(seed), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def reader() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.strip())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t.join(timeout=5)
    return ledger.apply_lines(lines)


def ingest_cmd(csv_path: Path, folder: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sceneqa.cli",
        *("--tier", "tiny", "--device", "cpu", "--precision", "fp32", "--offline", "--cache-dir", str(cache), "-q"),
        *("--batch-size", "2", "index", "add", str(csv_path), "--index", str(folder), "--commit-every", "4"),
    ]


def kill_ingest(cmd: list[str], folder: Path, delay: float, ledger: Ledger) -> int:
    before = committed_ids(folder)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = before
    start_by = time.monotonic() + 120  # interpreter, torch and model start-up come first
    while proc.poll() is None and seen == before and time.monotonic() < start_by:
        seen = committed_ids(folder)
        time.sleep(0.02)
    end = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < end:
        seen = committed_ids(folder)
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    new = seen - ledger.present
    ledger.present.update(seen)
    return len(new)


def write_ingest_catalog(root: Path, n: int) -> Path:
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True)
    lines = ["id,image,n"]
    for i in range(n):
        img = Image.new("RGB", (320, 240), (240, 240, 240))
        d = ImageDraw.Draw(img)
        d.ellipse((10 + i % 17, 12, 280, 170 + i % 13), fill=(i * 37 % 256, i * 91 % 256, i * 53 % 256))
        img.save(root / "images" / f"{i:04d}.jpg", quality=90)
        lines.append(f"sku{i},images/{i:04d}.jpg,{i}")
    path = root / "catalog.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_crash(
    kills: int, seed: int, kind: str, root: Path, items: int
) -> tuple[list[dict[str, object]], dict[str, object]]:
    rng = random.Random(seed)
    up_folder, ing_folder, cache = root / "upsert-idx", root / "ingest-idx", root / "cache"
    csv_path = write_ingest_catalog(root / "catalog", items)
    cmd = ingest_cmd(csv_path, ing_folder, cache)
    subprocess.run(cmd[: cmd.index("index")] + ["models"], capture_output=True, check=False)  # writes tiny models
    up, ing = Ledger(), Ledger()
    rows = []
    for k in range(kills):
        delay = rng.uniform(0.8, 2.5)
        if k % 2 == 0:
            acked = kill_upsert_worker(up_folder, seed * 1000 + k, kind, delay, up)
            result = check(up_folder, up.present, up.absent, "bench:crash", 64)
            result["writer"] = "upsert/remove"
        else:
            acked = kill_ingest(cmd, ing_folder, (delay - 0.8) / 2, ing)  # after its first commit
            result = check(ing_folder, ing.present, ing.absent, "tiny:open_clip", 32)
            result["writer"] = "ingest"
        result.update({"kill": k + 1, "acked_writes": acked})
        rows.append(result)
    done = subprocess.run(cmd, capture_output=True, text=True)
    final = check(ing_folder, {f"sku{i}" for i in range(items)}, set(), "tiny:open_clip", 32)
    final["exit"] = done.returncode
    return rows, final


def row_ok(r: dict[str, object]) -> bool:
    return bool(r["ids_match"] and r["manifest_ok"] and not r["acked_missing"] and not r["removed_but_found"])


def run_bench_crash(args: argparse.Namespace, config) -> int:
    print(header_line())
    with tempfile.TemporaryDirectory() as tmp:
        rows, final = run_crash(args.kills, args.seed, args.type, Path(tmp), args.ingest_items)
    ok = all(row_ok(r) for r in rows) and row_ok(final) and final["exit"] == 0
    print(
        f"crash: {args.kills} SIGKILLs at random moments, alternating an upsert/update/remove writer "
        f"({args.type} index, synthetic vectors) and `sceneqa index add` of {args.ingest_items} generated JPEGs "
        "(tiny encoder); after each: reopen, index == store, manifest, acknowledged writes"
    )
    print(
        f"{'kill':>4s} {'writer':>13s} {'new acks':>8s} {'acked':>6s} {'found':>6s} {'items':>6s} "
        f"{'index==store':>12s} {'reopen re-added,dropped':>23s}"
    )
    for r in rows:
        print(
            f"{r['kill']:4d} {r['writer']:>13s} {r['acked_writes']:8d} {r['acked']:6d} {r['acked_present']:6d} "
            f"{r['items']:6d} {str(r['ids_match']):>12s} {str(r['reconciled']):>23s}"
        )
    lost = sum(len(r["acked_missing"]) for r in rows)
    acked = sum(int(r["acked"]) for r in rows)
    found = sum(int(r["acked_present"]) for r in rows)
    print(
        f"acknowledged items checked after the kills (cumulative) {acked:,}, found {found:,}, missing {lost}; "
        "acknowledged removes found "
        f"{sum(len(r['removed_but_found']) for r in rows)}"
    )
    print(
        f"resume: the ingest run to the end exits {final['exit']} and holds "
        f"{final['acked_present']}/{args.ingest_items} items, {final['items']} in all, "
        f"index == store {final['ids_match']}"
    )
    print(f"result: {'PASS' if ok else 'FAILURES'}")
    if args.json:
        print(json.dumps({"machine": machine_info(), "kills": rows, "final": final, "ok": ok}))
    return 0 if ok else 1
