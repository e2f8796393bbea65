"""Shared CLI plumbing for commands that work on an index folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from multimodal.services import ServiceConfig, Services, build_services
from retrieval.manifest import read_manifest


def services_for_index(config: ServiceConfig, folder: Path) -> Services:
    """Services whose encoder matches an existing index, unless the user chose one explicitly."""
    manifest = read_manifest(folder)
    if manifest is not None and config.encoder is None and config.tier == "auto":
        config = replace(config, encoder=manifest.encoder)
    return build_services(config)
