"""Is a file of a Hugging Face hub repo already in the local cache? No network, no download.

The lowest floor of the hub helpers: :mod:`multimodal.hub` (reachability, ``encoder_cached``) and the
encoder backends both use it, and it imports nothing of ours.
"""

from __future__ import annotations


def repo_cached(repo: str, filename: str) -> bool:
    """Whether ``filename`` of hub repo ``repo`` (``ORG/NAME``) is in the Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id=repo, filename=filename), str)
