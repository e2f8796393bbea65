"""Services wiring and the banner users see."""

from __future__ import annotations

import pytest

from multimodal.banner import build_banner
from multimodal.errors import ConfigError
from multimodal.services import ServiceConfig


def test_tiny_banner_says_random_weights(tiny_services):
    text = build_banner(tiny_services).one_line()
    assert text.startswith("tier tiny (") and "RANDOM WEIGHTS" in text and "cpu, fp32" in text


@pytest.mark.slow
def test_lite_banner_names_the_packaged_models(lite_services):
    text = build_banner(lite_services).one_line()
    assert "tier lite" in text and "EfficientNet-Lite0" in text and "MiniLM" in text and "RANDOM" not in text


def test_config_validates():
    with pytest.raises(ConfigError, match="--batch-size must be >= 1"):
        ServiceConfig(batch_size=0)
