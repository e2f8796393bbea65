"""Heatmaps for open_clip ViT image towers (the ``full`` tier; ``tiny:open_clip`` runs the same code).

Two methods (``VitMethod``):

- ``gradcam``: Grad-CAM over the patch tokens a transformer block outputs (the recipe pytorch-grad-cam uses for
  ViTs): the score is the cosine of the image embedding with the target, its gradient weights each token
  channel, and the weighted sum over channels (after a ReLU) is the map on the patch grid;
- ``similarity``: each patch token taken through the tower's final norm and projection, as if it were the pooled
  token, and its cosine with the target (no gradient; MaskCLIP-style). Negative cosines are kept, min-max scaled.

A label set's head (:class:`~multimodal.explain.linear.LinearTarget`) replaces the cosine by the head's logit of
the embedding, in both methods. ViTs have fixed position embeddings, so the image is letterboxed into the model's
square input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError
from multimodal.explain.base import Explanation, PreparedImage, check_target
from multimodal.explain.gradcam import activation_and_gradient, cam, tokens_to_grid
from multimodal.explain.linear import LinearTarget, check_linear, linear_scores
from multimodal.explain.post import finish
from multimodal.explain.prep import letterbox, thin_note

VIT_METHODS = ("gradcam", "similarity")
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VitExplainConfig:
    """method: see :data:`VIT_METHODS`. block: the transformer block whose output tokens ``gradcam`` weights
    (negative counts from the end; -2 = the input of the last block)."""

    method: str = "gradcam"
    block: int = -2

    def __post_init__(self) -> None:
        if self.method not in VIT_METHODS:
            raise ConfigError(f"ViT explain method {self.method!r} is not one of {', '.join(VIT_METHODS)}")


class VitExplainer:
    """Explains the image tower of an open_clip ``CLIP`` model. Targets are unit rows of its joint space."""

    def __init__(self, model, config: VitExplainConfig = VitExplainConfig()) -> None:
        visual = model.visual
        if not hasattr(visual, "transformer") or not hasattr(visual, "conv1"):
            raise ConfigError(
                f"the image tower {type(visual).__name__} is not an open_clip VisionTransformer; explain supports "
                "ViT towers (ViT-B-32, ViT-L-14 ...) and the lite tier"
            )
        blocks = visual.transformer.resblocks
        if not -len(blocks) <= config.block < len(blocks):
            raise ConfigError(f"block {config.block} is out of range for a tower of {len(blocks)} blocks")
        self._model = model
        self._visual = visual
        self._block = blocks[config.block]
        self.config = config
        size = visual.image_size
        self.input_side = int(size[0] if isinstance(size, (tuple, list)) else size)
        grid = visual.grid_size
        self.grid = (int(grid[0]), int(grid[1])) if isinstance(grid, (tuple, list)) else (int(grid), int(grid))
        self.mean = tuple(getattr(visual, "image_mean", None) or OPENAI_MEAN)
        self.std = tuple(getattr(visual, "image_std", None) or OPENAI_STD)
        self.dim = int(visual.output_dim)
        self.name = f"vit-{config.method}" + (f":block{config.block}" if config.method == "gradcam" else "")

    def prepare(self, image: Image.Image) -> PreparedImage:
        side = self.input_side
        return letterbox(image, long_side=side, min_side=side, mean=self.mean, std=self.std, square=True)

    def explain(self, prepared: PreparedImage, target: np.ndarray | LinearTarget) -> Explanation:
        import torch

        param = next(self._model.parameters())
        x = torch.from_numpy(np.ascontiguousarray(prepared.pixels)).permute(2, 0, 1)[None].to(param.device, param.dtype)
        if isinstance(target, LinearTarget):
            linear = check_linear(target, {"embedding": self.dim}, "ViT explain")
            score_fn = self._linear_scores(linear)
        else:
            tt = torch.from_numpy(check_target(target, self.dim, "ViT explain")).to(param.device, torch.float32)
            score_fn = self._cosines(tt)
        if self.config.method == "gradcam":
            act, grad, score = activation_and_gradient(
                lambda inp: score_fn(self._model.encode_image(inp))[0], x, self._block
            )
            raw = cam(
                tokens_to_grid(self._batch_first(act), self.grid), tokens_to_grid(self._batch_first(grad), self.grid)
            )
        else:
            raw, score = self._patch_similarity(x, score_fn)
        heat, reason = finish(raw, prepared)
        notes = [thin_note(prepared.size, 32), getattr(target, "note", None)]
        return Explanation(heat, reason is not None, reason, self.name, score, tuple(n for n in notes if n))

    @staticmethod
    def _cosines(target):
        """``(n, d)`` embeddings -> ``(n,)`` cosines with the unit ``target``."""

        def fn(emb):
            emb = emb.float()
            return emb @ target / emb.norm(dim=-1).clamp(min=1e-12)

        return fn

    @staticmethod
    def _linear_scores(target: LinearTarget):
        return lambda emb: linear_scores(target, emb)

    def _patch_similarity(self, x, score_fn) -> tuple[np.ndarray, float]:
        import torch

        captured: list = []
        handle = self._visual.transformer.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            with torch.inference_mode():
                pooled = self._model.encode_image(x).float()
                tokens = self._visual.ln_post(self._batch_first(captured[-1]))[:, 1:, :]
                if self._visual.proj is not None:
                    tokens = tokens @ self._visual.proj
                sims = score_fn(tokens.float()[0]).reshape(self.grid).cpu().numpy()
                score = float(score_fn(pooled)[0])
        finally:
            handle.remove()
        return sims, score

    def _batch_first(self, tokens):
        # open_clip >= 2.24 runs its transformer batch-first; older towers are (tokens, batch, channels)
        return tokens if getattr(self._visual.transformer, "batch_first", True) else tokens.transpose(0, 1)


def open_clip_explainer(encoder, config: VitExplainConfig = VitExplainConfig()) -> VitExplainer:
    """The explainer of a built :class:`~multimodal.encoders.open_clip_backend.OpenClipEncoder` (``tiny:open_clip``
    included)."""
    # The encoder keeps its model private and exposes no accessor yet (multimodal/encoders is another room's);
    # this is the one place explain reaches in.
    model = getattr(encoder, "_model", None)
    if model is None or not hasattr(model, "visual"):
        raise ConfigError(f"encoder {encoder.spec!r} holds no open_clip model to explain")
    return VitExplainer(model, config)
