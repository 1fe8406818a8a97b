"""One image's output folder: which files go where, written atomically, ``result.json`` last.

The folder layout is decided once per run: one prompt writes flat into the image's folder, several
prompts each get a sub-folder. Both engines (local loop, Ray) and every approach write through here,
so their files are identical.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from . import files
from .options import INSTANCE_APPROACHES, RunOptions
from .record import RESULT, ResultRecord, TargetRecord


def target_folders(prompts: Sequence[str]) -> dict[str, str]:
    """Sub-folder (relative, "" = the image's folder) of every distinct prompt."""
    prompts = list(dict.fromkeys(prompts))
    if len(prompts) == 1:
        return {prompts[0]: ""}
    from .outputs import prompt_folders

    return prompt_folders(prompts)


class ResultWriter:
    def __init__(self, options: RunOptions):
        self.options = options
        self.folders = target_folders(options.prompts)

    def write(self, out_dir: Path, original: np.ndarray, result, edits: dict, record: ResultRecord) -> ResultRecord:
        """Write every file of one image; ``record`` (its run and models) is completed and written last."""
        import viz

        from . import coco

        options = self.options
        visualize = options.outputs.visualize
        files.save_image(original, out_dir / "original.png")
        if result.labels is not None:
            files.save_image(viz.label_map_image(result.labels, len(result.vocabulary)), out_dir / "labels.png")
            if visualize:
                files.save_image(
                    viz.label_map_with_legend(original, result.labels, result.vocabulary.labels),
                    out_dir / "label_map.png",
                )
        if options.outputs.save_probs and result.probs is not None:
            files.save_npy(result.probs, out_dir / "probs.npy")

        vocabulary = result.vocabulary
        record.vocabulary = [
            {"index": index, "label": label, "names": list(names)}
            for index, (label, names) in enumerate(zip(vocabulary.labels, vocabulary.classes))
        ]
        if result.class_pixels is not None:
            record.class_pixels = [
                {"index": index, "names": list(names), "pixels": count}
                for index, (names, count) in enumerate(zip(result.vocabulary.classes, result.class_pixels))
            ]
        record.targets = []
        for prompt, target in result.targets.items():
            folder = self.folders[prompt]
            target_dir = out_dir / folder if folder else out_dir
            if folder:
                files.prepare_output_dir(target_dir)
            files.save_mask(target.mask, target_dir / "mask.png")
            info = TargetRecord.from_json(target.to_json())
            info.folder = folder
            if result.approach in INSTANCE_APPROACHES:
                self._write_instances(target, original, target_dir)
            elif visualize:
                files.save_image(viz.overlay_mask(original, target.sclip_mask, (255, 0, 0)),
                                 target_dir / "sclip_prediction.png")
                if target.refinement is not None and "kept" in target.refinement:
                    files.save_image(viz.overlay_mask(original, target.mask, (0, 200, 0)),
                                     target_dir / "sam2_refined_mask.png")
            if prompt in edits:
                info.edit = self._write_edit(edits[prompt], original, target.mask, target_dir)
            info.annotations = coco.target_annotations(target)
            record.targets.append(info)
        record.timings = {name: round(value, 3) for name, value in record.timings.items()}
        record.complete = True
        files.save_json(record.to_json(), out_dir / RESULT)
        return record

    def _write_instances(self, target, original: np.ndarray, target_dir: Path) -> None:
        import refine
        import viz

        instances = [
            {
                "rank": rank,
                "score": round(instance.score, 6),
                "class_index": instance.class_index,
                "class": target.names[0],
                "bbox": instance.bbox,
                "area": instance.area,
                "segmentation": refine.mask_to_coco_rle(instance.mask),
            }
            for rank, instance in enumerate(target.instances)
        ]
        files.save_json({"prompt": target.prompt, "instances": instances}, target_dir / "instances.json")
        if self.options.outputs.visualize:
            stack = np.stack([i.mask for i in target.instances]) if target.instances else (
                np.zeros((0, *original.shape[:2]), dtype=bool))
            files.save_image(viz.instance_overlay(original, stack, [i.score for i in target.instances]),
                             target_dir / "segmentation.png")
            if target.similarity is not None:  # SAM 3 scores instances, not pixels
                files.save_image(viz.heatmap(target.similarity, original), target_dir / "similarity_map.png")

    def _write_edit(self, edit, original: np.ndarray, mask: np.ndarray, target_dir: Path) -> dict:
        import viz

        files.save_image(edit.image, target_dir / "edited.png")
        if self.options.outputs.visualize:
            strip = viz.comparison_strip(
                [original, np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2), edit.image],
                ["Original", "Mask", "Edited"],
            )
            files.save_image(strip, target_dir / "comparison.png")
        return edit.metadata()
