"""Walking input folders safely: symlink loops, the output folder inside the input, bad --images-from lists."""
import os
import threading
from pathlib import Path

import pytest
from segedit_files import write_image

from segedit.errors import UsageError
from segedit.images import collect_inputs, read_list_file


@pytest.fixture
def looped(tmp_path) -> Path:
    """photos/{a.png, sub/b.png, sub/up -> .., self -> .}: a walk that follows links naively never ends."""
    root = tmp_path / "photos"
    write_image(root / "a.png")
    write_image(root / "sub" / "b.png")
    os.symlink("..", root / "sub" / "up")
    os.symlink(".", root / "self")
    return root


def collect_within(seconds: float, *args, **kwargs) -> list[tuple[Path, str]]:
    """collect_inputs, failing the test if it has not returned in time (a hang stays in a daemon thread)."""
    result = []
    worker = threading.Thread(target=lambda: result.extend(collect_inputs(*args, **kwargs)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"collect_inputs still walking after {seconds} s"
    return [(item.path, item.name) for item in result]


def test_recursive_folder_walk_through_symlink_loops_ends_with_each_image_once(looped):
    found = collect_within(5, [str(looped)], recursive=True)
    assert found == [(looped / "a.png", "a"), (looped / "sub" / "b.png", "sub/b")]


def test_recursive_pattern_through_symlink_loops_ends_with_each_image_once(looped):
    found = collect_within(5, [str(looped / "**" / "*.png")], recursive=True)
    assert found == [(looped / "a.png", "a"), (looped / "sub" / "b.png", "sub/b")]


def test_symlinked_folders_are_followed(tmp_path):
    elsewhere = write_image(tmp_path / "elsewhere" / "c.png").parent
    write_image(tmp_path / "photos" / "a.png")
    os.symlink(elsewhere, tmp_path / "photos" / "linked")
    found = {item.name for item in collect_inputs([str(tmp_path / "photos")], recursive=True)}
    assert found == {"a", "linked/c"}


@pytest.mark.parametrize("pattern", ["**", "**/*.png", "*/*.png"])
def test_output_folder_inside_the_input_folder_is_never_an_input(tmp_path, pattern):
    photos = tmp_path / "photos"
    write_image(photos / "a.png")
    write_image(photos / "sub" / "b.png")
    # what an earlier run wrote into photos/out
    write_image(photos / "out" / "a" / "original.png")
    write_image(photos / "out" / "sub" / "b" / "mask.png")
    by_folder = collect_inputs([str(photos)], recursive=True, exclude=[photos / "out"])
    assert [item.name for item in by_folder] == ["a", "sub/b"]
    # named another way (through a link, relative): it is still the same folder
    os.symlink(photos / "out", tmp_path / "results")
    by_pattern = collect_inputs([str(photos / pattern)], recursive=True, exclude=[tmp_path / "results"])
    assert {item.path.name for item in by_pattern} == ({"a.png", "b.png"} if pattern != "*/*.png" else {"b.png"})


def test_non_recursive_patterns_match_like_glob(tmp_path):
    write_image(tmp_path / "a.png")
    write_image(tmp_path / ".hidden.png")
    write_image(tmp_path / "sub" / "b.jpg")
    write_image(tmp_path / "sub" / "deep" / "c.png")
    names = lambda spec: sorted(item.path.name for item in collect_inputs([str(tmp_path / spec)]))  # noqa: E731
    assert names("*.png") == ["a.png"]  # * skips hidden names, as in glob and shells
    assert names(".*.png") == [".hidden.png"]
    assert names("**/*.jpg") == ["b.jpg"]  # without --recursive, ** is one level
    assert names("s?b/*") == ["b.jpg"]
    assert names("[as]*") == ["a.png"]


def test_listed_missing_entry_fails_alone_and_the_batch_goes_on(tmp_path):
    good = write_image(tmp_path / "good.png")
    inputs = collect_inputs([], listed=[str(tmp_path / "gone.png"), str(good)])
    assert [(item.path.name, item.name, item.error) for item in inputs] == [
        ("gone.png", "gone", "file not found (listed in --images-from)"),
        ("good.png", "good", None),
    ]
    # a path that cannot exist: its reason is the system's
    [item] = [i for i in collect_inputs([str(good)], listed=[str(good / "x.png")]) if i.error]
    assert item.error == "Not a directory (listed in --images-from)"
    # the same path given with --image is still a usage error: nothing runs
    with pytest.raises(UsageError, match="input not found"):
        collect_inputs([str(tmp_path / "gone.png")], listed=[str(good)])


@pytest.mark.parametrize("content, complaint", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    ("photo-\N{LATIN SMALL LETTER E WITH ACUTE}.png\n".encode("latin-1"), "not UTF-8 text .*offset 6"),
])
def test_binary_or_non_utf8_list_is_a_usage_error_naming_file_and_flag(tmp_path, content, complaint):
    listing = tmp_path / "list.txt"
    listing.write_bytes(content)
    with pytest.raises(UsageError, match=f"--images-from .*list.txt is {complaint}"):
        read_list_file(str(listing))


def test_utf8_list_with_byte_order_mark_reads(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_bytes("\ufeff猫.png\n# note\n".encode("utf-8"))
    assert read_list_file(str(listing)) == ["猫.png"]
