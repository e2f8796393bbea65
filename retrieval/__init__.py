"""Vectors and records: the FAISS index, the SQLite catalog store, ingestion, search and filters.

Imports numpy, faiss, sqlite3 and the standard library only; never torch, never ``multimodal``.
Nothing happens at import.
"""
