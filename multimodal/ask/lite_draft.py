"""The lite answerer's draft: what one route found, before calibration and the abstention rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from multimodal.ask.answers import Evidence


@dataclass(frozen=True)
class Draft:
    """``route``: the calibration key (route, source and polarity, e.g. ``presence:concept:no``, ``count:people``);
    ``signals``: what the route measured (fitting the presence models, error analysis); ``calibrated``: the
    confidence already is a fitted probability (a presence model's), so no route map applies, only the rule for
    negative answers."""

    text: str
    confidence: float
    citations: tuple[Evidence, ...]
    detail: str = ""
    route: str = ""
    signals: Mapping[str, float] = field(default_factory=dict)
    calibrated: bool = False
