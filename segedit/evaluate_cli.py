"""``evaluate.py``: mIoU of a method on a benchmark or on any labelled folder."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import sclip
from sclip import Vocabulary

from . import files, loading
from .console import console_logging, progress_bars, run_guarded
from .flags import (
    Parser,
    add_console_arguments,
    add_model_arguments,
    add_sam2_arguments,
    add_sam3_arguments,
    add_sclip_arguments,
    console_options_from_args,
    model_options_from_args,
    sclip_settings_from_args,
)
from .errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, UsageError
from .evaluation import DATASETS, evaluate, format_table, open_dataset, write_metrics
from .images import load_image

METHODS = ("sclip", "sclip+sam2", "proposals", "sam3")
SAM2_METHODS = ("sclip+sam2", "proposals")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sclip-evaluate",
        usage="%(prog)s --dataset NAME --data-root DIR [options]",
        description="Score a segmentation method on a labelled dataset: per-class IoU, mIoU, aAcc, mAcc.",
        epilog=EXIT_CODES_HELP.replace("at least one target not found", "(not used)"),
    )
    parser.short_usage = "--dataset NAME --data-root DIR [options]"
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", required=True, choices=sorted(DATASETS),
                      help="benchmark layout and class preset; 'generic' reads images/, labels/ and classes.txt")
    data.add_argument("--data-root", required=True, type=Path, metavar="DIR", help="the dataset's folder")
    data.add_argument("--output", type=Path, default=Path("output_eval"), metavar="DIR",
                      help="folder for metrics.json and metrics.csv (default: output_eval/)")
    data.add_argument("--method", choices=METHODS, default="sclip", help="what is scored (default: sclip)")
    data.add_argument("--limit", type=int, metavar="N", help="score only the first N images")
    data.add_argument("--save-predictions", type=Path, metavar="DIR",
                      help="keep one label PNG per image; saved ones are reused, so runs resume")
    data.add_argument("--ignore-index", type=int, metavar="N", help="label value that never counts (generic only; default 255)")
    add_model_arguments(parser)
    add_sclip_arguments(parser, with_preset=False)
    add_sam2_arguments(parser.add_argument_group("SAM2 (sclip+sam2 and proposals)"))
    add_sam3_arguments(parser)
    add_console_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser()
    if prog:
        parser.prog = prog
    args = parser.parse_args(argv)
    console = console_options_from_args(args)
    with console_logging(console):
        return run_guarded(console, lambda: _run(args))


def _run(args) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be a positive number of images")
    if args.ignore_index is not None and args.dataset != "generic":
        raise UsageError(f"--ignore-index is fixed by the {args.dataset} layout; it applies to --dataset generic only")
    models = model_options_from_args(args)
    dataset = open_dataset(args.dataset, args.data_root, args.ignore_index)
    if dataset.class_lines is not None:
        vocabulary = Vocabulary.from_lines(dataset.class_lines)
        settings = sclip_settings_from_args(args, preset=None)
    else:
        vocabulary = sclip.load_preset(dataset.spec.class_preset).vocabulary
        settings = sclip_settings_from_args(args, preset=dataset.spec.class_preset)
    if len(vocabulary) != dataset.num_classes:
        raise UsageError(f"{args.dataset}: {len(vocabulary)} class names for {dataset.num_classes} label values")
    if args.save_predictions is not None:
        files.prepare_output_dir(args.save_predictions, option="--save-predictions")
    output = files.prepare_output_dir(args.output)
    progress = progress_bars(console_options_from_args(args))
    loading.check_device(models)
    # every model loads before the first image, so missing weights fail at once
    needed = ["sam3"] if args.method == "sam3" else ["clip"] + (["sam2"] if args.method in SAM2_METHODS else [])
    from .api import Segmenter

    segmenter = loading.load(Segmenter.from_options(models, progress), needed)

    def predict(image):
        return segmenter.predict_labels(image, vocabulary, settings, args.method)

    report = evaluate(
        dataset, predict, load_image=load_rgb, write_bytes=files.write_bytes_atomically, limit=args.limit,
        save_predictions=args.save_predictions, progress=progress,
    )
    record = {
        "dataset": args.dataset,
        "data_root": str(args.data_root),
        "method": args.method,
        "model": segmenter.describe(("sam3",) if args.method == "sam3" else ("clip",)),
        "sclip": None if args.method == "sam3" else settings.to_json(),
        "sam2": None if args.method not in SAM2_METHODS else {
            "model": models.sam2.checkpoint or models.sam2.model,
            "points_per_side": segmenter.mask_source.settings.points_per_side,
        },
        "sam3": None if args.method != "sam3" else {
            "model": segmenter.sam3_options.model, **segmenter.sam3_options.settings.to_json(),
        },
        "limit": args.limit,
    }
    write_metrics(report, vocabulary.labels, record, output, files.write_bytes_atomically)
    if not args.quiet:
        print(format_table(report.metrics, vocabulary.labels))
        print(f"{report.images} images, {args.method}: mIoU {report.metrics.mean_iou:.2f}")
    if report.failed:
        print(f"error: {len(report.failed)} image(s) could not be read and were not scored; "
              f"listed under failed_images in {output / 'metrics.json'}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def load_rgb(path: Path):
    """Images are read exactly as the segmentation command lines read theirs (EXIF orientation, any mode)."""
    return load_image(path).rgb
