"""The banner: which tier and models run, why (in plain words) and how to get the full models.

:func:`build_banner` reads the services' plan and the already-loaded encoder's description; it loads no model.
The tier's raw reason (which may hold a resolver error such as ``[Errno -2] Name or service not known``) is
translated by :func:`plain_reason` and kept as is only in :attr:`Banner.detail`, for verbose logs. The CLI
prints :meth:`Banner.one_line`; the UI renders the fields as markdown (``demos.render.banner_markdown``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from multimodal.errors import ConfigError, SceneQAError

if TYPE_CHECKING:
    from multimodal.services import Services

RANDOM_ENCODER = "RANDOM WEIGHTS (tiny test model: scores mean nothing)"
OFFLINE_MODELS = "using the offline models"
GET_FULL = (
    "run `sceneqa --tier full serve` once on a machine with internet (the full models, CLIP and SmolVLM, are "
    "downloaded once), or pass `--encoder open_clip:local-dir:DIR --answerer hf:DIR` with model folders copied "
    "from such a machine"
)
GET_FULL_OFFLINE = "turn offline mode off (drop --offline, unset HF_HUB_OFFLINE), then " + GET_FULL

# (pattern in the lower-cased raw reason, why it happened in plain words); the first match wins
_NETWORK_CAUSES: tuple[tuple[str, str], ...] = (
    (r"offline mode", "offline mode is on (--offline or HF_HUB_OFFLINE)"),
    (
        r"name or service not known|temporary failure in name resolution|nodename nor servname|getaddrinfo"
        r"|no address associated|name resolution|errno -[235]\b|errno 11001",
        "no internet",
    ),
    (r"timed out|timeout", "no internet (the model hub did not answer in time)"),
    (r"certificate|ssl", "the model hub's certificate was refused (a proxy, or a wrong clock?)"),
    (r"proxy|\b407\b", "a proxy blocked the model hub"),
    (
        r"refused|unreachable|no route to host|errno 10[01]\b|errno 11[013]\b|reset by peer",
        "no internet (the model hub cannot be reached)",
    ),
)
_CHOSEN = re.compile(r"^--tier (\w+)$")


@dataclass(frozen=True)
class Banner:
    """What a user is told about the models in use (all fields plain text, safe to show).

    tier: ``full``, ``lite`` or ``tiny``; why: the reason in plain words; encoder / answerer: their specs;
    encoder_weights / answerer_weights: what their weights are; random_weights: some model has random weights
    (the tiny tier: outputs mean nothing); runtime: device and precision; get_full: how to get the full models
    (``""`` in the full tier); detail: the raw reason, for verbose logs only."""

    tier: str
    why: str
    encoder: str
    encoder_weights: str
    answerer: str
    answerer_weights: str
    runtime: str
    random_weights: bool = False
    get_full: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        for name in ("tier", "why", "encoder", "answerer"):
            if not getattr(self, name).strip():
                raise ConfigError(f"banner field {name!r} is empty; build the banner with build_banner(services)")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def one_line(self) -> str:
        """One paragraph for a terminal: tier and why, the models, the runtime and how to get the full ones."""
        text = (
            f"tier {self.tier} ({self.why}); encoder {self.encoder}: {self.encoder_weights}; "
            f"answerer {self.answerer}: {self.answerer_weights}; runtime {self.runtime}"
        )
        return text + (f". Full models: {self.get_full.replace('`', '')}" if self.get_full else "")


def plain_reason(tier: str, reason: str) -> str:
    """Why ``tier`` runs, in plain words, from the tier resolver's raw ``reason``: e.g. a lite tier chosen
    because ``https://huggingface.co unreachable ([Errno -2] Name or service not known)`` becomes
    ``"no internet: using the offline models"``. Unknown reasons give a generic phrase for the tier, never
    the raw text (which may be an operating-system error)."""
    raw = " ".join(reason.split())
    low = raw.lower()
    chosen = _CHOSEN.match(raw)
    if chosen:
        picked = chosen.group(1)
        return {
            "full": "you chose the full tier (--tier full)",
            "lite": f"you chose the lite tier (--tier lite): {OFFLINE_MODELS}",
            "tiny": "you chose the tiny test tier (--tier tiny): random weights, for tests only",
        }.get(picked, f"you chose the {picked} tier")
    if low.startswith("encoder given with --encoder"):
        return "you chose the encoder (--encoder)"
    if low.endswith("is cached on this machine"):
        return "the full models are on this machine"
    if "will be downloaded once" in low:
        return "the full models are downloaded once (the model hub answered)"
    if tier in ("lite", "tiny") and ("cannot be downloaded" in low or "unreachable" in low or "offline" in low):
        for pattern, cause in _NETWORK_CAUSES:
            if re.search(pattern, low):
                return f"{cause}: {OFFLINE_MODELS}"
        return f"the model hub cannot be reached: {OFFLINE_MODELS}"
    return {
        "full": "the full models",
        "lite": OFFLINE_MODELS,
        "tiny": "tiny test models with random weights",
    }.get(tier, f"the {tier} tier")


def build_banner(services: Services) -> Banner:
    """The banner for ``services`` (reads specs, the loaded encoder's description and the runtime; loads no
    model, not even the answerer)."""
    tier = services.tier
    info = services.encoder.info
    spec = services.answerer_spec
    answerer_weights = _answerer_weights(spec)
    random = not info.pretrained or "RANDOM" in answerer_weights.upper()
    offline = "offline mode" in tier.reason.lower() or bool(getattr(services.config, "offline", False))
    return Banner(
        tier=tier.tier,
        why=plain_reason(tier.tier, tier.reason),
        encoder=info.spec,
        encoder_weights=info.weights if info.pretrained else RANDOM_ENCODER,
        answerer=spec,
        answerer_weights=answerer_weights,
        runtime=services.runtime.describe(),
        random_weights=random,
        get_full="" if tier.tier == "full" else (GET_FULL_OFFLINE if offline else GET_FULL),
        detail=tier.reason,
    )


def _answerer_weights(spec: str) -> str:
    """What the answerer named by ``spec`` runs on, from its display name (no loading)."""
    from multimodal.ask.answerers import answerer_name

    try:
        name = answerer_name(spec)
    except SceneQAError:
        return "unknown answerer (it fails when a question is asked)"
    inner = re.fullmatch(re.escape(spec.strip()) + r" \((.*)\)", name)
    if inner:  # "hf:REPO (pretrained)" -> "pretrained"
        name = inner.group(1)
    if name.upper().startswith("RANDOM WEIGHTS"):
        return "RANDOM WEIGHTS (tiny test model: answers mean nothing)"
    return name or spec
