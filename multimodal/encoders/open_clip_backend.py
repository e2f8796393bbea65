"""open_clip encoders: ``open_clip:MODEL/PRETRAINED``, ``open_clip:MODEL@CHECKPOINT``, ``open_clip:local-dir:DIR``,
``open_clip:hf-hub:ORG/REPO``.

The only module that imports ``open_clip``. Loading (this factory) is separate from inference
(:class:`OpenClipEncoder`); preprocessing is the model's own transform, attached here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

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
from multimodal.errors import ModelUnavailableError, SpecError, UnknownNameError, first_line
from multimodal.hub_cache import repo_cached
from multimodal.runtime import Runtime

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


@dataclass(frozen=True)
class OpenClipTarget:
    """A parsed ``open_clip:`` spec: exactly one of (model + pretrained/checkpoint), local_dir, hf_hub."""

    model: str | None = None
    pretrained: str | None = None
    checkpoint: str | None = None
    local_dir: str | None = None
    hf_hub: str | None = None


def parse_open_clip(rest: str) -> OpenClipTarget:
    """Parse what follows ``open_clip:``. Pure; raises :class:`SpecError` with the accepted forms."""
    forms = (
        "open_clip:MODEL/PRETRAINED (e.g. open_clip:ViT-B-32/laion2b_s34b_b79k), open_clip:MODEL@/path/ckpt.pt, "
        "open_clip:local-dir:/path/to/folder or open_clip:hf-hub:org/repo"
    )
    if not rest:
        raise SpecError(f"empty open_clip spec; use {forms}")
    if rest.startswith("local-dir:"):
        path = rest[len("local-dir:") :]
        if not path:
            raise SpecError(f"'open_clip:local-dir:' needs a folder; use {forms}")
        return OpenClipTarget(local_dir=path)
    if rest.startswith("hf-hub:"):
        repo = rest[len("hf-hub:") :]
        if repo.count("/") != 1:
            raise SpecError(f"'open_clip:{rest}': expected hf-hub:ORG/REPO")
        return OpenClipTarget(hf_hub=repo)
    if "@" in rest:
        model, checkpoint = rest.split("@", 1)
        if not model or not checkpoint:
            raise SpecError(f"'open_clip:{rest}': expected MODEL@/path/to/checkpoint; use {forms}")
        return OpenClipTarget(model=model, checkpoint=checkpoint)
    if rest.startswith(("/", "./", "~")):
        return OpenClipTarget(local_dir=rest)
    model, _, pretrained = rest.partition("/")
    if not pretrained:
        raise SpecError(
            f"'open_clip:{rest}' names no pretrained weights; random weights are never used as a model. "
            f"Use {forms}; `sceneqa models` lists known tags"
        )
    return OpenClipTarget(model=model, pretrained=pretrained)


class OpenClipEncoder:
    """Inference over a loaded open_clip model. Embeddings: float32 ``(n, dim)``, unit rows."""

    score_mode: str
    prompt_templates = CLIP_TEMPLATES

    def __init__(
        self,
        *,
        spec: str,
        model,
        preprocess: Callable[[Image.Image], object],
        tokenizer: Callable[[list[str]], object],
        runtime: Runtime,
        batch_size: int,
        pretrained: bool,
        weights: str,
    ) -> None:
        import torch

        self.spec = spec
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._runtime = runtime
        self._dtype = runtime.torch_dtype
        self._batch_size = batch_size
        self._torch = torch
        with torch.no_grad():
            probe = model.encode_text(tokenizer(["a"]).to(runtime.device))
        self.dim = int(probe.shape[-1])
        self.image_size = short_side(model.visual.image_size)
        self.logit_scale, bias = learned_scale_and_bias(model)
        self.logit_bias = bias or 0.0
        self.score_mode = "sigmoid" if bias is not None else "softmax"
        self.info = EncoderInfo.of(self, runtime, family="open_clip", pretrained=pretrained, weights=weights)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = [np.zeros((0, self.dim), np.float32)]
        for chunk in batched(list(images), self._batch_size):
            pixels = self._torch.stack([self._preprocess(im) for im in chunk])
            out.append(self._forward(self._model.encode_image, pixels.to(self._runtime.device, self._dtype)))
        return l2_normalize(np.concatenate(out))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = [np.zeros((0, self.dim), np.float32)]
        for chunk in batched(list(texts), self._batch_size):
            tokens = self._tokenizer(list(chunk)).to(self._runtime.device)
            out.append(self._forward(self._model.encode_text, tokens))
        return l2_normalize(np.concatenate(out))

    def _forward(self, fn, inputs) -> np.ndarray:
        with self._torch.inference_mode():
            return fn(inputs).float().cpu().numpy()


def load_open_clip(
    rest: str,
    runtime: Runtime,
    options: EncoderOptions,
    *,
    spec: str | None = None,
    pretrained_weights: bool = True,
) -> OpenClipEncoder:
    """Build an :class:`OpenClipEncoder` from what follows ``open_clip:``.

    ``spec``/``pretrained_weights`` let the ``tiny`` factory reuse this exact path for its random-weight
    local folders while reporting honestly what they are.
    """
    target = parse_open_clip(rest)
    import open_clip

    name, kwargs, weights = _resolve(target, open_clip, options)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, device="cpu", **kwargs)
        tokenizer = open_clip.get_tokenizer(name)
    except (RuntimeError, OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"open_clip:{rest}: weights could not be loaded ({first_line(exc)}). With no internet, download them "
            "on a connected machine into the Hugging Face cache (~/.cache/huggingface) or a folder, then use "
            "open_clip:local-dir:/path or open_clip:MODEL@/path/ckpt; or use --tier lite"
        ) from exc
    model = model.eval().to(device=runtime.device, dtype=runtime.torch_dtype)
    return OpenClipEncoder(
        spec=spec or f"open_clip:{rest}",
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        runtime=runtime,
        batch_size=options.batch_size,
        pretrained=pretrained_weights,
        weights=weights,
    )


def _resolve(target: OpenClipTarget, open_clip, options: EncoderOptions) -> tuple[str, dict, str]:
    """Map a target to open_clip's (model_name, kwargs, description of the weights)."""
    if target.local_dir is not None:
        folder = Path(target.local_dir).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailableError(f"open_clip:local-dir:{folder}: no open_clip_config.json in that folder")
        if not any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir()):
            # open_clip would only warn and go on with random weights; we refuse.
            raise ModelUnavailableError(
                f"open_clip:local-dir:{folder}: no weights file (*.safetensors, *.bin, *.pth) in that folder"
            )
        return f"local-dir:{folder}", {}, f"local folder {folder}"
    if target.hf_hub is not None:
        if options.local_files_only and not repo_cached(target.hf_hub, "open_clip_config.json"):
            raise ModelUnavailableError(f"open_clip:hf-hub:{target.hf_hub} is not in the local cache (offline)")
        return f"hf-hub:{target.hf_hub}", {}, f"hf-hub:{target.hf_hub}"
    model = target.model or ""
    known = open_clip.list_models()
    if model not in known:
        raise UnknownNameError(f"open_clip model {model!r} not found. Available: {', '.join(known)}")
    if target.checkpoint is not None:
        ckpt = Path(target.checkpoint).expanduser()
        if not ckpt.is_file():
            raise ModelUnavailableError(f"open_clip:{model}@{ckpt}: checkpoint file not found")
        return model, {"pretrained": str(ckpt)}, f"checkpoint {ckpt}"
    tags = open_clip.list_pretrained_tags_by_model(model)
    if target.pretrained not in tags:
        raise UnknownNameError(
            f"open_clip model {model!r} has no pretrained tag {target.pretrained!r}. Available: {', '.join(tags)}"
        )
    if options.local_files_only and not open_clip_weights_cached(model, target.pretrained):
        raise ModelUnavailableError(
            f"open_clip:{model}/{target.pretrained} is not in the local cache and downloads are off"
        )
    return model, {"pretrained": target.pretrained}, f"{model}/{target.pretrained} (Hugging Face cache)"


def open_clip_weights_cached(model: str, tag: str) -> bool:
    """Whether the weights of ``model``/``tag`` are already in the Hugging Face cache (no network)."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag) or {}
    repo = cfg.get("hf_hub", "")
    if not repo:
        return False
    repo = repo.rstrip("/")
    filename = None
    if "/" in repo and repo.count("/") >= 2:  # "org/repo/filename" form
        repo, filename = repo.rsplit("/", 1)
    candidates = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    return any(repo_cached(repo, name) for name in candidates if name)
