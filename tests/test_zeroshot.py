"""Label parsing, prompt ensembles and the classifier over the tiny encoder (mechanics, not accuracy)."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal.encoders.base import l2_normalize
from multimodal.errors import ConfigError, EmptyInputError
from multimodal.zeroshot import ZeroShotClassifier, ZeroShotOptions, build_prompts, parse_labels
from tests.image_corpus import gradient


def test_parse_labels_from_text_and_lists():
    assert parse_labels(" cat, dog ,\n a cup of  coffee ,,Cat") == ["cat", "dog", "a cup of coffee"]
    assert parse_labels(["x", " y "]) == ["x", "y"]


@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        ("", EmptyInputError, "no labels given"),
        (" , \n", EmptyInputError, "no labels given"),
        ("a" * 300, ConfigError, "300 characters; the limit is 200"),
        ([str(i) for i in range(1001)], ConfigError, "1001 labels given; the limit is 1000"),
        ([3], ConfigError, "label 3 is not text"),
    ],
)
def test_bad_labels(labels, error, match):
    with pytest.raises(error, match=match):
        parse_labels(labels)


def test_prompts():
    assert build_prompts("cat", ("a photo of a {}.", "{}")) == ["a photo of a cat.", "cat"]


class CountingEncoder:
    """Wraps an encoder and counts text embedding calls (to check the label cache)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.texts = 0
        for name in (
            "spec",
            "dim",
            "image_size",
            "score_mode",
            "logit_scale",
            "logit_bias",
            "prompt_templates",
            "info",
        ):
            setattr(self, name, getattr(inner, name))

    def embed_texts(self, texts):
        self.texts += len(texts)
        return self.inner.embed_texts(texts)

    def embed_images(self, images):
        return self.inner.embed_images(images)


def test_label_embeddings_are_template_means_and_cached(tiny_services):
    enc = CountingEncoder(tiny_services.encoder)
    zs = ZeroShotClassifier(enc, background=["thing", "stuff", "object"])
    got = zs.label_embeddings(["cat", "dog"])
    templates = enc.prompt_templates
    expected = l2_normalize(tiny_services.encoder.embed_texts(build_prompts("cat", templates)).mean(axis=0)[None])
    np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
    calls = enc.texts
    zs.label_embeddings(["dog", "cat"])
    assert enc.texts == calls  # served from the cache


def test_classifier_shapes_and_invariants(tiny_services):
    zs = tiny_services.zeroshot
    images = [gradient(seed=s) for s in range(3)]
    out = zs.classify(images, "red, green, blue, a cat", ZeroShotOptions(top_k=3))
    assert len(out) == 3
    for res in out:
        assert len(res.labels) == 3
        assert sum(s.score for s in res.labels) <= 1.0 + 1e-9
        assert all(0.0 <= s.match <= 1.0 for s in res.labels)
        assert res.abstained == (res.supported == ())
    multi = zs.classify(images, ["red", "green"], ZeroShotOptions(multi_label=True, threshold=0.0))
    assert all(set(r.supported) == {"red", "green"} for r in multi)  # threshold 0 supports everything
    none = zs.classify(images, ["red", "green"], ZeroShotOptions(threshold=1.0))
    assert all(r.abstained for r in none)


def test_options_validate():
    with pytest.raises(ConfigError, match="threshold must be between 0 and 1"):
        ZeroShotOptions(threshold=2)
