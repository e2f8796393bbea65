"""``tiny`` encoders: random weights from small (or real-sized) configs of real families, seeded.

Each is written once as a *local model folder* under the cache dir and then loaded by the very same
loader a user's local model goes through (``open_clip:local-dir:`` / ``hf:/path``), so tests exercise
the ``full`` code path. They are labelled ``pretrained=False`` everywhere; their scores mean nothing.

Specs: ``tiny:open_clip`` (a 2-layer ViT), ``tiny:open_clip/ViT-B-32`` (the real ViT-B/32 architecture,
random weights; for speed benchmarks), ``tiny:hf`` (a 2-layer transformers CLIPModel).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

from multimodal.encoders.base import EncoderOptions
from multimodal.errors import SpecError, UnknownNameError
from multimodal.runtime import Runtime

FORMAT = "v1"

TINY_OPEN_CLIP_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def tiny_folder(options: EncoderOptions, rest: str) -> Path:
    """The local model folder a tiny spec (what follows ``tiny:``) is written to."""
    family, _, arch = rest.partition("/")
    key = f"open_clip-{arch or 'tiny'}" if family == "open_clip" else "hf-clip"
    return options.resolved_cache_dir / "tiny" / FORMAT / f"{key}-seed{options.seed}"


def load_tiny(rest: str, runtime: Runtime, options: EncoderOptions):
    """Build a tiny encoder from what follows ``tiny:`` (``open_clip``, ``open_clip/ARCH``, ``hf``)."""
    family, _, arch = rest.partition("/")
    spec = f"tiny:{rest}"
    if family == "open_clip":
        from multimodal.encoders.open_clip_backend import load_open_clip

        folder = ensure_folder(tiny_folder(options, rest), lambda d: _write_open_clip(d, arch, options.seed))
        return load_open_clip(f"local-dir:{folder}", runtime, options, spec=spec, pretrained_weights=False)
    if family == "hf":
        if arch:
            raise SpecError(f"{spec}: tiny:hf takes no architecture; use tiny:hf")
        from multimodal.encoders.hf_backend import load_hf

        folder = ensure_folder(tiny_folder(options, rest), lambda d: _write_hf_clip(d, options.seed))
        return load_hf(str(folder), runtime, options, spec=spec, pretrained_weights=False)
    raise UnknownNameError(f"unknown tiny encoder {spec!r}. Available: tiny:open_clip, tiny:open_clip/ARCH, tiny:hf")


def ensure_folder(folder: Path, write) -> Path:
    """Return ``folder``, writing it atomically (temp dir + rename) if it is not complete yet."""
    root = folder.parent
    key = folder.name
    if (folder / "COMPLETE").is_file():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        write(tmp)
        (tmp / "COMPLETE").write_text("random weights, seeded; not a pretrained model\n")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process won the race; its folder is as good as ours
            if not (folder / "COMPLETE").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _write_open_clip(folder: Path, arch: str, seed: int) -> None:
    import open_clip
    import torch

    if arch:
        cfg = open_clip.get_model_config(arch)
        if cfg is None:
            raise UnknownNameError(f"open_clip architecture {arch!r} not found. Available: {open_clip.list_models()}")
    else:
        cfg = TINY_OPEN_CLIP_CFG
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    if "hf_model_name" in cfg.get("text_cfg", {}) or "timm_model_name" in cfg.get("vision_cfg", {}):
        raise SpecError(f"tiny:open_clip/{arch}: only architectures with open_clip's own towers can be built offline")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.CLIP(**{k: v for k, v in cfg.items() if k != "custom_text"})
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))


def _write_hf_clip(folder: Path, seed: int) -> None:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    write_clip_bpe(folder)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))  # reads vocab.json + merges.txt (transformers 4 and 5)
    config = CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 77,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def write_clip_bpe(folder: Path) -> None:
    """Write CLIP's BPE vocabulary (vocab.json, merges.txt) from the copy that ships inside open_clip.

    It is the same 49,408-token vocabulary OpenAI's CLIP tokenizer uses, so the tiny HF model tokenises
    text exactly as a real one does.
    """
    import open_clip.tokenizer as oct

    bpe_path = Path(oct.__file__).with_name("bpe_simple_vocab_16e6.txt.gz")
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    byte_chars = list(oct.bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
