"""Vectors and records: the FAISS index, the SQLite catalog store, ingestion, search and filters, and the rows
of catalog sources (``sources``: folders, CSV / JSONL / Parquet files, paths confined to allowed roots).

Imports numpy, faiss, sqlite3, pyarrow (lazily) and the standard library only; never torch, never ``multimodal``.
Nothing happens at import.
"""
