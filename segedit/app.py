"""The web page (Gradio): segment a photo from a text prompt, correct the mask with clicks, edit it.

    sclip-app --model ViT-B-16 --host 127.0.0.1 --port 7860
    python -m segedit.app --clip-weights ViT-B-16.pt --sam2-checkpoint sam2.1_hiera_tiny.pt --inpainter opencv

The page calls the same ``Segmenter`` the command lines use and writes the same files with the same
writers, so ``mask.png`` from the page and from ``main_sclip.py`` are byte for byte equal for the same
image and settings. The flags that choose models and defaults are ``main_sclip.py``'s; each sets the
page's starting value. Models load once, on first use, and are shared by every visitor; each model has
its own queue so one visitor's diffusion edit does not hold up another's segmentation.
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

import inpaint
import sam3seg
import sclip
import viz

from . import files, loading
from .api import Segmenter
from .console import console_logging, run_guarded
from .errors import EXIT_OK, UsageError, exit_code_of, first_line
from .images import InputImage
from .flags import (
    Parser,
    add_console_arguments,
    add_inpainter_arguments,
    add_model_arguments,
    add_refinement_toggle,
    add_sam2_arguments,
    add_sam3_arguments,
    add_sclip_arguments,
    console_options_from_args,
    model_options_from_args,
    sclip_overrides_from_args,
)
from .options import ModelOptions, OutputOptions, RefineOptions, RunOptions, SettingError
from .record import ResultRecord, TargetRecord
from .runner import OUT_OF_MEMORY_ADVICE, Runner

logger = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_IMAGES = ("astronaut.jpg", "chelsea.jpg")
# The page's name of each approach.
APPROACH_LABELS = {"dense SCLIP": "sclip", "SAM2 proposals": "proposals", "SAM 3": "sam3"}
POINT_KINDS = ("add (positive)", "remove (negative)")
NO_PRESET = "none"
# How the page names the settings a visitor sets, in its messages.
PAGE_NAMES = {"prompts": "the prompt", "preset": "a preset", "vocabulary": "a vocabulary", "edit": "an edit text",
              "mode": "mode"}
_POINT_COLORS = {1: (0, 220, 0), 0: (230, 0, 0)}
_OVERLAY_COLOR = (0, 120, 255)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sclip-app",
        usage="%(prog)s [--host HOST] [--port PORT] [model flags]",
        description="Web page for SCLIP + SAM2 segmentation and text-driven editing. Model flags are "
        "main_sclip.py's and set the page's starting values.",
    )
    parser.short_usage = "[--host HOST] [--port PORT] [model flags]"
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 opens it to the network (default: 127.0.0.1)")
    server.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    add_model_arguments(parser)
    add_sclip_arguments(parser, with_preset=False)
    stage2 = parser.add_argument_group("SAM2 (stage 2)")
    add_refinement_toggle(stage2)
    add_sam2_arguments(stage2)
    add_sam3_arguments(parser)
    add_inpainter_arguments(parser.add_argument_group("editing (stage 3)"))
    add_console_arguments(parser)
    return parser


def one_line(exc: BaseException) -> str:
    """What the page shows for a failure: the first line of the message, never a traceback."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return OUT_OF_MEMORY_ADVICE
    if exit_code_of(exc) is not None or isinstance(exc, (ValueError, OSError)):
        return first_line(exc)
    return f"{type(exc).__name__}: {first_line(exc)}"


@dataclass(frozen=True)
class PageSettings:
    """The server's flags as settings, built once: the models and each control's starting value."""

    models: ModelOptions
    sclip_overrides: dict  # SCLIP flags given, applied over the preset a visitor picks
    refine: RefineOptions  # SAM2 refinement's starting value
    sam3: "sam3seg.SAM3Settings"


def page_settings_from_args(args) -> PageSettings:
    models = model_options_from_args(args)
    return PageSettings(models, sclip_overrides_from_args(args), RefineOptions(enabled=args.use_sam_refinement),
                        models.sam3.settings)


class Models:
    """The models of one server, loaded on first use and shared by every visitor."""

    def __init__(self, options: ModelOptions):
        from .devices import resolve_device

        self.options = options
        loading.check_device(options)  # refuse fp16 on a CPU at start, not at the first click
        self.device = resolve_device(options.device)
        # one lock per model: minutes spent loading a diffusion pipeline must not stall segmentation
        self._clip_lock, self._sam2_lock, self._inpaint_lock = threading.Lock(), threading.Lock(), threading.Lock()
        self._sam3_lock = threading.Lock()
        self._segmenter: Segmenter | None = None
        self._points = None

    @property
    def loaded(self) -> set[str]:
        return set() if self._segmenter is None else self._segmenter.loaded - {"inpaint"}

    def segmenter(self, approach: str | None = None) -> Segmenter:
        """The shared segmenter, with the model ``approach`` starts from loaded (CLIP, or SAM 3)."""
        with self._clip_lock:
            if self._segmenter is None:
                self._segmenter = Segmenter.from_options(self.options, progress=True)
            if approach in ("sclip", "proposals"):
                loading.load(self._segmenter, ["clip"])
        if approach == "sam3":
            with self._sam3_lock:
                loading.load(self._segmenter, ["sam3"])
        return self._segmenter

    def sam2(self):
        """The SAM2 mask source, loaded once even when two visitors ask for it at the same moment."""
        segmenter = self.segmenter()
        with self._sam2_lock:
            return loading.load(segmenter, ["sam2"]).mask_source

    def points(self):
        from refine.points import PointRefiner

        source = self.sam2()
        with self._sam2_lock:
            if self._points is None:
                self._points = PointRefiner(source.model)
            return self._points

    def inpainter(self, kind: str, settings: inpaint.InpaintSettings):
        segmenter = self.segmenter()
        with self._inpaint_lock:
            loading.load(segmenter, ["inpaint"], kind, self.options.inpaint_model, settings.low_vram)
            return segmenter.inpainter(kind, self.options.inpaint_model, settings.low_vram)


@dataclass
class Target:
    prompt: str
    folder: str  # sub-folder of the session's folder ("" = the folder itself), as the CLI lays it out
    mask: np.ndarray  # (H, W) bool as segmented (refined when SAM2 ran)
    info: TargetRecord  # this target's entry in result.json
    points: list[tuple[int, int, int]] = field(default_factory=list)  # (x, y, 1 = add / 0 = remove)
    corrected: np.ndarray | None = None  # mask after the clicks

    @property
    def current(self) -> np.ndarray:
        return self.mask if self.corrected is None else self.corrected


@dataclass
class Session:
    """One visitor's image, result and files; lives in a gr.State, its folder goes with it."""

    folder: Path
    rgb: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    targets: dict[str, Target]
    record: ResultRecord
    selected: str = ""

    def target_dir(self, prompt: str) -> Path:
        return self.folder / self.targets[prompt].folder

    def write_target(self, target: Target) -> None:
        files.save_mask(target.current, files.prepare_output_dir(self.target_dir(target.prompt)) / "mask.png")

    def write_record(self) -> None:
        files.save_json(self.record.to_json(), self.folder / "result.json")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class WebApp:
    """The page's actions as plain methods (the Gradio wiring is in ``build``)."""

    def __init__(self, settings: PageSettings, root: Path | None = None):
        self.settings = settings
        self.models = Models(settings.models)
        self.root = Path(tempfile.mkdtemp(prefix="sclip-app-")) if root is None else files.prepare_output_dir(root)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- segmentation ------------------------------------------------------------------------
    def segment(self, image_path, prompts_text: str, vocabulary_text: str, preset: str, approach: str,
                refine_masks: bool, previous: Session | None, progress: Callable) -> Session:
        if not image_path:
            raise UsageError("upload an image or pick an example first")
        prompts = [part.strip() for part in (prompts_text or "").split(",") if part.strip()]
        vocabulary = [line.strip() for line in (vocabulary_text or "").splitlines() if line.strip()] or None
        preset = None if preset in (None, "", NO_PRESET) else preset
        chosen = APPROACH_LABELS.get(approach, approach)
        if chosen not in APPROACH_LABELS.values():
            raise UsageError(f"unknown approach '{approach}'; choose one of {', '.join(APPROACH_LABELS)}")
        page = self.settings
        try:
            options = RunOptions(
                approach=chosen,
                prompts=tuple(prompts),
                vocabulary=tuple(vocabulary) if vocabulary else None,
                preset=preset,
                sclip=sclip.preset_settings(preset, **page.sclip_overrides) if preset
                else sclip.SCLIPSettings(**page.sclip_overrides) if chosen == "sclip" else None,
                refine=RefineOptions(enabled=refine_masks and chosen == "sclip",
                                     min_coverage=page.refine.min_coverage, all_classes=page.refine.all_classes),
                sam3=page.sam3 if chosen == "sam3" else None,
                outputs=OutputOptions(),
            )
        except SettingError as exc:
            raise UsageError(exc.render(lambda name: PAGE_NAMES.get(name, name))) from None
        sclip.build_vocabulary(prompts, vocabulary, preset)  # bad classes fail before models load

        model = "sam3" if chosen == "sam3" else "clip"
        loading = "Loading SAM 3" if model == "sam3" else "Loading CLIP"
        progress(0.05, desc=loading if model not in self.models.loaded else "Starting")
        segmenter = self.models.segmenter(chosen)
        if chosen == "proposals" or (refine_masks and chosen == "sclip"):
            progress(0.15, desc="Loading SAM2" if "sam2" not in self.models.loaded else "SAM2 ready")
            self.models.sam2()
        if chosen == "sam3":
            progress(0.3, desc="SAM 3")
        else:
            progress(0.3, desc="SCLIP + SAM2 masks" if refine_masks or chosen == "proposals" else "SCLIP")
        if previous is not None:
            previous.remove()
        folder = Path(tempfile.mkdtemp(prefix="session-", dir=self.root))
        # the command line's own job and writer: the same files, byte for byte
        runner = Runner(segmenter, options, folder, models=page.models)
        run = runner.run_image(InputImage(Path(image_path), ""))
        result, record = run.result, run.record
        targets = {
            prompt: Target(prompt, record.target(prompt).folder, target.mask, record.target(prompt))
            for prompt, target in result.targets.items()
        }
        labels = result.labels
        if labels is None:  # proposals: the page still shows a map, each instance in its class
            labels = np.zeros(run.rgb.shape[:2], dtype=np.int32)
            for target in result.targets.values():
                labels[target.mask] = target.class_index
            files.save_image(viz.label_map_image(labels, len(result.vocabulary)), folder / "labels.png")
        return Session(folder, run.rgb, labels, list(result.vocabulary.labels), targets, record,
                       selected=next(iter(targets)))

    # ---- clicks ------------------------------------------------------------------------------
    def add_point(self, session: Session | None, x: int, y: int, kind: str) -> Session:
        target = self._selected(session)
        height, width = session.rgb.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            raise UsageError(f"the click at ({x}, {y}) lies outside the {width}x{height} image")
        target.points.append((int(x), int(y), 0 if kind == POINT_KINDS[1] else 1))
        refiner = self.models.points()
        points = [(px, py) for px, py, _ in target.points]
        labels = [label for _, _, label in target.points]
        target.corrected = refiner.correct(session.rgb, target.mask, points, labels)
        self._record_points(session, target)
        return session

    def clear_points(self, session: Session | None) -> Session:
        target = self._selected(session)
        target.points.clear()
        target.corrected = None
        self._record_points(session, target)
        return session

    def _record_points(self, session: Session, target: Target) -> None:
        target.info.pixels = int(target.current.sum())
        target.info.found = bool(target.current.any())
        target.info.points = [{"x": x, "y": y, "label": label} for x, y, label in target.points] or None
        target.info.edit = None  # an edit of the old mask no longer describes this one
        session.write_target(target)
        session.write_record()

    # ---- editing -----------------------------------------------------------------------------
    def edit(self, session: Session | None, mode: str, text: str, inpainter: str, settings: inpaint.InpaintSettings,
             progress: Callable) -> tuple[Session, np.ndarray, Path]:
        target = self._selected(session)
        text = (text or "").strip()
        if mode not in inpaint.MODES:
            raise UsageError(f"unknown edit mode '{mode}'; choose {', '.join(inpaint.MODES)}")
        if mode in ("replace", "style") and not text:
            raise UsageError(f"{mode} needs an edit text describing what to paint")
        if not target.current.any():
            raise UsageError(f"the mask of '{target.prompt}' is empty; nothing to {mode}")
        progress(0.05, desc="Loading the inpainter")
        worker = self.models.inpainter(inpainter, settings)
        if mode not in worker.supported_modes:
            raise UsageError(f"the {inpainter} inpainter cannot {mode}; choose the diffusion inpainter")
        slow = inpainter == "diffusion" and self.models.device.type == "cpu"
        progress(0.15, desc=f"{mode.capitalize()} ({inpainter}{', minutes on a CPU' if slow else ''})")
        segmenter = self.models.segmenter()
        result = segmenter.edit(session.rgb, target.current, mode, target.prompt, text or None, inpainter,
                                self.settings.models.inpaint_model, settings)
        path = files.prepare_output_dir(session.target_dir(target.prompt)) / "edited.png"
        files.save_image(result.image, path)
        target.info.edit = result.metadata()
        session.record.mode = mode
        session.record.settings.update(mode=mode, edit=text or None, inpainter=inpainter,
                                          inpaint=asdict(settings))
        session.write_record()
        return session, result.image, path

    def _selected(self, session: Session | None) -> Target:
        if session is None:
            raise UsageError("run a segmentation first")
        return session.targets[session.selected]

    # ---- pictures ----------------------------------------------------------------------------
    def overlay(self, session: Session) -> np.ndarray:
        target = session.targets[session.selected]
        picture = viz.overlay_mask(session.rgb, target.current, _OVERLAY_COLOR)
        radius = max(3, min(picture.shape[:2]) // 80)
        for x, y, label in target.points:
            cv2.circle(picture, (x, y), radius + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(picture, (x, y), radius, _POINT_COLORS[label], -1, cv2.LINE_AA)
        return picture

    def label_map(self, session: Session) -> np.ndarray:
        return viz.label_map_with_legend(session.rgb, session.labels, session.class_names)

    def counts(self, session: Session) -> str:
        total = session.rgb.shape[0] * session.rgb.shape[1]
        rows = ["| target | pixels | share | before SAM2 | clicks |", "|---|---:|---:|---:|---:|"]
        for target in session.targets.values():
            pixels = int(target.current.sum())
            before = target.info.sclip_pixels
            rows.append(f"| {target.prompt} | {pixels} | {100 * pixels / total:.1f} % | "
                        f"{'' if before is None else before} | {len(target.points)} |")
        missing = [t.prompt for t in session.targets.values() if not t.current.any()]
        if missing:
            rows.append("")
            rows.append(f"Not found: {', '.join(missing)}. Add related classes to the vocabulary (e.g. road, "
                        "building, sky) or try other words.")
        return "\n".join(rows)

    def mask_file(self, session: Session) -> str:
        return str(session.target_dir(session.selected) / "mask.png")


def _seed(text) -> int | None:
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"the seed must be a whole number (or empty for a random one), got '{text}'") from None


def _friendly(function):
    """Run a page action; any failure becomes one readable line on the page, the details go to the log."""
    import functools

    import gradio as gr

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # whatever breaks, the visitor sees one line and the page stays usable
            logger.debug("page action %s failed", function.__name__, exc_info=True)
            logger.error("%s: %s", function.__name__, one_line(exc))
            raise gr.Error(one_line(exc), print_exception=False) from None

    return wrapper


def build(app: WebApp):
    """The Gradio page over ``app``; returns the ``gr.Blocks`` (not yet launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    import gradio as gr
    import sclip

    page = app.settings
    on_cpu = app.models.device.type == "cpu"
    examples = [[str(EXAMPLES / name)] for name in EXAMPLE_IMAGES if (EXAMPLES / name).is_file()]
    defaults = inpaint.InpaintSettings()

    def outputs_of(session: Session):
        return (
            app.overlay(session), app.label_map(session), app.counts(session),
            gr.update(choices=list(session.targets), value=session.selected, visible=len(session.targets) > 1),
            app.mask_file(session), str(session.folder / "labels.png"), str(session.folder / "result.json"),
            session,
        )

    @_friendly
    def run_segment(image, prompt, vocabulary, preset, approach, refine, session, progress=gr.Progress()):
        return outputs_of(app.segment(image, prompt, vocabulary, preset, approach, refine, session, progress))

    @_friendly
    def select_target(prompt, session):
        if session is None or prompt not in session.targets:
            return gr.update(), gr.update(), gr.update(), session
        session.selected = prompt
        return app.overlay(session), app.counts(session), app.mask_file(session), session

    @_friendly
    def click(session, kind, evt: gr.SelectData, progress=gr.Progress()):
        x, y = evt.index
        if "sam2" not in app.models.loaded:
            progress(0.1, desc="Loading SAM2")
        progress(0.5, desc="SAM2 point prompts")
        session = app.add_point(session, int(x), int(y), kind)
        return app.overlay(session), app.counts(session), app.mask_file(session), \
            str(session.folder / "result.json"), session

    @_friendly
    def clear(session):
        session = app.clear_points(session)
        return app.overlay(session), app.counts(session), app.mask_file(session), \
            str(session.folder / "result.json"), session

    @_friendly
    def run_edit(session, mode, text, inpainter, steps, guidance, seed, strength, negative, dilate, blur, scheduler,
                 progress=gr.Progress(track_tqdm=True)):
        settings = inpaint.InpaintSettings(
            steps=int(steps) or None, guidance=None if float(guidance) < 0 else float(guidance), seed=_seed(seed),
            strength=None if not strength else float(strength), negative_prompt=(negative or "").strip() or None,
            mask_dilate=int(dilate), mask_blur=int(blur), scheduler=None if scheduler == "default" else scheduler,
        )
        session, edited, path = app.edit(session, mode, text, inpainter, settings, progress)
        seed_used = session.targets[session.selected].info.edit.get("seed")
        note = f"Edited '{session.selected}' ({mode}, {inpainter})" + (f", seed {seed_used}" if seed_used is not None
                                                                      else "")
        return (session.rgb, edited), str(path), str(session.folder / "result.json"), note, session

    with gr.Blocks(title="sclip-edit", analytics_enabled=False) as demo:
        session = gr.State(None, delete_callback=lambda value: value.remove() if value is not None else None)
        gr.Markdown("# sclip-edit\nFind things in a photo by name, correct the mask with clicks, then remove, "
                    "replace or restyle them.")
        if on_cpu:
            gr.Markdown("Running on the CPU: SCLIP and SAM2 work here, but diffusion editing on a CPU takes "
                        "minutes per image; the OpenCV remover (inpainter *opencv*, mode *remove*) is instant.",
                        elem_id="cpu-note")
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                 elem_id="image-input", height=320)
                if examples:
                    gr.Examples(examples, inputs=[image], label="Examples", elem_id="examples")
                prompt = gr.Textbox(label="Prompt(s)", placeholder="person   (several: person, sky)",
                                    elem_id="prompt")
                with gr.Accordion("Classes and method", open=False):
                    vocabulary = gr.Textbox(label="Vocabulary: one class per line ('person, man' = synonyms)",
                                            lines=3, elem_id="vocabulary")
                    preset = gr.Dropdown([NO_PRESET, *sclip.preset_names()], value=NO_PRESET, label="Preset",
                                         elem_id="preset")
                    approach = gr.Radio(list(APPROACH_LABELS), value="dense SCLIP", label="Approach", elem_id="approach")
                    refine = gr.Checkbox(value=page.refine.enabled, label="SAM2 refinement",
                                         elem_id="sam-refinement")
                run = gr.Button("Run", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                target = gr.Dropdown([], label="Target", visible=False, elem_id="target")
                with gr.Row():
                    overlay = gr.Image(label="Target mask: click to add, or switch to remove", format="png",
                                       interactive=False, elem_id="overlay", height=360)
                    label_map = gr.Image(label="Label map", format="png", interactive=False, elem_id="label-map",
                                         height=360)
                with gr.Row():
                    point_kind = gr.Radio(list(POINT_KINDS), value=POINT_KINDS[0], label="A click on the mask will",
                                          elem_id="point-kind")
                    clear_button = gr.Button("Clear points", elem_id="clear-points")
                counts = gr.Markdown(elem_id="counts")
                with gr.Row():
                    mask_download = gr.DownloadButton("mask.png", elem_id="mask-download")
                    labels_download = gr.DownloadButton("labels.png", elem_id="labels-download")
                    result_download = gr.DownloadButton("result.json", elem_id="result-download")
        with gr.Row():
            with gr.Column(scale=1):
                gr.Markdown("## Edit the target")
                mode = gr.Radio(list(inpaint.MODES), value="remove", label="Mode", elem_id="edit-mode")
                edit_text = gr.Textbox(label="Edit text (what to paint, for replace and style)", elem_id="edit-text")
                inpainter = gr.Radio(["diffusion", "opencv"], value=page.models.inpainter, label="Inpainter",
                                     elem_id="inpainter")
                steps = gr.Slider(0, 150, value=0, step=1, label="Steps (0: the model's default)", elem_id="steps")
                guidance = gr.Slider(-1, 40, value=-1, step=0.5, label="Guidance (-1: the model's default)", elem_id="guidance")
                # a Number field cannot be empty, and empty is how a visitor asks for a fresh random seed
                seed = gr.Textbox(value="" if defaults.seed is None else str(defaults.seed),
                                  label="Seed (empty = random)", elem_id="seed")
                with gr.Accordion("Advanced", open=False):
                    strength = gr.Slider(0, 1, value=0, step=0.05, label="Strength (0 = the mode's default)",
                                         elem_id="strength")
                    negative = gr.Textbox(label="Negative prompt", elem_id="negative-prompt")
                    dilate = gr.Slider(0, 50, value=defaults.mask_dilate, step=1, label="Mask dilate (pixels)")
                    blur = gr.Slider(0, 50, value=defaults.mask_blur, step=1, label="Mask blur (pixels)")
                    scheduler = gr.Radio(["default", *inpaint.SCHEDULERS], value="default", label="Scheduler")
                edit_run = gr.Button("Edit", variant="primary", elem_id="edit-run")
            with gr.Column(scale=2):
                edited = gr.ImageSlider(label="Before / after", format="png", interactive=False, elem_id="edited")
                edit_note = gr.Markdown(elem_id="edit-note")
                edited_download = gr.DownloadButton("edited.png", elem_id="edited-download")

        # one queue per model: a model instance serves one request at a time, other models stay free
        run.click(run_segment, [image, prompt, vocabulary, preset, approach, refine, session],
                  [overlay, label_map, counts, target, mask_download, labels_download, result_download, session],
                  api_name="segment", concurrency_id="clip", concurrency_limit=1)
        target.change(select_target, [target, session], [overlay, counts, mask_download, session],
                      api_visibility="private")
        overlay.select(click, [session, point_kind], [overlay, counts, mask_download, result_download, session],
                       api_visibility="private", concurrency_id="sam2", concurrency_limit=1)
        clear_button.click(clear, [session], [overlay, counts, mask_download, result_download, session],
                           api_visibility="private")
        edit_run.click(run_edit, [session, mode, edit_text, inpainter, steps, guidance, seed, strength, negative,
                                  dilate, blur, scheduler],
                       [edited, edited_download, result_download, edit_note, session],
                       api_name="edit", concurrency_id="inpaint", concurrency_limit=1)
    demo.queue()
    return demo


def launch(app: WebApp, host: str, port: int, block: bool):
    """Start the page; with ``block`` False it serves from a thread and the caller closes it."""
    demo = build(app)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block,
                allowed_paths=[str(EXAMPLES), str(app.root)], show_error=False)
    return demo


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = console_options_from_args(args)
    with console_logging(console):
        return run_guarded(console, lambda: _serve(args))


def _serve(args) -> int:
    app = WebApp(page_settings_from_args(args))  # a device or precision the machine lacks fails here, before
    # gradio's slow import
    try:
        import gradio  # noqa: F401
    except ImportError:
        app.close()
        raise UsageError("the web page needs gradio: pip install 'sclip-edit[app]'") from None
    try:
        launch(app, args.host, args.port, block=True)
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
