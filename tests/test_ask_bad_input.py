"""Issue 14's bad input for ask, through the pipeline and the command line: each gets a clear answer or error,
never a traceback, and never a confident answer without evidence."""

from __future__ import annotations

import pytest
from PIL import Image

from multimodal.ask.pipeline import AskRequest, ask
from multimodal.errors import SceneQAError
from sceneqa.cli import main


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    paths = []
    for i in range(50):
        p = d / f"p{i}.png"
        Image.new("RGB", (64, 48), (i * 5, 90, 120)).save(p)
        paths.append(p)
    broken = d / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return paths, broken


@pytest.mark.parametrize(
    "question, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("?!?...", "no words"),
        ("a" * 10_000, "10000 characters; the limit is 1000"),
    ],
)
def test_questions_without_words_or_too_long_are_clear_errors(tiny_services, pics, question, message):
    with pytest.raises(SceneQAError, match=message):
        ask(tiny_services, AskRequest(question, (pics[0][0],)))


@pytest.mark.parametrize("question", ["这张图片里有狗吗？", "هل يوجد كلب في الصورة؟", "Есть ли собака?", "🐶?"])
def test_other_scripts_abstain_without_a_confident_answer(tiny_services, pics, question):
    a = ask(tiny_services, AskRequest(question, (pics[0][0],))).answer
    assert a.abstained and a.confidence < 0.5 and a.detail


def test_images_that_fail_and_too_many_images(tiny_services, pics):
    paths, broken = pics
    with pytest.raises(SceneQAError, match="broken.jpg"):
        ask(tiny_services, AskRequest("is there a dog?", (paths[0], broken)))
    with pytest.raises(SceneQAError, match="50 images given; at most"):
        ask(tiny_services, AskRequest("is there a dog?", tuple(paths)))


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "{p0}", "?!"], "no words"),
        (["ask", "{broken}", "is there a dog?"], "broken.jpg"),
        (["ask", *[f"{{p{i}}}" for i in range(50)], "is there a dog?"], "50 images given"),
    ],
)
def test_command_line_says_what_is_wrong(pics, capsys, args, message):
    paths, broken = pics
    names = {f"p{i}": str(p) for i, p in enumerate(paths)} | {"broken": str(broken)}
    code = main(["--tier", "tiny", "--offline", "-q", "--answerer", "lite", *[a.format(**names) for a in args]])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
