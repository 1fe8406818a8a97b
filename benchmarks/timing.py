"""Wall-clock timing with FLOP counts, arranged so that ratios stay fair on a shared, noisy machine.

Tasks that are compared with each other are timed round-robin (A, B, A, B, ...): a burst of load from
another process then slows both sides instead of one. Ratios are only ever taken between medians measured
in the same call.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from segedit.devices import precision_name

logger = logging.getLogger(__name__)


@dataclass
class Timing:
    """Wall times of one task, its FLOPs per call and the last call's return value (for correctness checks)."""

    seconds: list[float] = field(default_factory=list)
    flops: int | None = None
    flops_in_timed_run: bool = False  # counted during a timed run (no warm-up) rather than in the warm-up
    result: object = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def to_json(self, peak_flops_per_s: float | None) -> dict:
        median = self.median
        record = {
            "runs": len(self.seconds),
            "median_s": median,
            "min_s": min(self.seconds),
            "max_s": max(self.seconds),
            "spread": (max(self.seconds) - min(self.seconds)) / median if median > 0 else 0.0,
            "seconds": self.seconds,
            "flops": self.flops,
            "flops_in_timed_run": self.flops_in_timed_run,
        }
        if self.flops and median > 0:
            record["achieved_flops_per_s"] = self.flops / median
            if peak_flops_per_s:
                record["fraction_of_peak"] = self.flops / median / peak_flops_per_s
        return record


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a timer read afterwards covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _cpu_flash_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def flop_counter() -> FlopCounterMode:
    """torch's counter, taught the CPU flash-attention kernel that SDPA uses on the CPU (it counts none otherwise)."""
    mapping = {}
    cpu_flash = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_flash is not None:
        mapping[cpu_flash] = _cpu_flash_attention_flops
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _run(task: Callable[[], object], device: torch.device, count: bool) -> tuple[float, object, int | None]:
    counter = flop_counter() if count else contextlib.nullcontext()
    synchronize(device)
    start = time.perf_counter()
    with counter:
        result = task()
        synchronize(device)
    seconds = time.perf_counter() - start
    return seconds, result, counter.get_total_flops() if count else None


@torch.inference_mode()
def time_interleaved(
    tasks: Mapping[str, Callable[[], object]],
    device: torch.device,
    repeat: int,
    max_seconds: float,
    warmup: bool = True,
) -> dict[str, Timing]:
    """Time each task up to ``repeat`` times, round-robin; every task runs at least once.

    A task stops repeating when another run would take its total past ``max_seconds``, so cheap tasks get
    ``repeat`` samples and minute-long ones a single run. FLOPs are counted in the warm-up call when there is
    one (``warmup``), otherwise in the first timed call: the counter's cost per operator is negligible next
    to the large operators of a call too expensive to repeat.
    """
    timings = {name: Timing() for name in tasks}
    if warmup:
        for name, task in tasks.items():
            seconds, _, timings[name].flops = _run(task, device, count=True)
            logger.debug("%s: warm-up %.2f s", name, seconds)
    active = list(tasks)
    while active:
        for name in active:
            timing = timings[name]
            count = timing.flops is None
            seconds, timing.result, flops = _run(tasks[name], device, count=count)
            if count:
                timing.flops, timing.flops_in_timed_run = flops, True
            timing.seconds.append(seconds)
            logger.debug("%s: %.2f s", name, seconds)
        active = [
            name for name in active
            if len(timings[name].seconds) < repeat and sum(timings[name].seconds) + timings[name].median <= max_seconds
        ]
    return timings


def matmul_peak(
    device: torch.device, dtypes: Sequence[torch.dtype], size: int, runs: int, max_seconds: float
) -> dict[str, dict]:
    """Best and median rate of a ``size``² matmul per dtype: the machine's attainable peak during this run.

    ``max_seconds`` bounds each dtype's runs as in ``time_interleaved``: a CPU without bf16 instructions
    takes tens of seconds over one bf16 matmul.
    """
    peaks = {}
    flops = 2 * size**3
    with torch.inference_mode():
        for dtype in dtypes:
            a = torch.randn(size, size, device=device).to(dtype)
            b = torch.randn(size, size, device=device).to(dtype)
            task = functools.partial(torch.matmul, a, b)
            timing = time_interleaved({"matmul": task}, device, repeat=runs, max_seconds=max_seconds)["matmul"]
            peaks[precision_name(dtype)] = {
                "size": size,
                "runs": len(timing.seconds),
                "peak_flops_per_s": flops / min(timing.seconds),
                "median_flops_per_s": flops / timing.median,
            }
    return peaks
