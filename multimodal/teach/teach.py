"""The teach use cases: fit a label set from examples (and save it), classify images with one.

Failures of single examples or images are reported, not raised: an example that fails to load is named in
the result's problems and the rest are used; a query that fails gets an ``error`` like plain classify.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from multimodal.classify import ImageClassification
from multimodal.images import ImageSource, describe_source
from multimodal.services import Services
from multimodal.teach.errors import LabelSetError
from multimodal.teach.examples import Example, ExampleSet, check_label_count, hash_and_dedupe
from multimodal.teach.features import FeatureSpec, default_spec, extract
from multimodal.teach.head import HeadConfig, fit_head
from multimodal.teach.names import validate_name
from multimodal.teach.store import ExampleMemory, LabelSet, list_names, load_labelset, save_labelset
from multimodal.zeroshot import MAX_LABEL_CHARS, ZeroShotOptions
from multimodal.zeroshot_scores import decide, softmax_scores


@dataclass(frozen=True)
class TeachOptions:
    """features: ``None`` = the encoder's default (:func:`default_spec`); texts: ``(label, text)`` pairs that
    turn on the zero-shot blend (``None``: none, or the texts already taught when adding); add: add to an
    existing label set; replace: allow overwriting an existing one."""

    features: FeatureSpec | None = None
    head: HeadConfig = HeadConfig()
    texts: tuple[tuple[str, str], ...] | None = None
    add: bool = False
    replace: bool = False

    def __post_init__(self) -> None:
        if self.add and self.replace:
            raise LabelSetError("--add and --replace exclude each other: add to a label set, or replace it")


@dataclass(frozen=True)
class TeachResult:
    """The saved label set, its folder, the examples added now and every problem met (one line each)."""

    labelset: LabelSet
    path: Path
    added: int
    problems: tuple[str, ...]


def parse_texts(spec: str) -> tuple[tuple[str, str], ...]:
    """``"boots, sneaker=a photo of a sneaker"`` -> ``(("boots", "boots"), ("sneaker", "a photo of a sneaker"))``:
    each item names a label and, after ``=``, the text that describes it (default: the label itself)."""
    out: dict[str, str] = {}
    for item in re.split(r"[,\n]", spec):
        label, _, text = item.partition("=")
        label, text = " ".join(label.split()), " ".join(text.split()) or " ".join(label.split())
        if not label:
            continue
        if len(text) > MAX_LABEL_CHARS:
            raise LabelSetError(
                f"--labels: the text of {label!r} has {len(text)} characters; the limit is {MAX_LABEL_CHARS}"
            )
        out[label] = text
    if not out:
        raise LabelSetError('--labels is empty; give "label, label=description, ..."')
    return tuple(out.items())


def zeroshot_logp(services: Services, embedding: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """``(n, L)`` zero-shot log-probabilities of joint-space embeddings against ``texts``, calibrated as
    ``sceneqa classify --labels`` calibrates them."""
    zs = services.zeroshot
    cal = zs.calibration
    cos = embedding @ zs.label_embeddings(list(texts)).T
    return np.log(np.maximum(softmax_scores(cos, cal.logit_scale, cal.log_floor), 1e-12))


def teach(
    services: Services,
    root: Path,
    name: str,
    examples: ExampleSet,
    options: TeachOptions = TeachOptions(),
    *,
    progress: Callable[[int], None] | None = None,
) -> TeachResult:
    """Embed ``examples``, fit the head (with the examples already taught when ``options.add``) and save the
    label set ``name`` under ``root`` atomically."""
    validate_name(name)
    enc = services.encoder
    old = _existing(root, name, options, enc)
    spec = old.features if old else (options.features or default_spec(enc))
    hashed = hash_and_dedupe(examples.examples, known=old.examples if old else ())
    items = hashed.examples
    feats = extract(
        enc, [e.image for e in items], spec, limits=services.config.image_limits, names=[e.where for e in items],
        progress=progress,
    )  # fmt: skip
    problems = [*examples.problems, *hashed.problems]
    problems += [f"{msg}; skipped" for _, msg in sorted(feats.errors.items())]
    new = [items[i] for i in feats.indices]
    labels = _label_order(old, new)
    check_label_count(len(labels), name)
    index = {label: k for k, label in enumerate(labels)}
    y_new = np.array([index[e.label] for e in new], dtype=int)
    memory = _merge(old, feats, y_new, spec.flip)
    all_examples = (*(old.examples if old else ()), *new)
    problems += _count_problems(labels, memory.y)
    texts = _texts(options.texts, old, labels)
    zs = zeroshot_logp(services, memory.embedding, texts) if texts else None
    x_aug = memory.x_flip[None] if memory.x_flip is not None else None
    head = fit_head(memory.x, memory.y, labels, zs_logp=zs, x_aug=x_aug, config=options.head)
    labelset = LabelSet(
        name=name,
        encoder_spec=enc.spec,
        encoder_dim=enc.dim,
        encoder_family=enc.info.family,
        features=spec,
        head=head,
        texts=texts,
        examples=all_examples,
        memory=memory,
        problems=tuple(problems),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return TeachResult(labelset, save_labelset(root, labelset), len(new), tuple(problems))


def _existing(root: Path, name: str, options: TeachOptions, enc) -> LabelSet | None:
    exists = name in list_names(root)
    if options.add:
        if not exists:
            raise LabelSetError(f"--add: no label set {name!r} in {root} to add to; teach it first without --add")
        return load_labelset(root, name, encoder_spec=enc.spec, encoder_dim=enc.dim)
    if exists and not options.replace:
        raise LabelSetError(
            f"label set {name!r} already exists in {root}; pass --add to add examples to it or --replace to "
            "teach it again from these examples only"
        )
    return None


def _label_order(old: LabelSet | None, new: Sequence[Example]) -> tuple[str, ...]:
    """The old label set's labels first (their indices stay), then new labels in sorted order."""
    known = list(old.labels) if old else []
    fresh = sorted({e.label for e in new} - set(known))
    return tuple(known + fresh)


def _merge(old: LabelSet | None, feats, y_new: np.ndarray, flip: bool) -> ExampleMemory:
    if old is None:
        return ExampleMemory(feats.x, feats.x_flip, feats.embedding, y_new)
    m = old.memory
    x_flip = np.concatenate([m.x_flip, feats.x_flip]) if flip else None
    embedding = np.concatenate([m.embedding, feats.embedding])
    return ExampleMemory(np.concatenate([m.x, feats.x]), x_flip, embedding, np.concatenate([m.y, y_new]))


def _count_problems(labels: Sequence[str], y: np.ndarray) -> list[str]:
    counts = np.bincount(y, minlength=len(labels))
    if len(labels) < 2:
        raise LabelSetError(
            f"a label set needs at least 2 labels with examples; got {len(labels)}: {', '.join(labels)}"
        )
    return [
        f"label {label!r} has 1 example: used, but it cannot be cross-validated; add more with --add"
        for label, n in zip(labels, counts)
        if n == 1
    ]


def _texts(given, old: LabelSet | None, labels: Sequence[str]) -> tuple[str, ...] | None:
    """One zero-shot text per label, or ``None`` (no text blend)."""
    if given is None:
        if old is None or old.texts is None:
            return None
        given = tuple(zip(old.labels, old.texts))
    mapping = dict(given)
    unknown = [label for label in mapping if label not in labels]
    if unknown:
        raise LabelSetError(
            f"--labels names {', '.join(map(repr, unknown[:5]))} with no examples; labels with examples: "
            f"{', '.join(labels[:20])}"
        )
    return tuple(mapping.get(label, label) for label in labels)


def classify_with_labelset(
    services: Services,
    labelset: LabelSet,
    sources: Sequence[ImageSource],
    options: ZeroShotOptions = ZeroShotOptions(),
    *,
    names: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ImageClassification]:
    """Classify every source with ``labelset``'s head. ``score`` and ``match`` are both the head's calibrated
    probability: single-label picks the top label, or "none of these" when its probability is under
    ``options.threshold``; multi-label returns every label at or above it."""
    names = list(names) if names is not None else [describe_source(s) for s in sources]
    feats = extract(
        services.encoder, sources, labelset.features, limits=services.config.image_limits, names=names,
        progress=progress,
    )  # fmt: skip
    head, labels = labelset.head, list(labelset.labels)
    use_text = labelset.texts is not None and head.text_weight > 0
    zs = zeroshot_logp(services, feats.embedding, labelset.texts) if use_text and feats.indices else None
    probs = head.probabilities(feats.query(), zs) if feats.indices else np.zeros((0, len(labels)))
    top_k = min(options.top_k, len(labels))
    by_index = {
        i: decide(labels, p, p, multi_label=options.multi_label, threshold=options.threshold, top_k=top_k)
        for i, p in zip(feats.indices, probs)
    }
    return [ImageClassification(names[i], by_index.get(i), feats.errors.get(i)) for i in range(len(sources))]
