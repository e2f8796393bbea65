"""The inspect routes of the HTTP API: ``POST /v1/inspectors`` (fit from uploaded good images),
``GET /v1/inspectors`` (their provenance), ``POST /v1/inspect`` (images -> verdict, score, boxes and a base64
PNG heatmap, plus the defect type when a ``labelset`` is named).

Inspectors live in the server's inspectors folder (``sceneqa serve --inspectors-dir``, default
CACHE/inspectors) behind one :class:`~multimodal.inspect.shelf.InspectorShelf`, shared with the UI. Model work
goes through the same gate as every other route; upload, image-count and pixel caps are the API's. Errors name
the inspector, never the server folder: not found 404, exists / fit running / damaged / other backbone 409.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request

from demos.api_errors import PathScrubber, status_of
from demos.api_payload import Payload, read_payload
from multimodal.deadline import check_deadline
from multimodal.errors import InvalidImageError, SceneQAError
from multimodal.inspect.config import FitConfig, VerdictConfig
from multimodal.inspect.errors import (
    BackboneMismatchError,
    CorruptInspectorError,
    InspectorError,
    InspectorExistsError,
    InspectorNotFoundError,
)
from multimodal.inspect.shelf import FitRunningError, InspectorShelf
from multimodal.inspect.store import inspectors_dir, validate_name
from multimodal.teach.errors import LabelSetEncoderMismatchError, LabelSetError, LabelSetNotFoundError

MAX_HEATMAP_SIDE = 1024
STATUS = (
    (InspectorNotFoundError, 404),
    (InspectorExistsError, 409),
    (FitRunningError, 409),
    (CorruptInspectorError, 409),
    (BackboneMismatchError, 409),
    (LabelSetNotFoundError, 404),
    (LabelSetEncoderMismatchError, 409),
)


def server_shelf(services, folder: Path | None = None) -> InspectorShelf:
    """The shelf of a server: ``folder`` or CACHE/inspectors; new fits use the tier's backbone (tiny in the
    tiny tier, else the packaged lite one)."""
    root = inspectors_dir(services.config.resolved_cache_dir, folder)
    return InspectorShelf(root, default_backbone="tiny" if services.tier.tier == "tiny" else "lite")


def http_error(exc: SceneQAError, scrub: Callable[[str], str]) -> HTTPException:
    """Our error as an HTTPException: the status from its type, the message without server folders."""
    status = next((code for typ, code in STATUS if isinstance(exc, typ)), None) or status_of(exc)
    return HTTPException(status, scrub(str(exc)))


def scrubber(d, shelf: InspectorShelf) -> Callable[[str], str]:
    """The inspectors folder and the cache (label sets live there), then the API's own folders, named."""
    mine = PathScrubber({"<inspectors>": shelf.root, "<cache>": d.services.config.resolved_cache_dir})
    return lambda message: d.scrubber(mine(message))


def labelsets_root(services) -> Path:
    """Where the server's label sets live: CACHE/labelsets (as ``sceneqa teach`` keeps them by default)."""
    from multimodal.teach.names import labelsets_dir

    return labelsets_dir(services.config.resolved_cache_dir)


def open_selection(shelf: InspectorShelf, name: str | None, band: float = 0.5):
    """The ask pipeline's inspector selection for ``name`` (None: none). Its errors keep their type (a bad
    ``inspector`` field of /v1/ask: 400, also as a stream's error event) without the server folder."""
    from multimodal.ask.inspector_evidence import InspectorSelection

    if not name:
        return None
    try:
        return InspectorSelection(shelf.open(name), band)
    except SceneQAError as exc:
        raise type(exc)(PathScrubber({"<inspectors>": shelf.root})(str(exc))) from None


def add_inspect_routes(router: APIRouter, d, auth: list, shelf: InspectorShelf) -> None:
    """``d``: the API's shared dependencies (services, config, calls, pixel_check, scrubber)."""
    scrub = scrubber(d, shelf)

    @router.get("/v1/inspectors", dependencies=auth)
    async def list_inspectors():
        rows = await d.calls.run(shelf.summaries, what="listing inspectors")
        return {"inspectors": [_public(r) | ({"error": scrub(r["error"])} if "error" in r else {}) for r in rows]}

    @router.post("/v1/inspectors", dependencies=auth, status_code=201)
    async def fit(request: Request):
        p = await read_payload(request, d.config.max_upload_bytes)
        name = _name(p, "name", scrub)
        images = p.images()
        if not images:
            raise HTTPException(400, "no good images: send 2 or more 'image' files (20 or more recommended)")
        config = FitConfig(
            image_size=p.number("size", FitConfig().image_size, int, 32, 1024),
            false_alarm=p.number("false_alarm", 0.01, float, 0.001, 0.2),
        )
        replace = p.flag("replace")

        def run():
            d.pixel_check(images)
            good, skipped = _decode(d, images)
            if len(good) < 2 and skipped:
                raise HTTPException(
                    400, f"{len(good)} of the good images could be read; at least 2 are needed. " + "; ".join(skipped)
                )
            state = shelf.fit(name, good, config, replace=replace, skipped=skipped, before_save=check_deadline)
            return {**_public(state.summary()), "skipped": skipped}

        return await _call(d, scrub, run, "the fit", request)

    @router.post("/v1/inspect", dependencies=auth)
    async def inspect(request: Request):
        p = await read_payload(request, d.config.max_upload_bytes)
        name = _name(p, "inspector", scrub)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send 'image' as a multipart file or base64 in JSON")
        verdict = VerdictConfig(band=p.number("band", 0.5, float, 0.0, 5.0))
        labelset = p.text("labelset", limit=200) or None
        with_heatmap = p.flag("heatmap", True)

        def run():
            d.pixel_check(images)
            return inspect_uploads(d, shelf, name, images, verdict, labelset, with_heatmap)

        rows = await _call(d, scrub, run, "inspect", request)
        return rows[0] if len(rows) == 1 else {"inspector": name, "results": rows}


def inspect_uploads(d, shelf: InspectorShelf, name: str, images, verdict, labelset, with_heatmap: bool) -> list:
    """Per uploaded image: the inspection as JSON (an ``error`` instead for an unreadable one); the first
    image's error when none could be read."""
    from multimodal.inspect.defect_types import inspect_with_types, open_labelset
    from multimodal.inspect.render import overlay_png

    inspector = shelf.open(name)
    labels = open_labelset(d.services, labelsets_root(d.services), labelset) if labelset else None
    decoded, errors = _decode_each(d, images)
    ok = [(n, img) for n, img in decoded if img is not None]
    found = iter(
        inspect_with_types(d.services, inspector, [i for _, i in ok], [n for n, _ in ok], verdict, labels) if ok else []
    )
    rows = []
    for (image_name, img), err in zip(decoded, errors):
        if img is None:
            rows.append({"image": image_name, "error": d.scrub(err)})
            continue
        ins, kind = next(found)
        row = {"inspector": name, **ins.to_dict()}
        if kind is not None:
            row["defect_type"] = kind.to_dict()
        if with_heatmap:
            png, size = overlay_png(img, ins.heatmap, ins.threshold, ins.boxes, MAX_HEATMAP_SIDE)
            row["heatmap_png"] = base64.b64encode(png).decode()
            row["heatmap_size"] = list(size)
        rows.append(row)
    if not ok:
        raise errors[0]  # its own status (413 for an image over the pixel limit, else 400)
    return rows


async def _call(d, scrub: Callable[[str], str], fn, what: str, request: Request):
    """``fn`` through the model gate; inspector and label-set errors get their status and lose server folders."""
    try:
        return await d.calls.run(fn, what=what, receive=request.receive)
    except (InspectorError, LabelSetError) as exc:
        raise http_error(exc, scrub) from None


def _name(p: Payload, key: str, scrub: Callable[[str], str]) -> str:
    raw = p.text(key)  # 422 for a value that is not text
    if not raw:
        raise HTTPException(400, f"{key}: missing; give the inspector's name, e.g. 'spindle-v2'")
    try:
        return validate_name(raw)
    except SceneQAError as exc:
        raise http_error(exc, scrub) from None


def _decode_each(d, images: list[tuple[str, bytes]]):
    """``([(name, RGB image or None)], [InvalidImageError or None])`` at full size (boxes are in its pixels)."""
    from multimodal.images import load_image

    decoded, errors = [], []
    for name, data in images:
        try:
            decoded.append((name, load_image(data, limits=d.services.config.image_limits, name=name)))
            errors.append(None)
        except InvalidImageError as exc:
            decoded.append((name, None))
            errors.append(exc)
    return decoded, errors


def _decode(d, images: list[tuple[str, bytes]]):
    """Good images for a fit: the decoded ones, and ``name: reason`` for those skipped."""
    decoded, errors = _decode_each(d, images)
    good = [img for _, img in decoded if img is not None]
    skipped = [f"{name}: {d.scrub(err)}" for (name, _), err in zip(decoded, errors) if err is not None]
    return good, skipped


def _public(summary: dict) -> dict:
    """A summary without what may name server paths (the skipped inputs of a CLI fit): their count instead."""
    out = {k: v for k, v in summary.items() if k != "skipped"}
    if "skipped" in summary:
        out["skipped_count"] = len(summary["skipped"])
    return out
