"""Where the Gradio app used to live; it is now the :mod:`demos.ui` package. Kept so ``demos.app.build_demo``
still imports."""

from demos.ui.app import build_demo
from demos.ui.examples import write_examples

__all__ = ["build_demo", "write_examples"]
