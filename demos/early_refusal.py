"""Refuse model requests before their body is read when the server is already full: under overload a
refusal should cost nothing (a 100 KB JSON body parsed and its images decoded only to be told 503 takes CPU
the running requests, health checks and the event loop need). The full check of :class:`ModelCalls` still
guards every call; this only answers earlier, with the same 503 and ``Retry-After``."""

from __future__ import annotations

from typing import NamedTuple

from demos.middleware import send_error
from demos.model_calls import ModelCalls

#: the model routes whose requests are refused early (POST); writes and reads that need no model pass through
MODEL_ROUTES = frozenset({"/v1/classify", "/v1/search", "/v1/ask", "/v1/locate"})


class _Route(NamedTuple):
    path: str  # what :class:`demos.middleware.RequestLog` reads of a matched route


class RefuseWhenFull:
    def __init__(self, app, calls: ModelCalls, routes: frozenset[str] = MODEL_ROUTES) -> None:
        self.app = app
        self.calls = calls
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path", "").rstrip("/") in self.routes
            and self.calls.full
        ):
            self.calls.gate.engine.observer.rejected("requests")
            scope["route"] = _Route(scope["path"].rstrip("/"))  # the request log and metrics name the route
            await send_error(
                send,
                503,
                f"the server is busy ({self.calls.capacity} model requests running or waiting); retry in a second",
                headers=[("retry-after", "1")],
            )
            return
        await self.app(scope, receive, send)
