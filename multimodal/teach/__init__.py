"""Teach: label sets learned from the user's own examples (few-shot transfer on top of the encoder).

- :mod:`~multimodal.teach.names`: label-set names and where label sets live;
- :mod:`~multimodal.teach.examples`: reading example sources (class folders, CSV / JSONL / Parquet);
- :mod:`~multimodal.teach.features`: the features the head sees (the encoder's embedding, or for ``lite``
  its pooled crop and pad view features), with horizontal-flip views;
- :mod:`~multimodal.teach.head`: the head (class prototypes + logistic regression + zero-shot text blend,
  chosen by cross-validation on the examples), pure numpy / scikit-learn;
- :mod:`~multimodal.teach.store`: saving and loading a label set folder with its provenance;
- :mod:`~multimodal.teach.teach`: the use cases ``teach`` (fit and save) and ``classify with a label set``.
"""
