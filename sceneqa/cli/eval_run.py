"""The ``sceneqa eval ...`` handlers: read the data, build the services and print the banner, run the evaluation.

Data is read first, so a bad ``--data`` fails before any model loads (and its skipped rows precede the banner).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from eval import ask_suite, retrieval_eval, vqa_eval, zeroshot_eval
from multimodal.services import ServiceConfig
from sceneqa.cli.banner import announced_services


def run_zeroshot(args: argparse.Namespace, config: ServiceConfig) -> int:
    loaded = zeroshot_eval.load_data(
        args.data, label_column=args.label_column, path_column=args.path_column, limit=args.limit
    )
    services = announced_services(config, args.quiet)
    return zeroshot_eval.run_zeroshot_eval(
        services, loaded, data=args.data, label_column=args.label_column, out=args.out
    )


def run_retrieval(args: argparse.Namespace, config: ServiceConfig) -> int:
    loaded = retrieval_eval.load_data(
        args.data,
        text_column=args.text_column,
        group_column=args.group_column,
        path_column=args.path_column,
        limit=args.limit,
    )
    services = announced_services(config, args.quiet)
    return retrieval_eval.run_retrieval_eval(services, loaded, data=args.data, out=args.out)


def run_vqa(args: argparse.Namespace, config: ServiceConfig) -> int:
    questions = vqa_eval.load_data(args.data, args.limit, args.split)
    config = replace(config, calibration=args.calibration or config.calibration)
    if args.fit_calibration:  # every drafted answer, with its raw confidence
        config = replace(config, abstain_below=0.0, calibration="none")
    services = announced_services(config, args.quiet)
    return vqa_eval.run_vqa_eval(services, questions, out=args.out, fit_calibration=args.fit_calibration)


def run_ask_suite(args: argparse.Namespace, config: ServiceConfig) -> int:
    services = announced_services(config, args.quiet)
    return ask_suite.run_ask_suite(services, logs=args.logs, as_json=args.json)


def run_fewshot(args: argparse.Namespace, config: ServiceConfig) -> int:
    from eval import fewshot_eval

    loaded = fewshot_eval.load_data(
        args.data,
        label_column=args.label_column,
        path_column=args.path_column,
        min_per_class=args.min_per_class,
        shots=tuple(args.shots),
        seeds=args.seeds,
    )
    services = announced_services(config, args.quiet)
    return fewshot_eval.run_fewshot_eval(
        services,
        loaded,
        data=args.data,
        label_column=args.label_column,
        shots=tuple(args.shots),
        seeds=args.seeds,
        out=args.out,
    )
