"""What every UI handler works with: a frozen :class:`UiContext` (services, catalog, model gate, upload folder,
time limit), and :func:`bind`, which turns a module-level handler ``fn(ctx, *inputs)`` into the callable Gradio
wires to an event."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from demos.catalog_handle import CatalogHandle
from demos.gate import ModelGate
from demos.request_limits import RequestLimits
from demos.ui_errors import ui_errors
from demos.upload_guard import confine
from multimodal.deadline import Deadline
from multimodal.errors import ConfigError
from multimodal.services import Services

T = TypeVar("T")


@dataclass(frozen=True)
class UiContext:
    """services: the loaded models; catalog: the server's catalog handle; gate: the server's model gate (UI and
    API share it); upload_root: the app's upload folder, resolved (handlers read no file outside it);
    request_timeout_s: the limit of each handler call, waiting for the gate included; limits: the per-request
    caps the API applies too (images, pixels, record bytes, catalog rows); inspectors: the server's inspector
    shelf (:class:`multimodal.inspect.shelf.InspectorShelf`, shared with the API; None: no inspectors)."""

    services: Services
    catalog: CatalogHandle
    gate: ModelGate
    upload_root: Path
    request_timeout_s: float = 120.0
    limits: RequestLimits = RequestLimits()
    inspectors: object = None

    def __post_init__(self) -> None:
        if not self.request_timeout_s > 0:
            raise ConfigError(f"the UI request time limit must be > 0 s, got {self.request_timeout_s}")
        object.__setattr__(self, "upload_root", Path(self.upload_root).resolve())

    @property
    def folders(self) -> tuple[Path, ...]:
        """Server folders scrubbed from the error messages users see."""
        return (self.upload_root, self.catalog.folder)

    def deadline(self) -> Deadline:
        return Deadline(self.request_timeout_s, "the UI request")

    def gated(self, fn: Callable[..., T], *args, write: bool = False, **kwargs) -> T:
        """``fn(*args, **kwargs)`` on the server's generic model worker (the API's too), under a fresh deadline
        (see :meth:`ModelGate.run`)."""
        return self.gate.run(lambda: fn(*args, **kwargs), self.deadline(), write=write)

    def direct(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """``fn(*args, **kwargs)`` in this handler's thread under a fresh deadline: only its embeddings go to the
        model workers, batched with the API's (classify, search; FAISS never runs on a worker)."""
        return self.gate.run(lambda: fn(*args, **kwargs), self.deadline(), lane="direct")

    def confined(self, path: str | Path) -> Path:
        """An uploaded file's resolved path; :class:`ForbiddenPathError` for anything outside the upload folder."""
        return confine(path, self.upload_root)

    def uploaded(self, paths: Iterable | None) -> list[Path]:
        """Resolved paths of uploaded files (Gradio gives strings, or objects with ``.name``)."""
        return [self.confined(p if isinstance(p, str | Path) else p.name) for p in (paths or [])]

    def uploaded_images(self, paths: Iterable | None) -> list[Path]:
        """Like :meth:`uploaded`, then the per-request caps on count and declared pixels (before decoding)."""
        images = self.uploaded(paths)
        self.limits.check_images(images, names=[p.name for p in images])
        return images


def thumbnail(path: str | Path, side: int = 256):
    """A PIL image at most ``side`` pixels a side, decoded at reduced size where the format allows."""
    from multimodal.images import load_image

    img = load_image(path, draft_size=side)
    img.thumbnail((side, side))
    return img


def bind(fn: Callable, ctx: UiContext) -> Callable:
    """``fn(ctx, *inputs)`` as a Gradio handler of ``*inputs``: the same name, and the signature and resolved
    type hints without ``ctx`` (Gradio reads them to pass ``gr.Progress`` and ``gr.EventData``); our errors
    become ``gr.Error`` with server folders scrubbed, others a generic message (:func:`ui_errors`)."""
    signature = inspect.signature(fn)
    first, *params = signature.parameters
    hints = {k: v for k, v in typing.get_type_hints(fn).items() if k != first}
    if inspect.isgeneratorfunction(fn):

        def handler(*args, **kwargs):
            yield from fn(ctx, *args, **kwargs)

    else:

        def handler(*args, **kwargs):
            return fn(ctx, *args, **kwargs)

    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(handler, attr, getattr(fn, attr))
    handler.__signature__ = signature.replace(parameters=[signature.parameters[p] for p in params])
    handler.__annotations__ = hints
    return ui_errors(ctx.folders)(handler)
