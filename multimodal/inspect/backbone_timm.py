"""timm CNNs as inspect backbones: a model's feature levels (``features_only``), as PatchCore uses them.

Specs (what follows the family name):

- ``timm:MODEL[.TAG]``: hub-pretrained weights (e.g. ``timm:wide_resnet50_2.tv_in1k``, PatchCore's
  WideResNet-50-2 with torchvision's ImageNet weights). The Hugging Face cache is checked first; a cached file
  is loaded from its path (no network); otherwise the weights are downloaded once, unless offline
  (``--offline``, ``HF_HUB_OFFLINE``) or the hub does not answer, which fails naming the spec and the fixes.
- ``timm:MODEL[.TAG]@/path/to/weights``: the same architecture with a local weights file (``.safetensors``,
  ``.pth``); the ``.TAG`` picks the normalisation of that tag's pretrained config.
- ``tiny-timm:MODEL[/SEED]``: the same architecture and code path with seeded random weights (``pretrained=False``),
  recorded as not pretrained; for tests and speed runs, never a model.

Layer indices are the model's feature levels (``feature_info``; for ResNets 0 = stem, 1..4 = layer1..layer4, so
PatchCore's layer2+layer3 are levels 2+3). The default patch layers are the deepest levels of stride 8 and 16,
the whole-image descriptor the stride-16 one (no deeper level is computed). Inputs are normalised with the
pretrained config's ImageNet mean and std, recorded in :class:`BackboneInfo`. This is the only importer of timm
in :mod:`multimodal.inspect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from multimodal.errors import ModelUnavailableError, SpecError, UnknownNameError
from multimodal.inspect.backbone_base import BackboneInfo

#: Files timm reads from a Hugging Face repo, in its order of preference.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class TimmTarget:
    """A parsed timm spec: ``model`` (``ARCH[.TAG]``), a local ``weights`` file, or ``random`` with ``seed``."""

    spec: str
    model: str
    weights: str = ""
    random: bool = False
    seed: int = 0

    @property
    def arch(self) -> str:
        return self.model.split(".", 1)[0]


def parse_timm(rest: str, random: bool) -> TimmTarget:
    """Parse what follows ``timm:`` (``random=False``) or ``tiny-timm:`` (``random=True``). Pure but for the
    timm registry lookup; raises :class:`SpecError` / :class:`UnknownNameError` naming the accepted forms."""
    import timm

    family = "tiny-timm" if random else "timm"
    forms = (
        "timm:MODEL[.TAG] (e.g. timm:wide_resnet50_2.tv_in1k), timm:MODEL@/path/to/weights or tiny-timm:MODEL[/SEED]"
    )
    model, weights, seed = rest, "", 0
    if random:
        model, _, seed_text = rest.partition("/")
        if seed_text and not seed_text.isdigit():
            raise SpecError(f"backbone '{family}:{rest}': the seed after '/' must be a number; use {forms}")
        seed = int(seed_text or 0)
    elif "@" in rest:
        model, weights = rest.split("@", 1)
        if not weights:
            raise SpecError(f"backbone 'timm:{rest}': expected MODEL@/path/to/weights; use {forms}")
    if not model:
        raise SpecError(f"backbone '{family}:{rest}' names no model; use {forms}")
    if not timm.is_model(model.split(".", 1)[0]):
        raise UnknownNameError(
            f"backbone '{family}:{rest}': timm has no model {model.split('.', 1)[0]!r} "
            f"(e.g. {', '.join(timm.list_models('*resnet*')[:6])}; `timm.list_models()` lists all)"
        )
    if random and "." in model:
        tag = model.split(".", 1)[1]
        raise SpecError(f"backbone '{family}:{rest}': random weights have no pretrained tag; drop '.{tag}'")
    return TimmTarget(f"{family}:{rest}", model, weights, random, seed)


def _pretrained_cfg(target: TimmTarget):
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(target.model)
    except RuntimeError as exc:  # an unknown tag
        raise UnknownNameError(f"backbone {target.spec!r}: {exc}") from exc
    if cfg is None:
        raise UnknownNameError(f"backbone {target.spec!r}: timm knows no pretrained weights for {target.model!r}")
    return cfg


def cached_weights(target: TimmTarget) -> str | None:
    """The local file a pretrained ``target`` loads from, when it is on this machine (no network): its
    ``@`` file, or the Hugging Face cache's copy of its hub weights. ``None`` when neither is there."""
    if target.weights:
        path = Path(target.weights).expanduser()
        return str(path) if path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    cfg = _pretrained_cfg(target)
    if not cfg.hf_hub_id:
        return None
    names = (cfg.hf_hub_filename,) if getattr(cfg, "hf_hub_filename", None) else HUB_FILES
    for name in names:
        found = try_to_load_from_cache(repo_id=cfg.hf_hub_id, filename=name)
        if isinstance(found, str):
            return found
    return None


def timm_unavailable(spec: str, download: bool, *, offline: bool = False, probe=None) -> str | None:
    """``None`` when ``spec``'s weights are cached (or, with ``download``, the hub answers), else why not.
    ``probe``: a :func:`multimodal.hub.probe_hub`-like callable (injectable for tests)."""
    from multimodal.hub import probe_hub

    family, _, rest = spec.partition(":")
    target = parse_timm(rest, random=family == "tiny-timm")
    if target.random or cached_weights(target) is not None:
        return None
    if target.weights:
        return f"no weights file at {target.weights}"
    if not download:
        return "its weights are not in the Hugging Face cache"
    reach = (probe or (lambda: probe_hub(offline=offline)))()
    return None if reach.reachable else f"not cached, and {reach.detail}"


class TimmBackbone:
    """A timm ``features_only`` network run level by level, only as far as the deepest requested level."""

    def __init__(self, info: BackboneInfo, net, default_layers: tuple[int, ...], default_descriptor: int) -> None:
        import torch

        self.info = info
        self.default_layers = default_layers
        self.default_descriptor = default_descriptor
        self._torch = torch
        self._net = net.eval().to(memory_format=torch.channels_last)
        # level index of each module that returns a level (timm names them "0".."L-1" with every level out)
        self._levels = {name: int(idx) for name, idx in getattr(net, "return_layers", {}).items()}

    def feature_maps(self, x, layers: tuple[int, ...]) -> list:
        self.info.check_layers(layers)
        torch, wanted, out = self._torch, set(layers), {}
        with torch.inference_mode():
            h = x.contiguous(memory_format=torch.channels_last)
            if not self._levels:  # a feature wrapper without named stages: one whole forward pass
                maps = self._net(h)
                return [maps[i].float().contiguous() for i in layers]
            for name, module in self._net.items():
                h = module(h)
                level = self._levels.get(name)
                if level in wanted:
                    out[level] = h.float().contiguous()
                    if len(out) == len(wanted):
                        break
        return [out[i] for i in layers]


def load_timm(rest: str, *, random: bool, offline: bool = False) -> TimmBackbone:
    """The backbone of ``timm:REST`` / ``tiny-timm:REST``. Pretrained weights come from the cache or a local
    file; a download is tried only when not ``offline`` and the hub answers; otherwise
    :class:`ModelUnavailableError` names the spec and the fixes."""
    import timm
    import torch

    target = parse_timm(rest, random)
    if target.random:
        with torch.random.fork_rng(devices=[]):  # seeded, without moving the caller's random state
            torch.manual_seed(target.seed)
            net = timm.create_model(target.arch, pretrained=False, features_only=True)
        source = f"random weights (seed {target.seed}; features mean nothing)"
    else:
        path = _weights_path(target, offline)
        overlay = {"file": path} if path else None
        try:
            net = timm.create_model(target.model, pretrained=True, features_only=True, pretrained_cfg_overlay=overlay)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"{_fixes(target)}: loading failed ({exc})") from exc
        source = f"ImageNet-pretrained weights from {path or 'the hub (now cached)'}"
    cfg = net.pretrained_cfg
    info = BackboneInfo(
        spec=target.spec,
        description=f"{target.model} (timm), {source}",
        pretrained=not target.random,
        channels=tuple(int(c) for c in net.feature_info.channels()),
        strides=tuple(int(r) for r in net.feature_info.reduction()),
        mean=tuple(round(255.0 * float(m), 4) for m in cfg["mean"]),
        std=tuple(round(255.0 * float(s), 4) for s in cfg["std"]),
    )
    layers = default_layers(info.strides)
    return TimmBackbone(info, net, layers, layers[-1])


def default_layers(strides: tuple[int, ...]) -> tuple[int, ...]:
    """The deepest level of stride 8 and of stride 16 (PatchCore's layer2+layer3 on a ResNet); without both,
    the two deepest levels of stride at most 16, else the two deepest."""
    last = {s: i for i, s in enumerate(strides)}
    if 8 in last and 16 in last:
        return (last[8], last[16])
    fine = [i for i, s in enumerate(strides) if s <= 16] or list(range(len(strides)))
    return tuple(fine[-2:])


def _weights_path(target: TimmTarget, offline: bool) -> str | None:
    """The cached or local weights file; ``None`` when timm should download them (only if it can)."""
    path = cached_weights(target)
    if path is not None:
        return path
    if target.weights:
        raise ModelUnavailableError(f"{_fixes(target)}: no weights file at {target.weights}")
    why = timm_unavailable(target.spec, download=True, offline=offline)  # the probe also reads HF_HUB_OFFLINE
    if why is not None:
        raise ModelUnavailableError(f"{_fixes(target)}: {why}")
    return None


def _fixes(target: TimmTarget) -> str:
    return (
        f"inspect backbone {target.spec!r} cannot be loaded (use --backbone lite for the packaged offline "
        f"EfficientNet-Lite0, run once with internet to cache the weights, or pass "
        f"--backbone timm:{target.model}@/path/to/weights.safetensors)"
    )
