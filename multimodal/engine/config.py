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


@dataclass(frozen=True)
class EngineConfig:
    """max_batch: images (or texts) gathered into one forward pass of an embedding worker (1: no batching);
    max_wait_ms: how long a batch waits for more requests once its first one arrived (0: take what is
    queued, never wait); queue_size: requests waiting per worker before new ones are refused (HTTP 503);
    call_threads: threads of the answerer and of the generic worker (whole model calls at once, each)."""

    max_batch: int = DEFAULT_MAX_BATCH
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    queue_size: int = 32
    call_threads: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= 1024:
            raise ConfigError(f"--max-batch must be in 1..1024, got {self.max_batch}")
        if not 0.0 <= self.max_wait_ms <= 1000.0:
            raise ConfigError(f"--max-wait-ms must be in 0..1000, got {self.max_wait_ms:g}")
        if self.queue_size < 1:
            raise ConfigError(f"--queue-size must be >= 1, got {self.queue_size}")
        if self.call_threads < 1:
            raise ConfigError(f"--concurrency must be >= 1, got {self.call_threads}")

    @property
    def max_wait_s(self) -> float:
        return self.max_wait_ms / 1000.0
