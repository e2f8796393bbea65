"""What a UI handler's failure shows the user: our own errors (the ``SceneQAError`` family, deadlines and a
full model gate included) become ``gr.Error`` with their message, minus server folders; anything else is
logged with its traceback and shown as a generic message, so internals never reach a client."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import gradio as gr

from retrieval.errors import SceneQAError

log = logging.getLogger("sceneqa.serve")
INTERNAL = "internal error; see the server log"


def scrub(message: str, folders: Sequence[Path]) -> str:
    """``message`` with each of ``folders`` (as given and resolved) replaced by its base name."""
    for folder in folders:
        for form in {str(folder), str(Path(folder).resolve())}:
            if len(form) > 1:
                message = message.replace(form + "/", "").replace(form, Path(form).name)
    return message


def ui_errors(folders: Sequence[Path]) -> Callable[[Callable], Callable]:
    """Decorator for plain and generator handlers (``functools.wraps`` keeps the signature Gradio reads)."""

    def convert(exc: Exception, name: str) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, SceneQAError):
            return gr.Error(scrub(str(exc), folders))
        log.exception("UI handler %s failed", name)
        return gr.Error(INTERNAL)

    def decorate(fn: Callable) -> Callable:
        import inspect

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def stream(*args, **kwargs) -> Iterator:
                try:
                    yield from fn(*args, **kwargs)
                except Exception as exc:
                    raise convert(exc, fn.__name__) from None

            return stream

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                raise convert(exc, fn.__name__) from None

        return call

    return decorate
