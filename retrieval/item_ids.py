"""The rules an item id sent by a client must follow, and content-derived ids for uploads that name none.

An id travels in URLs (``/v1/items/{id}/image``) and in log lines, so it must be fetchable and deletable
again: no path separators, no NUL or other control characters, not ``.`` or ``..``, and of bounded length.
Ids already stored by earlier versions or the CLI (which may contain ``/``) are still looked up as they
are; these rules apply to new client writes.
"""

from __future__ import annotations

import hashlib
import unicodedata

from retrieval.errors import InvalidItemIdError

#: Longest accepted id, in characters.
MAX_ID_LENGTH = 200
#: Prefix of ids derived from an upload's content (``img-`` + 16 hex digits of its SHA-256).
HASH_ID_PREFIX = "img-"


def validate_item_id(value: object) -> str:
    """``value`` as a valid item id (surrounding whitespace stripped), or :class:`InvalidItemIdError`
    naming the rule broken and the id. Integers are accepted as their decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidItemIdError(f"item id must be text, got {type(value).__name__} {show_id(value)}")
    item_id = value.strip()
    if not item_id:
        raise InvalidItemIdError(f"item id {show_id(value)} is empty; send a non-empty id or omit it for a content id")
    if len(item_id) > MAX_ID_LENGTH:
        raise InvalidItemIdError(
            f"item id {show_id(item_id)} has {len(item_id)} characters; at most {MAX_ID_LENGTH} are allowed"
        )
    try:
        item_id.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidItemIdError(f"item id {show_id(item_id)} is not valid Unicode text (a lone surrogate)") from None
    if item_id in (".", ".."):
        raise InvalidItemIdError(f"item id {item_id!r} is not allowed ('.' and '..' name folders in URLs)")
    for ch in ("/", "\\"):
        if ch in item_id:
            raise InvalidItemIdError(f"item id {show_id(item_id)} contains {ch!r}; ids cannot contain '/' or '\\'")
    bad = next((ch for ch in item_id if _is_control(ch)), None)
    if bad is not None:
        what = "NUL" if bad == "\x00" else f"control character U+{ord(bad):04X}"
        raise InvalidItemIdError(f"item id {show_id(item_id)} contains {what}; ids cannot contain control characters")
    return item_id


def content_id(data: bytes) -> str:
    """The id of an upload that names none: ``img-`` + the first 16 hex digits of its SHA-256."""
    return HASH_ID_PREFIX + hashlib.sha256(data).hexdigest()[:16]


def show_id(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about ids a client sent."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_control(ch: str) -> bool:
    # Cf holds invisible format characters (bidi overrides that disguise an id in logs); the joiners that
    # build emoji sequences are allowed.
    if ch in _JOINERS:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


_JOINERS = frozenset({"\u200c", "\u200d"})
