"""Question routing, oracle table: general phrasing, identification categories, scene description, text targets
and bad input (issue 14 item 5 and the bad-input list). Each case states the expected kind, subject, negation."""

from __future__ import annotations

import pytest

from multimodal.ask.questions import KINDS, MAX_QUESTION_CHARS, parse_question
from multimodal.errors import ConfigError, EmptyInputError

ROUTES = [
    # presence without articles, plurals, people, negation
    ("Are there skis?", "presence", "skis", False),
    ("Is there snow?", "presence", "snow", False),
    ("Are there people?", "presence", "people", False),
    ("Are there any dogs in this photo?", "presence", "dogs", False),
    ("Is there a lot of snow?", "presence", "snow", False),
    ("Is anyone in the picture?", "presence", "person", False),
    ("Is there anybody here?", "presence", "person", False),
    ("Is someone visible?", "presence", "person", False),
    ("Is there a person?", "presence", "person", False),
    ("Is nobody in the photo?", "presence", "person", True),
    ("Isn't anyone there?", "presence", "person", True),
    ("Is there not anyone in the image?", "presence", "person", True),
    ("Are there no people?", "presence", "people", True),
    ("Aren't there any cats?", "presence", "cats", True),
    ("Is there no snow in this picture?", "presence", "snow", True),
    ("Does this photo have a dog?", "presence", "dog", False),
    ("Can you see a bus in the picture?", "presence", "bus", False),
    # the easy-vqa templates, unchanged
    ("Is there a red shape in the image?", "presence", "red shape", False),
    ("Is there not a triangle?", "presence", "triangle", True),
    ("is no red shape present?", "presence", "red shape", True),
    ("does the image not contain a circle shape?", "presence", "circle shape", True),
    ("What color is the circle?", "colour", "circle", False),
    ("What shape is present?", "shape", "", False),
    ("what is the red shape?", "shape", "red", False),
    ("how many circles are there?", "count", "circles", False),
    # colour questions stay colour even about plates
    ("What colour is the licence plate?", "colour", "licence plate", False),
    ("What color are these shoes?", "colour", "shoes", False),
    # identification, with the category asked for
    ("What animal is this?", "identify", "animal", False),
    ("What kind of animal is in this picture?", "identify", "animal", False),
    ("What type of vehicle is shown?", "identify", "vehicle", False),
    ("What food is on the plate?", "identify", "food", False),
    ("What kind of ice cream is this?", "identify", "ice cream", False),
    ("What is this animal?", "identify", "animal", False),
    ("What is this thing?", "identify", "", False),
    ("What is this?", "identify", "", False),
    ("What's that?", "identify", "", False),
    ("What is it?", "identify", "", False),
    ("What is this a picture of?", "identify", "", False),
    # open scene questions
    ("What is happening?", "describe", "", False),
    ("What is happening in this picture?", "describe", "", False),
    ("What's going on?", "describe", "", False),
    ("What’s going on here?", "describe", "", False),
    ("Describe the image", "describe", "", False),
    ("Describe the scene.", "describe", "", False),
    ("Describe this photo in detail", "describe", "", False),
    ("Describe the dog", "describe", "dog", False),
    ("What do you see?", "describe", "", False),
    ("What is in the image?", "describe", "", False),
    ("What is shown in the picture?", "describe", "", False),
    ("What does this picture show?", "describe", "", False),
    # text, with the kind of text that fits
    ("What is the licence plate number?", "text", "plate", False),
    ("What is the license plate number?", "text", "plate", False),
    ("What does the plate say?", "text", "plate", False),
    ("Read the number plate", "text", "plate", False),
    ("What's the registration number?", "text", "plate", False),
    ("What number is on the bus?", "text", "number", False),
    ("What is the number on the jersey?", "text", "number", False),
    ("What is the bus number?", "text", "number", False),
    ("What is written on the sign?", "text", "", False),
    ("What does the sign say?", "text", "", False),
    ("What words are on the banner?", "text", "", False),
    # where-questions (issue 17): the thing to find; questions about the photo itself stay open
    ("Where is the cat?", "where", "cat", False),
    ("Where's the red car in this picture?", "where", "red car", False),
    ("Show me where the dogs are", "where", "dogs", False),
    ("Where was this taken?", "open", "", False),
    # not text, not identification: left open
    ("What time does the clock show?", "open", "", False),
    ("What time is it?", "open", "", False),
    ("What is the number of people?", "open", "", False),
    ("What state is the license plate from?", "open", "", False),
    ("What is it doing?", "open", "", False),
    ("Which animal is bigger?", "open", "", False),
    ("is the seal on this valve intact?", "open", "", False),
]


@pytest.mark.parametrize(("text", "kind", "subject", "negated"), ROUTES)
def test_routes(text, kind, subject, negated):
    q = parse_question(text)
    assert (q.kind, q.subject, q.negated) == (kind, subject, negated)
    assert q.text == text


def test_every_kind_is_declared_and_reached():
    assert {kind for _, kind, _, _ in ROUTES} == set(KINDS)


@pytest.mark.parametrize(
    "text",
    [
        "这是什么？",  # Chinese
        "这张照片里有猫吗?",
        "ما هذا؟",  # Arabic
        "Что это?",  # Cyrillic
        "Есть ли здесь кошка?",
        "🐱🐶",  # emoji only
        "Is there a 🐱?",  # the subject cannot be read in English
        "What colour is the 车?",
        "42",
    ],
)
def test_other_scripts_are_open_not_guessed(text):
    q = parse_question(text)
    assert (q.kind, q.subject, q.negated) == ("open", "", False)


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_question(text):
    with pytest.raises(EmptyInputError, match="the question is empty"):
        parse_question(text)


@pytest.mark.parametrize("text", ["???", "...!", "¿?", "?!?!", " -- ", "\u200b", "*&^%$#"])
def test_question_without_words(text):
    with pytest.raises(EmptyInputError, match="has no words, only punctuation or symbols"):
        parse_question(text)


def test_huge_question_names_length_and_limit():
    assert MAX_QUESTION_CHARS < 10_000
    with pytest.raises(ConfigError, match=f"is 10000 characters; the limit is {MAX_QUESTION_CHARS}"):
        parse_question("is there a cat? " * 625)
    parse_question("x" * MAX_QUESTION_CHARS)  # the limit itself is allowed


def test_degenerate_presence_is_not_claimed():
    assert parse_question("is there a?").kind == "open"
