"""``hf:REPO_OR_DIR`` answerers: any transformers image-text-to-text model (SmolVLM, Idefics3, Qwen2-VL,
...) through ``AutoProcessor`` + ``AutoModelForImageTextToText`` and the model's chat template.

The only module that loads generative VLMs. Image size is capped before the processor sees it (SmolVLM
splits a large image into up to 16 tiles of 512 px plus a global view, ~0.5 s per tile on this CPU), so
memory and time stay bounded. Confidence is the geometric mean probability of the answer's tokens.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from multimodal.ask.answers import ABSTAIN_TEXT, Answer, Evidence
from multimodal.ask.vlm.prompt import INSTRUCTIONS, parse_citations, says_cannot_tell, user_text
from multimodal.deadline import check_deadline, current_deadline
from multimodal.encoders.base import EncoderOptions
from multimodal.errors import ConfigError, ModelUnavailableError, first_line
from multimodal.runtime import Runtime


@dataclass(frozen=True)
class VlmOptions:
    """max_new_tokens: answer length cap; max_image_side: longest edge (px) an image is reduced to before
    tiling (1024 = at most 2x2 SmolVLM tiles + a global view); image_splitting: tile at all;
    threshold: abstain below this confidence; confidence_tokens: answer tokens averaged for confidence."""

    max_new_tokens: int = 96
    max_image_side: int = 1024
    image_splitting: bool = True
    threshold: float = 0.5
    confidence_tokens: int = 8

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.max_image_side < 64:
            raise ConfigError("VLM options: max_new_tokens must be >= 1 and max_image_side >= 64")


class HfVlmAnswerer:
    can_stream = True

    def __init__(self, *, spec: str, model, processor, runtime: Runtime, options: VlmOptions, pretrained: bool):
        import torch

        self.spec = spec
        self.name = f"{spec} ({'pretrained' if pretrained else 'RANDOM WEIGHTS'})"
        self._model = model
        self._processor = processor
        self._runtime = runtime
        self._options = options
        self._torch = torch
        self._tile = _tile_size(processor)
        self._specials = special_token_strings(processor)

    # ---- pre-processing (pure apart from the processor) ------------------------------------------------------

    def prepare(self, question: str, images: Sequence[Image.Image], evidence: Sequence[Evidence]):
        """Model inputs for the question, the images (size-capped) and the numbered evidence."""
        text = user_text(question, evidence, self._specials)
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]
        messages = [
            {"role": "system", "content": [{"type": "text", "text": INSTRUCTIONS}]},
            {"role": "user", "content": content},
        ]
        prompt = self._processor.apply_chat_template(messages, add_generation_prompt=True)
        capped = [cap_image(im, self._options.max_image_side) for im in images]
        kwargs = {}
        if capped and self._tile:
            longest = max(max(im.size) for im in capped)
            kwargs = {
                "do_image_splitting": self._options.image_splitting,
                "size": {
                    "longest_edge": min(
                        self._options.max_image_side, max(self._tile, math.ceil(longest / self._tile) * self._tile)
                    )
                },
            }
        inputs = self._processor(text=prompt, images=[capped] if capped else None, return_tensors="pt", **kwargs)
        return {
            k: (
                v.to(self._runtime.device, self._runtime.torch_dtype)
                if v.is_floating_point()
                else v.to(self._runtime.device)
            )
            for k, v in inputs.items()
        }

    # ---- forward -------------------------------------------------------------------------------------------

    def _generate(self, inputs, streamer=None, stop: threading.Event | None = None):
        """Greedy generation that stops between tokens when the request's deadline passes or ``stop`` is set
        (a client that hung up), so abandoned work does not run to ``max_new_tokens``."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        deadline = current_deadline()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return bool((stop is not None and stop.is_set()) or (deadline is not None and deadline.expired))

        with self._torch.inference_mode():
            return self._model.generate(
                **inputs,
                max_new_tokens=self._options.max_new_tokens,
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_Stop()]),
            )

    def answer(self, question: str, images: Sequence[Image.Image], evidence: Sequence[Evidence]) -> Answer:
        inputs = self.prepare(question, images, evidence)
        out = self._generate(inputs)
        check_deadline("generating")  # a generation cut short by the deadline is not an answer
        return self._finish(out, inputs, evidence)

    def stream(
        self, question: str, images: Sequence[Image.Image], evidence: Sequence[Evidence]
    ) -> Iterator[str | Answer]:
        """Yields text pieces as they are generated, then the final :class:`Answer`."""
        import contextvars

        from transformers import TextIteratorStreamer

        inputs = self.prepare(question, images, evidence)
        streamer = TextIteratorStreamer(self._processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        box: dict[str, object] = {}
        stop = threading.Event()

        def run() -> None:
            try:
                box["out"] = self._generate(inputs, streamer, stop)
            except BaseException as exc:  # surfaced to the caller below
                box["error"] = exc
                streamer.end()

        context = contextvars.copy_context()  # the request's deadline travels into the generation thread
        worker = threading.Thread(target=context.run, args=(run,), name="sceneqa-generate", daemon=True)
        worker.start()
        try:
            yield from (piece for piece in streamer if piece)
        finally:
            stop.set()  # closed early (client gone, deadline): generation stops at its next token
        worker.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        check_deadline("generating")
        yield self._finish(box["out"], inputs, evidence)

    # ---- post-processing -----------------------------------------------------------------------------------

    def _finish(self, out, inputs, evidence: Sequence[Evidence]) -> Answer:
        prompt_len = inputs["input_ids"].shape[1]
        tokens = out.sequences[0, prompt_len:]
        text = self._processor.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        confidence = token_confidence(out.scores, tokens, self._options.confidence_tokens)
        clean, cited, stray = parse_citations(text, evidence)
        images = [e for e in evidence if e.kind == "image"]
        notices = (f"the model cited evidence numbers that do not exist: {stray}",) if stray else ()
        if not cited:
            cited = images[:1]  # the image was given; an answer with no mark rests on it
        if says_cannot_tell(clean) or not clean or confidence < self._options.threshold:
            detail = f"model said: {clean[:200]!r} (confidence {confidence:.2f})"
            return Answer(ABSTAIN_TEXT, round(confidence, 4), True, tuple(cited), detail=detail, notices=notices)
        return Answer(clean, round(confidence, 4), False, tuple(cited), notices=notices)


def token_confidence(scores, tokens, limit: int) -> float:
    """Geometric mean probability of the first ``limit`` generated tokens (softmax of the step scores)."""
    import torch

    logps = []
    for step, token in zip(scores[:limit], tokens[:limit]):
        logps.append(float(torch.log_softmax(step[0].float(), dim=-1)[int(token)]))
    return float(math.exp(np.mean(logps))) if logps else 0.0


def special_token_strings(processor) -> tuple[str, ...]:
    """Every special / added token string of the model's tokenizer, longest first (removed from data)."""
    tok = getattr(processor, "tokenizer", processor)
    found = set(getattr(tok, "all_special_tokens", []) or [])
    added = getattr(tok, "added_tokens_decoder", {}) or {}
    found.update(t.content for t in added.values() if getattr(t, "special", False))
    return tuple(sorted((t for t in found if len(t.strip()) > 1), key=len, reverse=True))


def cap_image(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` reduced so its longest edge is at most ``max_side`` (never enlarged)."""
    if max(img.size) <= max_side:
        return img
    scale = max_side / max(img.size)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)


def _tile_size(processor) -> int:
    mis = getattr(getattr(processor, "image_processor", None), "max_image_size", None)
    return int(mis["longest_edge"]) if isinstance(mis, dict) and "longest_edge" in mis else 0


def load_hf_vlm(
    rest: str,
    runtime: Runtime,
    options: EncoderOptions,
    vlm: VlmOptions,
    *,
    spec: str | None = None,
    pretrained: bool = True,
) -> HfVlmAnswerer:
    """Load an image-text-to-text model from a hub id (cached or downloadable) or a local folder."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    local = Path(rest).expanduser()
    source = str(local) if local.exists() else rest
    local_only = options.local_files_only or local.exists()
    try:
        processor = AutoProcessor.from_pretrained(source, local_files_only=local_only)
        model = AutoModelForImageTextToText.from_pretrained(
            source, local_files_only=local_only, dtype=runtime.torch_dtype
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"hf:{rest}: the vision-language model could not be loaded ({first_line(exc)}). Without internet, copy "
            "the model folder here and pass --answerer hf:/path/to/folder, or use --answerer lite"
        ) from exc
    model = model.eval().to(runtime.device)
    return HfVlmAnswerer(
        spec=spec or f"hf:{rest}", model=model, processor=processor, runtime=runtime, options=vlm, pretrained=pretrained
    )
