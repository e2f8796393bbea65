"""WordNet nouns -> ImageNet concepts (the table builder and its lookup), regions and their signals, and the
fitting of the presence models: oracle and golden checks."""

from __future__ import annotations

import numpy as np
import pytest

from eval.vqa_calibrate import fit_presence_models
from eval.vqa_report import Prediction
from eval.wordnet_concepts import build_table, parse_data_noun, parse_index_noun
from multimodal.ask.calibration import Calibration, LogisticModel, load_calibration
from multimodal.ask.facts.concepts import ConceptTable, lemma_candidates, load_concepts
from multimodal.ask.facts.regions import SIGNALS, RegionProbs, classify_regions, concept_signals, region_boxes
from multimodal.encoders.imagenet import imagenet_names

# A four-synset WordNet in the wndb(5WN) format: entity <- canine <- dog (n1), entity <- cat (n2)
DATA_NOUN = [
    "  1 This software and database is being provided ...",
    "00000010 03 n 01 entity 0 000 | that which exists",
    "00000020 05 n 02 canine 0 canid 0 001 @ 00000010 n 0000 | a dog-like mammal",
    "00000030 05 n 01 dog 0 002 @ 00000020 n 0000 ~ 00000099 n 0000 | a domestic dog",
    "00000040 05 n 01 cat 0 001 @i 00000010 n 0000 | a feline",
]
INDEX_NOUN = [
    "  1 licence",
    "entity n 1 1 ~ 1 0 00000010",
    "canine n 2 1 @ 2 0 00000020 00000099",
    "dog n 1 2 @ ~ 1 0 00000030",
    "cat n 1 1 @ 1 0 00000040",
    "fork n 1 0 1 0 00000050",
]


def test_builder_puts_classes_under_every_ancestor():
    synsets = parse_data_noun(DATA_NOUN)
    assert synsets[30] == (("dog",), (20,)) and synsets[40] == (("cat",), (10,))
    index = parse_index_noun(INDEX_NOUN)
    assert index["canine"] == (20, 99)
    table = build_table(synsets, index, ["dogs dog", "cats cat", "geese goose"], ["n00000030", "n00000040"])
    assert table["words"] == {"entity": [0, 1], "canine": [0], "dog": [0], "cat": [1]}
    assert table["plurals"] == {"cats": "cat", "dogs": "dog"}


def test_lemma_candidates_golden():
    assert lemma_candidates("Cell Phone") == ["cell_phone", "cellphone", "phone"]
    assert lemma_candidates("skis")[:2] == ["skis", "ski"]
    assert "bus" in lemma_candidates("buses") and "knife" not in lemma_candidates("knives")
    assert lemma_candidates("?!") == []


def test_lookup_plurals_head_nouns_and_general_words():
    table = ConceptTable({"dog": (1, 2), "glass": (7,), "knife": (3,)}, {"knives": "knife"})
    assert table.lookup("dogs") == ("dog", (1, 2))
    assert table.lookup("knives") == ("knife", (3,))
    assert table.lookup("wine glass") == ("glass", (7,))
    assert table.lookup("fork") is None and table.lookup("object") is None


def test_shipped_table():
    table = load_concepts()
    names = imagenet_names()
    lemma, dogs = table.lookup("dogs")
    assert lemma == "dog" and len(dogs) == 118 and names.index("golden retriever") in dogs
    assert table.lookup("cell phone")[1] == (names.index("cellular telephone"),)
    assert table.lookup("fork") is None and table.lookup("snow") is None
    assert names.index("groom") in table.people() and names.index("jersey") in table.people()
    assert "WordNet 3.0" in table.provenance["source"]


def test_region_boxes_golden():
    boxes = region_boxes(100, 80)
    assert len(boxes) == 12
    assert boxes[0] == (0, 0, 50, 40) and boxes[4] == (25, 20, 75, 60) and boxes[8] == (50, 40, 100, 80)
    assert boxes[9] == (0, 0, 66, 80) and boxes[11] == (33, 0, 100, 80)


def test_concept_signals_oracle():
    whole = np.zeros((2, 5), np.float32)
    whole[:, 0] = 1.0
    regions = np.zeros((3, 5), np.float32)
    regions[:, 0] = 1.0
    regions[1] = [0.2, 0.5, 0.3, 0.0, 0.0]
    rp = RegionProbs(whole, regions, ((0, 0, 1, 1), (1, 1, 2, 2), (2, 2, 3, 3)))
    sig = concept_signals(rp, [1, 2])
    assert sig.best_box == (1, 1, 2, 2) and sig.best_mass == pytest.approx(0.8)
    assert sig.values["log_mass_best_region"] == pytest.approx(np.log(0.8 + 1e-6))
    assert sig.values["log_mass_whole"] == pytest.approx(np.log(1e-6))
    assert sig.values["log_mass_mean_region"] == pytest.approx(np.log(0.8 / 3 + 1e-6))
    assert sig.values["log_best_class"] == pytest.approx(np.log(0.5 + 1e-6))
    assert sig.values["log_classes"] == pytest.approx(np.log(2))
    assert sig.top_classes == ((1, 0.5), (2, pytest.approx(0.3)))


def test_classify_regions_crops_each_box():
    from PIL import Image

    seen = []

    class Sizes:
        def class_probabilities(self, images, *, padded=False):
            seen.append((padded, [im.size for im in images]))
            return np.full((len(images), 3), 1 / 3, np.float32)

    rp = classify_regions(Image.new("L", (100, 80)), Sizes())
    assert rp.whole.shape == (2, 3) and rp.regions.shape == (12, 3)
    assert seen[0][1][:2] == [(100, 80), (50, 40)] and seen[1] == (True, [(100, 80)])


def _pred(path, kind, ref, route, mass, category="dog"):
    signals = dict.fromkeys(SIGNALS, float(np.log(mass))) | {"faces": 0.0}
    return Prediction(path, "q", kind, category, (ref,), "", 0.0, True, 0.0, route=route, signals=signals)


def test_presence_models_fit_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    preds = []
    for i in range(60):
        present = i % 2 == 0
        mass = rng.uniform(0.3, 0.99) if present else rng.uniform(0.001, 0.2)
        preds.append(_pred(f"{i}.jpg", "presence", "yes" if present else "no", "presence:concept:no", mass))
        preds.append(_pred(f"{i}.jpg", "count", str(2 * present), "count:people:zero", mass, "person"))
    models = fit_presence_models(preds)
    concept, people = models["presence:concept"], models["presence:people"]
    assert concept.n == 60 and people.n == 60  # one sample per image and model
    assert concept(dict.fromkeys(SIGNALS, np.log(0.9))) > 0.8 > 0.2 > concept(dict.fromkeys(SIGNALS, np.log(0.01)))
    path = Calibration(models=models).save(tmp_path / "cal.json")
    again = load_calibration(path)
    some = dict.fromkeys(SIGNALS, -0.1)
    assert again.probability("presence:concept", some) == pytest.approx(concept(some))
    assert again.probability("nothing", {}) is None


def test_fitted_values_skip_maps_but_keep_the_negative_rule():
    cal = load_calibration("unfitted")
    assert cal("presence:concept:no", 0.95, fitted=True) == pytest.approx(0.95)
    assert cal("presence:concept:no", 0.8, fitted=True) <= 0.45  # "no" below 0.9 precision abstains
    assert cal("presence:concept:yes", 0.7, fitted=True) == pytest.approx(0.7)
    with pytest.raises(Exception, match="coefficient"):
        LogisticModel(("a", "b"), (1.0,), 0.0)


def test_region_cache_by_pixels_with_eviction():
    from PIL import Image

    from multimodal.ask.facts.regions import ImageNetRegions

    class Encoder:
        calls = 0

        def class_probabilities(self, images, *, padded=False):
            Encoder.calls += 1
            return np.full((len(images), 4), 0.25, np.float32)

    regions = ImageNetRegions(Encoder(), cache_size=2)
    a, b = Image.new("RGB", (40, 30), (1, 2, 3)), Image.new("RGB", (40, 30), (1, 2, 4))
    same_pixels_other_shape = Image.new("RGB", (30, 40), (1, 2, 3))
    assert regions.regions(a) is regions.regions(a.copy()) and Encoder.calls == 2  # crops + padded view, once
    regions.regions(b)
    regions.regions(same_pixels_other_shape)
    assert Encoder.calls == 6
    regions.regions(a)  # evicted (cache of 2): classified again
    assert Encoder.calls == 8


def test_concept_model_is_fitted_from_detector_drafts_that_carry_concept_signals():
    rng = np.random.default_rng(1)
    preds = []
    for i in range(40):
        present = i % 2 == 0
        mass = rng.uniform(0.3, 0.99) if present else rng.uniform(0.001, 0.2)
        det = {"det_max": 0.5, "det_n": 1.0, "has_concept": 1.0, "concept_log_mass": float(np.log(mass))}
        signals = {s: float(np.log(mass)) for s in SIGNALS} | det
        ref = "yes" if present else "no"
        preds.append(
            Prediction(
                f"{i}.jpg",
                "q",
                "presence",
                "dog",
                (ref,),
                "",
                0.0,
                True,
                0.0,
                route="presence:object:no",
                signals=signals,
            )
        )
    preds.append(
        Prediction(
            "x.jpg",
            "q",
            "presence",
            "cup",
            ("yes",),
            "",
            0.0,
            True,
            0.0,
            route="presence:object:yes",
            signals=dict.fromkeys(("det_max", "det_n", "has_concept", "concept_log_mass"), 0.0),
        )
    )
    models = fit_presence_models(preds)
    assert models["presence:concept"].features == SIGNALS and models["presence:concept"].n == 40
    assert models["presence:object"].n == 41  # the drafts without concept signals count for the object model
    assert models["presence:object"].features == ("det_max", "det_n", "has_concept", "concept_log_mass")
