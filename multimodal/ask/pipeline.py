"""The ask use case: a question about images, with attached records and an optional catalog, answered
with citations and a confidence, or "cannot tell" when the evidence does not support an answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from multimodal.ask import inspector_evidence, labelset_evidence, where_direct
from multimodal.ask.answers import Answer, Evidence, check_citations
from multimodal.ask.context_files import load_context_file, load_context_text
from multimodal.ask.context_select import select_chunks, to_evidence
from multimodal.ask.questions import parse_question
from multimodal.deadline import check_deadline
from multimodal.errors import EmptyInputError
from multimodal.images import ImageSource, describe_source, load_image
from multimodal.services import Services
from retrieval.catalog import Catalog

MAX_IMAGES = 8


@dataclass(frozen=True)
class AskRequest:
    question: str
    images: tuple[ImageSource, ...] = ()
    image_names: tuple[str, ...] = ()
    context_files: tuple[Path, ...] = ()
    context_text: str | None = None
    neighbours: int = 3
    budget_tokens: int = 1500
    preloaded_chunks: tuple = ()  # context already read (e.g. uploaded bytes), as context_files.Chunk
    inspector: inspector_evidence.InspectorSelection | None = None  # its verdicts become evidence
    labelset: labelset_evidence.LabelSetSelection | None = None  # its top labels become evidence


@dataclass(frozen=True)
class AskResult:
    answer: Answer
    evidence: tuple[Evidence, ...]

    def as_dict(self) -> dict[str, object]:
        return {**self.answer.as_dict(), "evidence": [e.as_dict() for e in self.evidence]}


def gather_context(question: str, req: AskRequest, services: Services) -> tuple[list[Evidence], list[str]]:
    chunks = list(req.preloaded_chunks)
    for path in req.context_files:
        chunks.extend(load_context_file(path))
    if req.context_text and req.context_text.strip():
        chunks.extend(load_context_text(req.context_text))
    if not chunks:
        return [], []
    selection = select_chunks(question, chunks, services.text_embedder(), budget_tokens=req.budget_tokens)
    return to_evidence(selection), [selection.notice] if selection.notice else []


def catalog_neighbours(services: Services, catalog: Catalog, images, k: int) -> list[Evidence]:
    out: list[Evidence] = []
    for vec in services.encoder.embed_images(images):
        for hit in catalog.search(vec, k):
            record = "; ".join(f"{key}: {value}" for key, value in hit.metadata.items())
            ev = Evidence("item", f"item:{hit.id}", record or hit.image, max(0.0, min(1.0, hit.score)))
            if all(e.locator != ev.locator for e in out):
                out.append(ev)
    return sorted(out, key=lambda e: -e.score)[:k]


def prepare(services: Services, req: AskRequest, catalog: Catalog | None = None):
    """Validate the request, load images, gather evidence: ``(images, evidence, notices)``."""
    parse_question(req.question)  # validates before any model work
    if not req.images and not req.context_files and not req.context_text and not req.preloaded_chunks:
        raise EmptyInputError("nothing to look at: give an image, --context FILE or --context-text")
    if len(req.images) > MAX_IMAGES:
        raise EmptyInputError(f"{len(req.images)} images given; at most {MAX_IMAGES} per question")
    names = list(req.image_names) or [describe_source(s) for s in req.images]
    images = []
    for src, name in zip(req.images, names):
        check_deadline("loading images")
        images.append(load_image(src, limits=services.config.image_limits, name=name))
    evidence = [Evidence("image", f"image:{i + 1}", name) for i, name in enumerate(names)]
    check_deadline("reading records")
    context, notices = gather_context(req.question, req, services)
    evidence += context
    if catalog is not None and images:
        check_deadline("catalog neighbours")
        evidence += catalog_neighbours(services, catalog, images, req.neighbours)
    if req.inspector is not None:
        check_deadline("inspector")
        evidence += inspector_evidence.gather(req.inspector, images)
    if req.labelset is not None:
        check_deadline("label set")
        evidence += labelset_evidence.gather(req.labelset, images)
    check_deadline("answering")
    return images, evidence, notices


def _result(services: Services, answer: Answer, evidence, derived, notices) -> AskResult:
    answer = check_citations(answer, evidence + derived)
    answer = replace(
        answer, models=services.models(), tier=services.tier.tier, notices=tuple(notices) + tuple(answer.notices)
    )
    return AskResult(answer, tuple(evidence + derived))


def _direct(services: Services, question: str, evidence, images=()) -> Answer | None:
    """The answer of a chosen inspector (defect questions) or label set (which-label questions), or a located
    where-answer for an answerer that does not route those itself (:mod:`multimodal.ask.where_direct`), else
    None."""
    direct = inspector_evidence.answer(question, evidence)
    direct = direct or labelset_evidence.answer(question, evidence, services.config.abstain_below)
    return direct or where_direct.answer(services, question, images, services.config.abstain_below)


def ask(services: Services, req: AskRequest, catalog: Catalog | None = None) -> AskResult:
    """Answer ``req``. Raises our errors for a bad request (empty question, unreadable image or context)."""
    images, evidence, notices = prepare(services, req, catalog)
    answer = _direct(services, req.question, evidence, images)
    answer = answer or services.answerer().answer(req.question, images, evidence)
    return _result(services, answer, evidence, list(answer.derived), notices)


def ask_stream(services: Services, req: AskRequest, catalog: Catalog | None = None) -> Iterator[str | AskResult]:
    """Like :func:`ask`, yielding text pieces as a VLM generates them, then the :class:`AskResult`.
    Answerers that do not generate token by token yield their whole answer once."""
    images, evidence, notices = prepare(services, req, catalog)
    answerer = services.answerer()
    direct = _direct(services, req.question, evidence, images)
    if direct is not None or not answerer.can_stream:
        answer = direct or answerer.answer(req.question, images, evidence)
        derived = list(answer.derived)
        yield answer.text
        yield _result(services, answer, evidence, derived, notices)
        return
    for piece in answerer.stream(req.question, images, evidence):
        if isinstance(piece, Answer):
            yield _result(services, piece, evidence, [], notices)
        else:
            yield piece


def ask_many(services: Services, questions: Sequence[str], image: ImageSource) -> list[Answer]:
    """Several questions about one image (evaluation helper)."""
    return [ask(services, AskRequest(q, (image,))).answer for q in questions]
