"""Automatic SAM2 mask proposals for an image, for the whole grid or for the grid points near targets.

Wraps ``sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator``: a grid of point prompts is decoded
into masks that are filtered by predicted IoU and stability and de-duplicated by box NMS. The image
encoder runs once per image; the mask decoder runs once per batch of points, so the number of points
decoded sets the cost on CPU. With guided prompts (``PointPrompts``) only the grid points near the
targets are decoded (``refine.guided``); what was decoded is remembered per point, so a later target on
the same image decodes only the points not decoded yet, and the full grid reuses them too. Photos larger
than ``sam_max_side`` are shrunk for SAM2 and their masks kept at that working size (see ``SAM2Masks``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import sam2.automatic_mask_generator as amg
import torch
from pycocotools import mask as mask_utils
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_image_predictor import SAM2ImagePredictor
from sam2.utils.amg import MaskData, generate_crop_boxes, uncrop_boxes_xyxy, uncrop_points

from .errors import SAM2SettingsError
from .guided import PromptRecord, union_of_points
from .sam2_masks import SAM2Masks
from .settings import MaskGeneratorSettings, PointPrompts

logger = logging.getLogger(__name__)

_REDUCED_DTYPES = (torch.bfloat16, torch.float16)
# Sizing CUDA batches: GPU memory one point costs in the mask decoder (the image embedding repeated per
# point, the two-way transformer's image tokens, the upscaled 256x256 features: ~30 MB in fp32) and per
# mask pixel at the working size (fp32 logits, their filtered copies, stability and RLE temporaries). These
# are estimates from the shapes, rounded up, not measurements; only this share of the free memory is planned.
_CUDA_DECODER_BYTES_PER_POINT = 48 * 2**20
_CUDA_BYTES_PER_MASK_PIXEL = 20
_CUDA_MEMORY_SHARE = 0.5
_MIN_POINTS_PER_BATCH = 16
# Predictor attributes that hold one image's embedding: saved per image so later points skip the encoder.
_PREDICTOR_STATE = ("_features", "_orig_hw", "_is_image_set", "_is_batch")
# Results kept per image for different point sets (e.g. guided for a prompt, then the full grid).
_RESULTS_PER_IMAGE = 2


class SAM2MaskSource:
    """Generates SAM2 masks for images, keeping the last few results so repeated prompts are free.

    Build it once per model; call ``generate`` per image, with the targets' coarse masks for guided
    prompts. Results are cached by a caller-provided key (e.g. the image path) or, without one, by a
    digest of the pixels; per image the masks decoded at each grid point are kept, and the image's
    embedding while it is the latest image, so further points cost only their decoding.

    ``dtype`` is the precision the caller chose. float32 runs without autocast (and without TF32 on
    CUDA); bfloat16 or float16 run the float32 weights under autocast, as Meta runs SAM2, where the
    device supports it, and in float32 with a warning where it does not.

    ``compile=True`` compiles SAM2's image encoder and mask decoder with ``torch.compile`` on CUDA (the
    first image then takes longer); on other devices it is ignored with a note, because it did not make
    SAM2 faster on a CPU (a decoder batch took 2.4x longer compiled; benchmarks/README.md). ``predictor`` replaces SAM2's image predictor (what
    embeds the image and decodes point prompts); benchmarks pass a stand-in with known answers.
    """

    def __init__(
        self,
        model: SAM2Base,
        settings: MaskGeneratorSettings | None = None,
        cache_size: int = 4,
        dtype: torch.dtype = torch.float32,
        progress: bool = False,
        prompts: PointPrompts | None = None,
        compile: bool = False,
        predictor: SAM2ImagePredictor | None = None,
    ) -> None:
        if cache_size < 1:
            raise SAM2SettingsError("cache_size", f"cache_size must be at least 1, got {cache_size}")
        if dtype != torch.float32 and dtype not in _REDUCED_DTYPES:
            raise SAM2SettingsError("dtype", f"SAM2 runs in float32, bfloat16 or float16, not {dtype}")
        self.model = model  # shared with other SAM2 front ends (point prompts), never copied
        self.progress = progress
        self.device = next(model.parameters()).device
        self.dtype = dtype if dtype == torch.float32 or _autocast_supported(self.device, dtype) else torch.float32
        if self.dtype != dtype:
            logger.warning("%s is not supported on %s; SAM2 runs in float32", dtype, self.device)
        self.settings = (settings or MaskGeneratorSettings()).with_points_per_batch_for(self.device)
        self.prompts = prompts or PointPrompts()
        self.compiled = compile and self.device.type == "cuda"
        if self.compiled:
            _compile(model)
        elif compile:
            logger.info("compile is ignored on %s: torch.compile did not make SAM2 faster there", self.device.type)
        self.cache_size = cache_size
        self._cache: OrderedDict[Hashable, _ImageEntry] = OrderedDict()
        with warnings.catch_warnings():
            # sam2 scripts its image transforms with torch.jit, which torch now deprecates on every call.
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            self._generator = _PointCachingGenerator(
                model,
                points_per_side=self.settings.points_per_side,
                points_per_batch=self.settings.points_per_batch or _MIN_POINTS_PER_BATCH,
                pred_iou_thresh=self.settings.pred_iou_thresh,
                stability_score_thresh=self.settings.stability_score_thresh,
                crop_n_layers=self.settings.crop_n_layers,
                # sam2 uses this area to fill holes in the low-resolution logits with its compiled `_C`
                # extension; without the extension it warns on every batch and skips the step.
                min_mask_region_area=self.settings.min_mask_region_area if _has_connected_components() else 0,
                output_mode="uncompressed_rle",
                multimask_output=self.settings.multimask_output,
            )
        if predictor is not None:
            self._generator.predictor = predictor
        else:
            # sam2's predictor hard-codes the feature-map sizes of a 1024 px model (strides 4, 8 and 16).
            side = model.image_size // 4
            self._generator.predictor._bb_feat_sizes = [(side, side), (side // 2, side // 2), (side // 4, side // 4)]

    def generate(
        self,
        image: np.ndarray,
        key: Hashable | None = None,
        targets: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> SAM2Masks:
        """Masks for an RGB uint8 image of shape (H, W, 3); an empty set when SAM2 finds nothing.

        ``targets``: None decodes the whole grid (label-map refinement, proposals). Otherwise one (H, W)
        bool coarse mask or a sequence of them: with guided prompts only the grid points near any of
        them are decoded, once for all of them (``PointPrompts``); with ``mode="grid"`` they are ignored.
        The result's ``prompts`` records what was prompted.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        image_size = image.shape[:2]
        guided = targets is not None and self.prompts.mode == "guided"
        target_list = _as_target_list(targets, image_size) if guided else []
        # The size is part of the key: one image key can come at two sizes (a downscaled copy for proposals).
        cache_key = (key if key is not None else _digest(image), image_size)
        entry = self._entry(cache_key)

        working_size = _working_size(image_size, self.settings.sam_max_side)
        selection = self._selection(working_size, image_size, target_list if guided else None)
        request = tuple(sorted((tuple(box), chosen.tobytes()) for box, chosen in selection.items()))
        if request in entry.results:
            entry.results.move_to_end(request)
            return entry.results[request]

        started = time.perf_counter()
        working = _shrink(image, self.settings.sam_max_side)
        self._hold_features_of(entry)
        self._generator.begin(entry, selection, self._points_per_batch(selection, entry, working_size))
        try:
            with torch.inference_mode(), self._precision(), _batch_progress(self.progress):
                records = self._generator.generate(working) if _any_points(selection) else []
        finally:
            self._generator.end()
        result = self._to_masks(records, image_size, working_size, self._record(selection, guided))
        logger.debug(
            "SAM2 made %d masks from %d of %d points for a %dx%d image (worked at %dx%d) in %.1f s",
            len(result),
            result.prompts.points_decoded,
            result.prompts.points_in_grid,
            image.shape[1],
            image.shape[0],
            working.shape[1],
            working.shape[0],
            time.perf_counter() - started,
        )
        entry.results[request] = result
        if len(entry.results) > _RESULTS_PER_IMAGE:
            entry.results.popitem(last=False)
        return result

    def clear_cache(self) -> None:
        self._cache.clear()

    def _entry(self, cache_key: Hashable) -> _ImageEntry:
        if cache_key in self._cache:
            self._cache.move_to_end(cache_key)
            return self._cache[cache_key]
        entry = self._cache[cache_key] = _ImageEntry()
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return entry

    def _hold_features_of(self, entry: _ImageEntry) -> None:
        # One image's embedding is tens of MB: only the image being worked on keeps it.
        for other in self._cache.values():
            if other is not entry:
                for crop in other.crops.values():
                    crop.features = None

    def _selection(
        self, working_size: tuple[int, int], image_size: tuple[int, int], targets: list[np.ndarray] | None
    ) -> dict[tuple[int, ...], np.ndarray]:
        """Crop box -> indices of its grid's points to decode (all of them without targets)."""
        boxes, layers = generate_crop_boxes(working_size, self.settings.crop_n_layers, self._generator.crop_overlap_ratio)
        selection = {}
        # Points compared with full-size targets: the working image's pixels scaled to the photo.
        scale = np.array([image_size[1] / working_size[1], image_size[0] / working_size[0]])
        for box, layer in zip(boxes, layers):
            grid = self._generator.point_grids[layer]
            if targets is None:
                selection[tuple(box)] = np.arange(len(grid))
                continue
            x0, y0, x1, y1 = box
            points = (grid * np.array([x1 - x0, y1 - y0]) + np.array([x0, y0])) * scale
            selection[tuple(box)] = union_of_points(points, targets, self.prompts.margin)
        return selection

    def _points_per_batch(
        self, selection: dict[tuple[int, ...], np.ndarray], entry: _ImageEntry, working_size: tuple[int, int]
    ) -> int:
        """The settings' batch size; on CUDA by default as many new points as half the free memory holds."""
        if self.settings.points_per_batch is not None:
            return self.settings.points_per_batch
        new = max((entry.new_points(box, chosen) for box, chosen in selection.items()), default=0)
        masks_per_point = 3 if self.settings.multimask_output else 1
        per_point = _CUDA_DECODER_BYTES_PER_POINT + masks_per_point * working_size[0] * working_size[1] * (
            _CUDA_BYTES_PER_MASK_PIXEL
        )
        free, _ = torch.cuda.mem_get_info(self.device)
        fits = int(free * _CUDA_MEMORY_SHARE // per_point)
        return max(_MIN_POINTS_PER_BATCH, min(max(new, 1), fits))

    def _record(self, selection: dict[tuple[int, ...], np.ndarray], guided: bool) -> PromptRecord:
        side = self.settings.points_per_side
        return PromptRecord(
            grid=f"{side}x{side}",
            setting=self.settings.name,
            masks_per_point=3 if self.settings.multimask_output else 1,
            points="guided" if guided else "grid",
            margin=self.prompts.margin if guided else None,
            points_in_grid=self._grid_size(),
            points_decoded=sum(len(chosen) for chosen in selection.values()),
        )

    def _grid_size(self) -> int:
        """Points of the whole grid, over every crop layer's crops."""
        _, layers = generate_crop_boxes((1024, 1024), self.settings.crop_n_layers, self._generator.crop_overlap_ratio)
        return sum(len(self._generator.point_grids[layer]) for layer in layers)

    def _precision(self) -> contextlib.AbstractContextManager:
        if self.dtype != torch.float32:
            return torch.autocast(self.device.type, dtype=self.dtype)
        if self.device.type == "cuda":
            return _without_tf32()
        return contextlib.nullcontext()

    def _to_masks(
        self, records: list[dict], image_size: tuple[int, int], working_size: tuple[int, int], prompts: PromptRecord
    ) -> SAM2Masks:
        data = MaskData(
            rles=[record["segmentation"] for record in records],
            boxes=torch.tensor([_xywh_to_xyxy(record["bbox"]) for record in records]).reshape(-1, 4),
            scores=torch.tensor([record["predicted_iou"] for record in records], dtype=torch.float32),
            stability=torch.tensor([record["stability_score"] for record in records], dtype=torch.float32),
        )
        # The area is set in pixels of the photo; SAM2's masks are at the working size.
        shrink = (working_size[0] * working_size[1]) / (image_size[0] * image_size[1])
        min_area = round(self.settings.min_mask_region_area * shrink)
        if min_area > 0:
            # sam2's generate() never runs this OpenCV clean-up itself, unlike SAM's.
            data = SAM2AutomaticMaskGenerator.postprocess_small_regions(
                data, min_area, max(self._generator.box_nms_thresh, self._generator.crop_nms_thresh)
            )
        height, width = working_size
        result = SAM2Masks(
            rles=tuple(mask_utils.frPyObjects(rle, height, width) for rle in data["rles"]),
            scores=data["scores"].numpy(),
            stability=data["stability"].numpy(),
            image_size=image_size,
            working_size=working_size,
            prompts=prompts,
        )
        for array in (result.scores, result.stability):
            array.flags.writeable = False
        return result


@dataclass
class _CropPoints:
    """What was decoded in one crop of one image: candidate masks with the grid point each came from."""

    decoded: np.ndarray  # (P,) bool per grid point
    candidates: MaskData | None = None  # masks that passed sam2's filters, with "point_index"
    features: dict | None = None  # the predictor's embedding of the crop while the image is the latest


@dataclass
class _ImageEntry:
    crops: dict[tuple[int, ...], _CropPoints] = field(default_factory=dict)
    results: OrderedDict = field(default_factory=OrderedDict)  # point request -> SAM2Masks

    def new_points(self, box: tuple[int, ...], chosen: np.ndarray) -> int:
        crop = self.crops.get(box)
        return len(chosen) if crop is None else int(np.count_nonzero(~crop.decoded[chosen]))


class _PointCachingGenerator(SAM2AutomaticMaskGenerator):
    """sam2's generator, decoding only the chosen grid points of each crop and keeping what it decoded.

    ``generate`` is sam2's own; only the per-crop step differs: the points already decoded for this image
    are taken from the cache, the new ones decoded with sam2's ``_process_batch`` (the full grid's code
    path, so a point's masks do not depend on which other points are asked for), and sam2's box NMS runs
    over the chosen points' masks in grid order, as it would over the full grid's.
    """

    _entry: _ImageEntry | None = None
    _selection: dict[tuple[int, ...], np.ndarray] | None = None

    def begin(self, entry: _ImageEntry, selection: dict[tuple[int, ...], np.ndarray], points_per_batch: int) -> None:
        self._entry, self._selection, self.points_per_batch = entry, selection, points_per_batch

    def end(self) -> None:
        self._entry = self._selection = None

    def _process_crop(self, image, crop_box, crop_layer_idx, orig_size) -> MaskData:
        box = tuple(crop_box)
        x0, y0, x1, y1 = crop_box
        grid = self.point_grids[crop_layer_idx]
        chosen = self._selection[box]
        crop = self._entry.crops.get(box)
        if crop is None:
            crop = self._entry.crops[box] = _CropPoints(decoded=np.zeros(len(grid), dtype=bool))
        new = chosen[~crop.decoded[chosen]]
        if len(new):
            cropped = image[y0:y1, x0:x1, :]
            self._embed(cropped, crop)
            points = grid * np.array(cropped.shape[:2])[None, ::-1]
            # sam2 converts points to float32; the index of each surviving mask's point is found from them.
            index_of = {tuple(point): int(index) for index, point in zip(new, points[new].astype(np.float32))}
            # Looked up on the module at call time, so a progress bar wrapping it counts these batches.
            for (batch,) in amg.batch_iterator(self.points_per_batch, points[new]):
                data = self._process_batch(batch, cropped.shape[:2], crop_box, orig_size, normalize=True)
                found = [index_of[tuple(point)] for point in data["points"].cpu().numpy()]
                data["point_index"] = torch.tensor(found, dtype=torch.int64)
                # The low-resolution logits only serve sam2's optional mask-to-mask step; the cache
                # would otherwise hold 256 KB per mask.
                del data["low_res_masks"]
                crop.candidates = data if crop.candidates is None else _joined(crop.candidates, data)
                del data
            crop.decoded[new] = True

        data = _candidates_of(crop.candidates, chosen)
        keep_by_nms = amg.batched_nms(
            data["boxes"].float(),
            data["iou_preds"],
            torch.zeros_like(data["boxes"][:, 0]),  # categories
            iou_threshold=self.box_nms_thresh,
        )
        data.filter(keep_by_nms)
        data["boxes"] = uncrop_boxes_xyxy(data["boxes"], crop_box)
        data["points"] = uncrop_points(data["points"], crop_box)
        data["crop_boxes"] = torch.tensor([crop_box for _ in range(len(data["rles"]))])
        del data["point_index"]
        return data

    def _embed(self, cropped: np.ndarray, crop: _CropPoints) -> None:
        if crop.features is not None:
            for name, value in crop.features.items():
                setattr(self.predictor, name, value)
            return
        self.predictor.set_image(cropped)
        crop.features = {name: getattr(self.predictor, name) for name in _PREDICTOR_STATE}


def _candidates_of(candidates: MaskData | None, chosen: np.ndarray) -> MaskData:
    """The cached masks of the ``chosen`` points, in grid order as the full grid decodes them."""
    if candidates is None or len(candidates["rles"]) == 0:
        return MaskData(
            rles=[], boxes=torch.zeros((0, 4)), iou_preds=torch.zeros(0), points=torch.zeros((0, 2)),
            stability_score=torch.zeros(0), point_index=torch.zeros(0, dtype=torch.int64),
        )
    point_index = candidates["point_index"].numpy()
    picked = np.flatnonzero(np.isin(point_index, chosen))
    # Stable: the masks of one point keep sam2's order; points in grid order as in one full-grid pass.
    picked = picked[np.argsort(point_index[picked], kind="stable")]
    data = MaskData(**{name: value for name, value in candidates.items() if name not in ("masks", "low_res_masks")})
    data.filter(torch.as_tensor(picked, dtype=torch.int64))
    return data


def _joined(first: MaskData, second: MaskData) -> MaskData:
    """The two sets' masks in order; unlike ``MaskData.cat`` without deep copies of the RLEs (fresh, never changed)."""
    joined = {}
    for name, value in first.items():
        other = second[name]
        joined[name] = torch.cat([value, other.to(value.device)]) if isinstance(value, torch.Tensor) else value + other
    return MaskData(**joined)


def _any_points(selection: dict[tuple[int, ...], np.ndarray]) -> bool:
    return any(len(chosen) for chosen in selection.values())


def _as_target_list(targets: np.ndarray | Sequence[np.ndarray], image_size: tuple[int, int]) -> list[np.ndarray]:
    listed = [targets] if isinstance(targets, np.ndarray) and targets.ndim == 2 else list(targets)
    for target in listed:
        target = np.asarray(target)
        if target.dtype != bool or target.shape != image_size:
            raise ValueError(f"a target must be a bool mask of the image's shape {image_size}, got "
                             f"{target.dtype} {target.shape}")
    return [np.asarray(target) for target in listed]


def _compile(model: SAM2Base) -> None:
    """Compile SAM2's image encoder and mask decoder in place, once per model (state-dict keys unchanged)."""
    if getattr(model, "_segedit_compiled", False):
        return
    model.image_encoder.compile()
    # The number of points per decoder call changes between batches and images.
    model.sam_mask_decoder.compile(dynamic=True)
    model._segedit_compiled = True


def _autocast_supported(device: torch.device, dtype: torch.dtype) -> bool:
    if not torch.amp.is_autocast_available(device.type):
        return False
    return not (device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported())


@contextlib.contextmanager
def _without_tf32() -> Iterator[None]:
    # TF32 keeps only 10 mantissa bits; float32 is meant to be float32.
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _working_size(image_size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(h, w) SAM2 works at: the photo's own size, or shrunk so that its longer side is ``max_side``."""
    height, width = image_size
    if max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    height, width = _working_size(image.shape[:2], max_side)
    if (height, width) == image.shape[:2]:
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


@contextlib.contextmanager
def _batch_progress(enabled: bool):
    """A labelled bar over the generator's point batches: minutes on a CPU, otherwise silent.

    sam2 offers no progress callback; its module looks ``batch_iterator`` up on every call, so the
    batches of the point grid are counted by wrapping that function for the length of one call.
    """
    if not enabled:
        yield
        return
    import sam2.automatic_mask_generator as amg
    from tqdm.auto import tqdm

    plain = amg.batch_iterator

    def counted(batch_size, *args):
        total = -(-len(args[0]) // batch_size)
        yield from tqdm(plain(batch_size, *args), total=total, desc="SAM2 point batches", unit="batch", leave=False)

    amg.batch_iterator = counted
    try:
        yield
    finally:
        amg.batch_iterator = plain


def _has_connected_components() -> bool:
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        logger.debug("sam2 was built without its _C extension; small regions are cleaned with OpenCV instead")
        return False
    return True


def _digest(image: np.ndarray) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(repr(image.shape).encode())
    hasher.update(np.ascontiguousarray(image).data)
    return hasher.hexdigest()


def _xywh_to_xyxy(box: list[float]) -> list[float]:
    x, y, w, h = box
    return [x, y, x + w, y + h]
