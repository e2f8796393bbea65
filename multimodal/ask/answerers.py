"""Answerers: the :class:`Answerer` Protocol and the factory from a spec: ``lite`` (scene facts),
``hf:REPO_OR_DIR`` (a VLM), ``tiny:hf[/ARCH]`` (random VLM).

Every answerer has ``name``, ``can_stream`` and ``answer(question, images, evidence) -> Answer`` (the facts it
established from the images in ``Answer.derived``);
those with ``can_stream`` also ``stream(...)``, yielding text pieces and then the Answer. A factory receives
:class:`AnswererNeeds` (what answerers may use), never the whole services object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from multimodal.ask.answers import Answer, Evidence
from multimodal.encoders.base import EncoderOptions
from multimodal.errors import SpecError, UnknownNameError
from multimodal.runtime import Runtime


class Answerer(Protocol):
    name: str
    can_stream: bool

    def answer(self, question: str, images: Sequence[Image.Image], evidence: Sequence[Evidence]) -> Answer:
        """The answer; ``Answer.derived`` holds the evidence it established from the images (citations may
        point at the given ``evidence`` and at those)."""
        ...

    def stream(
        self, question: str, images: Sequence[Image.Image], evidence: Sequence[Evidence]
    ) -> Iterator[str | Answer]:
        """Only when ``can_stream``: text pieces as generated, then the final :class:`Answer`."""
        ...


@dataclass(frozen=True)
class AnswererNeeds:
    """What an answerer factory may use. ``fact_tools`` builds (once, lazily) the scene-fact tools."""

    runtime: Runtime
    encoder_options: EncoderOptions
    vlm_options: Any  # multimodal.ask.vlm.hf_vlm.VlmOptions (imported lazily: transformers is heavy)
    threshold: float
    fact_tools: Callable[[], Any]
    calibration: str = "shipped"  # lite: shipped, unfitted, none or a JSON path (calibration.load_calibration)


def _lite(rest: str, needs: AnswererNeeds):
    if rest:
        raise SpecError(f"'lite:{rest}': the lite answerer takes no arguments; use lite")
    from multimodal.ask.answer_lite import LiteAnswerer
    from multimodal.ask.calibration import load_calibration

    return LiteAnswerer(needs.fact_tools(), threshold=needs.threshold, calibration=load_calibration(needs.calibration))


def _hf(rest: str, needs: AnswererNeeds):
    from multimodal.ask.vlm.hf_vlm import load_hf_vlm

    return load_hf_vlm(rest, needs.runtime, needs.encoder_options, needs.vlm_options)


def _tiny(rest: str, needs: AnswererNeeds):
    family, _, arch = rest.partition("/")
    if family != "hf":
        raise UnknownNameError(f"unknown tiny answerer 'tiny:{rest}'. Available: tiny:hf, tiny:hf/smolvlm-256m")
    from multimodal.ask.vlm.hf_vlm import load_hf_vlm
    from multimodal.ask.vlm.tiny import tiny_vlm_folder, write_tiny_vlm
    from multimodal.encoders.tiny import ensure_folder

    arch = arch or "tiny"
    opts = needs.encoder_options
    folder = ensure_folder(tiny_vlm_folder(opts, arch), lambda d: write_tiny_vlm(d, arch, opts.seed))
    return load_hf_vlm(str(folder), needs.runtime, opts, needs.vlm_options, spec=f"tiny:{rest}", pretrained=False)


@dataclass(frozen=True)
class AnswererKind:
    """A family of answerers: how its display name follows from the spec (no loading), and its builder."""

    display: Callable[[str], str]
    build: Callable[[str, AnswererNeeds], Answerer]


ANSWERERS: dict[str, AnswererKind] = {
    "lite": AnswererKind(lambda spec: "lite scene facts (no generative model)", _lite),
    "hf": AnswererKind(lambda spec: f"{spec} (pretrained)", _hf),
    "tiny": AnswererKind(lambda spec: f"{spec} (RANDOM WEIGHTS)", _tiny),
}


def _kind(spec: str) -> tuple[AnswererKind, str]:
    family, _, rest = spec.strip().partition(":")
    if family not in ANSWERERS:
        raise UnknownNameError(f"unknown answerer {spec!r}. Available: lite, hf:REPO_OR_DIR, tiny:hf")
    return ANSWERERS[family], rest


def answerer_name(spec: str) -> str:
    """What ``create_answerer(spec).name`` will be, without loading anything."""
    kind, _ = _kind(spec)
    return kind.display(spec.strip())


def create_answerer(spec: str, needs: AnswererNeeds) -> Answerer:
    kind, rest = _kind(spec)
    return kind.build(rest, needs)
