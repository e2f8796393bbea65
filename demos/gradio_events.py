"""Event streams of the mounted Gradio app that do not exist are answered 404 ``{"error": ...}`` before Gradio
sees them. Gradio (6.x) answers ``GET /gradio_api/call/NAME/EVENT_ID`` and ``GET /gradio_api/queue/data?
session_hash=...`` with a 200 ``text/event-stream`` and only then looks the session up: for an unknown one it
raises inside the started response, which the server can only abort (a truncated body for the client,
"Exception in ASGI application" in the log). The lookup here is Gradio's own (``routes.simple_predict_get``);
when Gradio's queue is not shaped as expected the request passes through untouched."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from demos.middleware import send_error

_CALL_STREAM = re.compile(r"^/gradio_api/call/(?:v2/)?[^/]+/([^/]+)/?$")
_QUEUE_DATA = "/gradio_api/queue/data"


class GradioEventGuard:
    """Pure ASGI middleware in front of the app that mounts ``demo`` (a ``gr.Blocks``)."""

    def __init__(self, app, demo) -> None:
        self.app = app
        self.demo = demo

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET" and self._unknown(scope):
            await send_error(send, 404, "no such event: start a call with POST /gradio_api/call/NAME first")
            return
        await self.app(scope, receive, send)

    def _unknown(self, scope) -> bool:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        queue = getattr(self.demo, "_queue", None)
        pending = getattr(queue, "pending_messages_per_session", None)
        if not isinstance(pending, dict):
            return False
        call = _CALL_STREAM.match(path)
        if call:
            return _call_session(queue, call.group(1)) not in pending
        if path.rstrip("/") == _QUEUE_DATA:
            sessions = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [])
            return len(sessions) == 1 and sessions[0] not in pending  # none: Gradio's own 422
        return False


def _call_session(queue, event_id: str) -> str:
    """The session whose messages ``GET /gradio_api/call/NAME/EVENT_ID`` streams, found as Gradio finds it."""
    event = getattr(queue, "event_ids_to_events", {}).get(event_id)
    if event is not None:
        return event.session_hash
    for session, ids in getattr(queue, "pending_event_ids_session", {}).items():
        if event_id in ids:
            return session
    return event_id
