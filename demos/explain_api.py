"""The explain routes of the HTTP API (issue 17): ``POST /v1/locate`` (one image + a phrase -> boxes, the method
that found them, a description and an overlay PNG), and the ``explanation`` field that ``explain=true`` adds to
/v1/classify (per image: an overlay per reported label, text labels or a label set's), /v1/search (per hit:
where it matches the query) and /v1/ask (per image: the regions behind the answer; not with ``stream=true``).

Overlays are base64 PNGs, their long side at most :data:`MAX_OVERLAY_SIDE` (boxes and peaks stay in the original
image's pixels); at most :data:`MAX_OVERLAYS` per request (each is a forward and a backward pass), the rest are
skipped and ``explanation.note`` says so. Without ``explain=true`` nothing here runs. Model work goes through the
same gate as every other route; our errors keep their status (a bad phrase: 400).
"""

from __future__ import annotations

import base64
import threading

import numpy as np
from fastapi import APIRouter, HTTPException, Request

from demos.api_payload import Payload, read_payload
from multimodal.deadline import check_deadline
from multimodal.errors import SceneQAError

#: overlays per request, over all images and labels (classify) or hits (search)
MAX_OVERLAYS = 4
MAX_OVERLAY_SIDE = 768


def overlay_payload(image, heat, boxes) -> dict[str, object]:
    """``{"png": base64 PNG, "size": [w, h]}`` of the overlay, shrunk to :data:`MAX_OVERLAY_SIDE`."""
    from multimodal.explain.render import overlay

    return picture_payload(overlay(image, heat, boxes))


def picture_payload(picture) -> dict[str, object]:
    """``{"png": base64 PNG, "size": [w, h]}`` of a drawn overlay, shrunk to :data:`MAX_OVERLAY_SIDE`."""
    from PIL import Image

    from multimodal.explain.render import png_bytes

    if max(picture.size) > MAX_OVERLAY_SIDE:
        scale = MAX_OVERLAY_SIDE / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.BILINEAR)
    return {"png": base64.b64encode(png_bytes(picture)).decode(), "size": list(picture.size)}


def cap_note(asked: int, made: int, what: str) -> str | None:
    """Why fewer overlays than asked were made (``None`` when all were)."""
    if made >= asked:
        return None
    return (
        f"explained {made} of {asked} {what}: at most {MAX_OVERLAYS} overlays per request (each costs a forward "
        "and a backward pass); ask for fewer, or use 'sceneqa classify --explain' for more"
    )


def explain_image(explainer, image, labels, targets) -> list[dict[str, object]]:
    """Per label (with its target row): the heatmap's method, peak, boxes and overlay; the image prepared once."""
    from multimodal.explain.api import boxes_of

    prepared = explainer.prepare(image)
    rows = []
    for label, target in zip(labels, targets):
        check_deadline()
        exp = explainer.explain(prepared, target)
        boxes = boxes_of(exp)
        rows.append(
            {
                "label": label,
                "method": exp.method,
                "flat": exp.flat,
                "reason": exp.reason,
                "peak": list(exp.peak) if exp.peak else None,
                "boxes": [b.as_dict() for b in boxes],
                "notes": list(exp.notes),
                "overlay": overlay_payload(image, exp.heatmap, boxes),
            }
        )
    return rows


def classify_explanations(services, images: list[tuple[str, bytes]], rows: list[dict]) -> list[dict]:
    """``rows`` (classify's JSON per image) each with an ``explanation``: overlays of its reported labels, in
    order, :data:`MAX_OVERLAYS` at most over the request. A text label's target is its embedding; a label set's
    label's, the head's logit for it (:mod:`multimodal.explain.linear`)."""
    from multimodal.explain.factory import create_explainer
    from multimodal.images import load_image

    explainer = create_explainer(services.encoder)
    asked = sum(len(r.get("labels") or []) for r in rows)
    left = MAX_OVERLAYS
    for (name, data), row in zip(images, rows):
        labels = [x["label"] for x in row.get("labels") or []]
        if "error" in row or not labels:
            row["explanation"] = {"overlays": [], "note": "nothing to explain: no labels were reported"}
            continue
        keep = labels[: max(0, left)]
        image = load_image(data, limits=services.config.image_limits, name=name)
        targets = label_targets(services, row.get("labelset"), keep) if keep else []
        row["explanation"] = {"overlays": explain_image(explainer, image, keep, targets), "note": None}
        left -= len(keep)
    note = cap_note(asked, MAX_OVERLAYS - left, "labels")
    for row in rows:
        row["explanation"]["note"] = row["explanation"]["note"] or note
    return rows


def label_targets(services, labelset: str | None, labels: list[str]) -> list:
    """Targets of ``labels``: their text embeddings (aimed as ``locate`` aims a phrase), or, with ``labelset``
    (a name), the label set's head logits."""
    if labelset:
        from demos.labelsets_api import open_labelset
        from multimodal.explain.linear import labelset_targets

        return labelset_targets(open_labelset(services, labelset), labels)
    from multimodal.explain.targets import phrase_targets

    return list(phrase_targets(services.encoder, services.zeroshot, labels)[0])


def search_explanations(services, catalog, p: Payload, images, response: dict) -> dict:
    """``response`` (search's JSON) with ``explanation`` per hit: where the hit's image matches the text query
    (aimed as ``locate`` aims a phrase), or the query image when there is no text; :data:`MAX_OVERLAYS` hits."""
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets
    from multimodal.images import load_image

    hits = response.get("results", [])
    text = p.text("text") or None
    if text:
        target = phrase_targets(services.encoder, services.zeroshot, [text])[0][0]
    elif images:
        query = load_image(images[0][1], limits=services.config.image_limits, name=images[0][0])
        target = services.encoder.embed_images([query])[0]
    else:
        response["explanation_note"] = "explain=true explains text or image queries; a 'like' query is not explained"
        return response
    explainer = create_explainer(services.encoder)
    label = text or "the query image"
    for hit in hits[:MAX_OVERLAYS]:
        try:
            image = load_image(catalog.image_path(hit["id"]), limits=services.config.image_limits)
        except SceneQAError as exc:
            hit["explanation"] = {"overlays": [], "note": f"the hit's image could not be read: {exc}"}
            continue
        hit["explanation"] = {"overlays": explain_image(explainer, image, [label], [target]), "note": None}
    response["explanation_note"] = cap_note(len(hits), min(len(hits), MAX_OVERLAYS), "hits")
    return response


async def explain_classify(d, p: Payload, images, rows, request: Request):
    """/v1/classify's rows (a list, one per image), with explanations when the request says ``explain=true``."""
    if not p.flag("explain"):
        return rows
    return await d.calls.run(
        lambda: classify_explanations(d.services, images, rows), what="explain", receive=request.receive
    )


async def explain_search(d, p: Payload, images, response: dict, request: Request) -> dict:
    """/v1/search's response, with explanations per hit when the request says ``explain=true``."""
    if not p.flag("explain"):
        return response
    return await d.calls.run(
        lambda: search_explanations(d.services, d.catalog, p, images, response),
        what="explain",
        receive=request.receive,
    )


def ask_explanation(services, images: list[tuple[str, bytes]], question: str, answer) -> dict[str, object]:
    """/v1/ask's ``explanation``: per image (the first :data:`MAX_OVERLAYS`) that has cited boxes or a subject
    heatmap, the overlay of the regions behind the answer (:mod:`multimodal.explain.evidence`), and a note."""
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.evidence import answer_target, explain_answer
    from multimodal.images import load_image

    if not images:
        return {"subject": None, "overlays": [], "note": "nothing to explain: the request has no images"}
    subject, explainer, target, problem = answer_target(services, question)
    kept = images[:MAX_OVERLAYS]
    loaded = [load_image(data, limits=services.config.image_limits, name=name) for name, data in kept]
    rows, _ = explain_answer(loaded, answer, explainer, target, ExplainConfig(max_explanations=MAX_OVERLAYS))
    overlays = [
        {**row.as_dict(subject), "name": kept[row.n - 1][0], "overlay": picture_payload(row.picture)} for row in rows
    ]
    bare = len(kept) - len(rows)
    notes = [
        problem,
        cap_note(len(images), len(kept), "images"),
        f"{bare} image(s) without cited boxes or a subject: no overlay" if bare else None,
    ]
    return {"subject": subject, "overlays": overlays, "note": "; ".join(n for n in notes if n) or None}


async def explain_ask(d, p: Payload, images, question: str, result, request: Request) -> dict:
    """/v1/ask's answer (``result``: an :class:`~multimodal.ask.pipeline.AskResult`) as JSON, with an
    ``explanation`` when the request says ``explain=true``."""
    out = result.as_dict()
    if p.flag("explain"):
        out["explanation"] = await d.calls.run(
            lambda: ask_explanation(d.services, images, question, result.answer),
            what="explain",
            receive=request.receive,
        )
    return out


def no_stream_explain(p: Payload) -> None:
    """400 for ``explain=true`` with ``stream=true``: overlays come with the whole answer, not in the stream."""
    if p.flag("explain"):
        raise HTTPException(400, "explain=true needs stream=false: the overlays come with the whole answer")


class _Detector:
    """The tier's object detector, built on first use (once, under a lock); ``None`` in the tiny tier."""

    def __init__(self, services) -> None:
        self._services, self._lock, self._built, self._value = services, threading.Lock(), False, None

    def get(self):
        with self._lock:
            if not self._built:
                from multimodal.explain.where import detector_for

                self._value, self._built = detector_for(self._services), True
            return self._value


def add_explain_routes(router: APIRouter, d, auth: list) -> None:
    """``POST /v1/locate``. ``d``: the API's shared dependencies (services, config, calls, pixel_check)."""
    detector = _Detector(d.services)

    @router.post("/v1/locate", dependencies=auth)
    async def locate_route(request: Request):
        p = await read_payload(request, d.config.max_upload_bytes)
        images = p.images()
        if len(images) != 1:
            raise HTTPException(400, f"send exactly one 'image' (multipart file or base64 in JSON), got {len(images)}")
        phrase = p.text("phrase")
        if phrase is None:
            raise HTTPException(400, "phrase: missing; say what to find, e.g. 'the red car'")
        use_detector = p.flag("detector", True)
        with_overlay = p.flag("overlay", True)

        def run():
            d.pixel_check(images)
            return locate_upload(d.services, images[0], phrase, detector.get() if use_detector else None, with_overlay)

        return await d.calls.run(run, what="locate", receive=request.receive)


def locate_upload(services, upload: tuple[str, bytes], phrase: str, detector, with_overlay: bool) -> dict:
    """``/v1/locate``'s answer for one uploaded image: boxes (image pixels), method, description, overlay."""
    from multimodal.explain.api import locate
    from multimodal.explain.base import check_phrase
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets
    from multimodal.images import load_image

    text = check_phrase(phrase)
    name, data = upload
    image = load_image(data, limits=services.config.image_limits, name=name)
    targets, sources = phrase_targets(services.encoder, services.zeroshot, [text])
    found = locate(create_explainer(services.encoder), image, text, targets[0], detector=detector)
    row = {"image": name, "target": sources[0], **found.as_dict()}
    if with_overlay:  # the detector's boxes alone on the image when it answered (no heatmap was made)
        w, h = found.size
        heat = found.explanation.heatmap if found.explanation is not None else np.zeros((h, w), np.float32)
        row["overlay"] = overlay_payload(image, heat, found.boxes)
    return row
