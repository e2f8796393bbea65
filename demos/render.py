"""Pure rendering for the UI: the banner, evidence panels (cited lines highlighted in their file), captions."""

from __future__ import annotations

import html
import re

from multimodal.ask.answers import Answer, Evidence
from multimodal.banner import Banner

_LINES = re.compile(r":L(\d+)(?:-L(\d+))?$")


def answer_markdown(answer: Answer) -> str:
    if answer.abstained:
        head = f"**{html.escape(answer.text)}**"
    else:
        head = f"### {html.escape(answer.text)}"
    conf = f"confidence **{answer.confidence:.2f}**" + (" — abstained" if answer.abstained else "")
    detail = f"\n\n_{html.escape(answer.detail)}_" if answer.detail else ""
    notices = "".join(f"\n\n> {html.escape(n)}" for n in answer.notices)
    return f"{head}\n\n{conf}{detail}{notices}"


def evidence_html(answer: Answer, sources: dict[str, str], window: int = 2) -> str:
    """Cited evidence (context citations shown as their file's lines with the cited ones highlighted), then the
    facts the answerer established from the images without citing them (what an abstention could establish).
    Evidence with boxes says how many are outlined on its image."""
    parts = [_cited(c, sources, window) for c in answer.citations]
    cited = {(c.kind, c.locator) for c in answer.citations}
    extra = [e for e in answer.derived if (e.kind, e.locator) not in cited]
    if extra:
        parts.append("<div class='ev'><b>also established from the images</b></div>")
        parts += [_plain(e) for e in extra]
    return "<div class='evidence'>" + "".join(parts) + "</div>" if parts else "<i>no citations</i>"


def _cited(c: Evidence, sources: dict[str, str], window: int) -> str:
    if c.kind == "context":
        name, _, _ = c.locator.rpartition(":")
        m = _LINES.search(c.locator)
        text = sources.get(name)
        if m and text is not None:
            lo = int(m.group(1))
            hi = int(m.group(2) or lo)
            return _file_excerpt(name, text.splitlines(), lo, hi, window)
    return _plain(c)


def _plain(c: Evidence) -> str:
    outlined = f" <i>({len(c.boxes)} outlined)</i>" if c.boxes else ""
    return (
        f"<div class='ev'><b>[{html.escape(c.kind)}] {html.escape(c.locator)}</b> "
        f"<span>{html.escape(c.text[:400])}</span> <i>({c.score:.2f})</i>{outlined}</div>"
    )


def _file_excerpt(name: str, lines: list[str], lo: int, hi: int, window: int) -> str:
    rows = []
    for n in range(max(1, lo - window), min(len(lines), hi + window) + 1):
        style = " style='background:#fff3b0;font-weight:600'" if lo <= n <= hi else ""
        rows.append(f"<div{style}><code>{n:>4}</code> {html.escape(lines[n - 1])}</div>")
    return f"<div class='ev'><b>{html.escape(name)}</b>{''.join(rows)}</div>"


def item_caption(hit: dict) -> str:
    meta = ", ".join(f"{k}={v}" for k, v in list(hit.get("metadata", {}).items())[:4])
    return f"{hit['id']} · {hit['score']:.3f}" + (f" · {meta}" if meta else "")


def banner_markdown(banner: Banner) -> str:
    """The banner as markdown: tier and why, the models and what their weights are, the runtime, and how to
    get the full models when another tier runs."""
    lines = [
        "# sceneqa",
        f"**tier `{banner.tier}`**: {banner.why}  ",
        f"encoder `{banner.encoder}`: {banner.encoder_weights}  ",
        f"answerer `{banner.answerer}`: {banner.answerer_weights}  ",
        f"runtime {banner.runtime}",
    ]
    if banner.get_full:
        lines.append(f"\n_Full models: {banner.get_full}._")
    return "\n".join(lines)
