"""The segmentation command lines' flags, and their translation into the core's settings objects.

Flags are built from the settings dataclasses (a flag's default is its field's default), each flag is
turned into its settings field once (``job_from_args``), and the settings check their own rules; a
rule's complaint comes back here to be said with the flag's name (``flag_errors``). Nothing heavy is
imported, so ``--help`` and usage errors answer at once. The web page and the evaluation CLI take their
model flags from here too.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import inpaint
import refine
import sam3seg
import sclip

from .errors import EXIT_CODES_HELP, UsageError, first_line
from .options import (
    DEVICES,
    EDIT_MODES,
    ENGINES,
    INPAINTERS,
    MODES,
    PRECISIONS,
    ConsoleOptions,
    EngineOptions,
    Job,
    ModelOptions,
    OutputOptions,
    RefineOptions,
    RunOptions,
    SAM2Options,
    SAM3Options,
    SettingError,
    default,
)

PROGS = {"sclip": "sclip-segment", "proposals": "sam2clip-segment", "sam3": "sam3-segment"}
OUTPUTS = {"sclip": "output_sclip", "proposals": "output", "sam3": "output_sam3"}
# Settings fields whose flag is not "--" + the field name in kebab case.
FLAG_OF_SETTING = {
    "points_per_side": "--sam-points-per-side",
    "pred_iou_thresh": "--sam-pred-iou-thresh",
    "stability_score_thresh": "--sam-stability-thresh",
    "points_per_batch": "--sam-points-per-batch",
    "sam_max_side": "--sam-max-side",
    "all_classes": "--refine-all-classes",
    "prompts": "--prompt",
    "images": "--image",
    "model": "--model",
}
# SCLIPSettings' fields with a flag of their own name; unset ones keep the preset's (or SCLIP's) value.
SCLIP_FLAGS = ("short_side", "logit_scale", "prob_thd", "area_thd", "slide_crop", "slide_stride", "pamr_steps")
# SAM3Settings' fields: their names alone ("threshold", "max_side") would be other flags.
SAM3_FLAGS = {"threshold": "--sam3-threshold", "mask_threshold": "--sam3-mask-threshold", "max_side": "--sam3-max-side"}
EXAMPLES = {
    "sclip": """examples:
  %(prog)s --image street.jpg --prompt car --vocabulary car road building sky --visualize
  %(prog)s --image photo.jpg --prompt person --mode remove --inpainter opencv
  %(prog)s --image street.jpg --prompt car --mode replace --edit "red racing car" --seed 7
  %(prog)s --image photos/ --recursive --prompt car --output runs/cars --skip-existing --export-coco runs/cars.json
""",
    "proposals": """examples:
  %(prog)s --image street.jpg --prompt car --top-k 5 --visualize
  %(prog)s --image photos/ --recursive --prompt dog --output runs/dogs --skip-existing
""",
    "sam3": """examples:
  %(prog)s --image street.jpg --prompt car --vocabulary car road building sky --visualize
  %(prog)s --image photo.jpg --prompt person --mode remove --inpainter opencv --sam3-model ./sam3
  %(prog)s --image photos/ --recursive --prompt dog --output runs/dogs --skip-existing --export-coco runs/dogs.json
""",
}


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors come first, on one line, above a short usage."""

    short_usage = "--image PATH... --prompt TEXT... [options]"

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message}\nusage: {self.prog} {self.short_usage}  "
                     f"(see {self.prog} --help)\n")


def _help(text: str, value=None) -> str:
    """One line of help that states the real default once (none for flags that are off by default)."""
    if value is None or value is False:
        return text
    return f"{text} (default: {value})"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _layers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected block numbers such as 6,12,18,24, got {text}") from None


def add_model_arguments(parser: argparse.ArgumentParser, clip: bool = True) -> None:
    model = parser.add_argument_group("models and hardware")
    if clip:
        model.add_argument("--model", default=default(ModelOptions, "model"),
                           help=_help("open_clip ViT name, e.g. ViT-B-16 or ViT-L-14", default(ModelOptions, "model")))
        model.add_argument("--clip-weights", metavar="FILE", help="local OpenAI-format CLIP checkpoint (offline use)")
    model.add_argument("--device", choices=DEVICES, default=default(ModelOptions, "device"),
                       help=_help("where models run; auto picks CUDA, then MPS, then CPU",
                                  default(ModelOptions, "device")))
    model.add_argument("--precision", choices=PRECISIONS, default=default(ModelOptions, "precision"),
                       help=_help("auto: CLIP and diffusion fp16, SAM2 and SAM 3 bf16 on GPUs; fp32 on CPU; "
                                  "any other value applies to every stage", default(ModelOptions, "precision")))
    if clip:
        model.add_argument("--cache-dir", type=Path, metavar="DIR",
                           help="text-embedding cache folder (default: the user cache folder)")
        model.add_argument("--no-cache", action="store_true", help="do not read or write the text-embedding cache")


def add_sclip_arguments(parser: argparse.ArgumentParser, with_preset: bool) -> None:
    settings = sclip.SCLIPSettings
    stage1 = parser.add_argument_group("SCLIP (stage 1)")
    if with_preset:
        stage1.add_argument("--preset", choices=sclip.preset_names(),
                            help="a benchmark's classes and official settings instead of --vocabulary")
    stage1.add_argument("--short-side", type=_positive_int, metavar="N",
                        help=_help("short side the image is resized to", f"{default(settings, 'short_side')} "
                                   "or the preset's"))
    stage1.add_argument("--slide-crop", type=_positive_int, metavar="N",
                        help=_help("sliding-window size in pixels", default(settings, "slide_crop")))
    stage1.add_argument("--slide-stride", type=_positive_int, metavar="N",
                        help=_help("sliding-window stride in pixels", default(settings, "slide_stride")))
    stage1.add_argument("--logit-scale", type=_finite, metavar="X",
                        help=_help("softmax temperature over class names", f"{default(settings, 'logit_scale'):g} "
                                   "or the preset's"))
    stage1.add_argument("--prob-thd", type=_finite, metavar="X",
                        help=_help("pixels less sure than this become class 0", f"{default(settings, 'prob_thd'):g} "
                                   "or the preset's"))
    stage1.add_argument("--area-thd", type=_finite, metavar="X",
                        help="drop foreground classes covering at most this share of the image (default: off "
                             "or the preset's)")
    stage1.add_argument("--pamr-steps", type=int, metavar="N",
                        help=_help("PAMR refinement iterations of the logits, 0 = off", default(settings, "pamr_steps")))
    stage1.add_argument("--feature-layers", type=_layers, metavar="L,L,...",
                        help="1-based blocks whose CSA features are averaged, e.g. 6,12,18,24 (default: the last "
                             "block, as SCLIP)")
    if with_preset:
        stage1.add_argument("--save-probs", action="store_true",
                            help="write probs.npy (float16 classes x H x W)")


def add_sam2_arguments(stage2) -> None:
    generator = refine.MaskGeneratorSettings
    stage2.add_argument("--sam2-model", default=default(SAM2Options, "model"), choices=sorted(refine.SAM2_MODELS),
                        help=_help("hub id of the SAM2 release", default(SAM2Options, "model")))
    stage2.add_argument("--sam2-checkpoint", metavar="FILE", help="local SAM2 checkpoint (offline use)")
    stage2.add_argument("--sam2-config", metavar="NAME",
                        help="sam2 config for --sam2-checkpoint, e.g. configs/sam2.1/sam2.1_hiera_t.yaml")
    stage2.add_argument("--sam-points-per-side", type=_positive_int, metavar="N",
                        help=_help("point grid of the automatic mask generator", default(generator, "points_per_side")))
    stage2.add_argument("--sam-fast", action="store_true",
                        help=f"{generator.fast().points_per_side}x{generator.fast().points_per_side} point grid: "
                             "several times faster on CPU, misses small parts")
    stage2.add_argument("--sam-pred-iou-thresh", type=_finite, metavar="X",
                        help=_help("keep masks SAM2 predicts at least this good", default(generator, "pred_iou_thresh")))
    stage2.add_argument("--sam-stability-thresh", type=_finite, metavar="X",
                        help=_help("keep masks at least this stable", default(generator, "stability_score_thresh")))
    stage2.add_argument("--sam-points-per-batch", type=_positive_int, metavar="N",
                        help="points per SAM2 batch (default: 16 on CPU, 256 on CUDA)")
    stage2.add_argument("--sam-max-side", type=_positive_int, metavar="N",
                        help=_help("SAM2 runs on a copy with at most this long side; its masks are brought "
                                   "back to full size", default(generator, "sam_max_side")))


def add_sam3_arguments(parser: argparse.ArgumentParser) -> None:
    settings = sam3seg.SAM3Settings
    group = parser.add_argument_group("SAM 3")
    group.add_argument("--sam3-model", metavar="DIR_OR_ID", default=default(SAM3Options, "model"),
                       help=_help("SAM 3 hub id (gated: accept the licence on its page, then log in) or a local "
                                  "save_pretrained folder", default(SAM3Options, "model")))
    group.add_argument("--sam3-threshold", type=_finite, metavar="X", default=default(settings, "threshold"),
                       help=_help("keep instances SAM 3 scores above this", default(settings, "threshold")))
    group.add_argument("--sam3-mask-threshold", type=_finite, metavar="X", default=default(settings, "mask_threshold"),
                       help=_help("a pixel belongs to an instance above this mask probability",
                                  default(settings, "mask_threshold")))
    group.add_argument("--sam3-max-side", type=_positive_int, metavar="PIXELS", default=default(settings, "max_side"),
                       help=_help("SAM 3 works on a copy with at most this long side (its input size is 1008)",
                                  default(settings, "max_side")))


def add_refinement_toggle(stage2) -> None:
    stage2.add_argument("--use-sam-refinement", dest="use_sam_refinement", action="store_true",
                        default=default(RefineOptions, "enabled"),
                        help="refine the target mask with SAM2 masks by majority vote (default: on)")
    stage2.add_argument("--no-sam-refinement", dest="use_sam_refinement", action="store_false",
                        help="skip stage 2 (SAM2 is then never loaded)")


def add_inpainter_arguments(stage3) -> None:
    stage3.add_argument("--inpainter", choices=INPAINTERS, default=default(ModelOptions, "inpainter"),
                        help=_help("opencv needs no weights but can only remove", default(ModelOptions, "inpainter")))
    stage3.add_argument("--inpaint-model", metavar="ID_OR_DIR",
                        help=_help("diffusers inpainting model: hub id or local folder", inpaint.DEFAULT_INPAINT_MODEL))


def add_edit_arguments(parser: argparse.ArgumentParser) -> None:
    settings = inpaint.InpaintSettings
    stage3 = parser.add_argument_group("editing (stage 3)")
    add_inpainter_arguments(stage3)
    stage3.add_argument("--steps", type=_positive_int, metavar="N", default=default(settings, "steps"),
                        help="diffusion steps (default: the model family's)")
    stage3.add_argument("--guidance", type=_finite, metavar="X", default=default(settings, "guidance"),
                        help="guidance scale (default: the model family's; FLUX Fill is guidance-distilled, about 30)")
    stage3.add_argument("--strength", type=_finite, metavar="X",
                        help="how much of the region is repainted (default: 1.0 for remove and replace, 0.6 for style)")
    stage3.add_argument("--seed", type=int, metavar="N", help="random seed (default: drawn, and recorded in result.json)")
    stage3.add_argument("--negative-prompt", metavar="TEXT",
                        help="added to the mode's own negative prompt (see the edit prompts below)")
    stage3.add_argument("--mask-dilate", type=int, metavar="PIXELS", default=default(settings, "mask_dilate"),
                        help=_help("grow the edit region by this many pixels", default(settings, "mask_dilate")))
    stage3.add_argument("--mask-blur", type=int, metavar="PIXELS", default=default(settings, "mask_blur"),
                        help=_help("feather the region's edge over this many pixels", default(settings, "mask_blur")))
    stage3.add_argument("--scheduler", choices=("default", "dpm++"), default="default",
                        help=_help("the model's own scheduler, or dpm++ (good results in 20-25 steps)", "default"))
    stage3.add_argument("--low-vram", action="store_true", help="offload diffusion sub-models to the CPU between uses")


def output_location(text: str) -> Path | str:
    """A local folder as a Path; a URI (s3://, gs://, file://) as given, since Path would fold its '//'."""
    return text if "://" in text else Path(text)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the per-image job runs; these flags never change results, so result.json does not record them."""
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", choices=ENGINES, default=default(EngineOptions, "engine"),
                        help=_help("local: this process; ray: a Ray cluster, pip install 'sclip-edit[ray]'",
                                   default(EngineOptions, "engine")))
    engine.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster to use, e.g. auto or ray://head:10001 "
                             "(default: $RAY_ADDRESS if set, else a local Ray started for this run)")
    engine.add_argument("--ray-workers", type=_positive_int, metavar="N",
                        help="model workers, each loading the models once "
                             "(default: 1, or as many as the cluster's GPUs allow with --ray-gpus-per-worker)")
    engine.add_argument("--ray-gpus-per-worker", type=_finite, metavar="F",
                        default=default(EngineOptions, "ray_gpus_per_worker"),
                        help="GPUs per model worker; fractions such as 0.5 share a GPU (default: 0 = CPU)")


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    from . import __version__

    talk = parser.add_argument_group("console")
    talk.add_argument("-q", "--quiet", action="store_true", help="errors only: no progress bars, no closing line")
    talk.add_argument("-v", "--verbose", action="store_true", help="one status line per image")
    talk.add_argument("--debug", action="store_true", help="show tracebacks and debug messages")
    talk.add_argument("--version", action="version", version=f"%(prog)s {__version__}")


def _edit_prompts_help() -> str:
    """The words the diffusion inpainter adds to --edit, so users know what the model is told."""
    lines = ["edit prompts sent to the diffusion model (PROMPT = --prompt, EDIT = --edit):"]
    for mode in EDIT_MODES:
        prompts = inpaint.build_prompts(mode, "PROMPT", "EDIT")
        lines.append(f"  {mode}: \"{prompts.prompt}\"; negative: \"{prompts.negative_prompt}\"")
    return "\n".join(lines)


DESCRIPTIONS = {
    "sclip": "Find a text prompt in images with SCLIP dense prediction refined by SAM2 masks, then "
             "optionally remove, replace or restyle it.",
    "proposals": "Find instances of a text prompt among SAM2's masks, labelled by CLIP, then optionally "
                 "remove, replace or restyle them.",
    "sam3": "Find every instance of a text prompt with SAM 3 concept segmentation, then optionally "
            "remove, replace or restyle them.",
}


def build_parser(approach: str, prog: str | None = None) -> argparse.ArgumentParser:
    is_sclip = approach == "sclip"
    parser = Parser(
        prog=prog or PROGS[approach],
        usage=f"%(prog)s {Parser.short_usage}",
        description=DESCRIPTIONS[approach],
        epilog=f"{EXAMPLES[approach]}\n{_edit_prompts_help()}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    io_group = parser.add_argument_group("inputs and outputs")
    io_group.add_argument("--image", nargs="+", default=[], metavar="PATH",
                          help="image files, folders or glob patterns (JPEG, PNG, WebP, BMP, TIFF)")
    io_group.add_argument("--images-from", metavar="FILE", help="read image paths from FILE, one per line ('-' = stdin)")
    io_group.add_argument("--recursive", action="store_true", help="look for images in sub-folders too")
    io_group.add_argument("--prompt", nargs="+", action="extend", required=True, metavar="TEXT",
                          help="what to find; several prompts share each image's work")
    io_group.add_argument("--mode", choices=MODES, default=default(RunOptions, "mode"),
                          help=_help("what to do with the target", default(RunOptions, "mode")))
    io_group.add_argument("--edit", metavar="TEXT", help="what to paint (required for replace and style)")
    io_group.add_argument("--vocabulary", nargs="+", metavar="CLASS",
                          help="classes to tell the prompt apart from; each may be 'name, other name' "
                               "(default: SCLIP's 26 background names)")
    io_group.add_argument("--output", type=output_location, metavar="DIR", default=Path(OUTPUTS[approach]),
                          help=_help("results folder; with --engine ray also a URI such as s3://bucket/run",
                                     f"{OUTPUTS[approach]}/"))
    io_group.add_argument("--visualize", action="store_true", help="also write overlay pictures")
    io_group.add_argument("--export-coco", type=Path, metavar="FILE", help="write every mask of the job as one COCO JSON file")
    io_group.add_argument("--skip-existing", action="store_true",
                          help="skip images whose complete result.json was made with the same settings")
    io_group.add_argument("--max-side", type=_positive_int, metavar="PIXELS",
                          help="process images downscaled to this long side; outputs keep the original size")

    add_model_arguments(parser, clip=approach != "sam3")
    if approach == "sam3":
        add_sam3_arguments(parser)
    else:
        _add_sclip_and_sam2_arguments(parser, is_sclip)
    add_edit_arguments(parser)
    add_engine_arguments(parser)
    add_console_arguments(parser)
    return parser


def _add_sclip_and_sam2_arguments(parser: argparse.ArgumentParser, is_sclip: bool) -> None:
    if is_sclip:
        add_sclip_arguments(parser, with_preset=True)
    stage2 = parser.add_argument_group("SAM2 (stage 2)")
    if is_sclip:
        add_refinement_toggle(stage2)
        stage2.add_argument("--min-coverage", type=_finite, metavar="X", default=default(RefineOptions, "min_coverage"),
                            help=_help("keep a SAM2 mask when this share of it lies on the target",
                                       default(RefineOptions, "min_coverage")))
        stage2.add_argument("--refine-all-classes", action="store_true",
                            help="also relabel every SAM2 mask with its majority class in labels.png")
    else:
        stage2.add_argument("--top-k", type=_positive_int, metavar="N", default=default(RunOptions, "top_k"),
                            help=_help("keep at most this many instances per prompt", default(RunOptions, "top_k")))
    add_sam2_arguments(stage2)




# ---- from flags to settings objects --------------------------------------------------------------
def flag_of(setting: str) -> str:
    return FLAG_OF_SETTING.get(setting, "--" + setting.replace("_", "-").replace(".", "-"))


@contextlib.contextmanager
def flag_errors(flags: dict[str, str] | None = None) -> Iterator[None]:
    """Turn a settings object's complaint about a field into a usage error naming the flag.

    ``flags`` maps the fields of a settings class whose flags carry a prefix (``SAM3_FLAGS``).
    """
    def name_of(setting: str) -> str:
        return (flags or {}).get(setting) or flag_of(setting)

    try:
        yield
    except SettingError as exc:
        raise UsageError(exc.render(name_of)) from exc
    except (ValueError, TypeError) as exc:
        setting = getattr(exc, "setting", None)
        if setting is None:
            raise
        message = first_line(exc).removeprefix(f"{setting}: ")
        raise UsageError(f"{name_of(setting)}: {message}") from exc


def sclip_overrides_from_args(args) -> dict:
    """The SCLIP flags given explicitly (they apply over a preset's settings), checked."""
    overrides = {name: getattr(args, name) for name in SCLIP_FLAGS if getattr(args, name) is not None}
    with flag_errors():
        sclip.SCLIPSettings(**overrides)
    return overrides


def sclip_settings_from_args(args, preset: str | None) -> sclip.SCLIPSettings:
    """Preset (or SCLIP default) settings with every explicitly given flag applied on top."""
    overrides = {name: getattr(args, name) for name in SCLIP_FLAGS if getattr(args, name) is not None}
    with flag_errors():
        if preset:
            return sclip.preset_settings(preset, **overrides)
        return sclip.SCLIPSettings(**overrides)


def sam2_options_from_args(args) -> SAM2Options:
    generator = refine.MaskGeneratorSettings
    values = {
        "points_per_side": generator.fast().points_per_side if args.sam_fast else args.sam_points_per_side,
        "pred_iou_thresh": args.sam_pred_iou_thresh,
        "stability_score_thresh": args.sam_stability_thresh,
        "points_per_batch": args.sam_points_per_batch,
        "sam_max_side": args.sam_max_side,
    }
    with flag_errors():
        settings = generator(**{key: value for key, value in values.items() if value is not None})
        return SAM2Options(args.sam2_model, args.sam2_checkpoint, args.sam2_config, settings)


def sam3_settings_from_args(args) -> sam3seg.SAM3Settings:
    with flag_errors(SAM3_FLAGS):
        return sam3seg.SAM3Settings(threshold=args.sam3_threshold, mask_threshold=args.sam3_mask_threshold,
                                    max_side=args.sam3_max_side)


def model_options_from_args(args) -> ModelOptions:
    """The models of any front end's flags; flags a front end lacks (no CLIP flags for SAM 3) keep their defaults."""
    fields: dict[str, Any] = {}
    if hasattr(args, "model"):
        cache_dir = args.cache_dir
        fields.update(model=args.model, clip_weights=args.clip_weights, no_cache=args.no_cache,
                      cache_dir=None if cache_dir is None else str(cache_dir))
    if getattr(args, "feature_layers", None) is not None:
        fields["feature_layers"] = tuple(args.feature_layers)
    if hasattr(args, "sam2_model"):
        fields["sam2"] = sam2_options_from_args(args)
    if hasattr(args, "sam3_model"):
        fields["sam3"] = SAM3Options(args.sam3_model, sam3_settings_from_args(args))
    if hasattr(args, "inpainter"):
        fields.update(inpainter=args.inpainter, inpaint_model=args.inpaint_model)
    with flag_errors():
        return ModelOptions(device=args.device, precision=args.precision, **fields)


def inpaint_settings_from_args(args) -> inpaint.InpaintSettings:
    with flag_errors():
        return inpaint.InpaintSettings(
            steps=args.steps, guidance=args.guidance, strength=args.strength, seed=args.seed,
            negative_prompt=args.negative_prompt, mask_dilate=args.mask_dilate, mask_blur=args.mask_blur,
            scheduler=None if args.scheduler == "default" else args.scheduler, low_vram=args.low_vram,
        )


def run_options_from_args(args, approach: str) -> RunOptions:
    """What the segmentation flags ask each image for."""
    preset = getattr(args, "preset", None)
    is_sclip = approach == "sclip"
    with flag_errors():
        refine_options = RefineOptions(enabled=args.use_sam_refinement, min_coverage=args.min_coverage,
                                       all_classes=args.refine_all_classes) if is_sclip else RefineOptions(False)
        options = RunOptions(
            approach=approach,
            prompts=tuple(prompt.strip() for prompt in args.prompt),
            mode=args.mode,
            edit=args.edit,
            vocabulary=tuple(args.vocabulary) if args.vocabulary else None,
            preset=preset,
            sclip=sclip_settings_from_args(args, preset) if is_sclip else None,
            refine=refine_options,
            top_k=args.top_k if approach == "proposals" else default(RunOptions, "top_k"),
            sam3=sam3_settings_from_args(args) if approach == "sam3" else None,
            inpaint=inpaint_settings_from_args(args) if args.mode != "segment" else None,
            outputs=OutputOptions(
                visualize=args.visualize,
                save_probs=is_sclip and args.save_probs,
                export_coco=args.export_coco,
                skip_existing=args.skip_existing,
                max_side=args.max_side,
            ),
        )
    with flag_errors(), _silenced(sclip.build_vocabulary.__module__):
        # bad class lines fail here, before any model loads; their warnings come once, from the run
        sclip.build_vocabulary(options.prompts, options.vocabulary, options.preset)
    return options


def console_options_from_args(args) -> ConsoleOptions:
    return ConsoleOptions(quiet=args.quiet, verbose=getattr(args, "verbose", False), debug=args.debug)


def job_from_args(args, approach: str) -> Job:
    """The whole batch the segmentation flags describe: every flag turned into its settings field once."""
    run = run_options_from_args(args, approach)
    models = model_options_from_args(args)
    with flag_errors():
        engine = EngineOptions(args.engine, args.ray_address, args.ray_workers, args.ray_gpus_per_worker)
        return Job(run, args.output, models, images=tuple(args.image), images_from=args.images_from, recursive=args.recursive,
                   engine=engine, console=console_options_from_args(args))


@contextlib.contextmanager
def _silenced(name: str) -> Iterator[None]:
    log = logging.getLogger(name)
    saved, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = saved
