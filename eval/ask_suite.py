"""``sceneqa eval ask-suite``: the ask pipeline on questions with known answers, written here:

- photos that ship with scikit-image (a cat, coffee, a rocket, an astronaut, a motorcycle, a printed page),
  each with questions whose answers a person would give;
- generated inspection logs (seeded) with questions whose answer is one known line: the answer must cite
  exactly that line.

Prints accuracy, abstention and, for logs, the share of answers citing the right line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from eval.metrics import normalize_answer

PHOTO_QUESTIONS = (
    ("chelsea", "is there a cat?", ("yes",)),
    ("chelsea", "is there a dog?", ("no",)),
    ("chelsea", "is there not a cat in the image?", ("no",)),
    ("chelsea", "what is this?", ("tabby", "tiger cat", "egyptian cat", "cat")),
    ("coffee", "what is this?", ("espresso", "cup", "coffee mug", "coffee")),
    ("coffee", "is there a cup?", ("yes",)),
    ("rocket", "is there a rocket?", ("yes",)),
    ("astronaut", "how many people are there?", ("1",)),
    ("astronaut", "is there a person?", ("yes",)),
    ("stereo_motorcycle", "is there a motorcycle?", ("yes",)),
    ("page", "what does the text say?", ("markers",)),
    ("page", "is there a cat?", ("no",)),
)


def make_log(seed: int, lines: int = 120) -> tuple[str, list[tuple[str, int, str]]]:
    """A seeded inspection log and questions (question, answer line number, expected phrase)."""
    rng = np.random.default_rng(seed)
    operator = ["A. Koch", "B. Sato", "C. Diaz", "D. Okafor"][seed % 4]
    out = [f"2026-04-{seed % 28 + 1:02d} 06:00 shift start, operator {operator}"]
    valves = rng.permutation(np.arange(1, 60))[:25]
    for i in range(1, lines):
        v = int(valves[i % 25])
        kind = i % 3
        if kind == 0:
            out.append(f"06:{i % 60:02d} pump {i % 7 + 1} pressure {3.6 + (i % 5) / 10:.1f} bar, nominal")
        elif kind == 1:
            out.append(f"07:{i % 60:02d} walkround zone {i % 5 + 1}, nothing to report")
        else:
            out.append(f"08:{i % 60:02d} valve {v} torque checked, {40 + v % 9} Nm")
    target = int(valves[3])
    crack_line = 40 + seed % 30
    out[crack_line] = f"09:{seed % 60:02d} valve {target} inspected: seal cracked, replacement ordered"
    low_line = 80 + seed % 20
    out[low_line] = f"10:{seed % 60:02d} pump 9 pressure 1.1 bar, LOW, ticket {4400 + seed} opened"
    questions = [
        (f"what was found when valve {target} was inspected?", crack_line + 1, "seal cracked"),
        ("which pump had low pressure and what ticket was opened?", low_line + 1, str(4400 + seed)),
        ("who was the operator on this shift?", 1, operator),
    ]
    return "\n".join(out) + "\n", questions


def run_ask_suite(services, *, logs: int = 20, as_json: bool = False) -> int:
    """Ask ``services`` the photo questions and those of ``logs`` generated logs; prints the summary, and with
    ``as_json`` one JSON line of every row."""
    from PIL import Image
    from skimage import data

    from multimodal.ask.pipeline import AskRequest, ask

    photo_rows, log_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, question, accepted in PHOTO_QUESTIONS:
            arr = getattr(data, name)()
            path = Path(tmp) / f"{name}.png"
            if not path.exists():
                Image.fromarray(arr[0] if isinstance(arr, tuple) else arr).save(path)
            a = ask(services, AskRequest(question, (path,), (f"skimage:{name}",))).answer
            ok = (not a.abstained) and any(normalize_answer(x) in normalize_answer(a.text) for x in accepted)
            photo_rows.append(
                {
                    "photo": name,
                    "question": question,
                    "answer": a.text,
                    "correct": ok,
                    "abstained": a.abstained,
                    "confidence": a.confidence,
                }
            )
        for seed in range(logs):
            text, questions = make_log(seed)
            log = Path(tmp) / f"inspection-{seed}.log"
            log.write_text(text)
            for question, line, phrase in questions:
                a = ask(services, AskRequest(question, context_files=(log,))).answer
                cited = a.citations[0].locator if a.citations else ""
                right_line = cited == f"{log.name}:L{line}" or (
                    cited.startswith(f"{log.name}:L") and _covers(cited, line)
                )
                log_rows.append(
                    {
                        "question": question,
                        "cited": cited,
                        "right_line": right_line,
                        "has_phrase": phrase.lower() in a.text.lower(),
                        "abstained": a.abstained,
                    }
                )
    photo_acc = float(np.mean([r["correct"] for r in photo_rows]))
    photo_abst = float(np.mean([r["abstained"] for r in photo_rows]))
    line_acc = float(np.mean([r["right_line"] for r in log_rows]))
    phrase_acc = float(np.mean([r["has_phrase"] for r in log_rows]))
    log_abst = float(np.mean([r["abstained"] for r in log_rows]))
    print(f"photos: {len(photo_rows)} questions, correct {photo_acc:.3f}, abstained {photo_abst:.3f}")
    for r in photo_rows:
        mark = "ok " if r["correct"] else ("abst" if r["abstained"] else "WRONG")
        print(f"  {mark:5s} {r['photo']:18s} {r['question']:34s} -> {r['answer'][:50]} ({r['confidence']:.2f})")
    print(
        f"logs: {len(log_rows)} questions over {logs} generated logs, right line cited {line_acc:.3f}, "
        f"answer contains the fact {phrase_acc:.3f}, abstained {log_abst:.3f}"
    )
    if as_json:
        print(
            json.dumps(
                {
                    "photos": photo_rows,
                    "logs": log_rows,
                    "photo_accuracy": photo_acc,
                    "line_accuracy": line_acc,
                    "models": services.models(),
                    "tier": services.tier.tier,
                }
            )
        )
    return 0


def _covers(locator: str, line: int) -> bool:
    span = locator.rsplit(":L", 1)[1].replace("L", "").split("-")
    lo, hi = int(span[0]), int(span[-1])
    return lo <= line <= hi
