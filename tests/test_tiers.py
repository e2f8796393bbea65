"""Tier resolution with injected cache and hub probes (no network in tests)."""

from __future__ import annotations

import pytest

from multimodal.errors import ConfigError
from multimodal.hub import Reachability, probe_hub
from multimodal.tiers import DEFAULT_ENCODERS, resolve_tier

UNREACHABLE = Reachability(False, "https://huggingface.co unreachable (no route)")


def _never_probe():
    pytest.fail("the hub must not be probed here")


def test_auto_prefers_cached_full_models():
    got = resolve_tier("auto", cached=lambda spec: True, probe=_never_probe)
    assert (got.tier, got.encoder) == ("full", DEFAULT_ENCODERS["full"]) and "cached" in got.reason


def test_auto_uses_full_when_the_hub_answers():
    got = resolve_tier("auto", cached=lambda spec: False, probe=lambda: Reachability(True, "answered"))
    assert got.tier == "full" and "downloaded once" in got.reason


def test_auto_falls_back_to_lite_and_says_why():
    got = resolve_tier("auto", cached=lambda spec: False, probe=lambda: UNREACHABLE)
    assert (got.tier, got.encoder) == ("lite", "lite")
    assert "unreachable" in got.reason and "--encoder open_clip:local-dir:" in got.reason


def test_explicit_tier_and_encoder():
    assert resolve_tier("tiny", probe=_never_probe).encoder == "tiny:open_clip"
    got = resolve_tier("auto", "hf:/models/siglip", probe=_never_probe)
    assert (got.tier, got.encoder) == ("full", "hf:/models/siglip")
    with pytest.raises(ConfigError, match="is a tiny-tier model but --tier lite"):
        resolve_tier("lite", "tiny:hf")
    with pytest.raises(ConfigError, match="--tier 'best' is not one of auto, full, lite, tiny"):
        resolve_tier("best")


def test_offline_env_skips_the_probe(monkeypatch):
    import urllib.request

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    got = probe_hub()
    assert not got.reachable and "offline" in got.detail
    assert not probe_hub(offline=True).reachable
