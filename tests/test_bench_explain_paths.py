"""``bench explain``'s explain off / on / floor part (eval/bench_explain_paths.py) on the tiny tier: every path runs,
each kind is timed, and the photos are new to the per-image caches on every call. Speed itself is reported by
the benchmark, not asserted here; that explain-off imports no explain module is tests/test_bench_explain_imports.py."""

from __future__ import annotations

from eval.bench_explain_paths import FreshPhotos, bench_paths, paths_text, photos
from multimodal.images.recent import image_key


def test_fresh_photos_are_new_to_the_image_caches():
    fresh = FreshPhotos(photos(48))
    keys = {image_key(fresh()) for _ in range(9)}
    assert len(keys) == 9


def test_bench_paths_times_floor_off_and_on_for_each_path(tiny_services):
    result = bench_paths(tiny_services, size=48, repeats=1, budget_s=0.0)
    assert set(result["ops"]) == {"classify", "search", "ask"}
    for kinds in result["ops"].values():
        assert set(kinds) == {"floor", "off", "on"}
        assert all(s["calls"] == 3 and s["p50_ms"] > 0 and s["p90_ms"] >= s["p50_ms"] for s in kinds.values())
    assert isinstance(result["explain_modules_when_off"], list)
    text = paths_text(result)
    assert "multimodal.explain modules imported after classify, search and ask with explain off:" in text
    assert "ask: floor" in text and "over off" in text
