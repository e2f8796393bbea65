"""The Search tab: text, image, both or "more like this" (click a result), with a negative, typed filters and
filter widgets that follow the catalog's schema (:mod:`demos.ui.widgets`)."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from demos.render import item_caption
from demos.ui.context import UiContext, bind, thumbnail
from demos.ui.why import why_widgets
from demos.ui.widgets import FilterLayout, build_filter_widgets, read_layout, widget_filters, widget_updates
from multimodal.errors import SceneQAError

FILTERS_LABEL = "filters, one per line (e.g. colour=red, year>=2022, kind in (mug, tag))"
#: hits explained by "Show why", best first: each is a forward and a backward pass on the model worker
WHY_HITS = 3


def run_search(
    ctx: UiContext,
    text: str | None,
    image: str | None,
    weight: float,
    negative: str | None,
    filters: Sequence[str],
    k: float,
    hybrid: bool,
    like: str | None = None,
) -> tuple[list, list[str], list[dict]]:
    """``(gallery [(thumbnail, caption)], result ids, records)``; records carry no server paths."""
    from multimodal.search import SearchRequest, search_catalog

    path = ctx.uploaded_images([image])[0] if image else None
    req = SearchRequest(
        text=text or None,
        image=path,
        image_name=path.name if path else None,
        like=like,
        weight=weight,
        negative=negative or None,
        filters=tuple(filters),
        k=int(k),
        hybrid=bool(hybrid) and bool(text),
    )
    response = ctx.direct(lambda: search_catalog(ctx.services, ctx.catalog.reader(), req))
    hits = response["results"]
    gallery = [(thumbnail(h["image"]), item_caption(h)) for h in hits]
    records = [{key: v for key, v in h.items() if key != "image"} for h in hits]  # no server paths to clients
    return gallery, [h["id"] for h in hits], records


def do_search(
    ctx: UiContext,
    text: str | None,
    image: str | None,
    weight: float,
    negative: str | None,
    filters_text: str | None,
    k: float,
    hybrid: bool,
    layout: FilterLayout | None = None,
    *widget_values,
) -> tuple[list, list[str], list[dict]]:
    """The ``/search`` event: the typed filters (one per line) and those of the widgets, which ``layout`` (the
    session's, from ``gr.State``) maps to their columns. API clients send the first seven inputs (and, rarely,
    widget values, mapped by the layout the page had when the server started)."""
    typed = [f.strip() for f in (filters_text or "").splitlines() if f.strip()]
    chosen = widget_filters(layout or FilterLayout(), widget_values)
    return run_search(ctx, text, image, weight, negative, [*typed, *chosen], k, hybrid)


def more_like(ctx: UiContext, ids: list[str] | None, k: float, evt: gr.EventData) -> tuple:
    """Search for items like the clicked result."""
    # gr.EventData, not gr.SelectData: Gradio builds a SelectData before calling us and crashes on an event
    # sent without data ("'NoneType' object is not subscriptable"); here a bad selection is our error
    data = getattr(evt, "_data", None)
    item_id = selected_id(ids, data.get("index") if isinstance(data, dict) else None)
    return run_search(ctx, None, None, 0.5, None, (), k, False, like=item_id)


def selected_id(ids: list[str] | None, index: object) -> str:
    """The id of the clicked result: ``ids[index]`` for a non-negative int index in range; our error otherwise
    (a select event sent without a search, without an index, or with one from a stale gallery)."""
    if not ids:
        raise gr.Error("run a search first, then click a result")
    if isinstance(index, list | tuple) and len(index) == 1:
        index = index[0]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(ids):
        raise gr.Error(f"select one of the {len(ids)} results shown (got selection {index!r}); search again")
    return ids[index]


def search_why(ctx: UiContext, text: str | None, image: str | None, ids: list[str] | None, why: bool = False) -> tuple:
    """``(gallery update, note update)`` of the "Show why" toggle: for the top :data:`WHY_HITS` results of the
    last search (``ids``), where each hit's image matches the text query (or the query image without text).
    Unticked (the default) it hides both and does no model work."""
    hidden = gr.update(value=None, visible=False)
    if not why:
        return hidden, gr.update(value="", visible=False)
    if not ids:
        return hidden, gr.update(value="search first; the top results are then explained", visible=True)
    path = ctx.uploaded_images([image])[0] if image else None
    if not (text and text.strip()) and path is None:
        note = "Show why explains text or image queries; 'more like this' results are not explained"
        return hidden, gr.update(value=note, visible=True)
    items, notes = ctx.gated(hit_overlays, ctx.services, ctx.catalog, text, path, list(ids[:WHY_HITS]))
    note = f"where each of the top {len(ids[:WHY_HITS])} of {len(ids)} results matches the query"
    if len(ids) > WHY_HITS:
        note += f" (at most {WHY_HITS}: each heatmap costs a backward pass; `sceneqa search --explain` makes more)"
    return gr.update(value=items, visible=True), gr.update(value="; ".join([note, *notes]), visible=True)


def hit_overlays(services, catalog, text: str | None, path, ids: list[str]) -> tuple[list[tuple], list[str]]:
    """``([(overlay, caption)], notes)`` for the hits ``ids`` (runs on the model worker); a hit whose image is
    gone or unreadable is left out and named in ``notes``."""
    from multimodal.explain.api import captioned
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.hits import explain_hits, query_target
    from multimodal.images import load_image

    limits = services.config.image_limits
    query = load_image(path, limits=limits) if path is not None and not (text and text.strip()) else None
    target, label = query_target(services.encoder, services.zeroshot, text, query)
    pairs, notes = [], []
    for item_id in ids:
        try:
            pairs.append((item_id, catalog.image_path(item_id)))
        except SceneQAError as exc:
            notes.append(f"{item_id}: {exc}")
    config = ExplainConfig(max_explanations=max(1, len(ids)))
    rows, _ = explain_hits(create_explainer(services.encoder), pairs, target, config, limits)
    items = [captioned(r.image, f"{r.item_id} ({label})", r.explanation, config) for r in rows if r.image is not None]
    return items, notes + [r.summary() for r in rows if r.error]


def hide_why() -> tuple:
    """Hide "Show why" (results changed by "more like this": the old overlays no longer match them)."""
    return gr.update(value=None, visible=False), gr.update(value="", visible=False)


def refresh_filters(ctx: UiContext, layout: FilterLayout | None, *widget_values) -> list:
    """``[layout, hint, *widget updates]`` for the catalog's current schema; nothing changes (``gr.skip``)
    when the layout is the session's already."""
    new = read_layout(ctx.catalog)
    updates = widget_updates(layout, new, widget_values)
    if new == layout:
        return [gr.skip()] * (2 + len(updates))
    return [new, new.hint, *updates]


def build_search_tab(ctx: UiContext, demo: gr.Blocks) -> None:
    """The tab's components, its ``/search`` event, "more like this" on a click, and the filter widgets'
    refresh when the page loads and when the tab is opened (inside ``demo``)."""
    start = read_layout(ctx.catalog)
    with gr.Tab("Search") as tab:
        with gr.Row():
            with gr.Column(scale=1):
                text = gr.Textbox(label="text", elem_id="search-text")
                image = gr.Image(label="image", type="filepath")
                weight = gr.Slider(0, 1, 0.5, step=0.05, label="image weight (text + image)")
                negative = gr.Textbox(label="not like (negative)")
                filters = gr.Textbox(label=FILTERS_LABEL, lines=2, value="")
                with gr.Row():
                    k = gr.Slider(1, 50, 12, step=1, label="results")
                    hybrid = gr.Checkbox(label="hybrid (keywords + vectors)")
                why = gr.Checkbox(label=f"Show why (heatmaps of the top {WHY_HITS} results)", value=False)
                widgets = build_filter_widgets(start)
                go = gr.Button("Search", variant="primary", elem_id="search-button")
                hint = gr.Markdown(start.hint)
            with gr.Column(scale=2):
                gallery = gr.Gallery(
                    label="results (click one: more like this)", columns=4, height=520, elem_id="results"
                )
                why_note, why_gallery = why_widgets("why: where each result matches", WHY_HITS)
                records = gr.JSON(label="records")
        ids = gr.State([])
        layout = gr.State(start)
    results = [gallery, ids, records]
    # the State sits before the widgets: API clients pass (text, image, weight, negative, filters, k, hybrid)
    inputs = [text, image, weight, negative, filters, k, hybrid, layout, *widgets.inputs]
    searched = go.click(bind(do_search, ctx), inputs, results, api_name="search")
    # internal events: hidden from the API docs and clients (the browser calls them by fn_index); "Show why" is a
    # second event, so /search keeps its inputs and outputs
    explain, why_inputs, why_outputs = bind(search_why, ctx), [text, image, ids, why], [why_gallery, why_note]
    searched.success(explain, why_inputs, why_outputs, api_name=False)
    why.change(explain, why_inputs, why_outputs, api_name=False)
    gallery.select(bind(more_like, ctx), [ids, k], results, api_name=False).then(
        hide_why, None, why_outputs, api_name=False
    )
    refresh = bind(refresh_filters, ctx)
    for event in (demo.load, tab.select):
        event(
            refresh,
            [layout, *widgets.inputs],
            [layout, hint, *widgets.outputs],
            api_name=False,
            show_progress="hidden",
            concurrency_limit=None,  # reads the schema only: never waits behind model work
        )
