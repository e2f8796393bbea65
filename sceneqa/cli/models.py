"""``sceneqa models``: the tiers, which models are available or cached, and the device/precision."""

from __future__ import annotations

import argparse
import json

from multimodal.services import ServiceConfig

OTHER_ENCODERS = (
    "open_clip:ViT-B-16/laion2b_s34b_b88k",
    "open_clip:ViT-L-14/laion2b_s32b_b82k",
    "hf:openai/clip-vit-base-patch32",
    "hf:google/siglip-base-patch16-224",
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list tiers, available/cached models and the device that would be used",
        description="Shows each tier's models and whether they can run here, what tier 'auto' "
        "picks and why, and the device/precision. Probes the hub with a short "
        "timeout unless --offline.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--list-open-clip", action="store_true", help="also list every open_clip MODEL/TAG pair")
    p.set_defaults(handler=run)


def collect(config: ServiceConfig, list_open_clip: bool = False) -> dict[str, object]:
    from multimodal.encoders.lite_parts import lite_weights_present
    from multimodal.hub import encoder_cached, probe_hub
    from multimodal.runtime import resolve_runtime
    from multimodal.tiers import DEFAULT_ENCODERS, resolve_tier

    reach = probe_hub(offline=config.offline)
    lite_ok, lite_detail = lite_weights_present()
    full = DEFAULT_ENCODERS["full"]
    full_cached = encoder_cached(full)
    choice = resolve_tier(config.tier, config.encoder, offline=config.offline, probe=lambda: reach)
    runtime = resolve_runtime(config.device, config.precision)
    report: dict[str, object] = {
        "tiers": {
            "full": {
                "encoder": full,
                "cached": full_cached,
                "available": full_cached or reach.reachable,
                "detail": "cached" if full_cached else reach.detail,
            },
            "lite": {
                "encoder": DEFAULT_ENCODERS["lite"],
                "available": lite_ok,
                "detail": lite_detail,
                "models": ["EfficientNet-Lite0 (ImageNet-1k)", "all-MiniLM-L6-v2"],
            },
            "tiny": {
                "encoder": DEFAULT_ENCODERS["tiny"],
                "available": True,
                "detail": "random weights from tiny configs, for tests; never a model",
            },
        },
        "hub": {"reachable": reach.reachable, "detail": reach.detail},
        "selected": {"tier": choice.tier, "encoder": choice.encoder, "reason": choice.reason},
        "runtime": {"device": runtime.device, "precision": runtime.precision, "reason": runtime.reason},
        "other_encoders": list(OTHER_ENCODERS),
    }
    if list_open_clip:
        import open_clip

        report["open_clip_pretrained"] = [f"open_clip:{m}/{t}" for m, t in open_clip.list_pretrained()]
    return report


def run(args: argparse.Namespace, config: ServiceConfig) -> int:
    report = collect(config, args.list_open_clip)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("tiers:")
    for name, t in report["tiers"].items():  # type: ignore[union-attr]
        state = "available" if t["available"] else "NOT available"
        print(f"  {name:5s} {t['encoder']:40s} {state}: {t['detail']}")
    sel = report["selected"]
    print(f"selected: tier {sel['tier']}, encoder {sel['encoder']} ({sel['reason']})")  # type: ignore[index]
    rt = report["runtime"]
    print(f"runtime: {rt['device']}, {rt['precision']} ({rt['reason']})")  # type: ignore[index]
    print("other encoders you can name with --encoder (downloaded once when online):")
    for spec in report["other_encoders"]:  # type: ignore[union-attr]
        print(f"  {spec}")
    print("  open_clip:local-dir:/path | open_clip:MODEL@/path/ckpt.pt | hf:/path/to/folder  (air-gapped)")
    for spec in report.get("open_clip_pretrained", []):  # type: ignore[union-attr]
        print(f"  {spec}")
    return 0
