"""``GET /metrics``: the server's counters in the Prometheus text exposition format.

Written with ``prometheus_client`` (pure Python, no dependencies, well under 1 MB): its text writer is the
reference for the format's escaping and histogram rules, which a hand-written one would have to re-derive.
Each app gets its own :class:`CollectorRegistry` (nothing global, nothing at import: two apps in one process,
as in the tests, count apart).

What is counted: HTTP requests and their latency per route, method and status; per worker the queue depth and
batches running (read when scraped, never waited for), the size of each batch (images, texts or calls),
the model seconds of each batch, the requests refused because a queue was full (503) and those dropped
because their deadline passed while they waited (504, no model time spent).
"""

from __future__ import annotations

from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MODEL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The metrics of one server; also the engine's observer (``batch``, ``expired``, ``rejected``).
    ``engine_stats``: a non-blocking callable returning :meth:`multimodal.engine.Engine.stats`."""

    def __init__(self, engine_stats: Callable[[], dict] | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("sceneqa_requests", "HTTP requests answered", ["route", "method", "status"], registry=r)
        self.latency = Histogram(
            "sceneqa_request_seconds",
            "HTTP request latency, first byte in to last byte out",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "sceneqa_batch_size", "items per model batch", ["worker"], buckets=BATCH_BUCKETS, registry=r
        )
        self.model_seconds = Histogram(
            "sceneqa_model_seconds", "model seconds per batch", ["worker"], buckets=MODEL_BUCKETS, registry=r
        )
        self.rejected_total = Counter(
            "sceneqa_rejected", "requests refused at once because a worker queue was full (503)", ["worker"], registry=r
        )
        self.expired_total = Counter(
            "sceneqa_expired",
            "requests dropped because their deadline passed while queued (504, no model time)",
            ["worker"],
            registry=r,
        )
        self.overran_total = Counter(
            "sceneqa_deadline_overran",
            "items whose deadline passed during a model pass that started in time (their answer came too late)",
            ["worker"],
            registry=r,
        )
        if engine_stats is not None:
            self.watch(engine_stats)

    def watch(self, engine_stats: Callable[[], dict]) -> None:
        """Report the queue depth and running batches of the engine whose ``stats`` this is, when scraped."""
        self.registry.register(_WorkerGauges(engine_stats))

    # -- engine observer ----------------------------------------------------------------------------------
    def batch(self, worker: str, size: int, seconds: float) -> None:
        self.batch_size.labels(worker).observe(size)
        self.model_seconds.labels(worker).observe(seconds)

    def expired(self, worker: str) -> None:
        self.expired_total.labels(worker).inc()

    def rejected(self, worker: str) -> None:
        self.rejected_total.labels(worker).inc()

    def overran(self, worker: str) -> None:
        self.overran_total.labels(worker).inc()

    # -- requests -----------------------------------------------------------------------------------------
    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, str(status)).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """``(body, content type)`` of the text exposition format."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _WorkerGauges:
    """Queue depth and running batches per worker, read from the engine when scraped."""

    def __init__(self, stats: Callable[[], dict]) -> None:
        self._stats = stats

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        workers = self._stats().get("workers", {})
        depth = GaugeMetricFamily("sceneqa_queue_depth", "jobs waiting in a worker's queue", labels=["worker"])
        busy = GaugeMetricFamily("sceneqa_worker_busy", "batches a worker is running now", labels=["worker"])
        for name, w in sorted(workers.items()):
            depth.add_metric([name], w["waiting"])
            busy.add_metric([name], w["busy"])
        yield depth
        yield busy
