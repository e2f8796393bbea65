"""Request bodies of the HTTP API: JSON (only as ``application/json``) or multipart/form data, read with
byte caps (the :class:`demos.middleware.BodyLimit` in front counts the streamed bytes) and per-request caps
on images, filters and context. Parsing is pure apart from reading the body."""

from __future__ import annotations

import base64
import binascii
import json
import math

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from demos.request_limits import RequestLimits

MAX_IMAGES = 16  # per request, JSON and multipart alike
MAX_FIELDS = 64
MAX_FILTERS = 32
MAX_CONTEXTS = 16
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class Payload:
    """Fields and uploaded files of a request, from JSON (base64 images) or multipart form data."""

    def __init__(self, fields: dict, files: list[tuple[str, str, bytes]]) -> None:
        self.fields = fields
        self.files = files  # (form field, filename, bytes)

    def images(self, key: str = "image") -> list[tuple[str, bytes]]:
        """``(name, bytes)`` of the images sent as files or base64 text under ``key`` or ``key + "s"``."""
        out = [(name, data) for field, name, data in self.files if field in (key, f"{key}s")]
        raw = self.fields.get(key) or self.fields.get(f"{key}s") or []
        raw = raw if isinstance(raw, list) else [raw]
        if len(out) + len(raw) > MAX_IMAGES:
            raise HTTPException(413, f"{len(out) + len(raw)} images in one request; at most {MAX_IMAGES}")
        for i, b64 in enumerate(raw):
            if not isinstance(b64, str):
                raise HTTPException(400, f"{key}: expected base64 text")
            try:
                out.append((f"{key}-{i + 1}", base64.b64decode(b64.split(",", 1)[-1], validate=True)))
            except (binascii.Error, ValueError):
                raise HTTPException(
                    400,
                    f"{key}: not valid base64 (send the file bytes base64-encoded, or upload "
                    "it as multipart/form-data)",
                ) from None
        return out

    def text(self, key: str, default: str | None = None, limit: int = 10_000) -> str | None:
        value = self.fields.get(key, default)
        if value is None:
            return None
        if isinstance(value, list | dict):
            raise HTTPException(400, f"{key}: expected text, got a JSON {type(value).__name__}")
        value = str(value)
        if len(value) > limit:
            raise HTTPException(413, f"{key}: {len(value)} characters; at most {limit}")
        return value

    def number(self, key: str, default: float, kind=float, low: float | None = None, high: float | None = None):
        value = self.fields.get(key, default)
        try:
            number = kind(value)
            if not math.isfinite(number):
                raise ValueError("not finite")
        except (TypeError, ValueError, OverflowError):
            raise HTTPException(400, f"{key}: expected a finite number, got {str(value)[:40]!r}") from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise HTTPException(400, f"{key}: {number} is outside {low}..{high}")
        return number

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.fields.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes", "on")

    def filters(self) -> tuple[str, ...]:
        raw = self.fields.get("filters") or self.fields.get("filter") or []
        items = raw if isinstance(raw, list) else [raw]
        if len(items) > MAX_FILTERS:
            raise HTTPException(400, f"{len(items)} filters; at most {MAX_FILTERS} per request")
        if not all(isinstance(f, str) for f in items):
            raise HTTPException(400, "filters: expected a list of expressions such as 'colour=red'")
        return tuple(items)

    def labels(self) -> list[str]:
        value = self.fields.get("labels")
        if isinstance(value, list):
            return [str(v) for v in value]
        return str(value or "").split(",")


async def read_payload(request: Request, limit: int) -> Payload:
    """The request's fields and files. JSON bodies must say ``application/json`` (a cross-site form can
    send ``text/plain`` without a preflight; we refuse it), forms may be multipart or url-encoded."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype in FORM_TYPES:
        form = await request.form(max_files=MAX_IMAGES + MAX_CONTEXTS, max_fields=MAX_FIELDS)
        fields, files, total = {}, [], 0
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                data = await value.read(limit + 1)
                total += len(data)
                if total > limit:
                    raise HTTPException(413, f"uploads are over the {limit / 2**20:.1f} MB limit")
                files.append((key, value.filename or key, data))
            else:
                fields[key] = _form_value(fields.get(key), value)
        return Payload(fields, files)
    body = await request.body()
    if not body and ctype == "":
        return Payload({}, [])
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise HTTPException(
            415, f"content type {ctype or 'none'!r} is not accepted; send application/json or multipart/form-data"
        )
    if len(body) > limit:
        raise HTTPException(413, f"request is over the {limit / 2**20:.1f} MB upload limit")
    try:
        data = await run_in_threadpool(_strict_json, body or b"{}")  # large bodies never block the event loop
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = getattr(exc, "msg", "not UTF-8")
        raise HTTPException(400, f"the body is not JSON ({msg}); send JSON or multipart/form-data") from None
    except ValueError as exc:  # NaN/Infinity, integers of thousands of digits
        raise HTTPException(400, f"the body is not plain JSON: {str(exc)[:120]}") from None
    except RecursionError:
        raise HTTPException(400, "the JSON body is nested too deeply") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the JSON body must be an object")
    if len(data) > MAX_FIELDS:
        raise HTTPException(400, f"the JSON body has {len(data)} fields; at most {MAX_FIELDS}")
    return Payload(data, [])


def _strict_json(body: bytes):
    """JSON as RFC 8259 has it: ``NaN``/``Infinity`` (which Python's parser accepts) are refused."""

    def refuse(name: str):
        raise ValueError(f"{name} is not a JSON number; send a finite number or null")

    return json.loads(body, parse_constant=refuse)


def _form_value(previous, value: str):
    if previous is None:
        return value
    return (previous if isinstance(previous, list) else [previous]) + [value]


def contexts_of(p: Payload, limits: RequestLimits) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of attached records: ``context`` files and JSON ``contexts`` ``[{name, text}]``,
    at most ``MAX_CONTEXTS``, and within ``limits.max_context_bytes`` together with ``context_text``."""
    out = [(name, data) for field, name, data in p.files if field in ("context", "contexts")]
    raw = p.fields.get("contexts") or []
    if not isinstance(raw, list):
        raise HTTPException(400, 'contexts: expected a list of {"name": ..., "text": ...}')
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise HTTPException(400, 'contexts: expected a list of {"name": ..., "text": ...}')
        out.append((str(item.get("name", f"context-{i + 1}.txt"))[:200], str(item.get("text", "")).encode()))
    if len(out) > MAX_CONTEXTS:
        raise HTTPException(413, f"{len(out)} context files; at most {MAX_CONTEXTS} per request")
    pasted = p.text("context_text", limit=limits.max_context_bytes) or ""
    limits.check_context([len(d) for _, d in out] + [len(pasted.encode())])
    return out
