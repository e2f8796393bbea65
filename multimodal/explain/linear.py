"""A label of a taught label set (issue 15) as an explain target: the head's logit for that label, computed from
the image features the explainer's forward pass makes, so Grad-CAM sees which regions raise it.

The head (:mod:`multimodal.teach.head`) scores features ``x`` (the encoder's embedding, or lite's views) as
``s_c = log_softmax(W x' + b)_c + a cos(x', proto_c) + t log p_zs(c)`` with ``x' = unit(unit(x^p) - center)``
(``x^p``: ``sign(x) |x|^p``). Grad-CAM's classic target is a class's pre-softmax logit; the head's, centred over
the labels so that a two-label head (whose first row sklearn leaves at zero) gives both labels a map, is::

    z_c(x) = (W_c - mean_k W_k + a (proto_c - mean_k proto_k)) . x' + (b_c - mean_k b_k)

(the prototype cosine is linear in ``x'``: both are unit vectors). ``z_c`` differs from ``s_c`` by the same
amount for every label, so it ranks the labels as the head does. The zero-shot text blend ``t`` is left out of
the map (a note says so when the head uses it). Pure numpy except :func:`linear_scores` (torch, on the
explainer's tensors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from multimodal.errors import ConfigError, UnknownNameError

#: What the head reads: the encoder's joint-space embedding, or lite's two pooled views + concept block.
LINEAR_FEATURES = ("embedding", "lite-views")
#: Weight of the concept block in ``lite-views`` features (:data:`multimodal.teach.features.CONCEPT_WEIGHT`).
CONCEPT_WEIGHT = 0.7


@dataclass(frozen=True, eq=False)
class LinearTarget:
    """``score = weight . x' + bias`` with ``x' = unit(unit(x^power) - center)`` (``center`` ``None``: no
    centring) over the image features ``x`` of kind ``features`` (:data:`LINEAR_FEATURES`). ``weight`` and
    ``center`` are float32 ``(f,)``. With ``power=1``, no centre and a unit ``weight`` this is the cosine a plain
    vector target explains. ``note``: what the user should know about the map (said with it)."""

    label: str
    weight: np.ndarray
    bias: float = 0.0
    features: str = "embedding"
    power: float = 1.0
    center: np.ndarray | None = None
    concept_weight: float = CONCEPT_WEIGHT
    note: str | None = None

    def __post_init__(self) -> None:
        w = np.asarray(self.weight, np.float32).reshape(-1)
        if self.features not in LINEAR_FEATURES:
            raise ConfigError(f"linear target features {self.features!r} is not one of {', '.join(LINEAR_FEATURES)}")
        if not np.all(np.isfinite(w)) or not np.isfinite(self.bias):
            raise ConfigError(f"the head of label {self.label!r} has NaN or infinite weights; re-teach the label set")
        if self.power <= 0:
            raise ConfigError(f"power must be > 0, got {self.power}")
        object.__setattr__(self, "weight", w)
        if self.center is not None:
            c = np.asarray(self.center, np.float32).reshape(-1)
            if c.shape != w.shape:
                raise ConfigError(f"center has dim {c.shape[0]} but the weight has dim {w.shape[0]}")
            object.__setattr__(self, "center", c)

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])


def head_targets(
    head, labels: Sequence[str], *, features: str = "embedding", text_blend: bool = False, flip: bool = False
) -> list[LinearTarget]:
    """One :class:`LinearTarget` per label of ``labels`` from a fitted :class:`~multimodal.teach.head.Head`:
    its centred logit (module docstring). ``text_blend``: the head also uses zero-shot text scores; ``flip``: it
    averages the mirrored image's features (both said in the targets' note). An unknown label lists the head's."""
    index = {label: i for i, label in enumerate(head.labels)}
    unknown = [label for label in labels if label not in index]
    if unknown:
        raise UnknownNameError(f"label {unknown[0]!r} is not in the label set. Available: {', '.join(head.labels)}")
    coef = np.asarray(head.coef, np.float64)
    protos = np.asarray(head.prototypes, np.float64)
    weights = coef - coef.mean(axis=0) + head.proto_weight * (protos - protos.mean(axis=0))
    bias = np.asarray(head.intercept, np.float64)
    bias = bias - bias.mean()
    notes = []
    if text_blend and head.text_weight > 0:
        notes.append(
            f"the map shows the taught part of the head; its zero-shot text blend (weight {head.text_weight:g}) "
            "is not in it"
        )
    if features == "lite-views":
        notes.append("the head was taught on a centre crop and a padded view; the map reads the whole image once")
    if flip:
        notes.append("the head also reads the mirrored image; the map reads the image as it is")
    center = np.asarray(head.center, np.float32) if head.center is not None else None
    return [
        LinearTarget(
            label=label,
            weight=weights[index[label]].astype(np.float32),
            bias=float(bias[index[label]]),
            features=features,
            power=float(head.power),
            center=center,
            note="; ".join(notes) or None,
        )
        for label in labels
    ]


def labelset_targets(labelset, labels: Sequence[str]) -> list[LinearTarget]:
    """:func:`head_targets` for a loaded :class:`~multimodal.teach.store.LabelSet` (its feature kind, text blend
    and flips)."""
    spec = labelset.features
    return head_targets(
        labelset.head, labels, features=spec.kind, text_blend=labelset.texts is not None, flip=bool(spec.flip)
    )


def check_linear(target: LinearTarget, dims: dict[str, int], who: str) -> LinearTarget:
    """``target`` when the explainer can make its features (``dims``: feature kind -> dim) at its dim."""
    if target.features not in dims:
        raise ConfigError(
            f"{who}: the label set's head reads {target.features!r} features, which this encoder does not make "
            f"({', '.join(dims)}); re-teach the label set with this encoder"
        )
    if target.dim != dims[target.features]:
        raise ConfigError(
            f"{who}: the head of label {target.label!r} has dim {target.dim} but {target.features!r} features "
            f"have dim {dims[target.features]}; re-teach the label set with the running encoder"
        )
    return target


def linear_scores(target: LinearTarget, feats):
    """``(n,)`` torch scores of ``(n, f)`` torch features (float32, differentiable): the target's formula."""
    import torch

    x = feats.float()
    x = x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    if target.power != 1.0:
        x = torch.sign(x) * x.abs().clamp(min=1e-12) ** target.power
        x = x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    if target.center is not None:
        x = x - torch.from_numpy(target.center).to(x.device)
        x = x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return x @ torch.from_numpy(target.weight).to(x.device) + target.bias


def lite_views(pooled, concepts, concept_weight: float = CONCEPT_WEIGHT):
    """``(n, 2v + k)`` torch ``lite-views`` features of one view: its unit pooled features standing for both the
    crop and the padded view the head was taught on, and the weighted unit concept distribution."""
    import torch

    def unit(t):
        return t / t.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    f = unit(pooled.float())
    return unit(torch.cat([f, f, concept_weight * unit(concepts.float())], dim=-1))
