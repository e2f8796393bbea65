"""VLM speed at full size with random weights: SmolVLM-256M's real dimensions (``tiny:hf/smolvlm-256m``),
a 512x512 image and ~200 tokens of context. Time to first token (prefill + one token) and decode tokens/s
for sceneqa's path (its runtime precision, image size capped before tiling) against a plain fp32
``generate`` on the same inputs, and against plain fp32 with the processor's own defaults (which upscale
the image to 2048 px and split it into 16 tiles plus a global view), all in one run."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from multimodal.ask.answers import Evidence


def context_of_tokens(tokenizer, n: int) -> str:
    words, text = [], ""
    i = 0
    while len(tokenizer(text)["input_ids"]) < n:
        i += 1
        words.append(f"line {i}: valve {i % 40} inspected, seal intact, torque {40 + i % 9} Nm;")
        text = " ".join(words)
    return text


def _time_generate(model, inputs, new_tokens: int) -> float:
    import torch

    t0 = time.perf_counter()
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    return time.perf_counter() - t0


def measure(model, inputs, new_tokens: int, repeats: int, decode: bool = True) -> dict[str, float]:
    """Best-of-``repeats`` time to first token; decode tokens/s from the extra time of ``new_tokens``."""
    _time_generate(model, inputs, 1)  # warm-up
    ttft = min(_time_generate(model, inputs, 1) for _ in range(repeats))
    rate = float("nan")
    if decode:
        total = min(_time_generate(model, inputs, new_tokens) for _ in range(repeats))
        rate = (new_tokens - 1) / (total - ttft) if total > ttft else float("nan")
    return {
        "ttft_s": ttft,
        "tokens_per_s": rate,
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "image_tiles": int(inputs["pixel_values"].shape[1]) if "pixel_values" in inputs else 0,
    }


def run_vlm_bench(services, arch: str, new_tokens: int, repeats: int, context_tokens: int) -> list[dict]:
    import torch
    from transformers import AutoModelForImageTextToText

    from multimodal.ask.answerers import create_answerer
    from multimodal.ask.vlm.tiny import tiny_vlm_folder

    ours = create_answerer(f"tiny:hf/{arch}", services.answerer_needs())
    folder = tiny_vlm_folder(services.encoder_options(), arch)
    processor = ours._processor
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8))
    evidence = [
        Evidence("image", "image:1", "photo.jpg"),
        Evidence("context", "inspection.log:L1-L40", context_of_tokens(processor.tokenizer, context_tokens)),
    ]
    question = "Is the seal on valve 3 intact?"
    rows = [
        {
            "pipeline": f"sceneqa ({services.runtime.precision}, image capped)",
            **measure(ours._model, ours.prepare(question, [image], evidence), new_tokens, repeats),
        }
    ]
    plain = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval()
    same_inputs = {
        k: (v.float() if v.is_floating_point() else v) for k, v in ours.prepare(question, [image], evidence).items()
    }
    rows.append({"pipeline": "plain generate fp32, same inputs", **measure(plain, same_inputs, new_tokens, repeats)})
    from multimodal.ask.vlm.prompt import INSTRUCTIONS, user_text

    messages = [
        {"role": "system", "content": [{"type": "text", "text": INSTRUCTIONS}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user_text(question, evidence)}]},
    ]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    default_inputs = processor(text=prompt, images=[[image]], return_tensors="pt")
    rows.append(
        {
            "pipeline": "plain generate fp32, processor defaults",
            **measure(plain, dict(default_inputs), new_tokens, 1, decode=False),
        }
    )
    return rows
