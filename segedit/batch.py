"""One batch, whichever engine runs it: everything before the first image and everything after the last.

Before: every check that needs no model (device, inputs, output paths), then the output folder is
created and locked, and what a killed run left half-written is removed; only then does an engine load
models. After: ``summary.json`` / ``summary.csv`` and the COCO export, also after Ctrl-C. The local loop
and the Ray engine both run inside ``prepared`` and end with ``finish``, so their folders, refusals and
exit codes are the same. A run that ends before its first image leaves no folder it created.
"""
from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import files
from .images import InputImage, collect_inputs, read_list_file
from .options import Job
from .outputs import OutputLock, remove_partial_files
from .record import ResultRecord
from .runner import RunSummary


def is_uri(location) -> bool:
    return isinstance(location, str) and "://" in location


@dataclass
class Batch:
    """A prepared batch: its inputs and its output (a locked folder, or a URI the engine writes to)."""

    job: Job
    inputs: list[InputImage]
    output: Path | str
    # copies a local folder of batch files (summary) to a URI output; set by the engine that has one
    publish: Callable[[Path], None] | None = None
    # set once the models are loaded: from then on the batch writes its summary, also when stopped
    started: bool = False
    summary: RunSummary = field(default_factory=RunSummary)
    # input index -> record, for an engine whose output cannot be read back here (a URI)
    records: dict[int, ResultRecord] | None = None

    def folder_of(self, item: InputImage) -> Path:
        return Path(self.output) / item.name if item.name else Path(self.output)


def local_inputs(job: Job) -> list[InputImage]:
    listed = read_list_file(job.images_from) if job.images_from else []
    return collect_inputs(list(job.images), recursive=job.recursive, listed=listed,
                          exclude=[] if is_uri(job.output) else [job.output])


@contextlib.contextmanager
def prepared(job: Job, inputs: Sequence[InputImage] | None = None) -> Iterator[Batch]:
    """Check, create and lock the output for ``job``; ``inputs`` (else the job's local files) are its images.

    The lock is taken before any model loads, so a second run on a folder in use is refused at once.
    """
    from .errors import UsageError
    from .loading import check_device

    export = job.run.outputs.export_coco
    if export is not None and export.is_dir():
        raise UsageError(f"--export-coco {export} is a folder; give a file name such as run.json")
    check_device(job.models)
    inputs = list(inputs) if inputs is not None else local_inputs(job)
    outputs = [] if is_uri(job.output) else [(Path(job.output), "--output")]
    if export is not None:
        outputs.append((export.parent, "--export-coco"))
    for folder, option in outputs:
        files.check_output_dir(folder, option=option)
    created: list[Path] = []
    try:
        for folder, option in outputs:
            created += _missing_folders(folder)
            files.prepare_output_dir(folder, option=option)
        with contextlib.ExitStack() as stack:
            if not is_uri(job.output):
                stack.enter_context(OutputLock(job.output))
                remove_partial_files(job.output)
            batch = Batch(job, inputs, job.output)
            yield batch
    except BaseException:
        # the lock file is gone; folders this run made stay only if it wrote into them
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, outermost first."""
    missing = [part for part in (folder, *folder.parents) if not part.exists()]
    return missing[::-1]


def run(batch: Batch, execute: Callable[[Batch], None]) -> RunSummary:
    """``execute`` (an engine) fills ``batch.summary``; the batch files are written after, also after Ctrl-C."""
    try:
        execute(batch)
    except KeyboardInterrupt as exc:
        batch.summary.interrupted_code = getattr(exc, "exit_code", 130)
        raise
    finally:
        if batch.started:
            finish(batch)
    return batch.summary


def finish(batch: Batch) -> None:
    """summary.json/.csv of a batch and the COCO export of every finished image of the job, in input order."""
    from .coco import build_export

    summary = batch.summary
    if len(batch.inputs) > 1:
        if batch.publish is not None:
            with tempfile.TemporaryDirectory(prefix="segedit-summary-") as folder:
                summary.write(Path(folder))
                batch.publish(Path(folder))
        else:
            summary.write(Path(batch.output))
    export = batch.job.run.outputs.export_coco
    if export is not None:
        if batch.records is None:
            found = (ResultRecord.read(batch.folder_of(item)) for item in batch.inputs)
        else:
            found = (batch.records[index] for index in sorted(batch.records))
        files.save_json(build_export(record for record in found if record is not None), export)


def run_local(batch: Batch, progress: bool) -> None:
    """The local engine: the models loaded once in this process, then every image in turn."""
    from .loading import load_segmenter
    from .runner import Runner

    job = batch.job
    segmenter = load_segmenter(job.models, job.run, progress=progress)
    runner = Runner(segmenter, job.run, Path(batch.output), progress, job.console.verbose, job.models)
    batch.started = True
    runner.run(batch.inputs, batch.summary)
