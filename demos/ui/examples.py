"""Example inputs of the Ask tab: package photos and a small inspection log, written into a folder."""

from __future__ import annotations

from pathlib import Path

EXAMPLE_LOG = """2026-03-01 08:02 shift start, operator A. Koch
2026-03-01 08:10 pump 1 pressure 4.1 bar, nominal
2026-03-01 09:30 valve 3 inspected: seal intact, no leak found
2026-03-01 09:32 valve 3 torque checked, 45 Nm
2026-03-01 10:05 valve 7 inspected: seal cracked, replacement ordered
2026-03-01 11:00 cat seen near pump 2 again; maintenance informed
"""


def write_examples(folder: Path) -> list[list]:
    """Write the example files into ``folder`` (created; photos kept when present) and return the Ask tab's
    example rows: ``[images, question, context files, pasted text, use the catalog]``."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "inspection.log"
    log.write_text(EXAMPLE_LOG)
    photos = {}
    for name in ("chelsea", "coffee", "astronaut", "page"):
        photos[name] = folder / f"{name}.jpg"
        if not photos[name].exists():
            Image.fromarray(getattr(data, name)()).convert("RGB").save(photos[name], quality=90)
    return [
        [[str(photos["chelsea"])], "is there a cat?", [str(log)], "", False],
        [[str(photos["coffee"])], "what is this?", [], "", True],
        [[str(photos["astronaut"])], "how many people are there?", [], "", False],
        [[str(photos["page"])], "what does the text say?", [], "", False],
        [[], "what was found when valve 7 was inspected?", [str(log)], "", False],
    ]
