"""Reading an image's bytes from a local path or, when the user enables it, an http(s) URL.

URL fetching is off by default. When on, the host must resolve only to public addresses (no loopback,
private, link-local, multicast or reserved ranges: no reaching the machine's own services or a cloud
metadata endpoint), redirects are refused, and the byte cap and a timeout apply.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from multimodal.errors import ImageTooLargeError, InvalidImageError
from multimodal.images.load import DEFAULT_LIMITS, ImageLimits, read_source_bytes

URL_TIMEOUT_S = 10.0


def read_image_bytes(location: str, *, limits: ImageLimits = DEFAULT_LIMITS, allow_urls: bool = False) -> bytes:
    """The raw bytes at ``location``. Raises :class:`InvalidImageError` naming the location and the reason."""
    if location.startswith(("http://", "https://")):
        if not allow_urls:
            raise InvalidImageError(f"{location}: image URLs are off; pass --allow-urls to fetch them")
        return _fetch(location, limits)
    return read_source_bytes(Path(location), location, limits)


def check_public_host(url: str) -> None:
    """Raise unless every address the URL's host resolves to is a public (global) address."""
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        raise InvalidImageError(f"{url}: no host in the URL")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise InvalidImageError(f"{url}: host {host!r} does not resolve ({exc.strerror})") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            raise InvalidImageError(
                f"{url}: refused, {host!r} resolves to the non-public address {addr} "
                "(loopback, private, link-local and metadata addresses are never fetched)"
            )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - refuse all redirects
        raise InvalidImageError(f"{req.full_url}: refused a redirect to {newurl}")


def _fetch(url: str, limits: ImageLimits) -> bytes:
    check_public_host(url)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": "sceneqa"}), timeout=URL_TIMEOUT_S) as r:
            data = r.read(limits.max_bytes + 1)
    except InvalidImageError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InvalidImageError(f"{url}: download failed ({getattr(exc, 'reason', exc)})") from None
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(f"{url}: over the {limits.max_bytes / 2**20:.1f} MB limit for one image")
    return data
