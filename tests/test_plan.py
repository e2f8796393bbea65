"""The tier plan and the services' lazy holders (issue 13, item 3): one table per tier, registries that refuse
duplicates and list the known names, reporting that loads nothing, models built once under races."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from multimodal.ask.answerers import answerer_name
from multimodal.errors import ConfigError, UnknownNameError
from multimodal.plan import OCR_READERS, TIER_COMPONENTS, Component, Registry, make_plan
from multimodal.services import Lazy
from multimodal.tiers import DEFAULT_ANSWERERS, TierChoice


@pytest.mark.parametrize("tier", sorted(TIER_COMPONENTS))
def test_every_tier_has_a_complete_plan(tier):
    plan = make_plan(TierChoice(tier, f"{tier}-encoder", "because"))
    assert plan.answerer == DEFAULT_ANSWERERS[tier] and plan.reason == "because"
    assert {plan.text_embedder, plan.ocr, plan.faces, plan.tagger} <= {
        spec for specs in TIER_COMPONENTS.values() for spec in specs.values()
    }
    assert make_plan(TierChoice(tier, "e", "r"), "lite").answerer == "lite"


def test_registries_refuse_duplicates_and_list_known_names():
    reg: Registry = Registry("widget")
    reg.register("a", Component("A", lambda: 1))
    with pytest.raises(ConfigError, match="registered twice"):
        reg.register("a", Component("A again", lambda: 2))
    with pytest.raises(UnknownNameError, match="unknown widget 'b'. Available: a"):
        reg["b"]
    plan = make_plan(TierChoice("tiny", "tiny:open_clip", "tests"))
    with pytest.raises(UnknownNameError, match="unknown text reader 'tesseract'"):
        replace(plan, ocr="tesseract")
    assert OCR_READERS["none"].name == "none (tiny)"


def test_reporting_models_loads_nothing(tiny_services):
    services = replace(tiny_services, plan=replace(tiny_services.plan, text_embedder="minilm", ocr="rapidocr"))
    models = services.models()
    assert models["text"] == "all-MiniLM-L6-v2 (packaged)" and models["ocr"].startswith("RapidOCR")
    assert not services._text.built and not services._facts.built and not services._answerer.built


def test_answerer_names_are_known_before_loading(tiny_services, tiny_vlm_services):
    assert answerer_name("lite") == tiny_services.answerer().name
    assert answerer_name(tiny_vlm_services.plan.answerer) == tiny_vlm_services.answerer().name
    assert tiny_services.answerer().can_stream is False and tiny_vlm_services.answerer().can_stream is True
    with pytest.raises(UnknownNameError, match="Available: lite, hf:REPO_OR_DIR, tiny:hf"):
        answerer_name("gpt:4")


def test_lazy_builds_once_when_threads_race():
    built = []

    def build():
        time.sleep(0.05)
        built.append(1)
        return object()

    lazy = Lazy(build)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(lazy.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len({id(x) for x in seen}) == 1 and lazy.built
