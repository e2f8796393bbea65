"""The API's wording of errors the library words for the command line. Library errors name the fix as a CLI
option (``--text-columns is empty``, ``pass --labels 'cat, dog'``); an API client sends JSON fields or form
fields instead, so every error message the API answers (the error handlers', the streamed ``event: error``s',
per-image ``error`` rows') names the field: ``text_columns is empty``, ``add=true``. The CLI keeps its wording:
only the API's scrubber rewords. Options that are the server operator's (``--encoder``, ``--max-upload-mb``)
stay as they are."""

from __future__ import annotations

import re

from demos.api_errors import PathScrubber

#: whole phrases first: CLI advice with no one-to-one field
PHRASES: tuple[tuple[str, str], ...] = (
    (
        "pass --labels 'cat, dog' or --labels-file FILE (one per line)",
        'send labels: a list such as ["cat", "dog"] or comma-separated text such as \'cat, dog\'',
    ),
    ("holding item text, e.g. name,title", 'holding item text, e.g. ["name", "title"]'),
    ("give an image, --context FILE or --context-text", "send an image, contexts or context_text"),
    ("refit it with replace (CLI: --replace)", "refit it with replace=true"),
)
#: a CLI option of a request's input -> the field of the API request that carries it (flags: ``field=true``)
FIELDS: dict[str, str] = {
    "--labels": "labels",
    "--text-columns": "text_columns",
    "--holdout": "holdout",
    "--text": "text",
    "--weight": "weight",
    "--negative": "negative",
    "--context-text": "context_text",
    "--band": "band",
    "--size": "size",
    "--false-alarm": "false_alarm",
    "--hybrid": "hybrid=true",
    "--add": "add=true",
    "--replace": "replace=true",
}
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)(?![\w-])")


def api_wording(message: str) -> str:
    """``message`` with the CLI options of :data:`FIELDS` named as the API's fields (others left as they are)."""
    for cli, api in PHRASES:
        message = message.replace(cli, api)
    return _OPTION.sub(lambda m: FIELDS.get(m.group(1), m.group(1)), message)


class ApiScrubber(PathScrubber):
    """The API's message filter: server folders replaced by neutral names, then :func:`api_wording`."""

    def __call__(self, message: str) -> str:
        return api_wording(super().__call__(message))
