"""The label-set and tuning routes of the HTTP API: ``POST /v1/labelsets`` (teach from uploaded images with
labels), ``GET /v1/labelsets``, ``DELETE /v1/labelsets/{name}``, ``/v1/classify`` with ``labelset``
(:func:`classify_with_labelset_rows`) and ``POST /v1/index/tune``.

Label sets live in CACHE/labelsets (the folder ``sceneqa teach`` uses by default). A teach request sends its
images as ``image`` files (or base64 ``images``; at most the API's per-request image cap) and ``labels``: one
label per image, in the same order (a JSON list, or comma-separated text); ``add=true`` adds to an existing
label set, ``replace=true`` teaches it anew. Uploaded bytes go to a private temporary folder for the teach and
are deleted after; the label set keeps features, hashes and upload names only. Errors name the label set, never
the server folder: a bad name or request 400, not found 404, exists / damaged / taught with another encoder 409.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request

from demos.api_errors import PathScrubber, status_of
from demos.api_payload import Payload, read_payload
from multimodal.teach.errors import LabelSetEncoderMismatchError, LabelSetError, LabelSetNotFoundError
from multimodal.teach.names import labelsets_dir, validate_name
from multimodal.zeroshot import MAX_LABEL_CHARS, MAX_LABELS


def labelsets_root(services) -> Path:
    return labelsets_dir(services.config.resolved_cache_dir)


def _http(exc: LabelSetError, root: Path, name_ok: bool = True) -> HTTPException:
    """404 not found; 409 another encoder, already exists, or (for a valid name) a damaged folder; else 400."""
    message = PathScrubber({"<labelsets>": root})(str(exc))
    if isinstance(exc, LabelSetNotFoundError):
        return HTTPException(404, message)
    if isinstance(exc, LabelSetEncoderMismatchError) or "already exists" in message:
        return HTTPException(409, message)
    if name_ok and "is damaged" in message:
        return HTTPException(409, message)
    return HTTPException(status_of(exc), message)


def _name(raw: object, root: Path) -> str:
    if raw is None or raw == "":
        raise HTTPException(400, "name: missing; give the label set's name, e.g. 'shoe-types'")
    try:
        return validate_name(raw)
    except LabelSetError as exc:
        raise _http(exc, root, name_ok=False) from None


def upload_labels(p: Payload, count: int) -> list[str]:
    """One clean label per uploaded image, in upload order (422 for a wrong type, 400 naming the problem)."""
    labels = [" ".join(v.split()) for v in p.names("labels", json_text=True)]
    if len(labels) > MAX_LABELS:
        raise HTTPException(413, f"labels: {len(labels)} given; a label set holds at most {MAX_LABELS} labels")
    if len(labels) != count:
        raise HTTPException(
            400, f"labels: {len(labels)} given for {count} image(s); send one label per image, in order"
        )
    for i, label in enumerate(labels):
        if not label or len(label) > MAX_LABEL_CHARS:
            raise HTTPException(400, f"labels[{i}]: a label is 1 to {MAX_LABEL_CHARS} characters, got {len(label)}")
    return labels


def _public(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "problems"} | {"problems": summary.get("problems", [])}


def add_labelset_routes(router: APIRouter, d, auth: list) -> None:
    """``d``: the API's shared dependencies (services, catalog, config, calls, pixel_check, scrub)."""
    root = labelsets_root(d.services)
    scrub = PathScrubber({"<labelsets>": root})

    @router.get("/v1/labelsets", dependencies=auth)
    async def list_labelsets():
        return {"labelsets": await d.calls.run(lambda: list_rows(d.services, root), what="listing label sets")}

    @router.post("/v1/labelsets", dependencies=auth, status_code=201)
    async def teach_labelset(request: Request):
        p = await read_payload(request, d.config.max_upload_bytes)
        name = _name(p.text("name"), root)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send 'image' files with one 'labels' entry per image")
        labels = upload_labels(p, len(images))
        add, replace = p.flag("add"), p.flag("replace")

        def run():
            d.pixel_check(images)
            return teach_uploads(d.services, root, name, images, labels, add=add, replace=replace)

        try:
            result = await d.calls.run(run, write=True, what="the teach", receive=request.receive)
        except LabelSetError as exc:
            raise _http(exc, root) from None
        return {
            **_public(result.labelset.summary()),
            "added": result.added,
            "problems": [scrub(x) for x in result.problems],
        }

    @router.delete("/v1/labelsets/{name}", dependencies=auth)
    async def remove(name: str):
        from multimodal.teach.store import remove_labelset

        checked = _name(name, root)
        try:
            await d.calls.run(lambda: remove_labelset(root, checked), write=True, what="the removal")
        except LabelSetError as exc:
            raise _http(exc, root) from None
        return {"removed": checked}

    @router.post("/v1/index/tune", dependencies=auth)
    async def tune(request: Request):
        p = await read_payload(request, 64 * 1024)
        columns = tuple(c.strip() for c in p.names("text_columns") if c.strip())
        holdout = p.number("holdout", 0.2, float, 0.05, 0.5)

        def run():
            from multimodal.search_tune import TuneOptions, tune_catalog

            return tune_catalog(d.services, d.catalog.reader(), TuneOptions(columns, holdout=holdout)).provenance

        prov = await d.calls.run(run, write=True, what="the tune", receive=request.receive)
        return {**prov, "index": d.catalog.folder.name}


def list_rows(services, root: Path) -> list[dict]:
    """One row per label set; a damaged one is listed with its ``error`` (the others are still listed)."""
    from multimodal.teach.store import list_names, load_labelset

    rows = []
    for name in list_names(root):
        try:
            s = load_labelset(root, name).summary()
        except LabelSetError as exc:
            rows.append({"name": name, "error": PathScrubber({"<labelsets>": root})(str(exc))})
            continue
        usable = s["encoder"]["spec"] == services.encoder.spec
        rows.append({"name": name, "labels": s["labels"], "counts": s["counts"], "encoder": s["encoder"],
                     "usable": usable, "cv": s["cv"], "created": s["created"]})  # fmt: skip
    return rows


def teach_uploads(services, root: Path, name: str, images, labels, *, add: bool, replace: bool):
    """Teach ``name`` from uploaded ``(filename, bytes)`` with ``labels``: the bytes are written to a private
    temporary folder for the teach only."""
    from multimodal.teach.examples import Example, ExampleSet, check_label_count
    from multimodal.teach.teach import TeachOptions, teach

    check_label_count(len(set(labels)), "the request")
    with tempfile.TemporaryDirectory(prefix="sceneqa-teach-") as tmp:
        examples = []
        for i, ((filename, data), label) in enumerate(zip(images, labels)):
            path = Path(tmp) / f"{i:05d}"
            path.write_bytes(data)
            shown = Path(str(filename)).name[:100] or f"image-{i + 1}"
            examples.append(Example(id=f"upload-{i + 1}", image=str(path), label=label, where=shown))
        options = TeachOptions(add=add, replace=replace)
        return teach(services, root, name, ExampleSet(tuple(examples)), options)


def open_labelset(services, name: str):
    """The label set ``name`` for the running encoder; its errors become HTTP errors (404, 409, 400)."""
    from multimodal.teach.store import load_labelset

    root = labelsets_root(services)
    checked = _name(name, root)
    enc = services.encoder
    try:
        return load_labelset(root, checked, encoder_spec=enc.spec, encoder_dim=enc.dim)
    except LabelSetError as exc:
        raise _http(exc, root) from None


def labelset_selection(services, name: str):
    """``/v1/ask`` with ``labelset``: the label set as Ask evidence (None without a name)."""
    if not name:
        return None
    from multimodal.ask.labelset_evidence import LabelSetSelection

    return LabelSetSelection(open_labelset(services, name), services)


def classify_with_labelset_rows(d, name: str, images, options) -> list[dict]:
    """``/v1/classify`` with ``labelset``: per image the label set's result (an ``error`` for an unreadable
    image), as ``sceneqa classify --labelset --json`` prints it. Label-set errors become HTTP errors."""
    from multimodal.teach.teach import classify_with_labelset

    labelset = open_labelset(d.services, name)
    checked = labelset.name
    results = classify_with_labelset(
        d.services, labelset, [data for _, data in images], options, names=[n for n, _ in images]
    )
    return [{**r.as_dict(d.services), "labelset": checked} for r in results]
