"""Inspect backbones: the timm family (random weights through the pretrained code path), normalisation as part
of the backbone, the cache / offline checks, the tier's choice, and the CLI with a timm spec."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multimodal.errors import ModelUnavailableError, SpecError, UnknownNameError
from multimodal.hub import Reachability
from multimodal.inspect import FitConfig, Inspector, create_backbone, fit_inspector, load_state, save_inspector
from multimodal.inspect.backbone import FULL_BACKBONE, backbone_for_tier
from multimodal.inspect.backbone_base import TF_MEAN, TF_STD, BackboneInfo
from multimodal.inspect.backbone_timm import default_layers, timm_unavailable
from multimodal.inspect.errors import BackboneMismatchError
from multimodal.inspect.features import prepare
from multimodal.inspect.store import META
from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.inspect_data import texture, write_good

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@pytest.fixture(scope="module")
def rn18():
    return create_backbone("tiny-timm:resnet18")


def test_tiny_timm_is_recorded_as_random_with_its_imagenet_normalisation(rn18):
    info = rn18.info
    assert info.spec == "tiny-timm:resnet18" and info.pretrained is False and "random weights" in info.description
    assert info.channels == (64, 64, 128, 256, 512) and info.strides == (2, 4, 8, 16, 32)
    assert info.mean == pytest.approx(IMAGENET_MEAN) and info.std == pytest.approx(IMAGENET_STD)
    assert rn18.default_layers == (2, 3) and rn18.default_descriptor == 3  # PatchCore's layer2 + layer3
    lite_info = create_backbone("tiny").info
    assert (lite_info.mean, lite_info.std) == (TF_MEAN, TF_STD)


def test_tiny_timm_is_seeded_and_runs_only_the_levels_asked_for(rn18):
    import torch

    x = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, 64, 96)).astype(np.float32))
    a = rn18.feature_maps(x, (2, 3))
    assert [tuple(m.shape) for m in a] == [(2, 128, 8, 12), (2, 256, 4, 6)]
    b = create_backbone("tiny-timm:resnet18").feature_maps(x, (3, 2))
    np.testing.assert_array_equal(a[0].numpy(), b[1].numpy())
    other = create_backbone("tiny-timm:resnet18/1").feature_maps(x, (2,))
    assert not np.allclose(a[0].numpy(), other[0].numpy())
    # oracle: timm's own whole forward pass of the same network
    with torch.inference_mode():
        whole = rn18._net(x.contiguous(memory_format=torch.channels_last))
    np.testing.assert_allclose(a[1].numpy(), whole[3].float().numpy(), rtol=1e-4, atol=1e-5)


def test_prepare_uses_the_backbone_normalisation():
    img = texture(3, 32)
    raw = np.asarray(img, np.float32)
    np.testing.assert_allclose(prepare(img, (32, 32)), (raw - 127.0) / 128.0, rtol=1e-6)
    got = prepare(img, (32, 32), IMAGENET_MEAN, IMAGENET_STD)
    want = (raw / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_fit_save_load_with_a_timm_backbone(tmp_path, rn18):
    good = [texture(i, 64) for i in range(10)]
    state = fit_inspector("rn", rn18, good, FitConfig(image_size=64))
    assert state.config.layers == (2, 3) and state.config.descriptor_layer == 3
    assert state.bank.mean.shape == (128 + 256,) and state.shape == (64, 64)
    save_inspector(tmp_path, state)
    meta = json.loads((tmp_path / "rn" / META).read_text())
    assert meta["backbone"]["pretrained"] is False and meta["backbone"]["mean"] == pytest.approx(IMAGENET_MEAN)
    loaded = load_state(tmp_path, "rn")
    assert loaded.backbone == rn18.info and loaded.summary()["normalisation"]["std"] == pytest.approx(IMAGENET_STD)
    bad, ok = Inspector(loaded, rn18).inspect([texture(90, 64, blob=(24, 24, 14)), texture(91, 64)])
    assert np.isfinite([bad.score, ok.score]).all() and bad.heatmap.shape == (64, 64)
    with pytest.raises(BackboneMismatchError, match="built with backbone 'tiny-timm:resnet18'"):
        Inspector(loaded, create_backbone("tiny"))


def test_another_normalisation_is_refused_on_load(tmp_path, rn18):
    state = fit_inspector("rn", rn18, [texture(i, 64) for i in range(4)], FitConfig(image_size=64))
    info = rn18.info
    moved = BackboneInfo(info.spec, info.description, info.pretrained, info.channels, info.strides)  # TF default

    class Running:
        default_layers, default_descriptor = rn18.default_layers, rn18.default_descriptor

        def __init__(self):
            self.info = moved

    with pytest.raises(BackboneMismatchError, match="normalising inputs with mean"):
        Inspector(state, Running())


def test_older_inspectors_without_a_recorded_normalisation_load_as_tf(tmp_path):
    tiny = create_backbone("tiny")
    save_inspector(tmp_path, fit_inspector("old", tiny, [texture(i, 64) for i in range(4)], FitConfig(image_size=64)))
    path = tmp_path / "old" / META
    meta = json.loads(path.read_text())
    for key in ("mean", "std"):
        del meta["backbone"][key]
    for key in ("guaranteed", "good_scores"):
        del meta["calibration"][key]
    meta["calibration"]["method"] = "gumbel-moments"
    path.write_text(json.dumps(meta))
    state = load_state(tmp_path, "old")
    assert (state.backbone.mean, state.backbone.std) == (TF_MEAN, TF_STD)
    assert state.calibration.guaranteed == 0.01 and "quantile of a Gumbel law" in state.calibration.describe()
    Inspector(state, tiny)  # same backbone: accepted


def test_specs_are_checked():
    with pytest.raises(UnknownNameError, match="timm has no model 'nonet'"):
        create_backbone("timm:nonet")
    with pytest.raises(UnknownNameError, match="Invalid pretrained tag"):
        create_backbone("timm:resnet18.no_such_tag")
    with pytest.raises(SpecError, match="random weights have no pretrained tag"):
        create_backbone("tiny-timm:resnet18.a1_in1k")
    with pytest.raises(SpecError, match="seed"):
        create_backbone("tiny-timm:resnet18/x")
    with pytest.raises(UnknownNameError, match="Available: lite, tiny, timm:MODEL, tiny-timm:MODEL"):
        create_backbone("resnet")


@pytest.fixture()
def empty_hf_cache(monkeypatch, tmp_path):
    """The Hugging Face cache seen by the loader is an empty folder."""
    import huggingface_hub

    real = huggingface_hub.try_to_load_from_cache
    monkeypatch.setattr(
        huggingface_hub, "try_to_load_from_cache", lambda **kw: real(**kw, cache_dir=str(tmp_path / "hf"))
    )


def test_uncached_weights_offline_fail_naming_the_spec_and_the_fixes(empty_hf_cache):
    with pytest.raises(ModelUnavailableError) as err:
        create_backbone("timm:resnet18.a1_in1k", offline=True)
    msg = str(err.value)
    assert "'timm:resnet18.a1_in1k'" in msg and "--backbone lite" in msg and "offline" in msg
    assert "@/path/to/weights" in msg and "run once with internet" in msg


def test_unavailability_reasons(empty_hf_cache):
    spec = "timm:resnet18.a1_in1k"
    assert "not in the Hugging Face cache" in timm_unavailable(spec, download=False)
    down = Reachability(False, "hub unreachable (test)")
    assert timm_unavailable(spec, True, probe=lambda: down) == "not cached, and hub unreachable (test)"
    assert timm_unavailable(spec, True, probe=lambda: Reachability(True, "answered")) is None
    assert timm_unavailable("tiny-timm:resnet18", download=False) is None
    assert "no weights file" in timm_unavailable("timm:resnet18@/no/such/file.pth", download=True)


def test_a_local_weights_file_is_loaded_as_given(tmp_path):
    import timm
    import torch

    net = timm.create_model("resnet18", pretrained=False)
    with torch.no_grad():
        net.conv1.weight.fill_(0.25)
    torch.save(net.state_dict(), tmp_path / "w.pth")
    bb = create_backbone(f"timm:resnet18@{tmp_path / 'w.pth'}", offline=True)
    assert bb.info.pretrained and str(tmp_path / "w.pth") in bb.info.description
    assert float(bb._net.conv1.weight.detach().abs().max()) == 0.25 == float(bb._net.conv1.weight.detach().min())
    with pytest.raises(ModelUnavailableError, match="no weights file at /no/such.pth"):
        create_backbone("timm:resnet18@/no/such.pth")


def test_each_tier_picks_its_backbone():
    calls = []

    def available(spec, download):
        calls.append((spec, download))
        return None

    def missing(spec, download):
        return "not cached, and offline mode"

    assert backbone_for_tier("tiny", missing) == ("tiny", "")
    assert backbone_for_tier("lite", missing) == ("lite", "")
    assert backbone_for_tier("full", available) == (FULL_BACKBONE, "")
    assert backbone_for_tier("auto", available) == (FULL_BACKBONE, "")
    assert calls == [(FULL_BACKBONE, True), (FULL_BACKBONE, False)]  # auto never downloads
    spec, note = backbone_for_tier("full", missing)
    assert spec == "lite" and FULL_BACKBONE in note and "not cached, and offline mode" in note and "--backbone" in note
    assert backbone_for_tier("auto", missing) == ("lite", "")
    assert default_layers((2, 4, 8, 16, 32)) == (2, 3) and default_layers((16, 16, 16)) == (1, 2)


def test_cli_fit_with_a_timm_spec_and_the_threshold_rule(cache_dir, tmp_path, capsys):
    good = tmp_path / "good"
    write_good(good, 12, size=64)
    root = ["--inspectors-dir", str(tmp_path / "insp")]
    argv = [*tiny_argv(cache_dir), "inspect", "fit", "rn", "--good", str(good), "--size", "64", "--json", *root]
    code = main([*argv, "--backbone", "tiny-timm:resnet18", "--threshold", "conformal"])
    out = capsys.readouterr()
    assert code == 0, out.err
    got = json.loads(out.out)
    assert got["backbone"] == "tiny-timm:resnet18" and got["pretrained"] is False and got["layers"] == [2, 3]
    assert got["threshold_rule"] == "conformal" and got["false_alarm_guaranteed"] > 0.01
    assert "can only guarantee a false-alarm rate" in out.err
