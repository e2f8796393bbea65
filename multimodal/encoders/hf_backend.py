"""Hugging Face transformers encoders: ``hf:REPO_OR_DIR`` for CLIP-family and SigLIP-family models.

The only module that imports ``transformers`` for encoders. ``get_image_features`` /
``get_text_features`` give the projected embeddings; SigLIP models score with a sigmoid
(``logit_scale``, ``logit_bias``), CLIP models with a softmax.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.encoders.base import (
    CLIP_TEMPLATES,
    EncoderInfo,
    EncoderOptions,
    batched,
    l2_normalize,
    learned_scale_and_bias,
    short_side,
)
from multimodal.errors import ModelUnavailableError, SpecError, first_line
from multimodal.runtime import Runtime

#: model_type -> whether it scores with a sigmoid (SigLIP) rather than a softmax (CLIP).
SUPPORTED_MODEL_TYPES: dict[str, bool] = {
    "clip": False,
    "chinese_clip": False,
    "metaclip_2": False,
    "siglip": True,
    "siglip2": True,
}

SIGLIP_TEMPLATES: tuple[str, ...] = ("This is a photo of {}.", "a photo of a {}.")


class HfEncoder:
    """Inference over a loaded transformers dual encoder. Embeddings: float32 ``(n, dim)``, unit rows."""

    def __init__(
        self,
        *,
        spec: str,
        model,
        processor,
        runtime: Runtime,
        batch_size: int,
        sigmoid: bool,
        pretrained: bool,
        weights: str,
    ) -> None:
        import torch

        self.spec = spec
        self._model = model
        self._processor = processor
        self._runtime = runtime
        self._batch_size = batch_size
        self._torch = torch
        self._sigmoid = sigmoid
        self.score_mode = "sigmoid" if sigmoid else "softmax"
        self.prompt_templates = SIGLIP_TEMPLATES if sigmoid else CLIP_TEMPLATES
        self.logit_scale, bias = learned_scale_and_bias(model)
        self.logit_bias = bias or 0.0
        self.dim = int(self.embed_texts(["a"]).shape[1])
        self.image_size = short_side(getattr(model.config.vision_config, "image_size", 224))
        self.info = EncoderInfo.of(self, runtime, family="hf", pretrained=pretrained, weights=weights)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = [np.zeros((0, self.dim), np.float32)]
        for chunk in batched(list(images), self._batch_size):
            pixels = self._processor.image_processor(images=list(chunk), return_tensors="pt")["pixel_values"]
            pixels = pixels.to(self._runtime.device, self._runtime.torch_dtype)
            out.append(self._features(self._model.get_image_features, pixel_values=pixels))
        return l2_normalize(np.concatenate(out))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for chunk in batched(list(texts), self._batch_size):
            # SigLIP was trained on max_length-padded text; CLIP uses an attention mask.
            padding = "max_length" if self._sigmoid else True
            tokens = self._processor.tokenizer(
                list(chunk),
                padding=padding,
                truncation=True,
                return_tensors="pt",
                max_length=getattr(self._model.config.text_config, "max_position_embeddings", 77),
            )
            tokens = {k: v.to(self._runtime.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
            if self._sigmoid:
                tokens.pop("attention_mask", None)
            out.append(self._features(self._model.get_text_features, **tokens))
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    def _features(self, fn, **inputs) -> np.ndarray:
        with self._torch.inference_mode():
            result = fn(**inputs)
        # transformers 5 returns a ModelOutput whose pooler_output is the projected embedding.
        tensor = result if isinstance(result, self._torch.Tensor) else result.pooler_output
        return tensor.float().cpu().numpy()


def load_hf(
    rest: str,
    runtime: Runtime,
    options: EncoderOptions,
    *,
    spec: str | None = None,
    pretrained_weights: bool = True,
) -> HfEncoder:
    """Build an :class:`HfEncoder` from a hub repo id or a local folder (what follows ``hf:``)."""
    if not rest:
        raise SpecError("empty hf spec; use hf:ORG/REPO (e.g. hf:openai/clip-vit-base-patch32) or hf:/path/to/folder")
    from transformers import AutoConfig, AutoModel, AutoProcessor

    local = Path(rest).expanduser()
    source = str(local) if local.exists() else rest
    local_only = options.local_files_only or local.exists()
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"hf:{rest}: model config could not be loaded ({first_line(exc)}). Without internet, copy the model "
            "folder to this machine and use hf:/path/to/folder, or use --tier lite"
        ) from exc
    model_type = getattr(config, "model_type", "?")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise SpecError(
            f"hf:{rest} is a {model_type!r} model; image-text encoders must be one of "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    try:
        model = AutoModel.from_pretrained(source, local_files_only=local_only, dtype=runtime.torch_dtype)
        processor = AutoProcessor.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"hf:{rest}: weights or processor could not be loaded ({first_line(exc)})") from exc
    model = model.eval().to(runtime.device)
    return HfEncoder(
        spec=spec or f"hf:{rest}",
        model=model,
        processor=processor,
        runtime=runtime,
        batch_size=options.batch_size,
        sigmoid=SUPPORTED_MODEL_TYPES[model_type],
        pretrained=pretrained_weights,
        weights=f"local folder {local}" if local.exists() else f"{rest} (Hugging Face cache)",
    )
