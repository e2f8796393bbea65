"""The banner every model-loading command prints: which tier and models run, and why."""

from __future__ import annotations

import logging
import sys


def announce(services, quiet: bool) -> None:
    """Print the banner (``multimodal.banner``: the same data the UI shows) to stderr unless ``quiet``
    (stdout stays machine-readable). The resolver's raw reason goes to the log at ``-v``."""
    from multimodal.banner import build_banner

    banner = build_banner(services)
    logging.getLogger("sceneqa").info("tier reason: %s", banner.detail)
    if not quiet:
        print(f"sceneqa: {banner.one_line()}", file=sys.stderr)


def announced_services(config, quiet: bool):
    """``build_services(config)``, then the banner: what every eval handler starts with."""
    from multimodal.services import build_services

    services = build_services(config)
    announce(services, quiet)
    return services
