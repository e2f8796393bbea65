"""sceneqa's top floor: the command line (:mod:`sceneqa.cli`).

It stands above the library's four layers (``retrieval`` < ``multimodal`` < ``demos`` < ``eval``), imports them,
and is imported by none of them.
"""
