"""A writer for the crash benchmark: random upserts and removes on an index folder, printing an
``TRY add|remove IDS`` line before and an acknowledgement (``ACK add|remove IDS``) after each committed store
transaction, committing
the index file now and then. Killed at random by ``sceneqa bench crash``. Synthetic vectors: no model."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

from retrieval.catalog import Catalog
from retrieval.manifest import IndexParams
from retrieval.records import ItemRecord

DIM = 64


def main(folder: str, seed: int, kind: str) -> None:
    rng = random.Random(seed)
    vec_rng = np.random.default_rng(seed)
    with Catalog.open(
        Path(folder), encoder="bench:crash", dim=DIM, writable=True, create=True, index_params=IndexParams(kind)
    ) as cat:
        live = [it.id for it in cat.store.items(cat.store.all_vids().tolist())]
        n = 0
        while True:
            n += 1
            if live and rng.random() < 0.3:
                victims = rng.sample(live, min(len(live), rng.randint(1, 3)))
                print("TRY remove " + " ".join(victims), flush=True)
                cat.remove(victims)
                for v in victims:
                    live.remove(v)
                print("ACK remove " + " ".join(victims), flush=True)
            else:
                batch = []
                for _ in range(rng.randint(1, 8)):
                    item_id = f"s{seed}-{n}-{len(batch)}" if rng.random() < 0.8 or not live else rng.choice(live)
                    v = vec_rng.normal(size=DIM).astype(np.float32)
                    batch.append(
                        ItemRecord(
                            item_id, f"{item_id}.jpg", f"h{seed}-{n}-{len(batch)}", v / np.linalg.norm(v), {"n": n}
                        )
                    )
                print("TRY add " + " ".join(r.id for r in batch), flush=True)
                cat.upsert(batch)
                for r in batch:
                    if r.id not in live:
                        live.append(r.id)
                print("ACK add " + " ".join(r.id for r in batch), flush=True)
            if n % 7 == 0:
                cat.commit()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
