import shutil

import numpy as np
import pytest
from eval_files import write_image
from PIL import Image

from segedit.evaluation import DATASETS, DatasetError, open_dataset


def raw_label(path):
    return np.array(Image.open(path))


# ---- the real VOC 2012 samples -------------------------------------------------------------------


def test_voc21_reads_the_real_samples(voc_samples):
    dataset = open_dataset("voc21", voc_samples)
    stems = (voc_samples / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert len(dataset) == 14 and [sample.stem for sample in dataset] == stems
    assert dataset.num_classes == 21 and dataset.ignore_index == 255 and dataset.spec.class_preset == "voc21"
    seen = set()
    for sample in dataset:
        labels = dataset.load_label(sample)
        with Image.open(sample.image_path) as image:
            assert labels.shape == (image.height, image.width)
        assert np.array_equal(labels, raw_label(sample.label_path))  # palette indices, not colours
        seen |= set(np.unique(labels).tolist())
    assert seen <= set(range(21)) | {255}
    assert 255 in seen and 0 in seen and len(seen) > 3


def test_voc20_ignores_background_and_shifts_classes(voc_samples):
    dataset = open_dataset("voc20", voc_samples)
    assert dataset.num_classes == 20
    for sample in dataset:
        raw = raw_label(sample.label_path)
        labels = dataset.load_label(sample)
        assert (labels[raw == 0] == 255).all()
        assert (labels[raw == 255] == 255).all()
        objects = (raw > 0) & (raw < 255)
        assert np.array_equal(labels[objects], raw[objects].astype(np.int64) - 1)


@pytest.mark.parametrize("parent", ["VOC2012", "VOCdevkit/VOC2012"])
def test_voc_accepts_a_parent_folder(voc_samples, tmp_path, parent):
    (tmp_path / parent).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / parent).symlink_to(voc_samples, target_is_directory=True)
    dataset = open_dataset("voc21", tmp_path)
    assert len(dataset) == 14 and dataset.root == tmp_path / parent


@pytest.fixture
def voc_copy(voc_samples, tmp_path):
    return shutil.copytree(voc_samples, tmp_path / "voc")


def test_missing_split_file_names_the_expected_path(voc_copy):
    (voc_copy / "ImageSets" / "Segmentation" / "val.txt").unlink()
    with pytest.raises(DatasetError) as error:
        open_dataset("voc21", voc_copy)
    message = str(error.value)
    assert "\n" not in message
    assert "DATA_ROOT/ImageSets/Segmentation/val.txt" in message and str(voc_copy) in message


def test_missing_label_names_the_stem(voc_copy):
    stem = (voc_copy / "ImageSets" / "Segmentation" / "val.txt").read_text().split()[3]
    (voc_copy / "SegmentationClass" / f"{stem}.png").unlink()
    with pytest.raises(DatasetError, match=f"no label for '{stem}'"):
        open_dataset("voc21", voc_copy)


def test_missing_image_names_the_stem(voc_copy):
    stem = (voc_copy / "ImageSets" / "Segmentation" / "val.txt").read_text().split()[0]
    (voc_copy / "JPEGImages" / f"{stem}.jpg").unlink()
    with pytest.raises(DatasetError, match=f"no image for '{stem}'"):
        open_dataset("voc21", voc_copy)


def test_colour_rendered_label_is_an_error(voc_copy):
    dataset = open_dataset("voc21", voc_copy)
    sample = dataset.samples[0]
    Image.open(sample.label_path).convert("RGB").save(sample.label_path)
    with pytest.raises(DatasetError, match="RGB"):
        dataset.load_label(sample)


# ---- the other benchmark layouts, built in miniature ---------------------------------------------

LABEL = np.array([[0, 1, 2], [3, 255, 1]], dtype=np.uint8)


def build_split_layout(root, image_dir, label_dir, split_file, stems):
    for stem in stems:
        write_image(root / image_dir / f"{stem}.jpg", np.zeros((2, 3, 3), dtype=np.uint8))
        write_image(root / label_dir / f"{stem}.png", LABEL)
    (root / split_file).parent.mkdir(parents=True, exist_ok=True)
    (root / split_file).write_text("\n".join(stems) + "\n")


def build_folder_layout(root, images, labels):
    """``images`` / ``labels``: relative paths of the files to create."""
    for relative in images:
        write_image(root / relative, np.zeros((2, 3, 3), dtype=np.uint8))
    for relative in labels:
        write_image(root / relative, LABEL)


LAYOUTS = {
    "context60": lambda root: build_split_layout(
        root / "VOCdevkit" / "VOC2010", "JPEGImages", "SegmentationClassContext",
        "ImageSets/SegmentationContext/val.txt", ["2008_000002", "2008_000008"]),
    "context59": lambda root: build_split_layout(
        root, "JPEGImages", "SegmentationClassContext", "ImageSets/SegmentationContext/val.txt", ["a", "b"]),
    "coco_stuff": lambda root: build_folder_layout(
        root / "coco_stuff164k",
        ["images/val2017/000000000139.jpg", "images/val2017/000000000285.jpg"],
        ["annotations/val2017/000000000139_labelTrainIds.png", "annotations/val2017/000000000285_labelTrainIds.png",
         "annotations/val2017/000000000139.png", "annotations/val2017/000000000285_instanceTrainIds.png"]),
    "coco_object": lambda root: build_folder_layout(
        root,
        ["images/val2017/000000000139.jpg", "images/val2017/000000000285.jpg"],
        ["annotations/val2017/000000000139_instanceTrainIds.png",
         "annotations/val2017/000000000285_instanceTrainIds.png",
         "annotations/val2017/000000000139_labelTrainIds.png"]),
    "cityscapes": lambda root: build_folder_layout(
        root,
        ["leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png",
         "leftImg8bit/val/lindau/lindau_000001_000019_leftImg8bit.png"],
        ["gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png",
         "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png",
         "gtFine/val/lindau/lindau_000001_000019_gtFine_labelTrainIds.png"]),
    "ade20k": lambda root: build_folder_layout(
        root / "ade" / "ADEChallengeData2016",
        ["images/validation/ADE_val_00000001.jpg", "images/validation/ADE_val_00000002.jpg"],
        ["annotations/validation/ADE_val_00000001.png", "annotations/validation/ADE_val_00000002.png"]),
}
REDUCED = {"context59", "ade20k"}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_benchmark_layouts_pair_images_with_their_labels(tmp_path, name):
    LAYOUTS[name](tmp_path)
    dataset = open_dataset(name, tmp_path)
    assert len(dataset) == 2
    assert dataset.spec.class_preset == name and dataset.num_classes == DATASETS[name].num_classes
    for sample in dataset:
        assert sample.image_path.is_file() and sample.label_path.is_file()
        assert sample.stem in sample.image_path.name and sample.stem in sample.label_path.name
        labels = dataset.load_label(sample)
        if name in REDUCED:
            assert np.array_equal(labels, [[255, 0, 1], [2, 255, 0]])
        else:
            assert np.array_equal(labels, LABEL)


def test_folder_layout_label_without_image_is_an_error(tmp_path):
    LAYOUTS["cityscapes"](tmp_path)
    next((tmp_path / "leftImg8bit" / "val" / "lindau").iterdir()).unlink()
    with pytest.raises(DatasetError, match="no image for 'lindau_000001_000019'"):
        open_dataset("cityscapes", tmp_path)


def test_folder_layout_without_images_is_an_error(tmp_path):
    (tmp_path / "images" / "validation").mkdir(parents=True)
    (tmp_path / "annotations" / "validation").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images"):
        open_dataset("ade20k", tmp_path)


# ---- generic -------------------------------------------------------------------------------------


def test_generic_reads_classes_and_pairs_every_image_type(generic_dataset):
    root, labels = generic_dataset
    dataset = open_dataset("generic", root)
    assert dataset.class_lines == ("background", "cat, kitten", "dog")
    assert dataset.num_classes == 3 and dataset.ignore_index == 255 and dataset.spec.class_preset is None
    assert sorted(sample.stem for sample in dataset) == sorted(labels)
    for sample in dataset:
        assert np.array_equal(dataset.load_label(sample), labels[sample.stem])


def test_generic_ignore_index_is_configurable(generic_dataset):
    dataset = open_dataset("generic", generic_dataset[0], ignore_index=0)
    assert dataset.ignore_index == 0


def test_ignore_index_is_fixed_for_benchmarks(voc_samples):
    with pytest.raises(ValueError):
        open_dataset("voc21", voc_samples, ignore_index=0)


def test_generic_missing_classes_file(generic_dataset):
    root, _ = generic_dataset
    (root / "classes.txt").unlink()
    with pytest.raises(DatasetError, match="DATA_ROOT/classes.txt"):
        open_dataset("generic", root)


def test_generic_blank_class_line_is_an_error(generic_dataset):
    root, _ = generic_dataset
    (root / "classes.txt").write_text("background\n\ndog\n")
    with pytest.raises(DatasetError, match="line 2"):
        open_dataset("generic", root)


def test_generic_two_images_for_one_stem_is_an_error(generic_dataset):
    root, _ = generic_dataset
    write_image(root / "images" / "sample_0.png", np.zeros((12, 16, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match="sample_0"):
        open_dataset("generic", root)


def test_generic_image_without_label(generic_dataset):
    root, _ = generic_dataset
    (root / "labels" / "sample_1.png").unlink()
    with pytest.raises(DatasetError, match="no label for 'sample_1'"):
        open_dataset("generic", root)


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        open_dataset("imagenet", tmp_path)
    with pytest.raises(DatasetError, match="not a folder"):
        open_dataset("voc21", tmp_path / "nowhere")
