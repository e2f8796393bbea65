"""Encoder factory, spec parsing, and the tiny open_clip / hf encoders through the real loaders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multimodal.encoders.base import Encoder, EncoderOptions, l2_normalize
from multimodal.encoders.factory import create_encoder, split_spec
from multimodal.encoders.open_clip_backend import OpenClipTarget, load_open_clip, parse_open_clip
from multimodal.errors import ModelUnavailableError, SpecError, UnknownNameError
from multimodal.runtime import Runtime
from tests.image_corpus import gradient


@pytest.mark.parametrize(
    ("rest", "target"),
    [
        ("ViT-B-32/laion2b_s34b_b79k", OpenClipTarget(model="ViT-B-32", pretrained="laion2b_s34b_b79k")),
        ("ViT-B-32@/models/clip.pt", OpenClipTarget(model="ViT-B-32", checkpoint="/models/clip.pt")),
        ("local-dir:/models/clip", OpenClipTarget(local_dir="/models/clip")),
        ("/models/clip", OpenClipTarget(local_dir="/models/clip")),
        ("hf-hub:timm/vit_b32.laion2b", OpenClipTarget(hf_hub="timm/vit_b32.laion2b")),
    ],
)
def test_open_clip_specs_parse(rest, target):
    assert parse_open_clip(rest) == target


@pytest.mark.parametrize(
    ("rest", "match"),
    [
        ("", "empty open_clip spec"),
        ("ViT-B-32", "names no pretrained weights; random weights are never used"),
        ("ViT-B-32@", "expected MODEL@/path/to/checkpoint"),
        ("hf-hub:nope", "expected hf-hub:ORG/REPO"),
    ],
)
def test_bad_open_clip_specs_say_what_is_accepted(rest, match):
    with pytest.raises(SpecError, match=match):
        parse_open_clip(rest)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown encoder family 'clip'.*Available: open_clip, hf, lite, tiny"):
        split_spec("clip:ViT-B-32")
    with pytest.raises(SpecError, match="empty encoder spec"):
        split_spec("  ")
    assert split_spec("lite") == ("lite", "")


def test_unknown_open_clip_model_and_tag(cpu32, options):
    with pytest.raises(UnknownNameError, match="open_clip model 'ViT-Q-99' not found. Available: .*ViT-B-32"):
        create_encoder("open_clip:ViT-Q-99/foo", cpu32, options)
    with pytest.raises(UnknownNameError, match="has no pretrained tag 'nope'. Available: .*laion2b_s34b_b79k"):
        create_encoder("open_clip:ViT-B-32/nope", cpu32, options)


def test_uncached_full_model_offline_is_a_clear_error(cpu32, options, monkeypatch):
    from multimodal.encoders import open_clip_backend

    monkeypatch.setattr(open_clip_backend, "open_clip_weights_cached", lambda model, tag: False)
    with pytest.raises(ModelUnavailableError, match="not in the local cache and downloads are off"):
        create_encoder("open_clip:ViT-B-32/laion2b_s34b_b79k", cpu32, options)


def test_local_folder_without_weights_is_refused_not_randomised(tmp_path, cpu32, options):
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}))
    with pytest.raises(ModelUnavailableError, match="no weights file"):
        load_open_clip(f"local-dir:{tmp_path}", cpu32, options)
    with pytest.raises(ModelUnavailableError, match="no open_clip_config.json"):
        load_open_clip(f"local-dir:{tmp_path / 'missing'}", cpu32, options)
    with pytest.raises(ModelUnavailableError, match="checkpoint file not found"):
        load_open_clip(f"ViT-B-32@{tmp_path / 'nope.pt'}", cpu32, options)


@pytest.fixture(scope="module", params=["tiny:open_clip", "tiny:hf"])
def tiny(request, cpu32, options) -> Encoder:
    return create_encoder(request.param, cpu32, options)


def test_tiny_encoders_meet_the_protocol(tiny):
    assert isinstance(tiny, Encoder)
    assert tiny.info.pretrained is False and "local folder" in tiny.info.weights
    imgs = tiny.embed_images([gradient(seed=s) for s in range(3)])
    txt = tiny.embed_texts(["a cat", "a dog"])
    for emb, n in ((imgs, 3), (txt, 2)):
        assert emb.shape == (n, tiny.dim) and emb.dtype == np.float32
        assert np.all(np.isfinite(emb))
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert tiny.embed_images([]).shape == (0, tiny.dim)


def test_tiny_encoders_are_deterministic_and_batch_invariant(tiny):
    imgs = [gradient(seed=s) for s in range(5)]
    together = tiny.embed_images(imgs)
    one_by_one = np.concatenate([tiny.embed_images([im]) for im in imgs])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tiny.embed_texts(["x y z"]), tiny.embed_texts(["x y z"]), atol=0)


def test_tiny_open_clip_golden_values(cpu32, options):
    """Seeded random weights give fixed embeddings; a change here means loading or preprocessing changed."""
    enc = create_encoder("tiny:open_clip", cpu32, options)
    img = enc.embed_images([gradient(seed=0)])[0]
    txt = enc.embed_texts(["a photo of a cat."])[0]
    np.testing.assert_allclose(img[:4], GOLDEN_OPEN_CLIP_IMAGE, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(txt[:4], GOLDEN_OPEN_CLIP_TEXT, rtol=1e-3, atol=1e-4)


def test_hf_tiny_tokenizes_like_open_clip(cpu32, options):
    """The tiny HF CLIP's tokenizer is built from open_clip's BPE file: same ids for the same text."""
    import open_clip

    hf = create_encoder("tiny:hf", cpu32, options)
    text = "A photo of a cat, sitting on 2 mats!"
    ours = hf._processor.tokenizer(text)["input_ids"]
    ref = open_clip.get_tokenizer("ViT-B-32")([text])[0]
    assert ours == [int(t) for t in ref[: len(ours)]]


def test_bf16_runtime_agrees_with_fp32(options):
    f32 = create_encoder("tiny:open_clip", Runtime("cpu", "fp32"), options)
    b16 = create_encoder("tiny:open_clip", Runtime("cpu", "bf16"), options)
    imgs = [gradient(seed=s) for s in range(4)]
    cos = np.sum(f32.embed_images(imgs) * b16.embed_images(imgs), axis=1)
    assert cos.min() > 0.99


def test_l2_normalize_keeps_zero_rows():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert out.dtype == np.float32


def test_unknown_tiny_family(cpu32, options):
    with pytest.raises(UnknownNameError, match="Available: tiny:open_clip, tiny:open_clip/ARCH, tiny:hf"):
        create_encoder("tiny:timm", cpu32, options)


def test_options_are_validated():
    from multimodal.errors import ConfigError

    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        EncoderOptions(batch_size=0)


GOLDEN_OPEN_CLIP_IMAGE = [-0.00992, 0.10225, -0.07511, 0.19760]
GOLDEN_OPEN_CLIP_TEXT = [-0.12391, 0.24453, -0.09906, 0.21075]
