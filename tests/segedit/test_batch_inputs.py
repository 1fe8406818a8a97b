"""Which files a batch processes and the output folder each one gets (no models involved)."""
import io
import sys
from pathlib import Path

import pytest
from segedit_files import write_image

from segedit.errors import UsageError
from segedit.images import collect_inputs, read_list_file


@pytest.fixture
def tree(tmp_path) -> Path:
    """photos/{a.jpg, b.png, e.TIFF, notes.txt, sub/c.webp, sub/deeper/d.bmp}"""
    root = tmp_path / "photos"
    for name in ("a.jpg", "b.png", "e.TIFF", "sub/c.webp", "sub/deeper/d.bmp"):
        write_image(root / name)
    (root / "notes.txt").write_text("not an image")
    return root


def names(inputs) -> dict[str, str]:
    return {item.path.name: item.name for item in inputs}


def test_folder_lists_its_images_and_recursive_descends(tree):
    assert names(collect_inputs([str(tree)])) == {"a.jpg": "a", "b.png": "b", "e.TIFF": "e"}
    assert names(collect_inputs([str(tree)], recursive=True)) == {
        "a.jpg": "a", "b.png": "b", "e.TIFF": "e", "c.webp": "sub/c", "d.bmp": "sub/deeper/d",
    }


def test_folder_without_images_is_a_usage_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    write_image(tmp_path / "sub" / "x.png")
    with pytest.raises(UsageError, match="no images .* in folder .*add --recursive"):
        collect_inputs([str(tmp_path)])
    assert names(collect_inputs([str(tmp_path)], recursive=True)) == {"x.png": ""}
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images .* in folder .*empty$"):
        collect_inputs([str(tmp_path / "empty")], recursive=True)


def test_glob_picks_matching_images_relative_to_their_common_folder(tree):
    assert names(collect_inputs([str(tree / "*.png"), str(tree / "sub" / "*")])) == {"b.png": "b", "c.webp": "c"}
    # a pattern that also matches notes.txt takes only the images
    assert names(collect_inputs([str(tree / "*")])) == {"a.jpg": "a", "b.png": "b", "e.TIFF": "e"}
    assert names(collect_inputs([str(tree / "**" / "*.bmp"), str(tree / "a.jpg")], recursive=True)) == {
        "d.bmp": "d", "a.jpg": "a",
    }
    with pytest.raises(UsageError, match=r"no images .* match .*\*\.gif"):
        collect_inputs([str(tree / "*.gif")])


def test_single_file_keeps_the_flat_layout_and_duplicates_count_once(tree):
    only = collect_inputs([str(tree / "a.jpg"), str(tree / "." / "a.jpg"), str(tree / "a.*")])
    assert [(item.path.name, item.name) for item in only] == [("a.jpg", "")]


def test_name_collisions_get_distinct_folders(tmp_path):
    write_image(tmp_path / "photo.jpg")
    write_image(tmp_path / "photo.png")
    assert names(collect_inputs([str(tmp_path)])) == {"photo.jpg": "photo_jpg", "photo.png": "photo_png"}

    # the same file name in two folders given as two arguments
    first, second = write_image(tmp_path / "a" / "shot.jpg"), write_image(tmp_path / "b" / "shot.jpg")
    assert [item.name for item in collect_inputs([str(first), str(second)])] == ["shot_jpg", "shot_jpg_2"]
    # names that differ only in case would share a folder on macOS and Windows
    upper, lower = write_image(tmp_path / "c" / "Image.png"), write_image(tmp_path / "d" / "image.png")
    assert [item.name for item in collect_inputs([str(upper), str(lower)])] == ["Image", "image_2"]


def test_missing_path_is_a_usage_error_naming_it(tmp_path):
    with pytest.raises(UsageError, match="input not found: .*missing.jpg"):
        collect_inputs([str(tmp_path / "missing.jpg")])


def test_images_from_file_skips_blank_lines_and_comments(tree, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# holiday\n{tree / 'a.jpg'}\n\n   {tree / 'sub' / 'c.webp'}  \n")
    specs = read_list_file(str(listing))
    assert specs == [str(tree / "a.jpg"), str(tree / "sub" / "c.webp")]
    assert names(collect_inputs(specs)) == {"a.jpg": "a", "c.webp": "c"}


def test_images_from_stdin(tree, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{tree / 'b.png'}\n{tree / 'e.TIFF'}\n"))
    assert read_list_file("-") == [str(tree / "b.png"), str(tree / "e.TIFF")]


def test_unreadable_list_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read --images-from .*absent.txt"):
        read_list_file(str(tmp_path / "absent.txt"))
