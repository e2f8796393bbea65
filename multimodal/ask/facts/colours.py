"""Naming colours: pixels -> the nearest basic colour term, measured in CIELAB (perceptual distance)."""

from __future__ import annotations

import numpy as np

#: Basic colour terms with a few sRGB prototypes each (shades people still call by that name).
PALETTE: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((255, 0, 0), (200, 30, 30), (150, 10, 20)),
    "orange": ((255, 140, 0), (240, 110, 30)),
    "yellow": ((255, 255, 0), (240, 220, 40), (250, 230, 120)),
    "green": ((0, 128, 0), (0, 200, 0), (40, 160, 60), (100, 180, 60)),
    "teal": ((0, 128, 128), (0, 150, 150), (40, 120, 120)),
    "blue": ((0, 0, 255), (30, 60, 200), (0, 0, 139), (70, 130, 220)),
    "purple": ((128, 0, 128), (140, 60, 180)),
    "pink": ((255, 105, 180), (255, 182, 193), (230, 120, 150)),
    "brown": ((139, 69, 19), (165, 42, 42), (120, 80, 40), (150, 100, 60)),
    "black": ((0, 0, 0), (30, 30, 30)),
    "gray": ((128, 128, 128), (169, 169, 169), (90, 90, 90)),
    "white": ((255, 255, 255), (240, 240, 240)),
}
#: Colour words the router accepts beyond PALETTE: word -> (the PALETTE name ``name_colour`` gives the word's
#: usual sRGB value, that value). Each name is the one whose prototypes lie nearest in CIELAB (ΔE76), so a
#: question about a "navy" thing matches what the namer calls a navy pixel; the value is the CSS Color 4 named
#: colour unless noted. Nouns that are also colours (lime, salmon, rose, coral, plum, ...) are left out: in
#: "is there a lime?" the word names a thing, not a colour.
ALIASES: dict[str, tuple[str, tuple[int, int, int]]] = {
    "grey": ("gray", (128, 128, 128)),
    "navy": ("blue", (0, 0, 128)),  # ΔE 5.2; runner-up purple 32.8
    "maroon": ("red", (128, 0, 0)),  # ΔE 7.7; brown 14.2
    "crimson": ("red", (220, 20, 60)),  # ΔE 14.5; brown 23.5
    "scarlet": ("red", (255, 36, 0)),  # not CSS: Wikipedia "scarlet"; ΔE 4.1; orange 31.2
    "silver": ("gray", (192, 192, 192)),  # ΔE 8.5; white 17.1
    "tan": ("gray", (210, 180, 140)),  # ΔE 25.6; pink 30.6 (PALETTE has no light brown)
    "gold": ("yellow", (255, 215, 0)),  # ΔE 10.4; orange 44.1
    "khaki": ("yellow", (240, 230, 140)),  # ΔE 10.7; green 44.5
    "beige": ("white", (245, 245, 220)),  # ΔE 12.8; gray 29.6
    "ivory": ("white", (255, 255, 240)),  # ΔE 7.6; gray 31.3
    "cyan": ("teal", (0, 255, 255)),  # ΔE 38.7; white 50.3
    "aqua": ("teal", (0, 255, 255)),  # same colour as cyan in CSS
    "turquoise": ("teal", (64, 224, 208)),  # ΔE 28.3; gray 45.9
    "indigo": ("blue", (75, 0, 130)),  # ΔE 16.4; purple 20.6
    "magenta": ("purple", (255, 0, 255)),  # ΔE 50.0; blue 58.0
    "violet": ("pink", (238, 130, 238)),  # ΔE 27.6; purple 31.1 (CSS violet is a light orchid)
}
COLOUR_WORDS = frozenset(PALETTE) | frozenset(ALIASES)


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    arr = np.asarray(rgb, np.float64).reshape(-1, 1, 3) / 255.0
    return rgb2lab(arr).reshape(-1, 3)


_PROTOS: tuple[np.ndarray, list[str]] | None = None


def _prototypes() -> tuple[np.ndarray, list[str]]:
    global _PROTOS
    if _PROTOS is None:  # computed on first use, not at import
        names = [n for n, protos in PALETTE.items() for _ in protos]
        _PROTOS = (_lab(np.array([p for protos in PALETTE.values() for p in protos])), names)
    return _PROTOS


def name_colour(rgb) -> tuple[str, float]:
    """(colour name, confidence in [0, 1]) for one sRGB colour; confidence falls with the Lab distance to the
    nearest prototype and with the gap to the runner-up name."""
    lab = _lab(np.asarray(rgb, np.float64)[None])[0]
    protos, names = _prototypes()
    d = np.linalg.norm(protos - lab, axis=1)
    order = np.argsort(d)
    best = names[order[0]]
    runner = next(d[i] for i in order if names[i] != best)
    closeness = float(np.exp(-d[order[0]] / 25.0))
    margin = float(np.clip((runner - d[order[0]]) / 15.0, 0.0, 1.0))
    return best, round(0.5 * closeness + 0.5 * margin, 4)


def canonical_colour(word: str) -> str:
    """The PALETTE name for a colour word (``"navy"`` -> ``"blue"``); a word outside :data:`COLOUR_WORDS`
    comes back unchanged."""
    return ALIASES[word][0] if word in ALIASES else word


def dominant_colours(pixels: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
    """Colour names covering ``pixels`` (``(n, 3)`` uint8), by share of pixels, largest first."""
    if len(pixels) == 0:
        return []
    sample = pixels[:: max(1, len(pixels) // 4000)]
    lab = _lab(sample)
    protos, names = _prototypes()
    nearest = np.argmin(((lab[:, None, :] - protos[None]) ** 2).sum(-1), axis=1)
    counts: dict[str, int] = {}
    for idx in nearest:
        counts[names[idx]] = counts.get(names[idx], 0) + 1
    total = len(sample)
    return sorted(((n, c / total) for n, c in counts.items()), key=lambda kv: -kv[1])[:top]
