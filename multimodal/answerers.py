"""Answerer factory: ``lite`` (scene facts), ``hf:REPO_OR_DIR`` (a VLM), ``tiny:hf[/ARCH]`` (random VLM).

Every answerer has ``name`` and ``answer(question, images, evidence) -> (Answer, derived_evidence)``;
VLM answerers also ``stream(...)``, yielding text pieces and then the Answer.
"""

from __future__ import annotations

from collections.abc import Callable

from multimodal.errors import SpecError, UnknownNameError


def _lite(rest: str, services):
    if rest:
        raise SpecError(f"'lite:{rest}': the lite answerer takes no arguments; use lite")
    from multimodal.answer_lite import LiteAnswerer

    return LiteAnswerer(services.fact_tools(), threshold=services.config.abstain_below)


def _hf(rest: str, services):
    from multimodal.vlm.hf_vlm import load_hf_vlm

    return load_hf_vlm(rest, services.runtime, services.encoder_options(), services.vlm_options())


def _tiny(rest: str, services):
    family, _, arch = rest.partition("/")
    if family != "hf":
        raise UnknownNameError(f"unknown tiny answerer 'tiny:{rest}'. Available: tiny:hf, tiny:hf/smolvlm-256m")
    from multimodal.encoders.tiny import ensure_folder
    from multimodal.vlm.hf_vlm import load_hf_vlm
    from multimodal.vlm.tiny import tiny_vlm_folder, write_tiny_vlm

    arch = arch or "tiny"
    opts = services.encoder_options()
    folder = ensure_folder(tiny_vlm_folder(opts, arch), lambda d: write_tiny_vlm(d, arch, opts.seed))
    return load_hf_vlm(
        str(folder), services.runtime, opts, services.vlm_options(), spec=f"tiny:{rest}", pretrained=False
    )


ANSWERERS: dict[str, Callable] = {"lite": _lite, "hf": _hf, "tiny": _tiny}


def create_answerer(spec: str, services):
    family, _, rest = spec.strip().partition(":")
    if family not in ANSWERERS:
        raise UnknownNameError(f"unknown answerer {spec!r}. Available: lite, hf:REPO_OR_DIR, tiny:hf")
    return ANSWERERS[family](rest, services)
