"""Grad-CAM for CNN classifiers whose class scores make the image side of the space, i.e. the ``lite`` encoder.

lite puts an image at ``join(softmax(logits / T), pooled features)`` and a text at its distribution ``q`` over
the 1,000 ImageNet concepts (see :mod:`multimodal.encoders.lite_space`). A label's score on an image is their
cosine. What to backpropagate (``ScoreMode``):

- ``logit``: ``sum_c q_c z_c / sum_c q_c``, the label's concept-weighted logit: Grad-CAM's classic target, with
  no softmax competition between classes (a region that raises a rival class does not count against the label);
- ``cosine``: the single view's lite cosine with the target (concept and visual blocks), exactly the score
  ``classify`` ranks by; it works for image targets (query by image) too;
- ``logprob``: ``log sum_c q_c p_c``, the log of the probability mass on the label's concepts.

Defaults were chosen on coco128 ``train`` only (pointing game, 301 trials; ``val`` figures in README "Explain").
Slice 1 (Grad-CAM alone): at 320 px ``logit`` 0.47-0.50 vs ``cosine`` 0.34; long side 448: 0.54, 640: 0.63
(``conv_head``). Slice 2, at 640 px, one forward and backward pass: Grad-CAM on ``bn2`` (``conv_head`` after its
batch norm and activation) 0.62, HiResCAM on ``blocks.4`` (stride 16) 0.61, their geometric mean **0.67**
(arithmetic mean 0.67; with ``conv_head`` 0.66; LayerCAM or Grad-CAM++ on ``blocks.4`` 0.60-0.64; a third map
from ``blocks.3`` 0.64); input at 896 px 0.58, 512 px 0.65; 2 scales (512 + 640) 0.68 at twice the cost;
Gaussian smoothing of the fused map 0.64-0.65. Centre baseline on train: 0.39.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError, UnknownNameError
from multimodal.explain.base import Explanation, PreparedImage, check_target
from multimodal.explain.gradcam import activations_and_gradients, cam, hires_cam
from multimodal.explain.linear import LinearTarget, check_linear, linear_scores, lite_views
from multimodal.explain.post import finish, fuse_geometric
from multimodal.explain.prep import letterbox, thin_note

SCORE_MODES = ("logit", "cosine", "logprob")
#: Boxes of the fused map are drawn at this share of its maximum: the geometric mean is sharper than Grad-CAM
#: alone, so its boxes at 0.5 cover only the hottest part (coco128 train, best IoU: 0.11 at 0.5, 0.25 at 0.15).
FUSED_BOX_THRESHOLD = 0.15
#: EfficientNet-Lite's TF preprocessing, (x - 127) / 128, written as mean/std over x / 255.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@dataclass(frozen=True)
class CnnExplainConfig:
    """layer: the module (a name from ``model.named_modules()``) whose activations Grad-CAM weights.
    detail_layer: a finer layer (stride 16 for ``blocks.4``) whose HiResCAM map is fused with the Grad-CAM map by
    a geometric mean, so the peak sits where both the class evidence and the finer detail are; ``None``: Grad-CAM
    alone. Both come from one forward and one backward pass.
    long_side: the image's long side in pixels as the network reads it (a CNN takes any size; more pixels give
    a finer map and cost time). score: see :data:`SCORE_MODES`."""

    layer: str = "bn2"
    detail_layer: str | None = "blocks.4"
    long_side: int = 640
    score: str = "logit"

    def __post_init__(self) -> None:
        if self.score not in SCORE_MODES:
            raise ConfigError(f"score mode {self.score!r} is not one of {', '.join(SCORE_MODES)}")
        if not 32 <= self.long_side <= 1024:
            raise ConfigError(f"long_side must be in 32..1024 pixels, got {self.long_side}")


class CnnExplainer:
    """Grad-CAM over a timm-style classifier (``forward_features``, ``forward_head(pre_logits=True)``,
    ``get_classifier()``) whose ``num_concepts`` logits and pooled features form the image embedding."""

    def __init__(
        self,
        model,
        *,
        num_concepts: int,
        visual_dim: int,
        temperature: float,
        semantic_weight: float,
        config: CnnExplainConfig = CnnExplainConfig(),
        min_side: int = 32,
    ) -> None:
        modules = dict(model.named_modules())
        for name in filter(None, (config.layer, config.detail_layer)):
            if name not in modules:
                names = [n for n in modules if n and n.count(".") <= 1][:40]
                raise UnknownNameError(f"layer {name!r} not found in the model. Available: {', '.join(names)}")
        self._model = model
        self._layers = [modules[n] for n in filter(None, (config.layer, config.detail_layer))]
        self.config = config
        self.num_concepts = num_concepts
        self.dim = num_concepts + visual_dim
        self._temperature = temperature
        self._semantic_weight = semantic_weight
        self._min_side = min_side
        detail = f"*hirescam:{config.detail_layer}" if config.detail_layer else ""
        self.name = f"gradcam:{config.layer}{detail}:{config.score}"

    def prepare(self, image: Image.Image) -> PreparedImage:
        return letterbox(image, long_side=self.config.long_side, min_side=self._min_side, mean=LITE_MEAN, std=LITE_STD)

    def explain(self, prepared: PreparedImage, target: np.ndarray | LinearTarget) -> Explanation:
        import torch

        param = next(self._model.parameters())
        x = torch.from_numpy(np.ascontiguousarray(prepared.pixels)).permute(2, 0, 1)[None]
        x = x.to(param.device, param.dtype)
        if isinstance(target, LinearTarget):
            dims = {"embedding": self.dim, "lite-views": 2 * (self.dim - self.num_concepts) + self.num_concepts}
            tt = check_linear(target, dims, "lite explain")
        else:
            tt = torch.from_numpy(check_target(target, self.dim, "lite explain")).to(param.device, torch.float32)
        acts, grads, score = activations_and_gradients(lambda inp: self._score(inp, tt), x, self._layers)
        raw = cam(acts[0], grads[0])
        if len(acts) > 1:
            raw = fuse_geometric(raw, hires_cam(acts[1], grads[1]))
        heat, reason = finish(raw, prepared)
        notes = tuple(n for n in (thin_note(prepared.size, self._min_side), getattr(target, "note", None)) if n)
        box = FUSED_BOX_THRESHOLD if self.config.detail_layer else 0.5
        return Explanation(heat, reason is not None, reason, self.name, score, notes, box)

    def _score(self, x, target):
        import torch

        pooled = self._model.forward_head(self._model.forward_features(x), pre_logits=True)
        logits = self._model.get_classifier()(pooled).float()[0]
        if isinstance(target, LinearTarget):  # a label set's head: its logit, whatever the score mode
            if target.features == "lite-views":
                concepts = torch.softmax(logits / self._temperature, dim=-1)
                feats = lite_views(pooled.float(), concepts[None], target.concept_weight)
            else:
                feats = self._embedding(logits, pooled)[None]
            return linear_scores(target, feats)[0]
        q = target[: self.num_concepts]
        if self.config.score == "logit":
            return (q * logits).sum() / q.sum().clamp(min=1e-12)
        if self.config.score == "logprob":
            p = torch.softmax(logits, dim=-1)
            return torch.log((q / q.sum().clamp(min=1e-12) * p).sum().clamp(min=1e-30))
        emb = self._embedding(logits, pooled)
        return emb @ target / emb.norm().clamp(min=1e-12)

    def _embedding(self, logits, pooled):
        """The lite joint-space embedding ``(dim,)`` of this view (not unit length): concept block, visual block."""
        import torch

        p = torch.softmax(logits / self._temperature, dim=-1)
        a = (self._semantic_weight**0.5) * p / p.norm().clamp(min=1e-12)
        f = pooled.float()[0]
        b = ((1 - self._semantic_weight) ** 0.5) * f / f.norm().clamp(min=1e-12)
        return torch.cat([a, b])


def lite_explainer(encoder, config: CnnExplainConfig = CnnExplainConfig()) -> CnnExplainer:
    """The Grad-CAM explainer of a built :class:`~multimodal.encoders.lite.LiteEncoder`."""
    params = encoder.params
    return CnnExplainer(
        _classifier_of(encoder),
        num_concepts=encoder.num_concepts,
        visual_dim=encoder.visual_dim,
        temperature=params.image_temperature,
        semantic_weight=params.semantic_weight,
        config=config,
    )


def _classifier_of(encoder):
    # The encoder keeps its network private and exposes no accessor yet (multimodal/encoders is another
    # room's); this is the one place explain reaches in. A public ``LiteEncoder.classifier`` would replace it.
    model = getattr(encoder, "_classifier", None)
    if model is None:
        raise ConfigError(f"encoder {encoder.spec!r} holds no EfficientNet classifier to explain")
    return model
