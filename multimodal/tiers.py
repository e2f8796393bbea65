"""Model tiers: which encoder (and later, answerer) a run uses. Tiers are configuration, not code paths.

- ``full``: real pretrained hub models (downloaded once into the Hugging Face cache, or a local folder);
- ``lite``: pretrained models that ship inside pip packages; no download ever;
- ``tiny``: random weights from tiny configs, for tests; never presented as a model;
- ``auto``: ``full`` when its weights are cached or the hub answers within a short timeout, else
  ``lite``, and the reason is announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from multimodal.errors import ConfigError
from multimodal.hub import Reachability, encoder_cached, probe_hub

TIERS = ("auto", "full", "lite", "tiny")

DEFAULT_ENCODERS: dict[str, str] = {
    "full": "open_clip:ViT-B-32/laion2b_s34b_b79k",
    "lite": "lite",
    "tiny": "tiny:open_clip",
}

#: The answerer ``ask`` uses in each tier unless ``--answerer`` names another.
DEFAULT_ANSWERERS: dict[str, str] = {
    "full": "hf:HuggingFaceTB/SmolVLM-256M-Instruct",
    "lite": "lite",
    "tiny": "tiny:hf",
}


@dataclass(frozen=True)
class TierChoice:
    """The resolved tier, its encoder spec and why (printed to the user)."""

    tier: str
    encoder: str
    reason: str


def tier_of_spec(spec: str) -> str:
    family = spec.split(":", 1)[0]
    return {"lite": "lite", "tiny": "tiny"}.get(family, "full")


def resolve_tier(
    tier: str = "auto",
    encoder: str | None = None,
    *,
    offline: bool = False,
    cached: Callable[[str], bool] = encoder_cached,
    probe: Callable[[], Reachability] | None = None,
) -> TierChoice:
    """Pick the tier and encoder. ``cached``/``probe`` are injectable so tests never touch the network."""
    if tier not in TIERS:
        raise ConfigError(f"--tier {tier!r} is not one of {', '.join(TIERS)}")
    if encoder:
        implied = tier_of_spec(encoder)
        if tier not in ("auto", implied):
            raise ConfigError(
                f"--encoder {encoder} is a {implied}-tier model but --tier {tier} was asked for; drop one of the two"
            )
        return TierChoice(implied, encoder, "encoder given with --encoder")
    if tier != "auto":
        return TierChoice(tier, DEFAULT_ENCODERS[tier], f"--tier {tier}")
    full = DEFAULT_ENCODERS["full"]
    if cached(full):
        return TierChoice("full", full, f"{full} is cached on this machine")
    reach = (probe or (lambda: probe_hub(offline=offline)))()
    if reach.reachable:
        return TierChoice("full", full, f"{full} will be downloaded once ({reach.detail})")
    return TierChoice(
        "lite",
        DEFAULT_ENCODERS["lite"],
        f"full models are not cached and cannot be downloaded: {reach.detail}. Using the offline lite tier "
        "(packaged EfficientNet-Lite0 + MiniLM). To get full models, run once with internet, or pass "
        "--encoder open_clip:local-dir:/path/to/model",
    )
