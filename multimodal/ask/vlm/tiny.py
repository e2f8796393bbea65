"""``tiny:hf`` and ``tiny:hf/smolvlm-256m`` VLMs: random weights of the Idefics3 (SmolVLM) family, seeded,
written once as a local model folder (config, safetensors, CLIP-BPE tokenizer with the chat template,
processor) and then loaded by the same code as any ``hf:`` model. Their text is noise; they exist to test
the mechanics (tiny) and to measure the speed of the real architecture (``smolvlm-256m``: SmolVLM-256M's
published dimensions)."""

from __future__ import annotations

import json
from pathlib import Path

from multimodal.encoders.base import EncoderOptions
from multimodal.errors import UnknownNameError

FORMAT = "v2"

#: A chat template in SmolVLM's format: "User:<image>text<end_of_utterance>\nAssistant:".
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

ARCHS: dict[str, dict] = {
    "tiny": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
        },
        "vision": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "patch_size": 8,
            "image_size": 64,
        },
        "scale_factor": 2,
    },
    # SmolVLM-256M-Instruct's dimensions (SmolLM2-135M-style text model, SigLIP-B/16-style vision at 512 px).
    "smolvlm-256m": {
        "text": {
            "hidden_size": 576,
            "intermediate_size": 1536,
            "num_hidden_layers": 30,
            "num_attention_heads": 9,
            "num_key_value_heads": 3,
            "max_position_embeddings": 8192,
            "rope_theta": 100000.0,
            "tie_word_embeddings": True,
            "rms_norm_eps": 1e-5,
        },
        "vision": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "patch_size": 16,
            "image_size": 512,
        },
        "scale_factor": 4,
    },
}


def tiny_vlm_folder(options: EncoderOptions, arch: str) -> Path:
    if arch not in ARCHS:
        raise UnknownNameError(f"tiny VLM architecture {arch!r} not found. Available: {', '.join(ARCHS)}")
    return options.resolved_cache_dir / "tiny" / FORMAT / f"vlm-{arch}-seed{options.seed}"


def write_tiny_vlm(folder: Path, arch: str, seed: int) -> None:
    """Write config, random weights, tokenizer and processor of ``arch`` into ``folder``."""
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    spec = ARCHS[arch]
    tokenizer = clip_bpe_tokenizer(folder)
    vision = dict(spec["vision"])
    image_seq_len = (vision["image_size"] // vision["patch_size"]) ** 2 // spec["scale_factor"] ** 2
    text = {
        **spec["text"],
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
    }
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 4 * vision["image_size"]},
        max_image_size={"longest_edge": vision["image_size"]},
        do_image_splitting=True,
    )
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len, chat_template=CHAT_TEMPLATE
    )
    config = Idefics3Config(
        text_config=text,
        vision_config=vision,
        scale_factor=spec["scale_factor"],
        image_token_id=processor.image_token_id,
        tie_word_embeddings=text.get("tie_word_embeddings", False),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Idefics3ForConditionalGeneration(config)
    model.generation_config.eos_token_id = text["eos_token_id"]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "sceneqa_tiny.json").write_text(json.dumps({"arch": arch, "seed": seed, "random_weights": True}))


def clip_bpe_tokenizer(folder: Path):
    """CLIP's 49,408-token BPE vocabulary (shipped inside open_clip; real English token granularity, about
    SmolVLM's vocabulary size) plus the special tokens the Idefics3 processor expects."""
    from transformers import CLIPTokenizerFast

    from multimodal.encoders.tiny import write_clip_bpe

    write_clip_bpe(folder)
    tok = CLIPTokenizerFast.from_pretrained(str(folder))
    specials = ["<|im_start|>", "<end_of_utterance>", "<image>", "<fake_token_around_image>", "<global-img>"]
    specials += [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tok.add_special_tokens({"additional_special_tokens": specials})
    return tok
