"""Is a model hub reachable, and is a model already cached? Answers without downloading anything.

Used by tier ``auto`` and ``sceneqa models``. The probe is one HEAD request with a short timeout;
``HF_HUB_OFFLINE=1`` (or ``--offline``) skips it.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from multimodal.hub_cache import repo_cached

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class Reachability:
    reachable: bool
    detail: str


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def probe_hub(timeout: float = 2.0, offline: bool = False) -> Reachability:
    """HEAD the hub endpoint. Any HTTP answer counts as reachable; a network error or timeout does not."""
    if offline or os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0"):
        return Reachability(False, "offline mode (HF_HUB_OFFLINE / --offline)")
    url = hub_endpoint()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return Reachability(True, f"{url} answered")
    except urllib.error.HTTPError as exc:  # the server answered, with an error status: it is there
        return Reachability(True, f"{url} answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Reachability(False, f"{url} unreachable ({reason})")


def encoder_cached(spec: str) -> bool:
    """Whether the weights an ``open_clip:`` or ``hf:`` spec needs are on this machine already."""
    family, _, rest = spec.partition(":")
    if family == "open_clip":
        from multimodal.encoders.open_clip_backend import open_clip_weights_cached, parse_open_clip

        target = parse_open_clip(rest)
        if target.local_dir or target.checkpoint:
            return True  # a local path; its loader checks it exists
        if target.hf_hub:
            return repo_cached(target.hf_hub, "open_clip_config.json")
        return open_clip_weights_cached(target.model or "", target.pretrained or "")
    if family == "hf":
        return os.path.isdir(os.path.expanduser(rest)) or repo_cached(rest, "config.json")
    return True  # lite and tiny need no download
