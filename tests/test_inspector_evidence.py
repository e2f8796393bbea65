"""An inspector as Ask evidence: which questions it answers (pure), the evidence text and confidence (pure),
and the ask pipeline with a tiny-backbone inspector fitted on synthetic textures (tiny tier, lite answerer)."""

from __future__ import annotations

import io

import pytest

from multimodal.ask.answers import ABSTAIN_TEXT, Evidence
from multimodal.ask.inspector_evidence import (
    InspectorSelection,
    answer,
    asks_about_defects,
    confidence,
    evidence_of,
)
from multimodal.ask.pipeline import AskRequest, ask, ask_stream
from multimodal.inspect import FitConfig, Inspector, create_backbone, fit_inspector
from multimodal.inspect.inspector import Inspection
from multimodal.inspect.regions import Region
from tests.inspect_data import texture


def png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    tiny = create_backbone("tiny")
    return Inspector(fit_inspector("tex", tiny, [texture(i) for i in range(12)], FitConfig(image_size=128)), tiny)


GOOD, BAD = texture(400), texture(401, blob=(60, 50, 16))


@pytest.mark.parametrize(
    ("question", "polarity"),
    [
        ("is this part defective?", True),
        ("Is there a defect?", True),
        ("are there any scratches or cracks?", True),
        ("Is the part damaged", True),
        ("is this part ok?", False),
        ("does it pass?", False),
        ("is the part not defective?", False),
        ("isn't it defective?", True),  # answered "yes, it is"
        ("are there no defects?", False),
        ("is it good or defective?", None),  # both polarities: not a yes/no about defects
        ("what colour is the part?", None),
        ("where is the defect?", None),  # not yes/no
        ("is there a dog?", None),
    ],
)
def test_which_questions_the_inspector_answers(question, polarity):
    assert asks_about_defects(question) is polarity


def _ins(score: float, verdict: str, boxes=()) -> Inspection:
    import numpy as np

    return Inspection("x.png", score, 0.61, verdict, 0.999 if verdict == "defect" else 0.3, boxes, np.zeros((2, 2)))


def test_evidence_text_boxes_and_confidence():
    region = Region(120, 40, 160, 80, 1600, 1.2)
    ev = evidence_of("tiles", 1, _ins(0.93, "defect", (region,)), band_width=0.05)
    assert ev.kind == "image" and ev.locator == "image:1#inspector:tiles" and ev.boxes == ((120, 40, 160, 80),)
    assert ev.text.startswith("inspector 'tiles': anomaly score 0.93 above threshold 0.61 (defect;")
    assert ev.text.endswith("region at 120,40-160,80")
    # margin beyond the band: 0.93 - 0.61 - 0.05 = 0.27 score units, scale 0.05 -> 1 - 0.5 e^-5.4
    assert ev.score == pytest.approx(1 - 0.5 * 2.718281828**-5.4, abs=1e-4)
    assert confidence(_ins(0.62, "cannot tell"), 0.05, 0.05) == 0.0
    assert confidence(_ins(0.61 - 0.05, "ok"), 0.05, 0.05) == 0.5  # at the band's edge
    ok = evidence_of("tiles", 2, _ins(0.3, "ok"), band_width=0.05)
    assert "below threshold" in ok.text and "region" not in ok.text and ok.boxes == ()


def test_answer_from_the_verdicts():
    bad = evidence_of("t", 1, _ins(0.93, "defect"), 0.05)
    good = evidence_of("t", 2, _ins(0.2, "ok"), 0.05)
    unsure = evidence_of("t", 3, _ins(0.62, "cannot tell"), 0.05)
    other = Evidence("context", "log:L1", "the part is defective")
    a = answer("is this part defective?", [other, bad, good])
    assert a.text == "yes" and not a.abstained and a.citations == (bad,) and a.route == "inspector:defect"
    assert answer("is the part ok?", [bad, good]).text == "no"
    assert answer("is there a defect?", [good]).text == "no" and answer("is it fine?", [good]).text == "yes"
    a = answer("is there a defect?", [good, unsure])
    assert a.abstained and a.text == ABSTAIN_TEXT and a.citations == (unsure,)
    assert answer("what colour is it?", [bad]) is None  # the answerer answers that
    assert answer("is it defective?", [other]) is None  # no inspector evidence


def test_ask_cites_the_inspector_and_its_region(tiny_services, inspector):
    sel = InspectorSelection(inspector)
    r = ask(tiny_services, AskRequest("is this part defective?", (png(BAD),), ("bad.png",), inspector=sel))
    a = r.answer
    expected = inspector.inspect([BAD])[0]
    assert expected.verdict == "defect"
    assert a.text == "yes" and not a.abstained and a.confidence > 0.5
    (cite,) = a.citations
    assert cite.locator == "image:1#inspector:tex" and cite.boxes == tuple(
        (b.x0, b.y0, b.x1, b.y1) for b in expected.boxes
    )
    assert f"anomaly score {expected.score:.3g} above threshold" in cite.text
    assert any(e["locator"] == "image:1#inspector:tex" for e in r.as_dict()["evidence"])
    good = ask(tiny_services, AskRequest("is this part defective?", (png(GOOD),), inspector=sel)).answer
    assert good.text == "no" and "below threshold" in good.citations[0].text
    assert ask(tiny_services, AskRequest("is the part ok?", (png(BAD),), inspector=sel)).answer.text == "no"


def test_other_questions_keep_their_answerer_and_list_the_evidence(tiny_services, inspector):
    sel = InspectorSelection(inspector)
    r = ask(tiny_services, AskRequest("what colour is it?", (png(BAD),), inspector=sel))
    assert r.answer.route != "inspector:defect"
    assert any(e.locator == "image:1#inspector:tex" for e in r.evidence)
    plain = ask(tiny_services, AskRequest("is this part defective?", (png(BAD),)))
    assert plain.answer.route != "inspector:defect" and all("#inspector" not in e.locator for e in plain.evidence)


def test_stream_yields_the_inspector_answer(tiny_services, inspector):
    pieces = list(
        ask_stream(tiny_services, AskRequest("any defects?", (png(BAD),), inspector=InspectorSelection(inspector)))
    )
    assert pieces[0] == "yes" and pieces[-1].answer.text == "yes"
