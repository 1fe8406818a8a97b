import numpy as np
import pytest
from eval_files import write_image
from loaded_modules import heavy_modules, loaded_modules
from PIL import Image

from segedit.evaluate_cli import load_rgb
from segedit.evaluation import evaluate, open_dataset
from segedit.files import write_bytes_atomically

# The file access the command line hands the evaluation loop.
FILES = {"load_image": load_rgb, "write_bytes": write_bytes_atomically}


class GroundTruthLookup:
    """Returns the ground truth of whichever sample the image belongs to (each image has its own colour)."""

    def __init__(self, root, labels):
        self.calls = 0
        self.by_colour = {}
        for stem, label in labels.items():
            image = next((root / "images").glob(f"{stem}.*"))
            colour = tuple(load_rgb(image)[0, 0])
            # Ignored pixels have no right answer; predict class 0 there.
            self.by_colour[colour] = np.where(label == 255, 0, label).astype(np.int64)

    def __call__(self, image):
        self.calls += 1
        return self.by_colour[tuple(image[0, 0])]


def test_ground_truth_predictions_score_100(generic_dataset):
    root, labels = generic_dataset
    report = evaluate(open_dataset("generic", root), GroundTruthLookup(root, labels), progress=False, **FILES)
    assert report.images == 3 and report.reused == 0
    assert report.metrics.mean_iou == pytest.approx(100)
    assert report.metrics.all_acc == pytest.approx(100)
    assert report.metrics.mean_acc == pytest.approx(100)
    assert report.seconds_per_image is not None and report.seconds_per_image >= 0


def test_all_background_predictions_give_the_background_share(generic_dataset):
    root, labels = generic_dataset
    gt = np.concatenate([label.ravel() for label in labels.values()])
    valid = gt[gt != 255]
    background_share = 100 * np.mean(valid == 0)
    classes_in_gt = len(np.unique(valid))

    background = lambda image: np.zeros(image.shape[:2], int)  # noqa: E731
    report = evaluate(open_dataset("generic", root), background, progress=False, **FILES)
    # Class 0: TP = its pixels, FP = every other valid pixel, FN = 0; other classes score 0.
    assert report.metrics.class_iou[0] == pytest.approx(background_share)
    assert report.metrics.all_acc == pytest.approx(background_share)
    assert report.metrics.mean_iou == pytest.approx(background_share / classes_in_gt)
    assert report.metrics.mean_acc == pytest.approx(100 / classes_in_gt)


def test_real_voc_samples_all_background(voc_samples):
    gt = np.concatenate(
        [np.array(Image.open(path)).ravel() for path in sorted((voc_samples / "SegmentationClass").glob("*.png"))]
    )
    valid = gt[gt != 255]
    dataset = open_dataset("voc21", voc_samples)
    report = evaluate(dataset, lambda image: np.zeros(image.shape[:2], np.uint8), progress=False, **FILES)
    assert report.images == 14
    assert report.metrics.all_acc == pytest.approx(100 * np.mean(valid == 0))
    assert report.metrics.mean_iou == pytest.approx(100 * np.mean(valid == 0) / len(np.unique(valid)))


def test_saved_predictions_are_reused(generic_dataset, tmp_path):
    root, labels = generic_dataset
    dataset = open_dataset("generic", root)
    saved = tmp_path / "predictions"
    first_predict = GroundTruthLookup(root, labels)
    first = evaluate(dataset, first_predict, save_predictions=saved, progress=False, **FILES)
    assert first_predict.calls == 3
    assert sorted(path.name for path in saved.iterdir()) == sorted(f"{stem}.png" for stem in labels)
    for stem, label in labels.items():
        assert np.array_equal(np.array(Image.open(saved / f"{stem}.png")), np.where(label == 255, 0, label))

    second_predict = GroundTruthLookup(root, labels)
    second = evaluate(dataset, second_predict, save_predictions=saved, progress=False, **FILES)
    assert second_predict.calls == 0
    assert second.reused == 3 and second.seconds_per_image is None
    assert np.array_equal(second.metrics.class_iou, first.metrics.class_iou)


def test_interrupted_run_resumes_with_the_missing_images(generic_dataset, tmp_path):
    root, labels = generic_dataset
    dataset = open_dataset("generic", root)
    saved = tmp_path / "predictions"
    evaluate(dataset, GroundTruthLookup(root, labels), save_predictions=saved, progress=False, **FILES)
    (saved / "sample_1.png").unlink()
    predict = GroundTruthLookup(root, labels)
    report = evaluate(dataset, predict, save_predictions=saved, progress=False, **FILES)
    assert predict.calls == 1 and report.reused == 2
    assert report.metrics.mean_iou == pytest.approx(100)


def test_limit_scores_only_the_first_samples(generic_dataset):
    root, labels = generic_dataset
    dataset = open_dataset("generic", root)
    predict = GroundTruthLookup(root, labels)
    report = evaluate(dataset, predict, limit=2, progress=False, **FILES)
    assert report.images == 2 and predict.calls == 2


def test_prediction_of_the_wrong_shape_names_the_sample(generic_dataset):
    root, _ = generic_dataset
    with pytest.raises(ValueError, match="sample_0"):
        evaluate(open_dataset("generic", root), lambda image: np.zeros((3, 3), int), progress=False, **FILES)


def test_prediction_outside_the_classes_names_the_sample(generic_dataset):
    root, _ = generic_dataset
    with pytest.raises(ValueError, match="sample_0"):
        evaluate(open_dataset("generic", root), lambda image: np.full(image.shape[:2], 9), progress=False, **FILES)


def test_images_are_loaded_upright_as_rgb(tmp_path):
    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    Image.fromarray(np.zeros((2, 4), dtype=np.uint8)).save(sideways, exif=exif)
    image = load_rgb(sideways)
    assert image.shape == (4, 2, 3) and image.dtype == np.uint8


def test_generic_dataset_with_exif_rotated_image(tmp_path):
    root = tmp_path / "rotated"
    (root / "images").mkdir(parents=True)
    (root / "classes.txt").write_text("a\nb")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((2, 4, 3), dtype=np.uint8)).save(root / "images" / "x.jpg", exif=exif)
    write_image(root / "labels" / "x.png", np.ones((4, 2), dtype=np.uint8))
    shapes = []

    def predict(image):
        shapes.append(image.shape)
        return np.ones(image.shape[:2], int)

    report = evaluate(open_dataset("generic", root), predict, progress=False, **FILES)
    assert shapes == [(4, 2, 3)] and report.metrics.mean_iou == pytest.approx(100)


def test_an_unreadable_image_is_counted_as_failed_and_the_rest_is_scored(generic_dataset, tmp_path):
    root, labels = generic_dataset
    dataset = open_dataset("generic", root)
    broken = next(sample for sample in dataset if sample.stem == "sample_1")
    broken.image_path.write_bytes(b"not an image at all")
    predict = GroundTruthLookup(root, {stem: label for stem, label in labels.items() if stem != "sample_1"})
    saved = tmp_path / "predictions"
    report = evaluate(dataset, predict, save_predictions=saved, progress=False, **FILES)
    assert report.images == 2 and predict.calls == 2
    assert [(failure.stem, failure.image_path) for failure in report.failed] == [("sample_1", broken.image_path)]
    assert "\n" not in report.failed[0].reason and str(broken.image_path) in report.failed[0].reason
    assert report.metrics.mean_iou == pytest.approx(100)
    assert sorted(path.name for path in saved.iterdir()) == ["sample_0.png", "sample_2.png"]


def test_saving_predictions_needs_a_writer_and_a_folder(generic_dataset, tmp_path):
    dataset = open_dataset("generic", generic_dataset[0])
    predict = GroundTruthLookup(*generic_dataset)
    with pytest.raises(ValueError, match="write_bytes"):
        evaluate(dataset, predict, load_image=load_rgb, save_predictions=tmp_path / "p", progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        evaluate(dataset, predict, save_predictions=blocker, progress=False, **FILES)
    assert predict.calls == 0


def test_the_evaluation_package_imports_no_model_library_and_nothing_else_of_segedit():
    modules = loaded_modules("import segedit.evaluation")
    assert {"segedit.evaluation.metrics", "segedit.evaluation.runner"} <= modules
    assert heavy_modules(modules) == set()
    assert {name for name in modules if name.startswith("segedit.")} <= {
        name for name in modules if name.startswith(("segedit.evaluation", "segedit.errors"))
    }
