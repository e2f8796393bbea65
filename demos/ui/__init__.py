"""The Gradio app, one module per tab (``ask_tab``, ``search_tab``, ``classify_tab``, ``catalog_tab``) with
module-level handlers of plain inputs, the search filter widgets (``widgets``), the Ask tab's examples
(``examples``) and the context handlers share (``context``). :func:`build_demo` assembles them."""

from demos.ui.app import build_demo

__all__ = ["build_demo"]
