"""Putting a catalog into an index folder: local ingest (``local``), embedding batches of images with decoding
one chunk ahead (``batch_embed``), and the distributed path: Ray (``ray_ingest``) embedding shards
(``shard_embed``) that one writer merges (``shard_build``). Rows come from ``retrieval.sources``.

Import each module by its own name; this package re-exports nothing.
"""
