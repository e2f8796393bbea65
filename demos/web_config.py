"""Settings of the web server (``sceneqa serve``): network, auth, limits, concurrency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from multimodal.errors import ConfigError


@dataclass(frozen=True)
class WebConfig:
    """host/port: where to listen (loopback by default); api_token: required as ``Authorization: Bearer``
    on /v1 when set; ui_auth: ``(user, password)`` for the UI; max_upload_mb: per request; request_timeout_s:
    per API call; concurrency: model calls at once (the UI queue and the API share it); queue_size: waiting
    UI events before "queue full"; index: the catalog folder."""

    index: Path
    host: str = "127.0.0.1"
    port: int = 7860
    api_token: str | None = None
    ui_auth: tuple[str, str] | None = None
    max_upload_mb: float = 20.0
    request_timeout_s: float = 120.0
    concurrency: int = 1
    queue_size: int = 32
    allow_urls: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port {self.port} is not a TCP port")
        if self.concurrency < 1 or self.queue_size < 1:
            raise ConfigError("--concurrency and --queue-size must be >= 1")
        if self.max_upload_mb <= 0 or self.request_timeout_s <= 0:
            raise ConfigError("--max-upload-mb and --request-timeout must be positive")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def exposed_without_auth(self) -> bool:
        return self.host not in ("127.0.0.1", "localhost", "::1") and not (self.api_token and self.ui_auth)
