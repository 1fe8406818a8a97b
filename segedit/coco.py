"""COCO export of a whole job, rebuilt from the per-image result.json records.

Each record keeps its annotations (COCO RLE), so the export always covers every image of the job,
whether it was processed in this run or in an earlier one that ``--skip-existing`` resumed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .record import ResultRecord


def target_annotations(target) -> list[dict]:
    """One annotation per instance (proposals) or one for the target mask (dense approach)."""
    import refine

    if target.instances:
        parts = [(instance.mask, instance.class_index, instance.score) for instance in target.instances]
    elif target.found:
        parts = [(target.mask, target.class_index, target.score)]
    else:
        parts = []
    return [
        {
            "class_index": class_index,
            "segmentation": refine.mask_to_coco_rle(mask),
            "area": int(mask.sum()),
            "bbox": refine.mask_bbox(mask),
            "score": None if score is None else round(float(score), 6),
        }
        for mask, class_index, score in parts
    ]


def build_export(records: Iterable["ResultRecord"]) -> dict:
    """images, categories (matched by their names) and annotations of every record, in order."""
    images: list[dict] = []
    annotations: list[dict] = []
    categories: list[dict] = []
    category_ids: dict[tuple[str, ...], int] = {}
    for record in records:
        image_id = len(images) + 1
        height, width = record.size
        images.append({"id": image_id, "file_name": record.image, "height": height, "width": width})
        # every class is a category, also one no image shows; the same names are the same category
        classes = [tuple(entry["names"]) for entry in record.vocabulary]
        for entry, names in zip(record.vocabulary, classes):
            if names not in category_ids:
                category_ids[names] = len(categories) + 1
                categories.append({"id": category_ids[names], "name": entry["label"], "names": list(names)})
        for target in record.targets:
            for annotation in target.annotations:
                annotations.append({
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[classes[annotation["class_index"]]],
                    "segmentation": annotation["segmentation"],
                    "area": annotation["area"],
                    "bbox": annotation["bbox"],
                    "iscrowd": 0,
                    "score": annotation["score"],
                })
    return {"images": images, "annotations": annotations, "categories": categories}
