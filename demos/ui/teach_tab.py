"""The Teach tab: name a label set, add images label by label (1 to :data:`MAX_PER_LABEL` each), teach it with a
progress bar, then see the cross-validated accuracy per label and the out-of-fold confusion matrix.

The examples chosen so far live in a ``gr.State`` (``{label: [uploaded file paths]}``, per browser session);
nothing is embedded until *Teach*. Label sets are saved where the API and ``sceneqa teach`` keep them
(CACHE/labelsets, :func:`demos.labelsets_api.labelsets_root`), so the Classify tab, the API and the CLI all
see them. Handlers are module-level functions of the :class:`~demos.ui.context.UiContext`.
"""

from __future__ import annotations

import gradio as gr

from demos.ui.context import UiContext, bind

MAX_PER_LABEL = 50
#: Examples one UI teach embeds (more: ``sceneqa teach --examples`` or the API with ``add=true``).
MAX_EXAMPLES = 500


def _clean_label(label: str | None) -> str:
    from multimodal.zeroshot import MAX_LABEL_CHARS

    clean = " ".join((label or "").split())
    if not clean:
        raise gr.Error("type the label these images show (e.g. 'boots') before adding them")
    if len(clean) > MAX_LABEL_CHARS:
        raise gr.Error(f"label has {len(clean)} characters; at most {MAX_LABEL_CHARS} (shorten it)")
    return clean


def add_label_images(ctx: UiContext, label: str | None, files: list | None, chosen: dict | None) -> tuple:
    """Add the uploaded ``files`` as examples of ``label``: ``(new state, examples table, cleared upload)``.

    Checks before anything is decoded: the files are uploads, their declared pixels fit the request budget,
    a label holds at most :data:`MAX_PER_LABEL` images and the set at most :data:`MAX_EXAMPLES`."""
    from multimodal.images import check_pixel_budget

    label = _clean_label(label)
    paths = ctx.uploaded(files)
    if not paths:
        raise gr.Error(f"choose 1 to {MAX_PER_LABEL} image files showing {label!r}, then press 'Add'")
    chosen = {k: list(v) for k, v in (chosen or {}).items()}
    have = chosen.get(label, [])
    new = [str(p) for p in paths if str(p) not in have]
    if len(have) + len(new) > MAX_PER_LABEL:
        raise gr.Error(
            f"label {label!r} would have {len(have) + len(new)} images; at most {MAX_PER_LABEL} per label "
            f"(choose fewer, or teach larger sets with `sceneqa teach --examples FOLDER`)"
        )
    total = sum(len(v) for v in chosen.values()) + len(new)
    if total > MAX_EXAMPLES:
        raise gr.Error(
            f"{total} examples in all; the Teach tab takes at most {MAX_EXAMPLES} (teach the rest later with "
            "'add to the existing label set', or use `sceneqa teach --examples FOLDER`)"
        )
    lim = ctx.limits
    check_pixel_budget(
        paths, lim.max_megapixels, names=[p.name for p in paths], per_image_max=lim.per_image_max_pixels
    )  # fmt: skip
    chosen[label] = have + new
    return chosen, examples_table(chosen), None


def clear_examples(ctx: UiContext) -> tuple:
    """Forget the examples chosen so far: ``(empty state, empty table)``."""
    return {}, examples_table({})


def examples_table(chosen: dict) -> list[list]:
    """Rows ``[label, images]`` of the examples chosen so far (pure)."""
    return [[label, len(paths)] for label, paths in chosen.items()]


def teach_labelset(
    ctx: UiContext, name: str | None, chosen: dict | None, add: bool, replace: bool, progress=gr.Progress()
) -> tuple:
    """Teach label set ``name`` from the chosen examples (or add them to it):
    ``(summary markdown, per-label table, confusion figure or None)``."""
    from demos.labelsets_api import labelsets_root
    from multimodal.teach.examples import Example, ExampleSet
    from multimodal.teach.names import validate_name
    from multimodal.teach.teach import TeachOptions, teach

    name = validate_name((name or "").strip())
    chosen = chosen or {}
    if add and replace:
        raise gr.Error("tick either 'add to the existing label set' or 'replace it', not both")
    if not add and len(chosen) < 2:
        raise gr.Error(f"add images under at least 2 labels first (now: {len(chosen)}); a label set tells labels apart")
    examples = []
    for label, paths in chosen.items():
        for path in ctx.uploaded(paths):  # re-checked: state comes from the browser session
            examples.append(Example(f"upload-{len(examples) + 1}", str(path), _clean_label(label), path.name))
    if not examples:
        raise gr.Error("no examples chosen: add images under a label first")
    total, done = len(examples), [0]

    def tick(n: int) -> None:
        done[0] += n
        if done[0] >= total:
            progress(None, desc="fitting the head (cross-validation)")
        else:
            progress((done[0], total), desc="embedding examples", unit="images")

    progress((0, total), desc="embedding examples", unit="images")
    root = labelsets_root(ctx.services)
    options = TeachOptions(add=bool(add), replace=bool(replace))
    result = ctx.gated(teach, ctx.services, root, name, ExampleSet(tuple(examples)), options, progress=tick, write=True)
    ls = result.labelset
    return taught_markdown(ls.summary(), result.added, result.problems), per_label_rows(ls), confusion_figure(ls)


def taught_markdown(summary: dict, added: int, problems) -> str:
    """What the teach did, in markdown (pure)."""
    cv = summary["cv"]
    counts = summary["counts"]
    acc = (
        f"cross-validated accuracy **{cv['accuracy']:.3f}** ({cv['held_out']} held out over {cv['folds']} folds)"
        if cv["accuracy"] is not None
        else "not cross-validated: give at least 2 labels 2 or more images each"
    )
    lines = [
        f"**label set `{summary['name']}` saved**: {len(counts)} labels, {sum(counts.values())} examples "
        f"({added} new); {acc}. Use it in the Classify tab.",
    ]
    lines += [f"- {p}" for p in list(problems)[:20]]
    return "\n".join(lines)


def per_label_rows(labelset) -> list[list]:
    """Rows ``[label, examples, cross-validated accuracy or 'not held out']`` (pure)."""
    per = labelset.head.cv.per_label
    return [
        [label, n, round(per[label], 3) if label in per else "not held out"] for label, n in labelset.counts().items()
    ]


def confusion_figure(labelset, max_labels: int = 30):
    """A matplotlib figure of the out-of-fold confusion counts (rows: true label, columns: predicted), or
    ``None`` when nothing was cross-validated or there are more than ``max_labels`` labels."""
    conf = labelset.head.cv.confusion
    labels = labelset.labels
    if not conf or len(labels) > max_labels:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    side = min(9.0, 2.5 + 0.35 * len(labels))
    fig = Figure(figsize=(side, side))
    ax = fig.add_subplot()
    ax.imshow(conf, cmap="Blues")
    ax.set_xticks(range(len(labels)), [_short(s) for s in labels], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), [_short(s) for s in labels], fontsize=8)
    ax.set_xlabel("predicted (held out)")
    ax.set_ylabel("true label")
    for i, row in enumerate(conf):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="black")
    ax.set_title("cross-validation confusion")
    fig.tight_layout()
    return fig


def _short(text: str, n: int = 18) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def labelset_names(ctx: UiContext) -> list[str]:
    """The label sets in the server's label-set folder, sorted."""
    from demos.labelsets_api import labelsets_root
    from multimodal.teach.store import list_names

    return list_names(labelsets_root(ctx.services))


def build_teach_tab(ctx: UiContext) -> None:
    """The tab's components and its ``/teach_add`` and ``/teach`` events (inside the current Blocks)."""
    with gr.Tab("Teach"):
        chosen = gr.State({})
        with gr.Row():
            with gr.Column():
                label = gr.Textbox(label="label", placeholder="e.g. boots", elem_id="teach-label")
                files = gr.File(
                    label=f"1 to {MAX_PER_LABEL} images of this label",
                    file_count="multiple",
                    file_types=["image"],
                    type="filepath",
                    elem_id="teach-files",
                )
                add_btn = gr.Button("Add images to this label", elem_id="teach-add")
                table = gr.Dataframe(headers=["label", "images"], label="examples chosen", interactive=False)
                clear = gr.Button("Clear examples", size="sm")
            with gr.Column():
                name = gr.Textbox(label="label set name", placeholder="e.g. shoe-types", elem_id="teach-name")
                with gr.Row():
                    add_to = gr.Checkbox(label="add to the existing label set")
                    replace = gr.Checkbox(label="replace it")
                go = gr.Button("Teach", variant="primary", elem_id="teach-button")
                summary = gr.Markdown(elem_id="teach-summary")
                per_label = gr.Dataframe(headers=["label", "examples", "CV accuracy"], interactive=False)
                plot = gr.Plot(label="confusion (cross-validation)", elem_id="teach-confusion")
        add_btn.click(
            bind(add_label_images, ctx), [label, files, chosen], [chosen, table, files], api_name="teach_add"
        )  # fmt: skip
        clear.click(bind(clear_examples, ctx), None, [chosen, table], api_name=False)
        go.click(
            bind(teach_labelset, ctx), [name, chosen, add_to, replace], [summary, per_label, plot], api_name="teach"
        )
