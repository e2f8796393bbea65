"""Teach features and the library use case on the tiny tier; the lite-views features against the lite encoder."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from multimodal.errors import ConfigError
from multimodal.teach.examples import read_examples
from multimodal.teach.features import FeatureSpec, default_spec, extract, lite_view_features
from multimodal.teach.store import load_labelset
from multimodal.teach.teach import TeachOptions, classify_with_labelset, parse_texts, teach
from multimodal.zeroshot import ZeroShotOptions
from tests.test_teach_cli import COLOURS, drawn


def half_and_half(left, right):
    img = Image.new("RGB", (48, 32), right)
    img.paste(left, (0, 0, 24, 32))
    return img


def test_extract_shapes_flips_and_errors(tiny_services, tmp_path):
    enc = tiny_services.encoder
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    sources = [half_and_half((255, 0, 0), (0, 0, 255)), str(bad), half_and_half((0, 255, 0), (0, 0, 0))]
    f = extract(enc, sources, FeatureSpec("embedding", flip=True))
    assert f.indices == (0, 2) and set(f.errors) == {1} and "bad.jpg" in f.errors[1]
    assert f.embedding.shape == f.x.shape == f.x_flip.shape == (2, enc.dim)
    assert np.allclose(f.x, enc.embed_images([sources[0], sources[2]]), atol=1e-5)
    assert not np.allclose(f.x, f.x_flip, atol=1e-3)  # a mirrored half-and-half image is another image
    assert np.allclose(np.linalg.norm(f.query(), axis=1), 1.0, atol=1e-5)
    plain = extract(enc, sources[:1], default_spec(enc))
    assert plain.x_flip is None and default_spec(enc) == FeatureSpec("embedding", flip=False)
    with pytest.raises(ConfigError, match="needs the lite encoder"):
        extract(enc, sources[:1], FeatureSpec("lite-views"))


def test_lite_view_features_are_unit_rows_with_weighted_blocks():
    rng = np.random.default_rng(0)
    feats = np.abs(rng.normal(size=(2, 3, 5)))
    concepts = rng.dirichlet(np.ones(4), size=3)
    x = lite_view_features(feats, concepts, concept_weight=0.5)
    assert x.shape == (3, 14) and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-6)
    # each view block carries 1/2.25 of the squared norm, the concepts 0.25/2.25
    assert np.allclose((x[:, :5] ** 2).sum(1), 1 / 2.25, atol=1e-6)
    assert np.allclose((x[:, 10:] ** 2).sum(1), 0.25 / 2.25, atol=1e-6)


def test_parse_texts():
    assert parse_texts("boots, sneaker = a photo of a sneaker,,") == (
        ("boots", "boots"),
        ("sneaker", "a photo of a sneaker"),
    )
    with pytest.raises(Exception, match="empty"):
        parse_texts(" , ")


def test_teach_with_flips_and_texts_roundtrips_and_classifies(tiny_services, tmp_path):
    for k, (label, colour) in enumerate(COLOURS.items()):
        for i in range(3):
            drawn(tmp_path / "ex" / label / f"{i}.png", colour, seed=300 + 10 * k + i)
    examples = read_examples(tmp_path / "ex")
    options = TeachOptions(features=FeatureSpec("embedding", flip=True), texts=parse_texts("red, blue"))
    result = teach(tiny_services, tmp_path / "sets", "c", examples, options)
    ls = load_labelset(tmp_path / "sets", "c", encoder_spec=tiny_services.encoder.spec)
    assert ls.features.flip and ls.memory.x_flip.shape == ls.memory.x.shape
    assert ls.texts == ("blue", "green", "red") and result.added == 9
    images = [str(tmp_path / "ex" / label / "0.png") for label in ls.labels]
    out = classify_with_labelset(tiny_services, ls, images, ZeroShotOptions(multi_label=True, threshold=0.0))
    for item in out:
        assert item.error is None and set(item.result.supported) == set(ls.labels)  # threshold 0: all
        assert abs(sum(s.score for s in item.result.labels) - 1.0) < 1e-4


@pytest.mark.slow
def test_lite_views_embedding_is_the_lite_embedding(lite_services, photos):
    enc = lite_services.encoder
    images = [photos["cat"], photos["coffee"]]
    f = extract(enc, images, default_spec(enc))
    assert default_spec(enc).kind == "lite-views"
    assert np.allclose(f.embedding, enc.embed_images(images), atol=1e-5)
    assert f.x.shape == (2, 2 * enc.visual_dim + enc.num_concepts)
