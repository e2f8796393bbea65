"""Text that fits a text question (pure): plates, numbers, everything; table-driven with expected spans."""

from __future__ import annotations

import pytest

from multimodal.ask.text_fit import TARGETS, fit_text, number_spans, plate_spans
from multimodal.errors import UnknownNameError

LINES = [
    "ABC 1234",  # 0
    "KA-01-AB-1234",  # 1
    "Room 101",  # 2
    "STOP",  # 3
    "hello ABC 123 world",  # 4
    "Bus 42 to 1,250 Main St",  # 5
    "7ABC123",  # 6
    "",  # 7
]


@pytest.mark.parametrize(
    ("line", "plates"),
    [
        ("ABC 1234", ["ABC 1234"]),
        ("KA-01-AB-1234", ["KA-01-AB-1234"]),
        ("KA 01 - AB 1234 INDIA", ["KA 01 - AB 1234"]),
        ("AB12 CDE", ["AB12 CDE"]),
        ("7ABC123", ["7ABC123"]),
        ("B4", ["B4"]),
        ("plate: XYZ-987, thanks", ["XYZ-987"]),
        ("Room 101", []),  # an ordinary word and a number
        ("Exit 12", []),
        ("STOP", []),  # letters only
        ("1234 5678", []),  # digits only
        ("abc 1234", []),  # lowercase: a word, not a plate
        ("ABCDEFGH 12345", []),  # long letter group
        ("ABCD123456789", []),  # 13 characters, over the limit
        ("", []),
    ],
)
def test_plate_spans(line, plates):
    assert plate_spans(line) == plates


@pytest.mark.parametrize(
    ("line", "numbers"),
    [
        ("42", ["42"]),
        ("Bus 42", ["42"]),
        ("No. 23 and 7", ["23", "7"]),
        ("1,250 people", ["1,250"]),
        ("call 555-0199", ["555-0199"]),
        ("v3.14.", ["3.14"]),
        ("#10", ["10"]),
        ("STOP", []),
        ("", []),
    ],
)
def test_number_spans(line, numbers):
    assert number_spans(line) == numbers


def test_fit_text_plate():
    assert fit_text("plate", LINES) == [(0, "ABC 1234"), (1, "KA-01-AB-1234"), (4, "ABC 123"), (6, "7ABC123")]


def test_fit_text_number():
    assert fit_text("number", LINES[2:6]) == [(0, "101"), (2, "123"), (3, "42"), (3, "1,250")]


def test_fit_text_any_is_every_line_unchanged():
    assert fit_text("", LINES) == list(enumerate(LINES))


def test_no_fit_is_empty():
    assert fit_text("plate", ["STOP", "Room 101"]) == []
    assert fit_text("number", ["STOP"]) == []
    assert fit_text("plate", []) == fit_text("number", []) == fit_text("", []) == []


def test_unknown_target_lists_known():
    assert TARGETS == ("", "plate", "number")
    with pytest.raises(UnknownNameError, match="unknown text target 'date'; known: '', 'plate', 'number'"):
        fit_text("date", LINES)
