"""One error shape for every 4xx/5xx of the server, ``{"error": message}``, with the HTTP status taken from the
error's type (never from its text), and no server paths in messages."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from demos.gate import GateFullError
from demos.middleware import BodyTooLarge
from multimodal.deadline import DeadlineExceeded
from multimodal.errors import ImageTooLargeError, SceneQAError
from retrieval.errors import (
    CatalogEmptyError,
    EncoderMismatchError,
    IndexLockedError,
    ItemExistsError,
    ItemNotFoundError,
    RequestTooLargeError,
)

log = logging.getLogger("sceneqa.serve")

# most specific first: the first matching type decides the status
STATUS_BY_TYPE: tuple[tuple[type[BaseException], int], ...] = (
    (CatalogEmptyError, 404),
    (ItemNotFoundError, 404),
    (ItemExistsError, 409),
    (IndexLockedError, 503),
    (GateFullError, 503),
    (DeadlineExceeded, 504),
    (ImageTooLargeError, 413),
    (RequestTooLargeError, 413),
    (EncoderMismatchError, 409),
    (SceneQAError, 400),
)


def status_of(exc: BaseException) -> int:
    for typ, status in STATUS_BY_TYPE:
        if isinstance(exc, typ):
            return status
    return 500


class PathScrubber:
    """Replaces known server folders in a message with a neutral name (``<index>``, ``<server>``)."""

    def __init__(self, named: dict[str, Path | None]) -> None:
        pairs: list[tuple[str, str]] = []
        for label, path in {**named, "<tmp>": Path(tempfile.gettempdir()), "<python>": Path(sys.prefix)}.items():
            if path is None:
                continue
            for form in {str(path), str(Path(path).resolve())}:
                if len(form) > 1:
                    pairs.append((form, label))
        self.pairs = sorted(pairs, key=lambda p: -len(p[0]))

    def __call__(self, message: str) -> str:
        for form, label in self.pairs:
            message = message.replace(form, label)
        return message


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, scrub: PathScrubber | None = None, roots: Iterable[str] = ()) -> None:
    """Errors as ``{"error": message}``: ours by type, HTTP ones with their status, the rest 500."""
    scrub = scrub or PathScrubber({})

    @app.exception_handler(HTTPException)
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, scrub(detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_response(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(SceneQAError)
    async def our_error(request: Request, exc: SceneQAError):
        status = status_of(exc)
        headers = {"Retry-After": str(GateFullError.retry_after_s)} if isinstance(exc, GateFullError) else None
        return error_response(status, scrub(str(exc)), headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        if isinstance(exc, BodyTooLarge):  # the body cap already answered 413; nothing went wrong here
            return error_response(413, "request body is over the upload limit")
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")
