"""The lite answerer's confidence calibration: maps, rules, fitting, the shipped table, and its use to abstain."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from eval.vqa_calibrate import fit_calibration, fit_map
from multimodal.ask.answer_lite import LiteAnswerer
from multimodal.ask.calibration import (
    NEGATIVE_CAP,
    Calibration,
    PiecewiseMap,
    is_negative,
    load_calibration,
)
from multimodal.errors import ConfigError

TABLE = Calibration(
    {
        "presence:concept:yes": PiecewiseMap((0.5, 0.7, 0.9), (0.2, 0.6, 0.8), 40),
        "presence:concept:no": PiecewiseMap((0.3, 0.55), (0.8, 0.95), 60),
        "count:people:zero": PiecewiseMap((0.5,), (0.7,), 30),
    },
    {"fitted_on": "a hand-made table"},
)


def test_maps_apply_by_key_with_golden_values():
    assert TABLE("presence:concept:yes", 0.6) == pytest.approx(0.4, abs=1e-9)  # halfway between 0.2 and 0.6
    assert TABLE("presence:concept:yes", 0.1) == pytest.approx(0.2)  # clipped below the first breakpoint
    assert TABLE("presence:concept:yes", 1.0) == pytest.approx(0.8)  # and above the last
    assert TABLE("presence:concept:no", 0.55) == pytest.approx(0.95)  # a measured, precise "no" stays
    # a "no" whose measured precision is under 0.9 is capped below the threshold, as is an unmeasured one
    assert TABLE("presence:concept:no", 0.3) == pytest.approx(NEGATIVE_CAP)
    assert TABLE("count:people:zero", 0.5) == pytest.approx(NEGATIVE_CAP)
    assert TABLE("presence:shape:no", 0.9) == pytest.approx(NEGATIVE_CAP)
    assert TABLE("colour:object", 0.73) == pytest.approx(0.73)  # no map, not negative: raw
    assert Calibration.identity()("presence:shape:no", 0.9) == pytest.approx(0.9)


def test_maps_are_monotone():
    raw = np.linspace(-0.2, 1.2, 141)
    for key in TABLE.maps:
        values = [TABLE(key, r) for r in raw]
        assert all(b >= a for a, b in zip(values, values[1:])), key
    with pytest.raises(ConfigError, match="non-decreasing"):
        PiecewiseMap((0.1, 0.5), (0.9, 0.2))


def test_negative_keys():
    assert is_negative("presence:people:no") and is_negative("count:objects:zero")
    assert not is_negative("count:people") and not is_negative("presence:concept:yes")


def test_fitting_recovers_a_known_monotone_map():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 4000)
    truth = np.clip(0.1 + 0.8 * raw, 0, 1)  # right with probability 0.1 + 0.8 raw
    correct = (rng.uniform(0, 1, raw.size) < truth).astype(float)
    m = fit_map(raw, correct)
    assert all(b >= a for a, b in zip(m.ys, m.ys[1:])) and m.n == 4000
    grid = np.linspace(0.1, 0.9, 9)
    np.testing.assert_allclose([m(g) for g in grid], 0.1 + 0.8 * grid, atol=0.08)


def test_fit_calibration_keeps_keys_with_enough_samples(tmp_path):
    samples = [("presence:concept:yes", r, float(r > 0.5)) for r in np.linspace(0, 1, 30)]
    samples += [("count:people", 0.7, 1.0)] * 5
    cal = fit_calibration(samples, {"fitted_on": "synthetic"}, min_samples=20)
    assert set(cal.maps) == {"presence:concept:yes"}
    assert cal.provenance["counts"] == {"count:people": 5, "presence:concept:yes": 30}
    assert cal.provenance["unfitted"] == ["count:people"]
    assert cal("presence:concept:yes", 0.9) == pytest.approx(1.0) and cal("presence:concept:yes", 0.1) == 0.0
    loaded = load_calibration(cal.save(tmp_path / "cal.json"))
    assert loaded.maps == cal.maps and loaded.provenance["fitted_on"] == "synthetic"


def test_shipped_table_loads_and_names_its_provenance():
    cal = load_calibration("shipped")
    assert "train" in cal.provenance["split"] and cal.provenance["date"] and cal.provenance["counts"]
    assert cal.maps and all(cal.provenance["counts"][k] >= 20 for k in cal.maps)
    assert load_calibration("unfitted").maps == {} and load_calibration("none").raw


def test_unreadable_table_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="bad.json"):
        load_calibration(bad)


class _Flat(Calibration):
    """Maps every key to one value (a stand-in calibration)."""

    def __call__(self, key: str, raw: float, *, fitted: bool = False) -> float:
        return 0.3


@pytest.fixture(scope="module")
def red_circle():
    img = Image.new("RGB", (160, 120), (246, 246, 240))
    ImageDraw.Draw(img).ellipse((20, 30, 80, 90), fill=(220, 30, 30))
    return img


def test_answerer_abstains_on_the_calibrated_value(tiny_services, red_circle):
    tools = tiny_services.fact_tools()
    raw = LiteAnswerer(tools).answer("is there a red circle?", [red_circle], [])
    same = LiteAnswerer(tools, calibration=Calibration.identity()).answer("is there a red circle?", [red_circle], [])
    low = LiteAnswerer(tools, calibration=_Flat()).answer("is there a red circle?", [red_circle], [])
    assert not raw.abstained and raw.route == "presence:shape:yes" and raw.confidence >= 0.5
    assert (same.text, same.confidence, same.abstained) == (raw.text, raw.confidence, raw.abstained)
    assert low.abstained and low.confidence == pytest.approx(0.3) and low.route == "presence:shape:yes"
    no = LiteAnswerer(tools, calibration=load_calibration("unfitted")).answer(
        "is there a green triangle?", [red_circle], []
    )
    assert no.abstained and no.route == "presence:shape:no" and "weak evidence: no" in no.detail
