"""Parity of the full-tier code path with the libraries' own reference code, on the same random weights.

The tiny twins are local model folders loaded by the very loaders a user's ``open_clip:`` / ``hf:`` model goes
through; here the same folders are loaded a second time with plain open_clip / transformers calls, and
sceneqa's embeddings (fp32, CPU) and generated token ids must equal what that reference code gives.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from multimodal.ask.answers import Evidence
from multimodal.ask.vlm.hf_vlm import VlmOptions, load_hf_vlm
from multimodal.ask.vlm.prompt import INSTRUCTIONS
from multimodal.ask.vlm.tiny import tiny_vlm_folder, write_tiny_vlm
from multimodal.encoders.factory import create_encoder
from multimodal.encoders.tiny import ensure_folder, tiny_folder
from tests.image_corpus import gradient

ATOL = 1e-5
TEXTS = ["a photo of a cat.", "a red circle next to a blue square", "x", "an inspection log of valve 7, seal cracked"]


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    """Different sizes and aspect ratios (each preprocessor resizes and crops its own way), one greyscale."""
    return [gradient(96, 64, 0), gradient(40, 120, 1), gradient(300, 300, 2), gradient(64, 48, 3).convert("L")]


def normalised(x: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(x.float(), dim=-1).numpy()


def features(out) -> torch.Tensor:
    """transformers 4 returns the projected embedding; 5 a ModelOutput whose pooler_output it is."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def test_open_clip_encoder_equals_open_clip_reference(cpu32, options, images):
    import open_clip

    ours = create_encoder("tiny:open_clip", cpu32, options)
    name = f"local-dir:{tiny_folder(options, 'open_clip')}"
    model, _, preprocess = open_clip.create_model_and_transforms(name, device="cpu")
    tokenizer = open_clip.get_tokenizer(name)
    model.eval()
    with torch.no_grad():
        ref_images = normalised(model.encode_image(torch.stack([preprocess(im) for im in images])))
        ref_texts = normalised(model.encode_text(tokenizer(TEXTS)))
    np.testing.assert_allclose(ours.embed_images(images), ref_images, rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.embed_texts(TEXTS), ref_texts, rtol=0, atol=ATOL)


def test_hf_clip_encoder_equals_transformers_reference(cpu32, options, images):
    from transformers import CLIPModel, CLIPProcessor

    ours = create_encoder("tiny:hf", cpu32, options)
    folder = str(tiny_folder(options, "hf"))
    model = CLIPModel.from_pretrained(folder).eval()
    processor = CLIPProcessor.from_pretrained(folder)
    with torch.no_grad():
        ref_images = normalised(features(model.get_image_features(**processor(images=images, return_tensors="pt"))))
        text_inputs = processor(text=TEXTS, return_tensors="pt", padding=True)
        ref_texts = normalised(features(model.get_text_features(**text_inputs)))
    np.testing.assert_allclose(ours.embed_images(images), ref_images, rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.embed_texts(TEXTS), ref_texts, rtol=0, atol=ATOL)


def test_hf_vlm_tokens_equal_plain_generate(cpu32, options, monkeypatch):
    from transformers import AutoModelForImageTextToText, AutoProcessor, Idefics3ForConditionalGeneration

    folder = ensure_folder(tiny_vlm_folder(options, "tiny"), lambda d: write_tiny_vlm(d, "tiny", options.seed))
    new_tokens = 8
    answerer = load_hf_vlm(str(folder), cpu32, options, VlmOptions(max_new_tokens=new_tokens), pretrained=False)
    image = gradient(100, 80, 4)  # under max_image_side: not reduced; 100 px -> two 64-px tiles per side
    evidence = [Evidence("image", "image:1", "scene.png"), Evidence("context", "log.txt:L5", "valve 7 seal cracked")]

    calls = []  # what the answerer's model.generate was called with, and what it returned
    real_generate = Idefics3ForConditionalGeneration.generate

    def spy(model, **kwargs):
        out = real_generate(model, **kwargs)
        calls.append((kwargs, out))
        return out

    with monkeypatch.context() as mp:
        mp.setattr(Idefics3ForConditionalGeneration, "generate", spy)
        answerer.answer("what is shown?", [image], evidence)
    ((used, out),) = calls
    # the answerer's only other generate kwargs are outputs (scores) and a stop criterion that fires only on a
    # passed deadline or a client gone (neither here): greedy decoding with its token cap is what it runs
    assert used["do_sample"] is False and used["max_new_tokens"] == new_tokens

    model = AutoModelForImageTextToText.from_pretrained(str(folder), dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(str(folder))
    user = (
        "<evidence>\n[1] (image:1) scene.png\n[2] (log.txt:L5) valve 7 seal cracked\n</evidence>\n"
        "Question: what is shown?"
    )
    messages = [
        {"role": "system", "content": [{"type": "text", "text": INSTRUCTIONS}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user}]},
    ]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(
        text=prompt, images=[[image]], return_tensors="pt", do_image_splitting=True, size={"longest_edge": 128}
    )
    for key, value in inputs.items():
        torch.testing.assert_close(used[key], value, rtol=0, atol=0, msg=f"model input {key!r} differs")
    with torch.no_grad():
        ref = model.generate(**inputs, do_sample=False, max_new_tokens=new_tokens)
    prompt_len = inputs["input_ids"].shape[1]
    assert out.sequences[0, prompt_len:].tolist() == ref[0, prompt_len:].tolist()
    assert len(ref[0, prompt_len:]) > 0
