"""ASGI guards in front of the whole server (API and UI): trusted ``Host`` names (DNS rebinding), no writes
from a foreign ``Origin`` (CSRF), request bodies capped while they stream in (not only by
``Content-Length``), and login back-off. Each answers with the API's one error shape ``{"error": ...}``.
Outermost of all, :class:`RequestLog` counts and logs every request. Pure ASGI (no ``BaseHTTPMiddleware``),
so streaming responses and disconnects pass through untouched."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from multimodal.engine.jobs import RequestTimings, timings_scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
access_log = logging.getLogger("sceneqa.serve.requests")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


async def send_error(send, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def host_name(value: str) -> str:
    """``Host`` header value without the port (``[::1]:7860`` -> ``::1``), lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostGuard:
    """Refuse requests whose ``Host`` is not one of ``allowed`` (a DNS-rebinding page sends its own name)."""

    def __init__(self, app, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(host_name(h) for h in allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            host = host_name(_header(scope, b"host") or "")
            if host not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send_error(
                    send,
                    400,
                    f"Host {host!r} is not served here; allowed: {', '.join(sorted(self.allowed))} "
                    "(start the server with --allowed-host NAME to add one)",
                )
                return
        await self.app(scope, receive, send)


class OriginGuard:
    """Writes (any method but GET/HEAD/OPTIONS) are refused when the browser says they come from another
    site: an ``Origin`` whose host:port differs from ``Host``, or ``Sec-Fetch-Site: cross-site``; reads from
    another site get their responses without any ``Access-Control-*`` header (no CORS grant, whatever the app
    behind says). Clients that are not browsers (curl, SDKs) send neither header and pass."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        host = (_header(scope, b"host") or "").strip().lower()
        site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
        foreign = site == "cross-site"
        if origin is not None and not foreign:
            parts = urlsplit(origin.strip().lower())
            foreign = origin.strip().lower() == "null" or parts.netloc != host
        if foreign and scope["method"] not in SAFE_METHODS:
            await send_error(send, 403, "cross-site write refused: this server takes writes only from its own pages")
            return
        if not foreign:
            await self.app(scope, receive, send)
            return

        async def no_cors(message):  # reads from another site's page get no CORS grant, whatever Gradio says
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
                message = {**message, "headers": kept}
            await send(message)

        await self.app(scope, receive, no_cors)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Cap every request body at ``limit`` bytes, counted as it arrives (chunked bodies too): 413 before the
    app reads more. Bodies declared larger by ``Content-Length`` are refused before reading anything."""

    def __init__(self, app, limit: int, shown_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.shown = shown_limit or limit  # the configured cap (``limit`` may add room for form boundaries)

    def _message(self) -> str:
        return f"request body is over the {self.shown / 2**20:.1f} MB upload limit (--max-upload-mb)"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await send_error(send, 413, self._message())
            return
        seen = 0
        state = {"started": False, "refused": False}

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if not state["started"]:
                        state["refused"] = True
                        await send_error(send, 413, self._message())
                    raise BodyTooLarge
            return message

        async def guarded_send(message):
            if state["refused"]:
                return  # our 413 went out; drop what the app tries to answer
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if not state["refused"] and not state["started"]:
                await send_error(send, 413, self._message())
        except Exception:
            if not state["refused"]:
                raise


class LoginThrottle:
    """Back-off per client address on the UI login (``POST /login``): after ``free`` wrong passwords, each
    further try must wait ``2 ** (failures - free)`` seconds (capped at ``cap_s``); 429 with ``Retry-After``
    meanwhile, without checking the password. A right password resets the count."""

    def __init__(self, app, free: int = 5, cap_s: float = 300.0, clock=time.monotonic) -> None:
        self.app = app
        self.free = free
        self.cap_s = cap_s
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, time of the last failure)

    def wait_s(self, client: str) -> float:
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
        if count < self.free:
            return 0.0
        return max(0.0, last + min(self.cap_s, 2.0 ** (count - self.free)) - self.clock())

    def record(self, client: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures.pop(client, None)
            else:
                count, _ = self._failures.get(client, (0, 0.0))
                self._failures[client] = (count + 1, self.clock())
                if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
                    self._failures.pop(next(iter(self._failures)))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.wait_s(client)
        if wait > 0:
            await send_error(
                send, 429, f"too many failed logins; try again in {wait:.0f} s", [("retry-after", f"{wait:.0f}")]
            )
            return
        status = {}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code") in (400, 401, 403):
            self.record(client, ok=False)
        elif status.get("code") == 200:
            self.record(client, ok=True)


class RequestLog:
    """One log line per HTTP request (``sceneqa.serve.requests``, INFO: request id, method, route, status,
    and milliseconds queued for models, on models, in total) and ``observe(route, method, status, seconds)``
    (the metrics). The route is the matched route's template (``/v1/items/{item_id}``), never the raw path,
    so labels stay few; the request id is the client's ``X-Request-ID`` when it is a short token, else new,
    and is sent back in ``X-Request-ID``."""

    def __init__(self, app, observe: Callable[[str, str, int, float], None] | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _header(scope, b"x-request-id") or ""
        rid = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex[:16]
        t0 = time.perf_counter()
        status = {"code": 500}

        async def stamped(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        timings = RequestTimings()
        try:
            with timings_scope(timings):
                await self.app(scope, receive, stamped)
        finally:
            total = time.perf_counter() - t0
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if self.observe is not None:
                self.observe(route, scope["method"], status["code"], total)
            access_log.info(
                "request %s %s %s %d queue=%.1fms model=%.1fms total=%.1fms",
                rid,
                scope["method"],
                route,
                status["code"],
                timings.queue_s * 1000,
                timings.model_s * 1000,
                total * 1000,
            )
