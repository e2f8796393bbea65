"""Settings of the serving engine (``sceneqa serve --max-batch --max-wait-ms --queue-size --concurrency``)."""

from __future__ import annotations

from dataclasses import dataclass

from multimodal.errors import ConfigError

#: measured with ``sceneqa bench serve`` (lite, 16 clients, 2 shared cores; README "serve"): --max-batch 4, 16
#: and 32 all ran 1.25-1.46x the requests/s of --max-batch 1, within the machine's noise of each other, at a
#: mean image batch of about 4 (16 clients hold about 5 classify requests at once); 16 leaves room for more clients
DEFAULT_MAX_BATCH = 16
#: how long the first request of a batch waits for company: small against one lite forward pass (tens of ms);
#: not tuned separately
DEFAULT_MAX_WAIT_MS = 5.0

#: model workers run this much "nicer" than the event loop (Linux): with the cores saturated by forward passes,
#: /healthz, 503 refusals and request parsing still get the CPU at once. Measured with ``sceneqa bench serve
#: --clients 16 64`` (lite, 2 cores, 64 clients): /healthz p99 67 ms at 0, 50 ms at 5, 41 ms at 10
DEFAULT_MODEL_NICE = 10


@dataclass(frozen=True)
class EngineConfig:
    """max_batch: images (or texts) gathered into one forward pass of an embedding worker (1: no batching);
    max_wait_ms: how long a batch waits for more requests once its first one arrived, when the previous batch
    had more than one (0: take what is queued, never wait); queue_size: requests waiting per worker before new
    ones are refused (HTTP 503);
    call_threads: threads of the answerer and of the generic worker (whole model calls at once, each);
    model_nice: how much lower the workers' CPU priority is than the server's event loop (0: the same)."""

    max_batch: int = DEFAULT_MAX_BATCH
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    queue_size: int = 32
    call_threads: int = 1
    model_nice: int = DEFAULT_MODEL_NICE

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= 1024:
            raise ConfigError(f"--max-batch must be in 1..1024, got {self.max_batch}")
        if not 0.0 <= self.max_wait_ms <= 1000.0:
            raise ConfigError(f"--max-wait-ms must be in 0..1000, got {self.max_wait_ms:g}")
        if self.queue_size < 1:
            raise ConfigError(f"--queue-size must be >= 1, got {self.queue_size}")
        if not 0 <= self.model_nice <= 19:
            raise ConfigError(f"--model-nice must be in 0..19, got {self.model_nice}")
        if self.call_threads < 1:
            raise ConfigError(f"--concurrency must be >= 1, got {self.call_threads}")

    @property
    def max_wait_s(self) -> float:
        return self.max_wait_ms / 1000.0
