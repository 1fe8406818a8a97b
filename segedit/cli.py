"""Command lines of ``main_sclip.py`` (SCLIP dense prediction + SAM2 vote) and ``main.py`` (SAM2
proposals labelled by CLIP). Both share flags, the per-image loop and the exit codes."""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch

import inpaint
import refine
import sclip
from sclip import SCLIPSettings

from . import files
from .api import SAM2Options, Segmenter, build_vocabulary, preset_settings
from .devices import resolve_device, resolve_dtype
from .errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, UsageError
from .images import collect_inputs, read_list_file
from .runner import RunOptions, Runner

logger = logging.getLogger("segedit")

EDIT_MODES = ("remove", "replace", "style")
PACKAGES = ("segedit", "sclip", "refine", "inpaint", "viz", "evaluation")
# Raised before any image is processed when a model cannot be had: the run fails (exit 1), it is not misused.
MODEL_ERRORS = (
    sclip.WeightsNotFoundError, refine.WeightsNotFoundError, inpaint.WeightsNotFoundError,
    refine.CheckpointMismatchError,
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def _layers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected block numbers such as 6,12,18,24, got {text}") from None


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("models and hardware")
    model.add_argument("--model", default=sclip.DEFAULT_MODEL, help="open_clip ViT name, e.g. ViT-B-16 or ViT-L-14")
    model.add_argument("--clip-weights", metavar="FILE", help="local OpenAI-format CLIP checkpoint (offline use)")
    model.add_argument("--device", choices=("auto", "cuda", "cpu", "mps"), default="auto")
    model.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"), default="auto",
                       help="auto: fp16 on GPUs, fp32 on CPU")
    model.add_argument("--cache-dir", type=Path, help=f"text-embedding cache (default {sclip.default_cache_dir()})")
    model.add_argument("--no-cache", action="store_true", help="do not read or write the text-embedding cache")


def add_sclip_arguments(parser: argparse.ArgumentParser, with_preset: bool) -> None:
    stage1 = parser.add_argument_group("SCLIP (stage 1)")
    if with_preset:
        stage1.add_argument("--preset", choices=sclip.preset_names(),
                            help="benchmark vocabulary and settings instead of --vocabulary")
    stage1.add_argument("--short-side", type=_positive_int, help="inference short side (default 336 or the preset's)")
    stage1.add_argument("--slide-crop", type=_positive_int, default=224)
    stage1.add_argument("--slide-stride", type=_positive_int, default=112)
    stage1.add_argument("--logit-scale", type=float, help="softmax temperature (default 40 or the preset's)")
    stage1.add_argument("--prob-thd", type=_fraction, help="pixels less sure than this become class 0")
    stage1.add_argument("--area-thd", type=_fraction, help="drop foreground classes covering at most this share")
    stage1.add_argument("--pamr-steps", type=int, default=0, help="PAMR refinement iterations (0 = off)")
    stage1.add_argument("--feature-layers", type=_layers, metavar="L,L,...",
                        help="1-based blocks whose features are averaged (default: last block = SCLIP)")
    if with_preset:
        stage1.add_argument("--save-probs", action="store_true", help="write probs.npy (float16 classes x H x W)")


def add_sam2_arguments(stage2) -> None:
    stage2.add_argument("--sam2-model", default=refine.DEFAULT_SAM2_MODEL, choices=sorted(refine.SAM2_MODELS),
                        help="hub id of the SAM2 release")
    stage2.add_argument("--sam2-checkpoint", metavar="FILE", help="local SAM2 checkpoint (offline use)")
    stage2.add_argument("--sam2-config", metavar="NAME",
                        help="sam2 config for --sam2-checkpoint, e.g. configs/sam2.1/sam2.1_hiera_t.yaml")
    stage2.add_argument("--sam-points-per-side", type=_positive_int, default=32)
    stage2.add_argument("--sam-pred-iou-thresh", type=_fraction, default=0.88)
    stage2.add_argument("--sam-stability-thresh", type=_fraction, default=0.95)
    stage2.add_argument("--sam-points-per-batch", type=_positive_int, help="default 64 on CPU, 256 on CUDA")
    stage2.add_argument("--sam-fast", action="store_true",
                        help="12x12 point grid instead of 32x32: several times faster on CPU, misses small parts")


# --- engines: the same per-image job run by this process (local) or by a Ray cluster (segedit.ray_engine) ---
# These flags change where the work runs, never its results, so result.json does not record them.
ENGINE_ARGUMENTS = ("engine", "ray_address", "ray_workers", "ray_gpus_per_worker")


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def output_location(text: str) -> Path | str:
    """A local folder as a Path; a URI (s3://, gs://, file://) as given, since Path would fold its '//'."""
    return text if "://" in text else Path(text)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this process; ray: a Ray cluster (pip install 'sclip-edit[ray]')")
    engine.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster to use, e.g. auto or ray://head:10001 "
                             "(default: $RAY_ADDRESS if set, else a local Ray started for this run)")
    engine.add_argument("--ray-workers", type=_positive_int, metavar="N",
                        help="model workers, each loading the models once "
                             "(default: 1, or as many as the cluster's GPUs allow with --ray-gpus-per-worker)")
    engine.add_argument("--ray-gpus-per-worker", type=_non_negative_float, default=0.0, metavar="F",
                        help="GPUs per model worker; fractions such as 0.5 share a GPU (0 = CPU)")


def input_specs(args) -> list[str]:
    return list(args.image) + (read_list_file(args.images_from) if args.images_from else [])


def run_options(args, approach: str) -> RunOptions:
    """The run's options, with the classes checked before any model is loaded."""
    options = _options(args, approach)
    build_vocabulary(options.prompts, options.vocabulary, options.preset)
    return options


def build_runner(args, approach: str, output: Path, progress: bool) -> Runner:
    """A Runner with every model the run needs already loaded, so a missing one fails before the first image.

    Both engines call this: the local one once, the Ray engine once per worker actor.
    """
    options = run_options(args, approach)
    segmenter = segmenter_from_args(args, progress)
    if approach == "proposals" or options.refine or options.refine_all_classes:
        segmenter.mask_source
    if args.mode != "segment":
        inpainter = segmenter.inpainter(args.inpainter, args.inpaint_model, options.inpaint_settings.scheduler,
                                        args.low_vram)
        if args.mode not in inpainter.supported_modes:
            raise UsageError(f"--inpainter {args.inpainter} cannot {args.mode}")
    return Runner(segmenter, options, output, progress, args.verbose)
# --- end of engines ---


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    talk = parser.add_argument_group("console")
    talk.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress bars")
    talk.add_argument("-v", "--verbose", action="store_true", help="one status line per image")
    talk.add_argument("--debug", action="store_true", help="show tracebacks")


def sclip_settings_from_args(args, preset: str | None) -> SCLIPSettings:
    """Preset (or SCLIP default) settings with every explicitly given flag applied on top."""
    overrides = dict(
        short_side=args.short_side, logit_scale=args.logit_scale, prob_thd=args.prob_thd, area_thd=args.area_thd,
        slide_crop=args.slide_crop, slide_stride=args.slide_stride, pamr_steps=args.pamr_steps,
    )
    if preset:
        return preset_settings(preset, **overrides)
    return SCLIPSettings(**{key: value for key, value in overrides.items() if value is not None})


def segmenter_from_args(args, progress: bool) -> Segmenter:
    return Segmenter(
        model=args.model,
        clip_weights=args.clip_weights,
        device=args.device,
        precision=args.precision,
        feature_layers=getattr(args, "feature_layers", None),
        cache_dir=None if args.no_cache else (args.cache_dir or sclip.default_cache_dir()),
        sam2=_sam2_options(args),
        progress=progress,
    )


def build_parser(approach: str) -> argparse.ArgumentParser:
    is_sclip = approach == "sclip"
    parser = argparse.ArgumentParser(
        prog="main_sclip.py" if is_sclip else "main.py",
        description=(
            "Find a text prompt in images with SCLIP dense prediction refined by SAM2 masks, then "
            "optionally remove, replace or restyle it." if is_sclip else
            "Find instances of a text prompt among SAM2's masks, labelled by CLIP, then optionally "
            "remove, replace or restyle them."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    io_group = parser.add_argument_group("inputs and outputs")
    io_group.add_argument("--image", nargs="+", default=[], metavar="PATH",
                          help="image files, folders or glob patterns (JPEG, PNG, WebP, BMP, TIFF)")
    io_group.add_argument("--images-from", metavar="FILE", help="read image paths from FILE, one per line ('-' = stdin)")
    io_group.add_argument("--recursive", action="store_true", help="look for images in sub-folders too")
    io_group.add_argument("--prompt", nargs="+", action="extend", required=True, metavar="TEXT",
                          help="object(s) to find; several prompts reuse the per-image work")
    io_group.add_argument("--mode", choices=("segment",) + EDIT_MODES, default="segment")
    io_group.add_argument("--edit", metavar="TEXT", help="what to paint (required for replace and style)")
    io_group.add_argument("--vocabulary", nargs="+", metavar="CLASS",
                          help="classes to tell apart from the prompt, each may be 'name, other name'")
    io_group.add_argument("--output", type=output_location, default=Path("output_sclip" if is_sclip else "output"),
                          help="folder, or with --engine ray also a URI such as s3://bucket/run")
    io_group.add_argument("--visualize", action="store_true", help="also write overlay pictures")
    io_group.add_argument("--export-coco", type=Path, metavar="FILE", help="write all masks as one COCO JSON file")
    io_group.add_argument("--skip-existing", action="store_true", help="skip images whose result.json is complete")
    io_group.add_argument("--max-side", type=_positive_int, metavar="PIXELS",
                          help="process images downscaled to this long side; outputs keep the original size")

    add_model_arguments(parser)
    if is_sclip:
        add_sclip_arguments(parser, with_preset=True)

    stage2 = parser.add_argument_group("SAM2 (stage 2)")
    if is_sclip:
        stage2.add_argument("--use-sam-refinement", dest="use_sam_refinement", action="store_true", default=True,
                            help="refine the target mask with SAM2 masks by majority vote")
        stage2.add_argument("--no-sam-refinement", dest="use_sam_refinement", action="store_false",
                            help="skip stage 2 (SAM2 is then never loaded)")
        stage2.add_argument("--min-coverage", type=_fraction, default=0.6,
                            help="keep a SAM2 mask when this share of it lies on the target")
        stage2.add_argument("--refine-all-classes", action="store_true",
                            help="also relabel every SAM2 mask with its majority class in labels.png")
    else:
        stage2.add_argument("--top-k", type=_positive_int, default=5, help="keep at most this many instances")
    add_sam2_arguments(stage2)

    stage3 = parser.add_argument_group("editing (stage 3)")
    stage3.add_argument("--inpainter", choices=("diffusion", "opencv"), default="diffusion",
                        help="opencv needs no weights but can only remove")
    stage3.add_argument("--inpaint-model", metavar="ID_OR_DIR",
                        help=f"diffusers inpainting model (default {inpaint.DEFAULT_INPAINT_MODEL})")
    stage3.add_argument("--steps", type=_positive_int, default=50)
    stage3.add_argument("--guidance", type=float, default=7.5)
    stage3.add_argument("--strength", type=_fraction, help="default 1.0 (remove/replace), 0.6 (style)")
    stage3.add_argument("--seed", type=int, help="fix the random seed (recorded in result.json)")
    stage3.add_argument("--negative-prompt", metavar="TEXT")
    stage3.add_argument("--mask-dilate", type=int, default=5, help="grow the mask by this many pixels")
    stage3.add_argument("--mask-blur", type=int, default=8, help="feather the mask edge over this many pixels")
    stage3.add_argument("--scheduler", choices=("default", "dpm++"), default="default",
                        help="dpm++ gives good results in ~20-25 steps")
    stage3.add_argument("--low-vram", action="store_true", help="offload diffusion sub-models to the CPU between uses")

    add_engine_arguments(parser)
    add_console_arguments(parser)
    return parser


@contextlib.contextmanager
def console_logging(args) -> Iterator[None]:
    """Send the project's log records to stderr for the length of one CLI run, then restore the loggers.

    Restoring matters because ``main(argv)`` is also called in-process (tests, scripts): a run must not
    leave handlers bound to a stream that has since been closed or swapped.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if args.debug else "%(message)s"))
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    loggers = [logging.getLogger(name) for name in PACKAGES]
    saved = [(each.handlers[:], each.level, each.propagate) for each in loggers]
    for each in loggers:
        each.handlers[:] = [handler]
        each.setLevel(level)
        each.propagate = False
    try:
        yield
    finally:
        for each, (handlers, old_level, propagate) in zip(loggers, saved):
            each.handlers[:] = handlers
            each.setLevel(old_level)
            each.propagate = propagate


def _validate(args, approach: str) -> None:
    if any(not prompt.strip() for prompt in args.prompt):
        raise UsageError("--prompt is empty; name the object to find, e.g. --prompt car")
    if args.mode in ("replace", "style") and not (args.edit and args.edit.strip()):
        raise UsageError(f"--mode {args.mode} needs --edit TEXT describing what to paint")
    if args.inpainter == "opencv" and args.mode in ("replace", "style"):
        raise UsageError(f"--inpainter opencv can only remove; use --inpainter diffusion for --mode {args.mode}")
    if args.sam2_config and not args.sam2_checkpoint:
        raise UsageError("--sam2-config only applies together with --sam2-checkpoint FILE")
    if approach == "sclip" and args.preset and args.vocabulary:
        raise UsageError("--preset and --vocabulary both define the classes; pass only one")
    if approach == "sclip" and args.pamr_steps < 0:
        raise UsageError("--pamr-steps must be 0 or more")
    if not args.image and not args.images_from:
        raise UsageError("no input images; pass --image PATH (files, folders or globs) or --images-from FILE")
    if args.export_coco is not None and args.export_coco.is_dir():
        raise UsageError(f"--export-coco {args.export_coco} is a folder; give a file name such as run.json")
    if args.engine == "local":  # Ray workers resolve the device on their own hardware
        resolve_dtype(args.precision, resolve_device(args.device))  # before any folder is created


def _options(args, approach: str) -> RunOptions:
    settings_record = {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(args).items()
        if key not in ("quiet", "verbose", "debug", "image", "images_from", *ENGINE_ARGUMENTS)
    }
    options = RunOptions(
        approach=approach,
        prompts=[prompt.strip() for prompt in args.prompt],
        mode=args.mode,
        edit=args.edit,
        vocabulary=args.vocabulary,
        visualize=args.visualize,
        export_coco=args.export_coco,
        skip_existing=args.skip_existing,
        max_side=args.max_side,
        inpainter=args.inpainter,
        inpaint_model=args.inpaint_model,
        settings_record=settings_record,
    )
    if args.mode != "segment":
        options.inpaint_settings = inpaint.InpaintSettings(
            steps=args.steps, guidance=args.guidance, strength=args.strength, seed=args.seed,
            negative_prompt=args.negative_prompt, mask_dilate=args.mask_dilate, mask_blur=args.mask_blur,
            scheduler=None if args.scheduler == "default" else args.scheduler, low_vram=args.low_vram,
        )
    if approach == "sclip":
        options.sclip_settings = sclip_settings_from_args(args, args.preset)
        options.preset = args.preset
        options.refine = args.use_sam_refinement
        options.min_coverage = args.min_coverage
        options.refine_all_classes = args.refine_all_classes
        options.save_probs = args.save_probs
        settings_record["sclip"] = options.sclip_settings.to_json()
    else:
        options.top_k = args.top_k
    return options


def _sam2_options(args) -> SAM2Options:
    points = refine.MaskGeneratorSettings.fast().points_per_side if args.sam_fast else args.sam_points_per_side
    generator = refine.MaskGeneratorSettings(
        points_per_side=points,
        pred_iou_thresh=args.sam_pred_iou_thresh,
        stability_score_thresh=args.sam_stability_thresh,
        points_per_batch=args.sam_points_per_batch,
    )
    return SAM2Options(args.sam2_model, args.sam2_checkpoint, args.sam2_config, generator)


def main(argv: Sequence[str] | None = None, approach: str = "sclip") -> int:
    args = build_parser(approach).parse_args(argv)
    with console_logging(args):
        return run_guarded(args, lambda: _run(args, approach))


def _run(args, approach: str) -> int:
    _validate(args, approach)
    if args.engine == "ray":
        from .ray_engine import run_on_ray

        summary = run_on_ray(args, approach)
    else:
        if isinstance(args.output, str):
            raise UsageError(f"--output {args.output}: a URI output needs --engine ray; give a folder")
        inputs = collect_inputs(input_specs(args), recursive=args.recursive)
        output = prepare_outputs(args)
        progress = not args.quiet and sys.stderr.isatty()
        summary = build_runner(args, approach, output, progress).run(inputs)
    if not args.quiet and (len(summary.outcomes) > 1 or args.verbose):
        print(summary.line())
    return summary.exit_code


def prepare_outputs(args) -> Path:
    output = files.prepare_output_dir(args.output)
    if args.export_coco is not None:
        files.prepare_output_dir(args.export_coco.parent, option="--export-coco")
    return output


def run_guarded(args, body: Callable[[], int]) -> int:
    """Run a CLI body, turning every expected failure into one line on stderr and its exit code."""
    try:
        return body()
    except KeyboardInterrupt:
        print("interrupted; finished images are complete, rerun with --skip-existing to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, NotADirectoryError, PermissionError) as exc:
        report_error(args, exc)
        return EXIT_USAGE
    except MODEL_ERRORS as exc:
        report_error(args, exc)
        return EXIT_FAILED
    except torch.cuda.OutOfMemoryError as exc:
        report_error(args, exc, "CUDA out of memory while loading models; try --model ViT-B-16, --low-vram or --device cpu")
        return EXIT_FAILED
    except ValueError as exc:  # remaining bad values (unknown model name, bad vocabulary line, ...)
        report_error(args, exc)
        return EXIT_USAGE
    except (OSError, RuntimeError) as exc:
        report_error(args, exc)
        return EXIT_FAILED


def report_error(args, exc: BaseException, message: str | None = None) -> None:
    if args.debug:
        traceback.print_exception(exc)
    message = message or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    print(f"error: {message}", file=sys.stderr)
