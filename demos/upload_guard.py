"""Files the UI may read: only those inside this app's own upload folder, whatever Gradio checks.

Gradio copies any ``FileData`` path a client sends into its cache before our handlers run, and its own path
check (``processing_utils._check_allowed``) is skipped for apps mounted with ``gr.mount_gradio_app`` (it
returns early unless ``blocks.has_launched``). So the server refuses such paths itself, twice:

- :class:`GradioPathGuard`, an ASGI middleware, reads the JSON body of every ``POST /gradio_api/...`` before
  Gradio sees it and answers 403 when any file path in it lies outside the upload folder; it also refuses
  ``GET /gradio_api/file=PATH`` outside that folder and named calls of endpoints that are not public;
- every handler passes each path it receives through :func:`confine` before reading it.

The upload folder is per app (``CACHE/gradio-uploads``): :func:`use_upload_folder` points Gradio's uploads,
its cached copies and its ``file=`` route there.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection
from pathlib import Path
from urllib.parse import unquote

from retrieval.errors import ConfigError, SceneQAError

log = logging.getLogger("sceneqa.serve")
UPLOAD_MAX_AGE_S = 3600  # a UI upload lives an hour (long enough to ask about it; the disk stays bounded)
SWEEP_EVERY_S = 300

PREFIX = "/gradio_api/"
# multipart routes that store a client's upload in the upload folder: nothing in them names a server file
UPLOAD_ROUTES = frozenset({"upload", "process_recording"})
_FILE_ROUTE = re.compile(r"^file(?:=|/)(.*)$", re.DOTALL)
_NAMED_CALL = re.compile(r"^(?:call/v2|call|run|api)/([^/]+)/?$")
_MAX_DEPTH = 64


class ForbiddenPathError(SceneQAError, PermissionError):
    """A client named a file that was not uploaded to this app (outside its upload folder)."""


def use_upload_folder(root: Path) -> Path:
    """Create ``root`` and make it Gradio's upload and cache folder for the apps built after this call
    (``GRADIO_TEMP_DIR``: read by ``gr.Blocks`` components when constructed and by the mounted app's
    upload and ``file=`` routes when mounted). Returns the resolved folder. Call at server build time."""
    root = Path(root).expanduser()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root = root.resolve()
    st = root.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ConfigError(
            f"the UI upload folder {root} belongs to another user; remove it or choose another --index folder"
        )
    os.chmod(root, 0o700)  # no other local user may plant files (or hard links) where handlers read
    removed = sweep_uploads(root, older_than_s=UPLOAD_MAX_AGE_S)
    if removed:
        log.info("removed %d stale UI upload file(s) from %s", removed, root)
    os.environ["GRADIO_TEMP_DIR"] = str(root)
    return root


def sweep_uploads(root: Path, older_than_s: float, keep: tuple[str, ...] = ("examples",)) -> int:
    """Delete files under ``root`` last modified more than ``older_than_s`` seconds ago (never following
    symlinks; ``keep`` names top-level folders left alone), then empty folders. Returns the files removed."""
    import time

    cutoff = time.time() - older_than_s
    removed = 0
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False, followlinks=False):
        here = Path(dirpath)
        if here != root and here.relative_to(root).parts[0] in keep:
            continue
        for name in filenames:
            path = here / name
            try:
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        if here != root:
            try:
                here.rmdir()  # only when empty
            except OSError:
                pass
    return removed


def confine(path: str | os.PathLike, root: Path) -> Path:
    """``path`` resolved (symlinks followed), when it is a regular file inside ``root`` (resolved).
    Raises :class:`ForbiddenPathError` naming only the file's base name otherwise."""
    name = _base_name(path)
    try:
        real = Path(os.fspath(path)).resolve()
        inside = real.is_relative_to(Path(root).resolve())
        is_file = inside and real.is_file()
        # a hard link planted in the folder names some other file's bytes: uploads are never hard-linked
        inside = inside and (not is_file or real.stat().st_nlink == 1)
    except (OSError, ValueError, TypeError, RuntimeError):  # NUL bytes, loops, too long, not a path
        inside = is_file = False
    if not inside:
        raise ForbiddenPathError(
            f"file {name!r} was not uploaded to this app; upload it (only files in the app's upload folder are read)"
        )
    if not is_file:
        raise ForbiddenPathError(f"file {name!r} is not an uploaded file (a folder, or no longer there); upload it")
    return real


def forbidden_paths(data: object, root: Path) -> list[str]:
    """Base names of the file references in a decoded JSON body that are not files inside ``root``.

    A file reference is the ``path`` of any object that has one (Gradio's ``FileData``, with or without its
    ``meta``, and anything shaped like it) and its ``url`` when that names a local file (no scheme, ``file:``,
    or Gradio's ``.../file=PATH``). ``None`` paths are fine; a ``path`` that is not a string is refused.
    Nesting deeper than 64 levels is refused as a whole."""
    bad: list[str] = []
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return ["(nested too deeply)"]
        if isinstance(node, dict):
            if "path" in node or _is_file_data(node):
                for ref in _local_refs(node):
                    if ref is _NOT_A_PATH:
                        bad.append("(not a file path)")
                        continue
                    try:
                        confine(ref, root)
                    except ForbiddenPathError:
                        bad.append(_base_name(ref))
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return bad


def public_api_names(demo) -> frozenset[str]:
    """Names of the events clients may call by name (``/gradio_api/call/NAME``): the documented ones."""
    return frozenset(
        fn.api_name
        for fn in demo.fns.values()
        if isinstance(fn.api_name, str) and getattr(fn, "api_visibility", "public") == "public"
    )


class GradioPathGuard:
    """Pure ASGI middleware in front of the mounted Gradio app (see the module docstring).

    root: the upload folder; max_body: bytes of a JSON body read before answering 413; api_names: event
    names callable by name (None: any). Answers ``{"error": ...}`` with 400, 403, 404, 413 or 415."""

    def __init__(self, app, root: Path, max_body: int, api_names: Collection[str] | None = None) -> None:
        self.app = app
        self.root = Path(root).resolve()
        self.max_body = int(max_body)
        self.api_names = None if api_names is None else frozenset(api_names)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path + "/"):
            path = path[len(root_path) :]
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        route = path[len(PREFIX) :]
        method = scope.get("method", "GET")
        if method in ("GET", "HEAD"):
            match = _FILE_ROUTE.match(route)
            if match and not self._servable(match.group(1)):
                name = _base_name(match.group(1))
                await _answer(send, 403, f"file {name!r} is not served: only this app's uploads are")
                return
            await self.app(scope, receive, send)
            return
        if method != "POST" or route.rstrip("/") in UPLOAD_ROUTES:
            if method == "POST":
                await self._sweep_now_and_then()
            await self.app(scope, receive, send)
            return
        named = _NAMED_CALL.match(route)
        if named and self.api_names is not None and unquote(named.group(1)) not in self.api_names:
            await _answer(send, 404, f"no API endpoint {unquote(named.group(1))!r}; see /gradio_api/info")
            return
        body = await self._read_body(scope, receive)
        if body is None:
            await _answer(send, 413, f"request body over the {self.max_body / 2**20:.1f} MB limit")
            return
        if body.strip():
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                await _answer(send, 415, "this route expects a JSON body (upload files through /gradio_api/upload)")
                return
            bad = forbidden_paths(data, self.root)
            if bad:
                names = ", ".join(sorted(set(bad))[:5])
                await _answer(
                    send, 403, f"refused: {names}: not uploaded to this app; upload files through the UI or the client"
                )
                return
        await self.app(scope, _replay(body, receive), send)

    async def _sweep_now_and_then(self) -> None:
        """Uploads older than ``UPLOAD_MAX_AGE_S`` are deleted, checked at most every ``SWEEP_EVERY_S`` on an
        upload (Gradio's own ``delete_cache`` does not run for an app mounted inside FastAPI)."""
        import time

        import anyio.to_thread

        now = time.monotonic()
        if now - getattr(self, "_last_sweep", float("-inf")) < SWEEP_EVERY_S:
            return
        self._last_sweep = now
        removed = await anyio.to_thread.run_sync(sweep_uploads, self.root, UPLOAD_MAX_AGE_S)
        if removed:
            log.info("removed %d UI upload(s) older than %d s", removed, UPLOAD_MAX_AGE_S)

    def _servable(self, target: str) -> bool:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # a URL: Gradio would fetch it for the client
            return False
        try:
            confine(target, self.root)
        except ForbiddenPathError:
            return False
        return True

    async def _read_body(self, scope, receive) -> bytes | None:
        """The whole body, or None when it is over ``max_body`` (by ``content-length`` or while reading)."""
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    if int(value) > self.max_body:
                        return None
                except ValueError:
                    pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client gone: hand Gradio what came
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


_NOT_A_PATH = object()


def _is_file_data(node: dict) -> bool:
    meta = node.get("meta")
    return isinstance(meta, dict) and meta.get("_type") == "gradio.FileData"


def _local_refs(node: dict) -> list:
    refs: list = []
    path = node.get("path")
    if path is not None:
        refs.append(path if isinstance(path, str) else _NOT_A_PATH)
    url = node.get("url")
    if isinstance(url, str) and url:
        if "file=" in url:
            refs.append(unquote(url.split("file=", 1)[1].split("?", 1)[0]))
        elif url.lower().startswith("file:"):
            refs.append(_NOT_A_PATH)
        elif not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):  # no scheme: a bare server path
            refs.append(url)
    return refs


def _base_name(path: object) -> str:
    try:
        return Path(os.fspath(path)).name[:120] or "?"  # type: ignore[arg-type]
    except TypeError:
        return "?"


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send, status: int, message: str) -> None:
    payload = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
