"""Request bodies of the HTTP API: JSON (only as ``application/json``, UTF-8) or multipart/form data, read with
byte caps (the :class:`demos.middleware.BodyLimit` in front counts the streamed bytes) and per-request caps
on images, filters and context. Parsing is pure apart from reading the body.

Fields are read through typed accessors (:meth:`Payload.text`, :meth:`Payload.number`, :meth:`Payload.flag`,
...): a value of the wrong type, a number out of range or a single-valued form field sent twice raises
:class:`FieldError` (422, ``"top_k: expected an integer, got the text 'abc'"``), the same for JSON and forms.
:mod:`demos.api_models` documents the same fields for OpenAPI."""

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
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
FLAT_VALUE = "text, a number, a boolean or null"


class Repeated(list):
    """A form field sent more than once (its values in order); a JSON list stays a plain ``list``."""


class FieldError(HTTPException):
    """A field of the wrong type or out of range: 422, naming the field, what was expected and what came."""

    def __init__(self, key: str, expected: str, value: object) -> None:
        super().__init__(422, f"{key}: expected {expected}, got {describe(value)}")


def describe(value: object) -> str:
    """What a client sent, in words that do not depend on whether it came as JSON or a form."""
    if isinstance(value, Repeated):
        return f"the field {len(value)} times (send it once)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"the number {str(value)[:40]}"
    if isinstance(value, float):
        return f"the number {value}" if math.isfinite(value) else "a number too large to be finite"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return "a JSON list" if isinstance(value, list) else "a JSON object"


def flat_object(key: str, value: object) -> dict:
    """``value`` as a JSON object of flat values (text, finite numbers, booleans, null); :class:`FieldError`."""
    if not isinstance(value, dict):
        raise FieldError(key, "a JSON object", value)
    for name, item in value.items():
        finite = not isinstance(item, float) or math.isfinite(item)
        if not (item is None or isinstance(item, str | int | float | bool)) or not finite:
            raise FieldError(f"{key}.{name[:40]}", FLAT_VALUE, item)
    return value


class Payload:
    """Fields and uploaded files of a request, from JSON (base64 images) or multipart form data. ``fields``
    holds JSON values, or form text (a :class:`Repeated` list for a field sent more than once)."""

    def __init__(self, fields: dict, files: list[tuple[str, str, bytes]]) -> None:
        self.fields = fields
        self.files = files  # (form field, filename, bytes)

    def images(self, key: str = "image") -> list[tuple[str, bytes]]:
        """``(name, bytes)`` of the images sent as files or base64 text under ``key`` or ``key + "s"``."""
        out = [(name, data) for field, name, data in self.files if field in (key, f"{key}s")]
        field = key if self.fields.get(key) not in (None, "", []) else f"{key}s"
        raw = self.fields.get(field)
        raw = [] if raw in (None, "") else raw if isinstance(raw, list) else [raw]
        if len(out) + len(raw) > MAX_IMAGES:
            raise HTTPException(413, f"{len(out) + len(raw)} images in one request; at most {MAX_IMAGES}")
        for i, b64 in enumerate(raw):
            if not isinstance(b64, str):
                raise FieldError(field if len(raw) == 1 else f"{field}[{i}]", "base64 text", b64)
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
        """Field ``key`` as text (``default`` when absent or null); 413 beyond ``limit`` characters."""
        value = self.fields.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or isinstance(value, Repeated):
            raise FieldError(key, "text", value)
        if len(value) > limit:
            raise HTTPException(413, f"{key}: {len(value)} characters; at most {limit}")
        return value

    def number(self, key: str, default: float, kind=float, low: float | None = None, high: float | None = None):
        """Field ``key`` as a finite ``kind`` (int or float) within ``low..high``: a JSON number, or its text
        (forms); ``default`` when absent. Null, booleans, fractions for an integer: :class:`FieldError`."""
        value = self.fields.get(key, default)
        expected = "an integer" if kind is int else "a number"
        number = value
        if isinstance(value, str) and not isinstance(value, Repeated):
            try:
                number = float(value) if kind is float or "." in value or "e" in value.lower() else int(value)
            except ValueError:
                raise FieldError(key, expected, value) from None
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise FieldError(key, expected, value)
        if isinstance(number, float) and not math.isfinite(number):
            raise FieldError(key, "a finite integer" if kind is int else "a finite number", value)
        if kind is int and isinstance(number, float) and not number.is_integer():
            raise FieldError(key, expected, value)
        number = kind(number)
        if (low is not None and number < low) or (high is not None and number > high):
            raise HTTPException(422, f"{key}: {number} is outside {low}..{high}")
        return number

    def flag(self, key: str, default: bool = False) -> bool:
        """Field ``key`` as a boolean: JSON ``true``/``false``/``0``/``1`` or form text (``true``, ``on``,
        ``1``, ``false``, ``off``, ``0``, ...); ``default`` when absent, null or empty."""
        value = self.fields.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and not isinstance(value, Repeated) and value.strip().lower() in TRUE + FALSE:
            return value.strip().lower() in TRUE
        raise FieldError(key, "true or false", value)

    def names(self, key: str, json_text: bool = False) -> list[str]:
        """Field ``key`` as a list of texts: a JSON list of texts, a repeated form field, or comma-separated
        text (``json_text``: also a JSON list written as text); ``[""]`` when absent."""
        raw = self.fields.get(key)
        if json_text and isinstance(raw, str) and raw.strip().startswith("["):
            try:
                raw = json.loads(raw)
            except (json.JSONDecodeError, RecursionError):
                raise FieldError(key, "a JSON list of texts or comma-separated text", raw) from None
        if raw is None or isinstance(raw, str) and not isinstance(raw, Repeated):
            return (raw or "").split(",")
        if not isinstance(raw, list):
            raise FieldError(key, "a list of texts or comma-separated text", raw)
        for i, item in enumerate(raw):
            if not isinstance(item, str):
                raise FieldError(f"{key}[{i}]", "text", item)
        return list(raw)

    def labels(self) -> list[str]:
        return self.names("labels")

    def filters(self) -> tuple[str, ...]:
        """The ``filters`` (or ``filter``) expressions: a list of texts, one text, or a repeated form field."""
        key = "filters" if self.fields.get("filters") not in (None, "", []) else "filter"
        raw = self.fields.get(key)
        raw = [] if raw in (None, "") else raw
        if not isinstance(raw, str | list):
            raise FieldError(key, "a list of expressions such as 'colour=red'", raw)
        items = raw if isinstance(raw, list) else [raw]
        if len(items) > MAX_FILTERS:
            raise HTTPException(400, f"{len(items)} filters; at most {MAX_FILTERS} per request")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise FieldError(f"{key}[{i}]", "an expression such as 'colour=red'", item)
        return tuple(items)

    def json_object(self, key: str) -> dict:
        """Field ``key`` as a JSON object: sent as one (JSON body) or as JSON text (a form field); ``{}`` when
        absent, null or empty."""
        value = self.fields.get(key)
        if value is None or value == "":
            return {}
        if isinstance(value, str) and not isinstance(value, Repeated):
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, RecursionError):
                raise FieldError(key, "a JSON object (as JSON text in a form)", value) from None
        if not isinstance(value, dict):
            raise FieldError(key, "a JSON object", value)
        return value

    def item_id(self, key: str = "id") -> str | None:
        """An item id: text, or an integer (JSON), as text; None when absent."""
        value = self.fields.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int) or isinstance(value, Repeated):
            raise FieldError(key, "text", value)
        return str(value)


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
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"the body is not UTF-8 (byte {exc.start}); send JSON as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not JSON ({exc.msg}); send JSON or multipart/form-data") from None
    except ValueError as exc:  # NaN/Infinity, integers of thousands of digits
        raise HTTPException(400, f"the body is not plain JSON: {str(exc)[:120]}") from None
    except RecursionError:
        raise HTTPException(400, "the JSON body is nested too deeply") from None
    if not isinstance(data, dict):
        raise HTTPException(422, f"the JSON body must be an object, got {describe(data)}")
    if len(data) > MAX_FIELDS:
        raise HTTPException(400, f"the JSON body has {len(data)} fields; at most {MAX_FIELDS}")
    return Payload(data, [])


def _strict_json(body: bytes):
    """JSON as RFC 8259 has it: UTF-8 only; ``NaN``/``Infinity`` (which Python's parser accepts) are refused."""

    def refuse(name: str):
        raise ValueError(f"{name} is not a JSON number; send a finite number or null")

    return json.loads(body.decode("utf-8-sig"), parse_constant=refuse)


def _form_value(previous, value: str):
    if previous is None:
        return value
    return Repeated([*(previous if isinstance(previous, Repeated) else [previous]), value])


def contexts_of(p: Payload, limits: RequestLimits) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of attached records: ``context`` files and JSON ``contexts`` ``[{name, text}]``,
    at most ``MAX_CONTEXTS``, and within ``limits.max_context_bytes`` together with ``context_text``."""
    out = [(name, data) for field, name, data in p.files if field in ("context", "contexts")]
    raw = p.fields.get("contexts")
    raw = [] if raw in (None, "") else raw
    if not isinstance(raw, list) or isinstance(raw, Repeated):
        raise FieldError("contexts", 'a list of {"name": ..., "text": ...}', raw)
    if len(out) + len(raw) > MAX_CONTEXTS:
        raise HTTPException(413, f"{len(out) + len(raw)} context files; at most {MAX_CONTEXTS} per request")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise FieldError(f"contexts[{i}]", 'an object {"name": ..., "text": ...}', item)
        for field in ("name", "text"):
            if item.get(field) is not None and not isinstance(item[field], str):
                raise FieldError(f"contexts[{i}].{field}", "text", item[field])
        out.append(((item.get("name") or f"context-{i + 1}.txt")[:200], (item.get("text") or "").encode()))
    pasted = p.text("context_text", limit=limits.max_context_bytes) or ""
    limits.check_context([len(d) for _, d in out] + [len(pasted.encode())])
    return out
