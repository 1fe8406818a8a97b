"""Measurements that need a process of their own: a child's peak resident memory belongs to its work alone.

A stage starts its own module as ``python -m benchmarks.<stage> ...`` with ``run_child``; the child prints
one JSON line last, which becomes the stage's metrics.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import torch

CHILD_TIMEOUT_S = 1800


def child_arguments(ctx) -> list[str]:
    """The run's settings as a child's flags (see ``child_parser``)."""
    return [
        "--model", ctx.model, "--device", str(ctx.device), "--precision", ctx.precision, "--seed", str(ctx.seed),
        "--repeat", str(ctx.repeat), "--max-seconds", str(ctx.max_seconds),
    ]


def child_parser(description: str) -> argparse.ArgumentParser:
    """The flags every child takes: the benchmark run's model, device, precision, seed and repeat policy."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    return parser


def run_child(module: str, arguments: list[str], timeout_s: float = CHILD_TIMEOUT_S) -> dict:
    """Run ``python -m module arguments`` with this process's package and thread count; its last JSON line."""
    env = dict(os.environ)
    # The child must import this very package, wherever it was run from, with this process's thread count.
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    command = [sys.executable, "-m", module, *arguments]
    child = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=timeout_s)
    if child.returncode != 0:
        raise RuntimeError(f"{module} child process failed ({child.returncode}): {child.stderr.strip()[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def process_peak_rss_mb() -> float:
    """This process's peak resident set size since it started (getrusage's ru_maxrss), in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def proc_status_mb(field: str) -> float | None:
    """A memory line of Linux's /proc/self/status (VmRSS: now, VmHWM: peak) in MB; None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Restart Linux's peak-RSS counter (VmHWM) so that it covers what follows only; False where impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return proc_status_mb("VmHWM") is not None


def total_memory_mb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):  # not every platform names these
        return None
