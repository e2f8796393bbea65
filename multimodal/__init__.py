"""Models and the question-answering pipeline: image loading, encoders, zero-shot classification.

Nothing happens at import: models load only through the factories in ``multimodal.encoders``.
"""
