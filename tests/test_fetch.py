"""Image bytes from paths and (opt-in) URLs: URLs off by default; non-public hosts refused."""

from __future__ import annotations

import socket

import pytest

from multimodal.errors import InvalidImageError
from multimodal.images.fetch import check_public_host, read_image_bytes


def test_urls_are_off_by_default():
    with pytest.raises(InvalidImageError, match="image URLs are off; pass --allow-urls"):
        read_image_bytes("https://example.com/a.jpg")


@pytest.mark.parametrize("addr", ["127.0.0.1", "10.1.2.3", "192.168.0.5", "169.254.169.254", "::1", "172.16.0.1"])
def test_non_public_addresses_are_refused(monkeypatch, addr):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port: [(family, 1, 6, "", (addr, 0))])
    with pytest.raises(InvalidImageError, match=f"resolves to the non-public address {addr}"):
        read_image_bytes("http://cdn.example.com/x.jpg", allow_urls=True)


def test_public_address_passes_the_check(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port: [(socket.AF_INET, 1, 6, "", ("93.184.216.34", 0))])
    check_public_host("https://example.com/x.jpg")


def test_local_paths(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"abc")
    assert read_image_bytes(str(tmp_path / "a.jpg")) == b"abc"
    with pytest.raises(InvalidImageError, match="file not found"):
        read_image_bytes(str(tmp_path / "none.jpg"))
