"""Shared fixtures: a private cache dir, tiny-tier services, the packaged lite encoder (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from multimodal.encoders.base import EncoderOptions
from multimodal.runtime import Runtime


@pytest.fixture(scope="session", autouse=True)
def _no_model_hub():
    """Tests never reach a model hub: transformers and huggingface_hub are told so for the session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One sceneqa cache per test session: tiny checkpoints are written once, never to ~/.cache."""
    return tmp_path_factory.mktemp("sceneqa-cache")


@pytest.fixture(scope="session")
def cpu32() -> Runtime:
    return Runtime("cpu", "fp32")


@pytest.fixture(scope="session")
def options(cache_dir) -> EncoderOptions:
    return EncoderOptions(batch_size=8, cache_dir=cache_dir, local_files_only=True)


@pytest.fixture(scope="session")
def tiny_services(cache_dir):
    from multimodal.services import ServiceConfig, build_services

    # the scene-facts answerer: answers these tests can check; the tiny VLM has its own fixture
    return build_services(
        ServiceConfig(tier="tiny", device="cpu", precision="fp32", cache_dir=cache_dir, offline=True, answerer="lite")
    )


@pytest.fixture(scope="session")
def tiny_vlm_services(cache_dir):
    from multimodal.services import ServiceConfig, build_services

    config = ServiceConfig(
        tier="tiny",
        device="cpu",
        precision="fp32",
        cache_dir=cache_dir,
        offline=True,
        max_image_side=256,
        max_new_tokens=12,
    )
    return build_services(config)


@pytest.fixture(scope="session")
def lite_services(cache_dir):
    from multimodal.services import ServiceConfig, build_services

    # fp32, not "auto" (bf16 on CPUs with a fast bf16 path): the pinned labels are checked on one known precision
    return build_services(ServiceConfig(tier="lite", device="cpu", precision="fp32", cache_dir=cache_dir, offline=True))


@pytest.fixture(scope="session")
def photos():
    """Real photos that ship inside scikit-image, by content."""
    from PIL import Image
    from skimage import data

    return {
        "cat": Image.fromarray(data.chelsea()),
        "coffee": Image.fromarray(data.coffee()),
        "rocket": Image.fromarray(data.rocket()),
        "astronaut": Image.fromarray(data.astronaut()),
        "motorcycle": Image.fromarray(data.stereo_motorcycle()[0]),
    }


@pytest.fixture()
def ctx(tiny_services, tmp_path, monkeypatch):
    """The web UI's handler context (tiny tier) with its own upload folder and catalog."""
    from demos.catalog_handle import CatalogHandle
    from demos.gate import ModelGate
    from demos.ui.context import UiContext

    root = tmp_path / "uploads"
    root.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    handle = CatalogHandle(tmp_path / "idx", tiny_services)
    yield UiContext(tiny_services, handle, ModelGate.sized(1, 4), root, request_timeout_s=60)
    handle.close()
