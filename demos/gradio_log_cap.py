"""Long user input never floods the server log. Gradio (6.x) prints the traceback of a failed event with
``traceback.print_exc()`` straight to stderr (``queueing.process_events``, ``routes`` ``/run``), not through
``logging``, and some of its messages quote every input value: a call with too few inputs raises
``ValueError("... Received inputs: [<each value>]")`` from ``Blocks.validate_inputs``, so one 500 KB string
puts 500 KB in the log. :func:`cap_event_errors` wraps the app's own ``process_api`` (one ``Blocks``, not the
library) so an error leaving it carries at most ``limit`` characters of message, and :class:`CapLongRecords`
does the same for log records (uvicorn's "Exception in ASGI application" tracebacks)."""

from __future__ import annotations

import functools
import logging

#: characters of an error message or log record kept; the rest is replaced by a note saying how much was cut
LOG_CAP = 2000
#: loggers whose records :func:`install_log_caps` caps (uvicorn logs unhandled ASGI exceptions to the first)
CAPPED_LOGGERS = ("uvicorn.error", "sceneqa")


def cut(text: str, limit: int = LOG_CAP) -> str:
    """``text`` when it has at most ``limit`` characters, else its head and a note of the length cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters cut: long input is not logged]"


def cap_event_errors(demo, limit: int = LOG_CAP) -> None:
    """Errors that leave ``demo``'s event processing (its ``process_api``) keep at most ``limit`` characters of
    message: a Gradio ``Error`` (what our handlers raise) is shortened in place, any other exception becomes a
    ``ValueError`` of its cut message (its class named), so Gradio's printed traceback stays short."""
    from gradio.exceptions import Error

    original = demo.process_api
    if getattr(original, "_sceneqa_capped", False):
        return

    @functools.wraps(original)
    async def process_api(*args, **kwargs):
        try:
            return await original(*args, **kwargs)
        except Error as exc:
            if isinstance(exc.message, str) and len(exc.message) > limit:
                exc.message = cut(exc.message, limit)
                exc.args = (exc.message,)
            raise
        except Exception as exc:
            message = str(exc)
            if len(message) <= limit:
                raise
            raise ValueError(f"{type(exc).__name__}: {cut(message, limit)}") from None

    process_api._sceneqa_capped = True
    demo.process_api = process_api  # an instance attribute: Gradio calls ``blocks.process_api(...)``


class CapLongRecords(logging.Filter):
    """Cuts a record's message (arguments applied) and its exception text to ``limit`` characters each."""

    def __init__(self, limit: int = LOG_CAP) -> None:
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > self.limit:
            record.msg, record.args = cut(message, self.limit), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and len(record.exc_text) > self.limit:
            record.exc_text = cut(record.exc_text, self.limit)
        return True


def install_log_caps(limit: int = LOG_CAP, names: tuple[str, ...] = CAPPED_LOGGERS) -> None:
    """A :class:`CapLongRecords` on each logger of ``names`` (once: installing again adds none)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, CapLongRecords) for f in logger.filters):
            logger.addFilter(CapLongRecords(limit))
