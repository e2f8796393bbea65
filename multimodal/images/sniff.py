"""Recognise common non-image payloads from their first bytes, for clear error messages.

Pure functions over bytes; no decoding. Used only to *explain* a refusal: the decision to refuse is
made by Pillow failing to identify the data among the accepted formats.
"""

from __future__ import annotations

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!", 0, "a RAR archive"),
    (b"\x7fELF", 0, "a program (ELF executable)"),
    (b"MZ", 0, "a Windows program"),
    (b"ftypheic", 4, "a HEIC photo (convert it to JPEG or PNG first)"),
    (b"ftypheix", 4, "a HEIC photo (convert it to JPEG or PNG first)"),
    (b"ftypmif1", 4, "a HEIF image (convert it to JPEG or PNG first)"),
    (b"ftypisom", 4, "an MP4 video"),
    (b"ftypmp42", 4, "an MP4 video"),
    (b"ftypqt", 4, "a QuickTime video"),
    (b"\x00\x00\x00\x0cjP  ", 0, "a JPEG 2000 image (not accepted)"),
    (b"8BPS", 0, "a Photoshop document (not accepted)"),
    (b"ID3", 0, "an MP3 audio file"),
    (b"OggS", 0, "an Ogg audio/video file"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
)


def describe_payload(head: bytes) -> str | None:
    """Return a phrase such as ``"a PDF document"`` for a known non-image payload, else ``None``.

    ``head`` is the first few hundred bytes of the data.
    """
    for magic, offset, what in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return what
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "a WAV audio file" if head[8:12] == b"WAVE" else "an AVI video"
    text = _as_text(head)
    if text is None:
        return None
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lowered[:1000]:
        return "an SVG drawing (vector images are not accepted; export it as PNG)"
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "an HTML page"
    if lowered.startswith("<?xml"):
        return "an XML document"
    if lowered.startswith(("{", "[")):
        return "JSON text"
    return "text"


def _as_text(head: bytes) -> str | None:
    """Decode ``head`` as UTF-8 text if it looks like text (no NULs, mostly printable)."""
    if not head or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A cut in the middle of a multi-byte character at the end is fine.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    text = text.lstrip("\ufeff")  # a UTF-8 byte-order mark
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.95 * max(len(text), 1) else None
