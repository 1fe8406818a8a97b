"""``--engine ray``: the batch of ``main_sclip.py`` / ``main.py`` as a Ray Data pipeline.

    input rows --decode (CPU tasks)--> decoded rows --segment (actor pool)--> outcome rows --> driver
    edit modes:                           decoded rows --segment (pool)--> masks --edit (pool)--> outcome rows

Each actor builds the local engine's ``Runner`` once, loading only the models of its part (so models load
once per actor), and runs its part of the per-image job with the local engine's code: ``Runner.process``
in segment mode; ``Runner.begin`` (read, segment) and ``Runner.complete`` (edit, write) in edit modes, where
Stable Diffusion gets a pool of its own and images flow to it as their masks are ready. Every image's
files are those of ``--engine local``, written atomically by the part that writes, ``result.json`` last.

Only small rows travel back; the driver reads them with ``iter_rows`` as they finish, so Ray Data's
streaming executor (bounded by the object store) keeps the number of decoded images in flight small
whatever the batch size. An image that cannot be read becomes a failed row, never a failed job. A worker
process that dies is restarted by Ray (Ray Data's actor defaults: ``max_restarts=-1``,
``max_task_retries=-1``) and its unfinished images are redone; ``result.json`` is still written last.
"""
from __future__ import annotations

import json
import logging
import math
import os
import pickle
import queue
import shutil
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Iterator

from . import batch as batches
from .batch import Batch, is_uri
from .errors import ImageError, UsageError, first_line
from .images import IMAGE_SUFFIXES, InputImage, LoadedImage, load_image, name_inputs, read_list_file
from .options import Job, ModelOptions, RunOptions
from .record import RESULT, ResultRecord
from .runner import ImageOutcome, RunSummary, failure_message, report_outcome

logger = logging.getLogger(__name__)

# Longest wait for the next finished image; it covers a worker's model loading (downloads included).
STALL_SECONDS = 1800.0
# Decoding is light next to the models, and giving it other resources than the workers keeps Ray Data from
# fusing it into the actors, where it would wait behind the models instead of running ahead of them. One
# decoding task per worker keeps up with the models, and fewer task processes means fewer imports of torch.
DECODE_CPUS = 0.5
# Logical CPUs of a local cluster beyond one per worker: without them the decode tasks can starve.
SPARE_LOCAL_CPUS = 2
MAX_DEFAULT_CPU_WORKERS = 4
MIN_BLOCKS = 200
MAX_IMAGES_PER_BLOCK = 64


class StalledError(RuntimeError):
    """No image finished for STALL_SECONDS: the cluster cannot run the pipeline as asked."""


def _join(uri: str, name: str) -> str:
    return f"{uri.rstrip('/')}/{name}" if name else uri


def _filesystem(uri: str):
    import pyarrow
    import pyarrow.fs

    try:
        return pyarrow.fs.FileSystem.from_uri(uri)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError) as exc:
        raise UsageError(f"{uri}: {first_line(exc)}") from exc


def _read_bytes(uri: str) -> bytes | None:
    """The object's bytes, or None when it does not exist."""
    filesystem, path = _filesystem(uri)
    try:
        with filesystem.open_input_stream(path) as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def collect_uri_inputs(specs: list[str], recursive: bool) -> list[InputImage]:
    """Files and folders (prefixes) named by URIs, named as ``collect_inputs`` names local ones."""
    import pyarrow.fs

    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for spec in specs:
        filesystem, path = _filesystem(spec)
        info = filesystem.get_file_info(path)
        if info.type == pyarrow.fs.FileType.File:
            found = [(spec, PurePosixPath(path).stem)]
        elif info.type == pyarrow.fs.FileType.Directory:
            listed = filesystem.get_file_info(pyarrow.fs.FileSelector(path, recursive=recursive))
            relative = sorted(
                PurePosixPath(each.path).relative_to(PurePosixPath(path)) for each in listed
                if each.type == pyarrow.fs.FileType.File and PurePosixPath(each.path).suffix.lower() in IMAGE_SUFFIXES
            )
            if not relative:
                hint = "" if recursive else " (add --recursive to look in sub-folders)"
                raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {spec}{hint}")
            found = [(_join(spec, part.as_posix()), part.with_suffix("").as_posix()) for part in relative]
        else:
            raise UsageError(f"input not found: {spec} (check the URI passed to --image)")
        for uri, name in found:
            if uri not in seen:
                seen.add(uri)
                entries.append((uri, name, None))
    return name_inputs(entries)


def read_image(source: str) -> LoadedImage:
    """``load_image`` for a local path or a URI; errors name ``source`` as the local engine's do."""
    if not is_uri(source):
        return load_image(source)
    data = _read_bytes(source)
    if data is None:
        raise ImageError(f"{source}: file not found")
    with tempfile.TemporaryDirectory(prefix="segedit-read-") as folder:
        local = Path(folder) / PurePosixPath(source).name
        local.write_bytes(data)
        try:
            return load_image(local)
        except ImageError as exc:
            raise ImageError(str(exc).replace(str(local), source)) from None


def _item(row: dict) -> InputImage:
    # local paths travel as text; the job gets the Path the local engine has (its messages print it)
    path = row["path"]
    return InputImage(path if is_uri(path) else Path(path), row["name"], row["error"])


def _is_done(output: str, name: str) -> bool:
    """A complete result.json is there; whether its settings match is the job's to decide."""
    if not is_uri(output):
        return ResultRecord.read(Path(output) / name) is not None
    data = _read_bytes(_join(_join(output, name), RESULT))
    return data is not None and ResultRecord.loads(data) is not None


def decode(row: dict, skip_existing: bool, output: str) -> dict:
    """Read one image in a CPU task; a failure is carried in the row, for the job to report."""
    if row["error"] or (skip_existing and _is_done(output, row["name"])):
        # the job reports or skips it, and reads the image itself if its settings changed
        return {**row, "image": None, "decode_error": None}
    item = _item(row)
    try:
        return {**row, "image": read_image(row["path"]), "decode_error": None}
    except Exception as exc:  # one bad file fails its row, never the run
        return {**row, "image": None, "decode_error": f"{item.path}: {failure_message(exc, item.path)}"}


def _decoded(row: dict) -> LoadedImage:
    if row["decode_error"]:
        raise ImageError(row["decode_error"])
    if row["image"] is None:
        return read_image(row["path"])
    return row["image"]


class _Records(logging.Handler):
    """Log lines of one image's job, replayed by the driver so its console shows what the local engine's does."""

    def __init__(self, level: int):
        super().__init__(level)
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append((record.name, record.levelno, message))


class _Job:
    """A Ray actor holding the local engine's ``Runner`` for one part of the per-image job.

    ``part`` is "all" (segment mode: the whole job), "segment" (read and segment, handing the image on)
    or "edit" (edit and write what "segment" handed on); each part loads only its own models.
    """

    def __init__(self, run: RunOptions, models: ModelOptions, level: int, output: str, threads: int | None,
                 part: str):
        from .console import PACKAGES
        from .loading import load_segmenter
        from .runner import Runner

        if threads:
            import torch

            torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the actor's one logical CPU
        self.records = _Records(level)
        for name in PACKAGES:
            package = logging.getLogger(name)
            package.addHandler(self.records)
            package.setLevel(self.records.level)
            package.propagate = False
        self.part = part
        self.export = run.outputs.export_coco is not None
        self.remote = output if is_uri(output) else None
        # a URI output is written by the local writer into a scratch folder, then copied, result.json last
        local_root = Path(tempfile.mkdtemp(prefix="segedit-ray-")) if self.remote else Path(output)
        self.failure = b""
        try:
            parts = {"all": ("segment", "edit"), "segment": ("segment",), "edit": ("edit",)}[part]
            segmenter = load_segmenter(models, run, parts)
            self.runner = Runner(segmenter, run, local_root, models=models)
        except Exception as exc:  # e.g. missing weights: handed to the driver, which fails as the local engine does
            self.failure = _portable(exc)
        self.records.lines.clear()  # model-loading lines stay in the worker's log

    def __call__(self, row: dict) -> dict:
        if self.failure:
            return {"index": row["index"], "failure": self.failure, "outcome": "", "record": "", "logs": "[]",
                    "pid": os.getpid(), "analysis": b""}
        if self.part == "edit":
            finished = self._edit(row)
        else:
            finished = self._segment(row)
        lines, self.records.lines = self.records.lines, []
        return {**finished, "logs": json.dumps(json.loads(row.get("logs") or "[]") + lines), "pid": os.getpid()}

    def _segment(self, row: dict) -> dict:
        item = _item(row)
        local_dir = self.runner.folder_of(item)
        if self.remote and self.runner.options.outputs.skip_existing:
            self._fetch_result(item, local_dir)
        load = lambda: _decoded(row)  # noqa: E731
        if self.part == "all":
            return self._finished(row["index"], item, self.runner.process(item, load))
        begun = self.runner.begin(item, load)
        if self.remote:
            shutil.rmtree(local_dir, ignore_errors=True)  # the fetched result.json; the edit worker fetches its own
            self.runner.output.mkdir(exist_ok=True)
        if isinstance(begun, ImageOutcome):
            return self._finished(row["index"], item, begun)
        return {"index": row["index"], "failure": b"", "outcome": "", "record": "",
                "analysis": pickle.dumps(begun)}

    def _edit(self, row: dict) -> dict:
        if not row["analysis"]:  # failed or skipped before any editing
            return row
        analysis = pickle.loads(row["analysis"])
        return self._finished(row["index"], analysis.item, self.runner.complete(analysis))

    def _finished(self, index: int, item: InputImage, outcome: ImageOutcome) -> dict:
        local_dir = self.runner.folder_of(item)
        # the driver rebuilds the COCO export from the records, as the local engine does from its folders
        record = ResultRecord.read(local_dir) if self.export else None
        if self.remote:
            self._publish(item, local_dir, outcome)
        return {"index": index, "failure": b"", "outcome": json.dumps(asdict(outcome)),
                "record": json.dumps(record.to_json()) if record is not None else "", "analysis": b""}

    def _fetch_result(self, item: InputImage, local_dir: Path) -> None:
        data = _read_bytes(_join(_join(self.remote, item.name), RESULT))
        if data is not None:
            local_dir.mkdir(parents=True, exist_ok=True)
            (local_dir / RESULT).write_bytes(data)

    def _publish(self, item: InputImage, local_dir: Path, outcome: ImageOutcome) -> None:
        remote_dir = _join(self.remote, item.name)
        outcome.output = remote_dir
        try:
            if outcome.status != "skipped" and local_dir.is_dir():
                upload_folder(local_dir, remote_dir)
        except OSError as exc:
            outcome.status, outcome.message = "failed", f"copy to {remote_dir} failed: {first_line(exc)}"
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
            self.runner.output.mkdir(exist_ok=True)  # a single image's folder is the scratch root itself


def _portable(exc: Exception) -> bytes:
    """``exc`` pickled, or a RuntimeError with its first line when it would not come back whole."""
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return data
    except Exception:
        return pickle.dumps(RuntimeError(first_line(exc)))


def upload_folder(local_dir: Path, remote_dir: str) -> None:
    """Copy a finished image folder; each file appears whole (written aside, then moved), result.json last."""
    filesystem, root = _filesystem(remote_dir)
    files_ = sorted(path for path in local_dir.rglob("*") if path.is_file())
    ordered = [path for path in files_ if path.name != "result.json"] + [local_dir / "result.json"]
    # the complete result.json of an earlier run must not vouch for files this run replaces
    if _exists(filesystem, f"{root}/result.json"):
        filesystem.delete_file(f"{root}/result.json")
    for path in ordered:
        if not path.is_file():
            continue
        target = PurePosixPath(root, path.relative_to(local_dir).as_posix())
        filesystem.create_dir(str(target.parent), recursive=True)
        aside = str(target.with_name(f".{target.name}.part"))
        with filesystem.open_output_stream(aside) as stream:
            stream.write(path.read_bytes())
        filesystem.move(aside, str(target))


def _exists(filesystem, path: str) -> bool:
    import pyarrow.fs

    return filesystem.get_file_info(path).type != pyarrow.fs.FileType.NotFound


# ---------------------------------------------------------------------------------------------- driver
def start_ray(address: str | None, local_cpus: int, verbose: bool) -> None:
    """Connect to ``address`` (or $RAY_ADDRESS), else start a local Ray with ``local_cpus`` logical CPUs."""
    import ray

    quiet = {"log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.ERROR}
    address = address or os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            # A new local cluster turns token authentication on and makes a token when none exists (Ray 2.60);
            # its warning about that is logged at WARNING, below `quiet`'s level.
            ray.init(num_cpus=local_cpus, include_dashboard=False, **quiet)
    except ConnectionError as exc:
        raise UsageError(f"cannot connect to the Ray cluster at {address}: {first_line(exc)}") from exc
    except ray.exceptions.AuthenticationError as exc:
        raise UsageError(f"the Ray cluster at {address} refused this client: {first_line(exc)}") from exc
    import ray.data  # it configures its loggers when imported

    # Its console lines are held back by the logger's own level, never by changing handlers: those on the
    # logger may be others' (pytest's capture, an application's), which must keep seeing what they did.
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose else logging.ERROR)


def _pools(run: RunOptions) -> int:
    """Actor pools of the run: segmentation, and in edit modes editing in its own pool."""
    return 1 if run.mode == "segment" else 2


def _default_cpu_workers(cpus: float, pools: int) -> int:
    """Model workers per pool without GPUs: one per logical CPU left after decoding, at most a few, since
    each holds its own copy of the models; one CPU thread per worker scales better than threads in one."""
    return max(1, min(MAX_DEFAULT_CPU_WORKERS, int((cpus - DECODE_CPUS) // pools)))


def _local_workers(job: Job) -> int:
    """Workers per pool for a local cluster this run starts (and sizes for them)."""
    engine = job.engine
    if engine.ray_workers:
        return engine.ray_workers
    if engine.ray_gpus_per_worker:
        import torch

        return max(1, int(torch.cuda.device_count() / (engine.ray_gpus_per_worker * _pools(job.run))))
    return local_cpu_workers()


def local_cpu_workers() -> int:
    """Default workers per pool of a local cluster without GPUs: one per core, at most a few."""
    return max(1, min(MAX_DEFAULT_CPU_WORKERS, os.cpu_count() or 1))


def _cluster_workers(job: Job, local_workers: int | None) -> int:
    """Workers per pool the cluster can hold; UsageError when it cannot hold the ones asked for plus decoding.

    ``local_workers``: the workers a local cluster this run started was sized for (it has spare CPUs).
    """
    import ray

    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    per_worker, pools = job.engine.ray_gpus_per_worker, _pools(job.run)
    if local_workers or job.engine.ray_workers:
        workers = local_workers or job.engine.ray_workers
    elif per_worker:
        workers = max(1, int(gpus / (per_worker * pools)))
    else:
        workers = _default_cpu_workers(cpus, pools)
    actors = workers * pools
    if actors * per_worker > gpus or actors + DECODE_CPUS > cpus:
        kind = "segmentation and editing worker(s)" if pools == 2 else "worker(s)"
        raise UsageError(
            f"the Ray cluster has {cpus:g} CPU(s) and {gpus:g} GPU(s), but {actors} {kind} with "
            f"{per_worker:g} GPU(s) each need {actors * per_worker:g} GPU(s) and {actors + DECODE_CPUS:g} CPU(s) "
            "(one per worker and some for decoding); lower --ray-workers or --ray-gpus-per-worker"
        )
    return workers


def pipeline(rows: list[dict], decode_kwargs: dict, jobs: list[tuple[type, dict]], workers: int,
             gpus_per_worker: float, decode=decode):
    """The streaming dataset: ``rows`` decoded in CPU tasks, then each job class in its own actor pool.

    Nothing is materialised: Ray Data's streaming executor pulls rows through as the last pool finishes
    them, within its object-store budget, so a batch of any length holds only a few blocks of decoded images.
    """
    import ray.data

    # One image per block for ordinary batches, so each image reports when it is done and a worker that
    # dies redoes only its own; long batches as Ray Data likes them (about 200 blocks and up), in blocks of
    # a few dozen images so per-task costs stay small next to the models' while a lost worker redoes few.
    blocks = min(len(rows), max(MIN_BLOCKS, math.ceil(len(rows) / MAX_IMAGES_PER_BLOCK)))
    dataset = ray.data.from_items(rows, override_num_blocks=blocks).map(
        decode, fn_kwargs=decode_kwargs, num_cpus=DECODE_CPUS, compute=ray.data.TaskPoolStrategy(size=workers),
    )
    for job, constructor_kwargs in jobs:
        dataset = dataset.map(job, fn_constructor_kwargs=constructor_kwargs, num_cpus=1,
                              num_gpus=gpus_per_worker or None, compute=ray.data.ActorPoolStrategy(size=workers))
    return dataset


def _rows(dataset, stall_seconds: float, explain: str) -> Iterator[dict]:
    """The dataset's rows as they finish; StalledError when none comes for ``stall_seconds``."""
    arrived: queue.Queue = queue.Queue()
    end = object()

    def pump() -> None:
        try:
            for row in dataset.iter_rows():
                arrived.put(row)
            arrived.put(end)
        except BaseException as exc:  # handed to the driver's thread, which raises it
            arrived.put(exc)

    threading.Thread(target=pump, name="segedit-ray-rows", daemon=True).start()
    while True:
        try:
            row = arrived.get(timeout=stall_seconds)
        except queue.Empty:
            raise StalledError(f"no image finished in {stall_seconds:.0f} s; {explain}") from None
        if row is end:
            return
        if isinstance(row, BaseException):
            import ray

            if isinstance(row, ray.exceptions.RayError):  # a cluster failure, not one of an image
                raise RuntimeError(f"the Ray run failed: {first_line(row)}") from row
            raise row
        yield row


def run_on_ray(job: Job, stall_seconds: float = STALL_SECONDS) -> RunSummary:
    """``job`` on Ray: the local engine's batch preparation and batch files around a Ray Data pipeline."""
    listed = read_list_file(job.images_from) if job.images_from else []
    specs = list(job.images) + listed
    uris = [spec for spec in specs if is_uri(spec)]
    if uris and len(uris) < len(specs):
        raise UsageError("--image mixes URIs and local paths; give one kind per run (file:// names local files)")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray Data: pip install 'sclip-edit[ray]'") from None
    inputs = collect_uri_inputs(specs, job.recursive) if uris else batches.local_inputs(job)
    if is_uri(job.output):
        filesystem, root = _filesystem(job.output)
    with batches.prepared(job, inputs) as batch:
        if is_uri(job.output):
            filesystem.create_dir(root, recursive=True)
            batch.publish = lambda folder: upload_folder(folder, job.output)
            batch.records = {}
        return batches.run(batch, lambda ready: _execute(ready, stall_seconds))


def _execute(batch: Batch, stall_seconds: float) -> None:
    import ray
    from tqdm.auto import tqdm

    job, engine = batch.job, batch.job.engine
    owned = not ray.is_initialized()
    pools = _pools(job.run)
    # a cluster this run starts is this machine: sized for its workers, its cores shared out among them
    here = owned and not (engine.ray_address or os.environ.get("RAY_ADDRESS"))
    local_workers = _local_workers(job) if here else None
    if owned:
        start_ray(engine.ray_address, (local_workers or 1) * pools + SPARE_LOCAL_CPUS,
                  job.console.verbose or job.console.debug)
    try:
        workers = _cluster_workers(job, local_workers)
        threads = max(1, (os.cpu_count() or 1) // (workers * pools)) if here else None
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        rows = [{"index": index, "path": str(item.path), "name": item.name, "error": item.error}
                for index, item in enumerate(batch.inputs)]
        output = str(batch.output)
        # workers get the settings objects, never flags
        worker = {"run": job.run, "models": job.models, "level": job.console.level, "output": output,
                  "threads": threads}
        # in edit modes the edit models (Stable Diffusion, the heavy ones) get a pool of their own, fed as
        # masks are ready
        parts = ["all"] if pools == 1 else ["segment", "edit"]
        dataset = pipeline(rows, {"skip_existing": job.run.outputs.skip_existing, "output": output},
                           [(_Job, {**worker, "part": part}) for part in parts], workers, engine.ray_gpus_per_worker)
        explain = (f"the Ray cluster ({ray.cluster_resources().get('CPU', 0):g} CPU, "
                   f"{ray.cluster_resources().get('GPU', 0):g} GPU) may be unable to start {workers} worker(s) "
                   "or their decoding tasks; see `ray status` and the worker logs")
        _collect(_rows(dataset, stall_seconds, explain), batch,
                 tqdm(total=len(batch.inputs), desc="images", unit="image",
                      disable=job.console.quiet or not os.isatty(2) or len(batch.inputs) < 2))
    finally:
        if owned:
            ray.shutdown()


def _collect(rows: Iterator[dict], batch: Batch, bar) -> None:
    """Report each finished image into the batch's summary, in input order, also when stopped."""
    outcomes: dict[int, ImageOutcome] = {}
    try:
        for row in rows:
            if row["failure"]:
                raise pickle.loads(row["failure"])
            batch.started = True
            index = row["index"]
            for name, level, message in json.loads(row["logs"]):
                logging.getLogger(name).log(level, "%s", message)
            outcomes[index] = ImageOutcome.from_json(json.loads(row["outcome"]))
            if row["record"] and batch.records is not None:
                batch.records[index] = ResultRecord.from_json(json.loads(row["record"]))
            report_outcome(outcomes[index], batch.job.console.verbose)
            bar.update()
    finally:
        bar.close()
        batch.summary.outcomes[:] = [outcomes[index] for index in sorted(outcomes)]
