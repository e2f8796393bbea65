"""Search filter widgets that follow the catalog's schema.

The Search tab holds a fixed pool of widgets: ``CHOICE_SLOTS`` multi-select dropdowns (a text column with a
few distinct values) and ``RANGE_SLOTS`` from/to boxes (a number column). A :class:`FilterLayout` says which
column each slot shows; it is read from the catalog when the page loads and when the Search tab is opened,
kept per session in ``gr.State`` and handed to the search with the widget values, so a value always maps to
the column its widget showed. The pool keeps the ``/search`` API signature fixed whatever the schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import gradio as gr

from demos.catalog_handle import CatalogHandle
from retrieval.errors import ConfigError, SceneQAError

CHOICE_SLOTS = 8
RANGE_SLOTS = 4
MAX_CHOICES = 30  # a text column with more distinct values gets no dropdown (type its filter instead)
HINT_VALUES = 8
_UNSAFE_CHOICE = re.compile(r"[,()\n]")  # would not survive the round trip through "column in (a, b)"
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


class FilterSpec(NamedTuple):
    """One widget: a ``"choice"`` dropdown over ``choices``, or a ``"range"`` pair of bounds."""

    column: str
    kind: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilterLayout:
    """Which column each widget slot shows (in slot order), the columns left without a widget, and the
    markdown hint naming the filterable columns."""

    choices: tuple[FilterSpec, ...] = ()
    ranges: tuple[FilterSpec, ...] = ()
    overflow: tuple[str, ...] = ()
    hint: str = ""

    def __post_init__(self) -> None:
        if len(self.choices) > CHOICE_SLOTS or len(self.ranges) > RANGE_SLOTS:
            raise ConfigError(
                f"{len(self.choices)} choice and {len(self.ranges)} range widgets; the Search tab has "
                f"{CHOICE_SLOTS} and {RANGE_SLOTS} (put the rest in overflow)"
            )


def plan_layout(
    schema: Mapping[str, str], distinct: Callable[[str, int], Sequence[object]], max_choices: int = MAX_CHOICES
) -> FilterLayout:
    """The layout for a catalog ``schema`` (column -> type); ``distinct(column, n)``: up to ``n`` distinct
    values, most frequent first. A text column with 2..``max_choices`` values gets a dropdown, a number
    column a range; the slots fill in schema order, the rest go to ``overflow``."""
    choices, ranges, hint = [], [], []
    for name, typ in schema.items():
        if typ == "text":
            values = [str(v) for v in distinct(name, max_choices + 1)]
            hint.append(f"{_code(name)}: {', '.join(_md(v) for v in values[:HINT_VALUES])}")
            if 1 < len(values) <= max_choices and not any(_UNSAFE_CHOICE.search(v) for v in values):
                choices.append(FilterSpec(name, "choice", tuple(sorted(values))))
        else:
            hint.append(f"{_code(name)} ({typ})")
            if typ in ("integer", "real"):
                ranges.append(FilterSpec(name, "range"))
    overflow = tuple(s.column for s in choices[CHOICE_SLOTS:] + ranges[RANGE_SLOTS:])
    text = "filterable columns: " + "; ".join(hint) if hint else ""
    if overflow:
        text += f"\n\n_no widget for {', '.join(_md(c) for c in overflow)}: type their filters in the box above_"
    return FilterLayout(tuple(choices[:CHOICE_SLOTS]), tuple(ranges[:RANGE_SLOTS]), overflow, text)


def read_layout(catalog: CatalogHandle) -> FilterLayout:
    """The layout for the catalog's current schema (no widgets while there is no readable catalog)."""
    if not catalog.exists():
        return FilterLayout()
    try:
        store = catalog.reader().store
    except SceneQAError:
        return FilterLayout()
    return plan_layout(store.schema(), store.distinct_values)


def widget_filters(layout: FilterLayout, values: Sequence) -> list[str]:
    """Filter expressions from the widget values (pure): ``values`` holds the ``CHOICE_SLOTS`` dropdown values,
    then a (from, to) pair per range slot; values of slots ``layout`` leaves empty are ignored."""
    values = list(values) + [None] * (CHOICE_SLOTS + 2 * RANGE_SLOTS - len(values))
    out = []
    for spec, chosen in zip(layout.choices, values[:CHOICE_SLOTS]):
        if chosen:
            chosen = [chosen] if isinstance(chosen, str) else chosen
            out.append(f"{spec.column} in ({', '.join(str(c) for c in chosen)})")
    for i, spec in enumerate(layout.ranges):
        bounds = values[CHOICE_SLOTS + 2 * i : CHOICE_SLOTS + 2 * i + 2]
        for bound, op in zip(bounds, (">=", "<=")):
            if bound is not None and str(bound).strip():
                out.append(f"{spec.column}{op}{str(bound).strip()}")
    return out


class FilterWidgets(NamedTuple):
    """The pool's components: dropdowns, range rows and their (from, to) boxes, in slot order."""

    dropdowns: list
    rows: list
    boxes: list

    @property
    def inputs(self) -> list:
        return [*self.dropdowns, *self.boxes]

    @property
    def outputs(self) -> list:
        return [*self.dropdowns, *self.rows, *self.boxes]


def build_filter_widgets(layout: FilterLayout) -> FilterWidgets:
    """Create the pool (inside the current layout), showing ``layout``'s columns and hiding the other slots."""
    dropdowns, rows, boxes = [], [], []
    for i in range(CHOICE_SLOTS):
        spec = layout.choices[i] if i < len(layout.choices) else None
        dropdowns.append(
            gr.Dropdown(
                choices=list(spec.choices) if spec else [],
                multiselect=True,
                value=[],
                label=spec.column if spec else f"filter {i + 1}",
                visible=spec is not None,
            )
        )
    for i in range(RANGE_SLOTS):
        spec = layout.ranges[i] if i < len(layout.ranges) else None
        name = spec.column if spec else f"range {i + 1}"
        with gr.Row(visible=spec is not None) as row:  # text boxes: empty means "no bound" (a Number cannot)
            boxes.append(gr.Textbox(label=f"{name} from", value="", max_lines=1))
            boxes.append(gr.Textbox(label=f"{name} to", value="", max_lines=1))
        rows.append(row)
    return FilterWidgets(dropdowns, rows, boxes)


def widget_updates(old: FilterLayout | None, new: FilterLayout, values: Sequence) -> list:
    """Updates for ``FilterWidgets.outputs`` moving from ``old`` to ``new`` (pure): each slot shows its new
    column (label, choices) or hides; a value the user set stays when its slot shows the same column and,
    for a dropdown, the value is still offered."""
    old = old or FilterLayout()
    values = list(values) + [None] * (CHOICE_SLOTS + 2 * RANGE_SLOTS - len(values))
    dropdowns, rows, boxes = [], [], []
    for i in range(CHOICE_SLOTS):
        spec = new.choices[i] if i < len(new.choices) else None
        if spec is None:
            dropdowns.append(gr.update(visible=False, choices=[], value=[]))
            continue
        same = i < len(old.choices) and old.choices[i].column == spec.column
        kept = [v for v in (values[i] or []) if v in spec.choices] if same else []
        dropdowns.append(gr.update(visible=True, label=spec.column, choices=list(spec.choices), value=kept))
    for i in range(RANGE_SLOTS):
        spec = new.ranges[i] if i < len(new.ranges) else None
        rows.append(gr.update(visible=spec is not None))
        same = spec is not None and i < len(old.ranges) and old.ranges[i].column == spec.column
        for j, side in enumerate(("from", "to")):
            value = values[CHOICE_SLOTS + 2 * i + j] if same else ""
            label = f"{spec.column} {side}" if spec else f"range {i + 1} {side}"
            boxes.append(gr.update(label=label, value=value or ""))
    return [*dropdowns, *rows, *boxes]


def _md(text: str) -> str:
    """``text`` with markdown's special characters escaped (catalog values are shown as plain text)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))[:80]


def _code(name: str) -> str:
    """``name`` as inline code (a backtick in it would end the span)."""
    return "`" + str(name).replace("`", "'")[:80] + "`"
