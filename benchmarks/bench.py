"""Benchmark of segmentation and editing: wall time, FLOPs, achieved FLOP/s against the measured matmul peak.

    python -m benchmarks.bench --device cpu --model ViT-B-16 --json results.json

Stages (``--stages``, comma-separated, all by default):

* ``text``: the VOC21 text classifier (56 names x 80 templates) encoded cold with length truncation and at
  CLIP's full 77-token context (by default timed on 16 names and scaled to all: ``--text-baseline-names``),
  then read back from a disk cache by a fresh classifier.
* ``sclip``: Stage 1 on a 500x375 photo (6 windows) against one batched encoder forward of those windows,
  and the reduced precision (bf16 on CPU, fp16 on GPU) against fp32.
* ``memory``: COCO-Stuff (171 classes) on a 4000x3000 photo in a child process (its peak RSS), and the tiled
  post-processing checked against a whole-image computation.
* ``sam2``: the automatic mask generator on a 512x512 photo, fast setting (12x12 points) vs default (32x32).
* ``photo``: ``segedit.Segmenter(...).segment(photo, "person")`` with SAM2 refinement on a 4000x3000 photo
  against the same photo at 1024 px, in a child process (its peak RSS); models loaded from checkpoint files.
* ``inpaint``: Stable Diffusion 2 inpainting's networks at 512x512, one call each, extrapolated to an edit.
* ``guided`` (not by default): guided point prompts against the full grid with a SAM2 stand-in that has
  known answers: IoU of the refined masks and masks kept, per target size and margin (``stage_guided``).
* ``points`` (not by default): the pipeline on a 4000x3000 photo with the full 32x32 grid, guided prompts
  and the sparse 8x8 grid, side by side: end-to-end speed-ups and peak memory (``stage_points``).
* ``sam2_points`` (not by default, CUDA only): SAM2 on a 1024 px photo with the full grid, guided prompts and
  the sparse grid under the precision policy; ``sam2_compile`` (CUDA only) the same with ``compile=True``.
* ``lama``: LaMa removal at 512x512 and on a 12-MP photo with a 10 % region (the tests' tiny TorchScript
  stand-in unless big-lama's weights are on disk; see ``stage_lama``).
* ``families``: one denoising step of each diffusion family's denoiser (SDXL, SD 3.5, FLUX.1 Fill, Qwen-Image,
  FLUX.2 klein) at native resolution with random weights; on a CPU at toy width only.
* ``corrclip`` (not by default): CorrCLIP against SCLIP, Stage 1 on a 4000x3000 photo with COCO-Stuff's 171
  classes, same CLIP, in a child process: time per image (round-robin) and each call's peak RSS.
* ``ray`` (not by default; needs ``pip install 'sclip-edit[ray]'``): 32 images through ``main_sclip.py`` with
  ``--engine ray`` vs ``--engine local``, and a projection for N workers from the measured stage costs.

Every model has random weights of the real architecture (``--model tiny``: the tests' toy ViT), so nothing
is downloaded. Each measurement runs ``--repeat`` times but stops repeating once another run would take it
past ``--max-seconds``; calls that take tens of seconds on a CPU (the full-context text baseline, SAM2's
default grid, the diffusion networks) therefore run once. Tasks that are compared run round-robin, so ratios
see the same machine load; only compare ratios, never absolute times across runs of a shared machine.
The default CPU run (ViT-B-16, 2 cores) takes about 5.5 minutes before the photo stage, which adds two
segment calls with SAM2's 32x32 grid (minutes each); ViT-L-14 makes the text and sclip stages ~4x
slower.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from segedit.devices import Precision, precision_name, resolve_device
from segedit.errors import EXIT_OK, EXIT_USAGE, UsageError

from . import (
    stage_corrclip, stage_families, stage_guided, stage_inpaint, stage_lama, stage_memory, stage_photo, stage_points,
    stage_ray, stage_sam2, stage_sclip, stage_text,
)
from .context import BenchContext, StageResult, reduced_precision
from .models import TINY_MODEL, clip_models
from .timing import matmul_peak

logger = logging.getLogger("benchmarks.bench")  # not __name__: under python -m it is "__main__"

STAGES = {
    "text": stage_text.run,
    "sclip": stage_sclip.run,
    "memory": stage_memory.run,
    "sam2": stage_sam2.run,
    "inpaint": stage_inpaint.run,
    "lama": stage_lama.run,
    "families": stage_families.run,
    "photo": stage_photo.run,
    "ray": stage_ray.run,  # needs the ray extra, so only when asked for
    "guided": stage_guided.run,  # minutes of a SAM2 stand-in, asked for when guided prompting changes
    "points": stage_points.run,  # the full 32x32 grid on a CPU takes minutes: asked for when needed
    "sam2_points": stage_sam2.run_points,  # CUDA: grid, guided and sparse SAM2 on a 1024 px photo
    "sam2_compile": stage_sam2.run_compile,  # CUDA: the same compiled (a minute of compiling)
    "corrclip": stage_corrclip.run,  # CorrCLIP vs SCLIP on a 12-MP photo: minutes on a CPU, so only when asked for
}
ASKED_FOR_ONLY = ("ray", "corrclip", "guided", "points", "sam2_points", "sam2_compile")
DEFAULT_STAGES = [name for name in STAGES if name not in ASKED_FOR_ONLY]
REDUCED_PRECISION_STAGES = {"sclip", "sam2", "sam2_points", "sam2_compile"}  # they time bf16 on the CPU, or bf16 autocast on CUDA
PEAK_SIZE = {"cpu": 2048, "cuda": 8192}
PEAK_RUNS = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--precision", default="auto", help="auto (fp32 on CPU, fp16 on GPU), fp32, bf16 or fp16")
    parser.add_argument(
        "--model", default="ViT-B-16", help=f"CLIP architecture: ViT-B-16, ViT-L-14, ... or {TINY_MODEL}"
    )
    parser.add_argument("--stages", default=",".join(DEFAULT_STAGES),
                        help=f"comma-separated subset of {','.join(STAGES)} (default: all but {', '.join(ASKED_FOR_ONLY)})")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement at most (default: 5)")
    parser.add_argument(
        "--max-seconds", type=float, default=20.0,
        help="stop repeating a measurement when another run would take it past this (default: 20)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: 0)")
    parser.add_argument(
        "--text-baseline-names", type=int, default=16,
        help="VOC21 names (of 56) the full-context text baseline encodes, scaled to all; 56 times all (default: 16)",
    )
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    args.stages = [name.strip() for name in args.stages.split(",") if name.strip()]
    unknown = [name for name in args.stages if name not in STAGES]
    if unknown or not args.stages:
        parser.error(f"unknown stage(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STAGES)}")
    if args.model not in clip_models():
        parser.error(f"unknown CLIP model '{args.model}'; try ViT-B-16, ViT-L-14 or {TINY_MODEL}")
    if args.repeat < 1 or args.max_seconds <= 0 or args.text_baseline_names < 1:
        parser.error("--repeat and --text-baseline-names must be at least 1 and --max-seconds positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        device = resolve_device(args.device)
        dtype = Precision.resolve(args.precision, device).clip
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    # Progress goes to stderr for this run only.
    package_logger = logging.getLogger(__package__)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    previous_level, previous_propagate = package_logger.level, package_logger.propagate
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    package_logger.propagate = False  # sam2 logs with logging.info(), which gives the root logger a handler
    try:
        with warnings.catch_warnings():
            # sam2 scripts its transforms with torch.jit, deprecated in current torch; it warns on every call.
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            report = run(args, device, dtype)
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)
        package_logger.propagate = previous_propagate
    print(format_report(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=_plain) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return EXIT_OK


def run(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> dict:
    """Measure the peak, run the chosen stages, return the report."""
    started = time.perf_counter()
    peak_dtypes = [torch.float32, dtype]
    if REDUCED_PRECISION_STAGES & set(args.stages):
        # bf16 too on GPUs: SAM2 runs under bf16 autocast there. CPUs without bf16 instructions are slow at
        # these matmuls, so they are only measured for stages that time reduced precision.
        peak_dtypes += [torch.bfloat16, reduced_precision(device)]
    peak_dtypes = list(dict.fromkeys(peak_dtypes))
    logger.info("measuring the matmul peak (%s)", ", ".join(map(precision_name, peak_dtypes)))
    peaks = matmul_peak(device, peak_dtypes, PEAK_SIZE.get(device.type, 2048), PEAK_RUNS, args.max_seconds)
    work_dir = Path(tempfile.mkdtemp(prefix="segedit-bench-"))
    try:
        ctx = BenchContext(
            device, dtype, args.model, args.repeat, args.max_seconds, work_dir, args.seed, args.text_baseline_names
        )
        stages = []
        for name in args.stages:
            stage_started = time.perf_counter()
            stages.append(STAGES[name](ctx))
            ctx.finished[name] = stages[-1]
            logger.info("%s: done in %.0f s", name, time.perf_counter() - stage_started)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    return build_report(args, device, dtype, peaks, stages, time.perf_counter() - started)


def machine_info(device: torch.device) -> dict:
    info = {
        "device": str(device),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": _cpu_name(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine()


def build_report(args, device, dtype, peaks: dict, stages: list[StageResult], seconds: float) -> dict:
    report = {
        "machine": machine_info(device),
        "settings": {
            "model": args.model,
            "weights": "random",
            "precision": precision_name(dtype),
            "stages": args.stages,
            "repeat": args.repeat,
            "max_seconds": args.max_seconds,
            "seed": args.seed,
            "text_baseline_names": args.text_baseline_names,
        },
        "matmul_peak": peaks,
        "stages": {},
        "targets": {},
        "notes": [],
        "total_seconds": seconds,
    }
    for stage in stages:
        report["stages"][stage.name] = {
            "timings": {
                name: {"precision": precision, **timing.to_json(peaks.get(precision, {}).get("peak_flops_per_s"))}
                for name, (timing, precision) in stage.timings.items()
            },
            "metrics": stage.metrics,
        }
        for target in stage.targets:
            value = stage.metrics[target.key]
            report["targets"][target.key] = {
                "stage": stage.name, "value": value, "rule": target.rule, "met": target.met(value),
            }
        report["notes"].extend(stage.notes)
    return report


def format_report(report: dict) -> str:
    machine, settings = report["machine"], report["settings"]
    where = machine.get("gpu") or f"{machine['cpu']}, {machine['threads']} threads"
    lines = [
        f"segedit benchmark: {machine['device']} ({where}), torch {machine['torch']}",
        (
            f"model {settings['model']} ({settings['weights']}), precision {settings['precision']}, "
            f"repeat <= {settings['repeat']}, max {settings['max_seconds']:g} s per measurement"
        ),
        "matmul peak: " + ", ".join(
            f"{name} {peak['peak_flops_per_s'] / 1e9:.0f} GFLOP/s ({peak['size']}^2, best of {peak['runs']})"
            for name, peak in report["matmul_peak"].items()
        ),
        "",
        (
            f"{'stage':<8} {'measurement':<22} {'prec':<5} {'runs':>4} {'median s':>9} {'min-max s':>16} "
            f"{'GFLOP':>9} {'GFLOP/s':>8} {'% peak':>7}"
        ),
    ]
    for stage_name, stage in report["stages"].items():
        for name, timing in stage["timings"].items():
            flops = timing["flops"]
            rate = timing.get("achieved_flops_per_s")
            fraction = timing.get("fraction_of_peak")
            lines.append(
                f"{stage_name:<8} {name:<22} {timing['precision']:<5} {timing['runs']:>4} {timing['median_s']:>9.3f} "
                f"{timing['min_s']:>7.3f}-{timing['max_s']:<8.3f} "
                f"{flops / 1e9 if flops else 0:>9.1f} {rate / 1e9 if rate else 0:>8.1f} "
                f"{100 * fraction if fraction else 0:>6.1f}%"
            )
    lines += ["", f"{'target':<30} {'value':>12}  {'rule':<10} result"]
    for key, target in report["targets"].items():
        result = "met" if target["met"] else "NOT MET"
        lines.append(f"{key:<30} {target['value']:>12.4g}  {target['rule']:<10} {result}")
    lines += ["", "other metrics:"]
    for stage_name, stage in report["stages"].items():
        for key, value in stage["metrics"].items():
            if key not in report["targets"]:
                lines.append(f"  {stage_name}.{key}: {_short(value)}")
    notes = list(report["notes"])
    timings = [timing for stage in report["stages"].values() for timing in stage["timings"].values()]
    if any(timing.get("fraction_of_peak", 0) > 1 for timing in timings):
        notes.append(
            "% peak above 100: the peak is torch's matmul; convolutions (oneDNN) can run faster than it on some CPUs"
        )
    lines += ["", "notes:"] + [f"  {note}" for note in notes]
    lines.append(f"\ntotal {report['total_seconds']:.0f} s")
    return "\n".join(lines)


def _plain(value):
    """numpy scalars in a report (a stage's metric left as np.float64) as the Python numbers JSON knows."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_short(item)}" for key, item in value.items()) + "}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
