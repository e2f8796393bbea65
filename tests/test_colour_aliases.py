"""Every colour word the router accepts names a colour the namer can output; each alias is the palette name
nearest (CIELAB, brute force over all prototypes) to the alias's stated sRGB value."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2lab

from multimodal.ask.facts.colours import ALIASES, COLOUR_WORDS, PALETTE, canonical_colour, name_colour


def _lab(rgb) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, np.float64).reshape(1, 1, 3) / 255.0).reshape(3)


def _nearest(rgb) -> tuple[str, float, float]:
    """(nearest palette name, its ΔE76, the runner-up name's ΔE76), by brute force."""
    lab = _lab(rgb)
    best: dict[str, float] = {}
    for name, protos in PALETTE.items():
        best[name] = min(float(np.linalg.norm(_lab(p) - lab)) for p in protos)
    (n1, d1), (_, d2) = sorted(best.items(), key=lambda kv: kv[1])[:2]
    return n1, d1, d2


@pytest.mark.parametrize("word", sorted(COLOUR_WORDS))
def test_every_colour_word_is_a_namer_output(word):
    assert canonical_colour(word) in PALETTE


@pytest.mark.parametrize("word", sorted(ALIASES))
def test_alias_is_the_nearest_palette_name(word):
    target, rgb = ALIASES[word]
    name, d1, d2 = _nearest(rgb)
    assert target == name
    assert d2 - d1 >= 3.0  # a clear choice, not a near tie
    assert name_colour(rgb)[0] == target  # and the namer says the same for that colour


def test_alias_table_covers_the_words_asked_for():
    asked = {
        "grey": "gray",
        "navy": "blue",
        "maroon": "red",
        "silver": "gray",
        "gold": "yellow",
        "beige": "white",
        "cyan": "teal",
        "magenta": "purple",
        "tan": "gray",
        "khaki": "yellow",
        "violet": "pink",
        "crimson": "red",
        "turquoise": "teal",
    }
    assert {w: canonical_colour(w) for w in asked} == asked
    assert COLOUR_WORDS == frozenset(PALETTE) | frozenset(ALIASES)
    assert not set(ALIASES) & set(PALETTE)


@pytest.mark.parametrize("name", sorted(PALETTE))
def test_palette_names_are_their_own_canon_and_namer_outputs_unchanged(name):
    assert canonical_colour(name) == name
    assert all(name_colour(p)[0] == name for p in PALETTE[name])


def test_unknown_word_passes_through():
    assert canonical_colour("cat") == "cat"
