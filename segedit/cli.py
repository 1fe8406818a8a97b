"""Command lines of ``main_sclip.py`` (SCLIP dense prediction + SAM2 vote), ``main.py`` (SAM2
proposals labelled by CLIP) and ``main_sam3.py`` (SAM 3 concept segmentation): flags in, a ``Job`` to
the core, an exit code out. Flags and their settings are in ``flags``, what the console says is in
``console``, the batch before and after its images in ``batch``.
"""
from __future__ import annotations

from collections.abc import Sequence

from .console import console_logging, finish, progress_bars, run_guarded
from .flags import build_parser, console_options_from_args, job_from_args
from .options import Job


def main(argv: Sequence[str] | None = None, approach: str = "sclip", prog: str | None = None) -> int:
    from .signals import terminate_as_interrupt

    args = build_parser(approach, prog).parse_args(argv)
    console = console_options_from_args(args)
    with console_logging(console), terminate_as_interrupt():
        return run_guarded(console, lambda: run_job(job_from_args(args, approach)))


def main_sclip(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Console script ``sclip-segment`` (and ``main_sclip.py``)."""
    return main(argv, "sclip", prog)


def main_proposals(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Console script ``sam2clip-segment`` (and ``main.py``)."""
    return main(argv, "proposals", prog)


def main_sam3(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Console script ``sam3-segment`` (and ``main_sam3.py``)."""
    return main(argv, "sam3", prog)


def run_job(job: Job) -> int:
    """Run ``job`` on the engine it names; the exit code."""
    from . import batch

    if job.engine.engine == "ray":
        from .ray_engine import run_on_ray

        summary = run_on_ray(job)
    else:
        with batch.prepared(job) as prepared:
            summary = batch.run(prepared, lambda ready: batch.run_local(ready, progress_bars(job.console)))
    return finish(summary, job.run, job.console, job.output)
