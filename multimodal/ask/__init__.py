"""Answering a question about an image: parsing the question (``questions``), context files and the selection
of their chunks (``context_files``, ``context_select``, ``text_embed``), scene facts (``scene_facts`` and
``facts/``), the answerers (``answerers``: the ``lite`` one in ``answer_lite``, VLMs in ``vlm/``), answers with
evidence and citations (``answers``) and the pipeline that runs them (``pipeline``: ``ask``, ``ask_stream``).

Import each module by its own name; this package re-exports nothing (``pipeline`` imports ``services``, which
imports ``answerers``, so a re-export here would be an import circle).
"""
