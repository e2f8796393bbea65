"""The packaged object detector (multimodal/detect): the TF.js graph reader and runner against oracles on
hand-built graphs, CenterNet's decoding on synthetic heatmaps, the COCO vocabulary, and the real weights on
scikit-image's photos (golden: the object each photo is named for is found)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from multimodal.detect.centernet import INPUT, WEIGHTS, CenterNetConfig, decode, load_centernet
from multimodal.detect.coco_names import COCO_NAMES, coco_category
from multimodal.detect.tfjs_graph import load_graph
from multimodal.detect.tfjs_run import GraphRunner, _resize_legacy
from multimodal.errors import ConfigError, ModelUnavailableError


def _write_graph(tmp_path, nodes, weights):
    """A graph model folder: ``nodes`` as GraphDef JSON, ``weights`` {name: float32 array} in one shard."""
    blob = b"".join(np.asarray(w, np.float32).tobytes() for w in weights.values())
    (tmp_path / "w.bin").write_bytes(blob)
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [{"name": k, "shape": list(np.shape(v)), "dtype": "float32"} for k, v in weights.items()],
        }
    ]
    model = {"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": manifest}
    (tmp_path / "model.json").write_text(json.dumps(model))
    return tmp_path / "model.json"


def _s(text: str) -> dict:
    import base64

    return {"s": base64.b64encode(text.encode()).decode()}


def test_same_padding_strided_conv_matches_numpy_oracle(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)  # HWIO
    b = rng.normal(size=(4,)).astype(np.float32)
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "w", "op": "Const"},
        {"name": "b", "op": "Const"},
        {
            "name": "y",
            "op": "_FusedConv2D",
            "input": ["x", "w", "b"],
            "attr": {
                "strides": {"list": {"i": ["1", "2", "2", "1"]}},
                "padding": _s("SAME"),
                "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu6")["s"]]}},
            },
        },
    ]
    runner = GraphRunner(load_graph(_write_graph(tmp_path, nodes, {"w": w, "b": b})), ("y",))
    x = rng.normal(size=(1, 2, 6, 6)).astype(np.float32) * 3
    (got,) = runner.run(torch.from_numpy(x))
    # TF SAME, stride 2, 6 px, kernel 3: total pad 1, all of it after (bottom/right)
    xp = np.pad(x[0], ((0, 0), (0, 1), (0, 1)))
    want = np.zeros((4, 3, 3), np.float32)
    for o in range(4):
        for i in range(3):
            for j in range(3):
                want[o, i, j] = np.sum(xp[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] * w[:, :, :, o].transpose(2, 0, 1))
    want = np.clip(want + b[:, None, None], 0, 6)
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-4, atol=1e-4)


def test_depthwise_mean_concat_and_constants(tmp_path):
    rng = np.random.default_rng(1)
    dw = rng.normal(size=(3, 3, 2, 1)).astype(np.float32)
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "dw", "op": "Const"},
        {"name": "axes", "op": "Const"},
        {"name": "axis", "op": "Const"},
        {"name": "k", "op": "Const"},
        {
            "name": "d",
            "op": "DepthwiseConv2dNative",
            "input": ["x", "dw"],
            "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": _s("SAME")},
        },
        {"name": "m", "op": "Mean", "input": ["d", "axes"], "attr": {"keep_dims": {"b": True}}},
        {"name": "s", "op": "Mul", "input": ["k", "m"]},
        {"name": "c", "op": "ConcatV2", "input": ["s", "s", "axis"]},
    ]
    weights = {
        "dw": dw,
        "axes": np.array([1, 2], np.float32),
        "axis": np.array(3, np.float32),
        "k": np.array(2.0, np.float32),
    }
    runner = GraphRunner(load_graph(_write_graph(tmp_path, nodes, weights)), ("c",))
    x = torch.from_numpy(rng.normal(size=(1, 2, 5, 5)).astype(np.float32))
    (got,) = runner.run(x)
    oracle = F.conv2d(x, torch.from_numpy(dw.transpose(2, 3, 0, 1).reshape(2, 1, 3, 3)), padding=1, groups=2)
    want = 2 * oracle.mean(dim=(2, 3), keepdim=True)
    assert got.shape == (1, 4, 1, 1)
    torch.testing.assert_close(got, torch.cat([want, want], 1), rtol=1e-5, atol=1e-5)


def test_legacy_bilinear_resize_samples_dst_times_scale():
    x = torch.tensor([0.0, 1.0, 2.0]).view(1, 1, 1, 3)
    got = _resize_legacy(x, (1, 6))
    assert got.flatten().tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])


def test_unsupported_op_is_named(tmp_path):
    nodes = [{"name": "x", "op": "Placeholder"}, {"name": "y", "op": "Softplus", "input": ["x"]}]
    runner = GraphRunner(load_graph(_write_graph(tmp_path, nodes, {})), ("y",))
    with pytest.raises(ModelUnavailableError, match="Softplus"):
        runner.run(torch.zeros(1, 1, 2, 2))


def test_truncated_weights_are_reported(tmp_path):
    shutil.copy(WEIGHTS, tmp_path / "centernet.json")
    data = (WEIGHTS.parent / "centernet.bin").read_bytes()
    (tmp_path / "centernet.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelUnavailableError, match="centernet"):
        load_graph(tmp_path / "centernet.json")


def test_decode_two_peaks_scaled_back_and_nms():
    heat = torch.zeros(80, 128, 128)
    heat[0, 32, 32] = 0.9  # a person centred at (128, 128) in 512-px input space
    heat[16, 64, 100] = 0.6  # a dog at (400, 256)
    heat[16, 64, 101] = 0.55  # a neighbour peak: removed by the 3x3 max-pool
    heat[16, 10, 10] = 0.05  # below min_score
    wh = torch.full((4, 128, 128), 20.0)
    dets = decode(heat, wh, (1024, 256), CenterNetConfig(min_score=0.1))
    assert [(d.label, d.score) for d in dets] == [("person", 0.9), ("dog", 0.6)]
    # (128 -/+ 20, 128 -/+ 20) in the 512-px input, scaled by (1024 / 512, 256 / 512)
    assert dets[0].box == pytest.approx((216.0, 54.0, 296.0, 74.0))


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="min_score"):
        CenterNetConfig(min_score=1.5)


@pytest.mark.parametrize(
    ("noun", "label"),
    [
        ("dogs", "dog"),
        ("a wine glass", "wine glass"),
        ("sofa", "couch"),
        ("people", "person"),
        ("knives", "knife"),
        ("the red buses", "bus"),
        ("mobile phones", "cell phone"),
        ("unicorn", None),
    ],
)
def test_coco_vocabulary(noun, label):
    got = coco_category(noun)
    assert (COCO_NAMES[got] if got is not None else None) == label


@pytest.fixture(scope="module")
def detector():
    return load_centernet()


PHOTOS = [("astronaut", "person"), ("stereo_motorcycle", "motorcycle"), ("coffee", "cup")]


@pytest.mark.parametrize(("photo", "label"), PHOTOS)
def test_real_weights_find_what_the_photo_shows(detector, photo, label):
    data = pytest.importorskip("skimage.data")
    arr = getattr(data, photo)()
    img = Image.fromarray(arr[0] if isinstance(arr, tuple) else arr)
    dets = detector.detect(img)
    assert dets and dets[0].label == label and dets[0].score > 0.3
    x0, y0, x1, y1 = dets[0].box
    assert 0 <= x0 < x1 <= img.width and 0 <= y0 < y1 <= img.height


@pytest.mark.parametrize(
    "img", [Image.new("L", (1, 300), 128), Image.new("RGBA", (INPUT // 4, INPUT // 8), (0, 0, 0, 0))]
)
def test_real_weights_on_odd_inputs(detector, img):
    dets = detector.detect(img)  # a 1-px strip and a transparent image: stretched, no crash
    assert isinstance(dets, list)
    for d in dets:
        assert 0 <= d.box[0] <= d.box[2] <= img.width and 0 <= d.box[1] <= d.box[3] <= img.height


def test_detections_are_cached_by_pixel_content():
    from multimodal.detect.centernet import CenterNetDetector

    class Runner:
        calls = 0

        def run(self, x):
            Runner.calls += 1
            heat = torch.zeros(1, 80, 128, 128)
            heat[0, 0, 10, 10] = 0.9
            return [heat, torch.full((1, 4, 128, 128), 8.0)]

    det = CenterNetDetector(Runner())
    a, b = Image.new("RGB", (64, 64), (1, 2, 3)), Image.new("RGB", (64, 64), (1, 2, 4))
    first = det.detect(a)
    first.clear()  # callers get their own list
    assert len(det.detect(a.copy())) == 1 and Runner.calls == 1
    det.detect(b)
    assert Runner.calls == 2
