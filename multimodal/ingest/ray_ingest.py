"""Distributed ingestion on Ray: ``sceneqa index add SOURCE --index DIR --engine ray``.

The driver reads the catalog (paths and metadata only), numbers it into shards of ``shard_size`` rows and
hands Ray Data one small item per shard. An actor pool (``num_workers`` actors, each holding the encoder)
reads, hashes, decodes and embeds each shard's images (:func:`multimodal.ingest.shard_embed.embed_shard`) and
returns the shard as Parquet bytes; the driver writes them under ``DIR/shards/`` (temporary file + rename).
When every shard exists the index is built from them (:func:`multimodal.ingest.shard_build.build_from_shards`):
the same index folder, manifest and store as the local path. Shards already on disk are skipped, so a rerun
after a crash resumes; they are deleted after a successful build unless kept.

The same code runs on a laptop (a local Ray started here, ``address=None``) and on a cluster
(``address="auto"`` or ``HOST:PORT``). On a cluster every node needs sceneqa installed and the images at
the same paths (or http(s) URLs with ``--allow-urls``); shards travel back to the driver through Ray, so no
shared file system is needed for them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

import numpy as np

from multimodal.encoders.base import EncoderOptions
from multimodal.errors import ConfigError
from multimodal.ingest.local import IngestOptions, IngestSummary
from multimodal.ingest.shard_build import build_from_shards
from multimodal.ingest.shard_embed import ShardTask, embed_shard, plan_shards
from multimodal.runtime import Runtime
from retrieval.atomic import atomic_write_bytes
from retrieval.lock import LOCK_FILE, WriterLock
from retrieval.manifest import check_encoder, read_manifest
from retrieval.shards import list_shards, shard_bytes, shard_fingerprint, shard_name, write_shard
from retrieval.sources import SourceItem
from retrieval.store import STORE, CatalogStore

SHARDS = "shards"
SPEC_FILE = "spec.json"


@dataclass(frozen=True)
class RayOptions:
    """address: None starts a local Ray here; ``auto`` joins the running cluster; ``HOST:PORT`` a given one.
    num_workers: actors (each holds one encoder); cpus_per_worker: torch threads and Ray CPUs per actor;
    shard_size: rows per shard; wave: shards handed to Ray Data per pass (bounds the driver's memory);
    shard_dir: where shards go (default ``INDEX/shards``); keep_shards: keep them after the build."""

    address: str | None = None
    num_workers: int = 2
    cpus_per_worker: int = 1
    shard_size: int = 1024
    wave: int = 256
    shard_dir: Path | None = None
    keep_shards: bool = False

    def __post_init__(self) -> None:
        if self.num_workers < 1 or self.cpus_per_worker < 1 or self.shard_size < 1 or self.wave < 1:
            raise ConfigError("--num-workers, --shard-size and the wave size must be at least 1")


@dataclass(frozen=True)
class EncoderRecipe:
    """What an actor needs to load the same encoder as the driver (all picklable)."""

    spec: str
    runtime: Runtime
    options: EncoderOptions


class ShardEmbedder:
    """A Ray Data actor: loads the encoder once, then embeds one shard per call."""

    def __init__(self, recipe: EncoderRecipe, ingest: IngestOptions, batch: int, threads: int) -> None:
        import torch

        from multimodal.encoders.factory import create_encoder

        torch.set_num_threads(threads)
        self.encoder = create_encoder(recipe.spec, recipe.runtime, recipe.options)
        self.ingest = ingest
        self.batch = batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        numbers, payloads, rows, failed = [], [], [], []
        for text, fingerprint in zip(batch["task"], batch["fingerprint"]):
            task = ShardTask.from_json(str(text))
            shard = replace(embed_shard(task, self.encoder, self.ingest, self.batch), fingerprint=str(fingerprint))
            numbers.append(task.number)
            payloads.append(shard_bytes(shard, self.encoder.dim))
            rows.append(len(shard.ids))
            failed.append(len(shard.failed))
        return {
            "number": np.array(numbers, np.int64),
            "payload": np.array(payloads, dtype=object),
            "rows": np.array(rows, np.int64),
            "failed": np.array(failed, np.int64),
        }


def _shard_folder(index: Path, options: RayOptions) -> Path:
    return Path(options.shard_dir) if options.shard_dir else Path(index) / SHARDS


def _check_shard_spec(folder: Path, spec: dict[str, object]) -> None:
    """Shards from another encoder, shard size or source are stale: removed (only sceneqa's own files)."""
    path = folder / SPEC_FILE
    try:
        old = json.loads(path.read_text()) if path.exists() else spec
    except (OSError, ValueError):
        old = None  # damaged: treated as another run's
    if old != spec:
        _remove_shards(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(spec).encode())


def _remove_shards(folder: Path) -> None:
    """Delete the shard files and the spec, never anything else; the folder too if that leaves it empty."""
    for p in [*list_shards(folder), *folder.glob(".shard-*.parquet.*"), folder / SPEC_FILE]:
        p.unlink(missing_ok=True)
    with suppress(OSError):
        folder.rmdir()


def _options_fingerprint(options: IngestOptions, batch: int) -> str:
    return json.dumps({"urls": options.allow_urls, "limits": repr(options.limits), "batch": batch}, sort_keys=True)


def task_fingerprint(task: ShardTask, options_fingerprint: str) -> str:
    """sha256 of everything a shard's content depends on: its rows (ids, paths, metadata), the hashes already
    stored for them, and the ingest options."""
    return hashlib.sha256((task.to_json() + options_fingerprint).encode()).hexdigest()


def _done(folder: Path, task: ShardTask, options_fingerprint: str) -> bool:
    """A shard on disk counts as done only if it was made from exactly this task (same rows, metadata, stored
    hashes and options); a damaged, stale or different one is embedded again."""
    path = folder / shard_name(task.number)
    return path.exists() and shard_fingerprint(path) == task_fingerprint(task, options_fingerprint)


def _waves(tasks: Iterator[ShardTask], size: int) -> Iterator[list[ShardTask]]:
    while wave := list(islice(tasks, size)):
        yield wave


def ray_ingest(
    index: Path,
    source: Iterable[SourceItem],
    recipe: EncoderRecipe,
    dim: int,
    ingest_options: IngestOptions,
    ray_options: RayOptions,
    batch: int,
    source_name: str,
    progress: Callable[[int], None] | None = None,
    notice: Callable[[str], None] = lambda _: None,
) -> IngestSummary:
    """Embed ``source`` on Ray into shards, then build the index folder ``index`` from them."""
    import time

    import ray

    start = time.perf_counter()
    index = Path(index)
    folder = _shard_folder(index, ray_options)
    summary = IngestSummary()
    with ExitStack() as stack:
        known = _known_hashes_reader(index, recipe.spec, dim, stack)  # refuses another encoder's index first
        folder.mkdir(parents=True, exist_ok=True)
        stack.enter_context(WriterLock(folder))  # one run per shard folder
        _check_shard_spec(
            folder, {"encoder": recipe.spec, "dim": dim, "shard_size": ray_options.shard_size, "source": source_name}
        )
        fingerprint = _options_fingerprint(ingest_options, batch)
        tasks = plan_shards(source, ray_options.shard_size, summary, known)
        all_numbers: list[int] = []
        skipped = 0
        for wave in _waves(tasks, ray_options.wave):
            all_numbers += [t.number for t in wave]
            todo = [t for t in wave if not _done(folder, t, fingerprint)]
            if progress:
                progress(sum(len(t.rows) for t in wave) - sum(len(t.rows) for t in todo))
            skipped += len(wave) - len(todo)
            if todo and not ray.is_initialized():
                init_ray(ray_options)
                stack.callback(ray.shutdown)
            if todo:
                _run_wave(todo, folder, recipe, ingest_options, ray_options, batch, fingerprint, progress)
        if skipped:
            notice(f"resumed: {skipped} shard(s) already embedded in {folder} were reused")
    paths = [folder / shard_name(n) for n in all_numbers]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise ConfigError(f"{len(missing)} shard(s) were not written (first: {missing[0]}); rerun to resume")
    built = build_from_shards(
        index,
        paths,
        encoder=recipe.spec,
        dim=dim,
        index_type=ingest_options.index_type,
        memory_budget_mb=ingest_options.memory_budget_mb,
        allow_duplicates=ingest_options.allow_duplicates,
    )
    built.failed[:0] = summary.failed
    built.seconds = time.perf_counter() - start
    if not ray_options.keep_shards:
        with WriterLock(folder):
            _remove_shards(folder)
        (folder / LOCK_FILE).unlink(missing_ok=True)
        with suppress(OSError):
            folder.rmdir()
    return built


def _known_hashes_reader(index: Path, spec: str, dim: int, stack: ExitStack) -> Callable[[list[str]], dict[str, str]]:
    """ids -> stored sha256, from the store alone (one read-only connection; the FAISS file is not loaded)."""
    manifest = read_manifest(index)
    if manifest is None:
        return lambda ids: {}
    check_encoder(index, manifest, spec, dim)  # refuses another encoder's index now, before any work
    store = stack.enter_context(closing(CatalogStore(index / STORE, dim, readonly=True)))
    return store.known_hashes


def init_ray(options: RayOptions) -> None:
    """Start a local Ray (``address=None``) or join a cluster, quietly; fails fast on an unreachable one."""
    import logging
    import os

    import ray

    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # the C++ core's warnings, on stderr otherwise
    kwargs: dict[str, object] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if options.address:
        _check_reachable(options.address)
        try:
            ray.init(address=options.address, **kwargs)
        except (ConnectionError, RuntimeError) as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster at {options.address} ({str(exc).splitlines()[0]}); start one with "
                "`ray start --head` (and `ray start --address HEAD:PORT` on the workers), pass the head's address, "
                "or leave out --ray-address to run a local Ray"
            ) from exc
    else:
        ray.init(num_cpus=options.num_workers * options.cpus_per_worker, **kwargs)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody answers on (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" or another form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); start one with `ray start --head` "
            "(and `ray start --address HEAD:PORT` on the workers), pass the head's address, or leave out "
            "--ray-address to run a local Ray"
        ) from exc


def _run_wave(
    todo: list[ShardTask],
    folder: Path,
    recipe: EncoderRecipe,
    ingest_options: IngestOptions,
    options: RayOptions,
    batch: int,
    options_fingerprint: str,
    progress: Callable[[int], None] | None,
) -> None:
    import logging

    import ray.data

    for name in ("ray", "ray.data"):  # Ray Data configures its loggers on import; quiet them after it
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_stats_logs = False
    ctx.print_on_execution_start = False
    items = [{"task": t.to_json(), "fingerprint": task_fingerprint(t, options_fingerprint)} for t in todo]
    ds = ray.data.from_items(items, override_num_blocks=len(todo))
    out = ds.map_batches(
        ShardEmbedder,
        fn_constructor_kwargs={
            "recipe": recipe,
            "ingest": ingest_options,
            "batch": batch,
            "threads": options.cpus_per_worker,
        },
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(options.num_workers, len(todo))),
        num_cpus=options.cpus_per_worker,
    )
    for row in out.iter_rows():
        write_shard(folder / shard_name(int(row["number"])), bytes(row["payload"]))
        if progress:
            progress(int(row["rows"]) + int(row["failed"]))
