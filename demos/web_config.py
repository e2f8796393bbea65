"""Settings of the web server (``sceneqa serve``): network, auth, limits, concurrency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demos.request_limits import RequestLimits
from multimodal.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class WebConfig:
    """host/port: where to listen (loopback by default); api_token: required as ``Authorization: Bearer``
    on /v1 when set; ui_auth: ``(user, password)`` for the UI; max_upload_mb: per request; request_timeout_s:
    per API call; concurrency: model calls at once (the UI queue and the API share it); queue_size: waiting
    UI events before "queue full"; index: the catalog folder; allowed_hosts: extra ``Host`` names to
    answer (DNS-rebinding guard); max_request_megapixels: decoded pixels per request, all images together;
    max_connections: open connections and requests at once (uvicorn's limit; past it, 503)."""

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
    allowed_hosts: tuple[str, ...] = ()
    max_request_megapixels: float = 100.0
    max_connections: int = 256
    inspectors_dir: Path | None = None  # where inspectors live (None: CACHE/inspectors); demos/inspect_api.py

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port {self.port} is not a TCP port")
        if self.concurrency < 1 or self.queue_size < 1:
            raise ConfigError("--concurrency and --queue-size must be >= 1")
        if self.max_connections < self.concurrency + self.queue_size + 8:
            raise ConfigError(
                f"--max-connections {self.max_connections} is too small for --concurrency + --queue-size; "
                f"use at least {self.concurrency + self.queue_size + 8}"
            )
        if self.max_upload_mb <= 0 or self.request_timeout_s <= 0 or self.max_request_megapixels <= 0:
            raise ConfigError("--max-upload-mb, --request-timeout and --max-request-megapixels must be positive")

    def limits(self, per_image_max_pixels: int) -> RequestLimits:
        """The per-request caps of this server (API and UI alike)."""
        return RequestLimits(max_megapixels=self.max_request_megapixels, per_image_max_pixels=per_image_max_pixels)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def trusted_hosts(self) -> tuple[str, ...]:
        """``Host`` names the server answers to: loopback, ``--host``, ``--allowed-host``; for a wildcard
        ``--host`` (0.0.0.0, ::) also this machine's host names. ``*`` in allowed_hosts turns the check off."""
        import socket

        names = [*LOOPBACK, *self.allowed_hosts]
        if self.host in WILDCARDS:
            names += [socket.gethostname(), socket.getfqdn()]
        else:
            names.append(self.host)
        return tuple(dict.fromkeys(n.lower() for n in names if n))

    @property
    def gradio_dir(self) -> Path:
        """This app's own folder for UI uploads (Gradio's temp folder): the only files UI handlers read."""
        return self.index.parent / f"{self.index.name}-ui-uploads"

    @property
    def exposed_without_auth(self) -> bool:
        return self.host not in LOOPBACK and not (self.api_token and self.ui_auth)
