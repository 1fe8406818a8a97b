"""CorrCLIP's per-image region-mask files (``<stem>.npz`` with ``instance_mask``): round trip and one-line
errors for missing, unreadable and wrong-size files."""
import numpy as np
import pytest

from sclip.errors import RegionMapError
from segedit.region_masks import read_region_map, region_mask_path, write_region_map


def test_round_trip_in_the_official_format(tmp_path):
    region_map = np.arange(12, dtype=np.int64).reshape(3, 4)
    path = write_region_map(region_mask_path(tmp_path / "masks", "photos/street.v2.jpg"), region_map)
    assert path == tmp_path / "masks" / "street.v2.npz"
    with np.load(path) as data:  # what the official code reads
        np.testing.assert_array_equal(data["instance_mask"], region_map)
    np.testing.assert_array_equal(read_region_map(path, (3, 4)), region_map)
    assert [p.name for p in (tmp_path / "masks").iterdir()] == ["street.v2.npz"]  # no temporary left


def test_files_written_by_numpy_directly_are_read(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, instance_mask=np.ones((2, 2), np.uint16))
    assert read_region_map(path, (2, 2)).dtype == np.uint16


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"),
    ("garbage", "not a readable .npz"),
    ("no key", "holds no 'instance_mask'"),
    ("floats", "must hold integers"),
    ("wrong size", "is 2x3 but the image is 3x4"),
])
def test_bad_files_fail_with_one_line(tmp_path, case, message):
    path = tmp_path / "x.npz"
    if case == "garbage":
        path.write_bytes(b"PK\x03\x04 truncated")
    elif case == "no key":
        np.savez(path, masks=np.zeros((3, 4), np.int32))
    elif case == "floats":
        np.savez(path, instance_mask=np.zeros((3, 4), np.float32))
    elif case == "wrong size":
        np.savez(path, instance_mask=np.zeros((2, 3), np.int32))
    with pytest.raises(RegionMapError, match=message) as caught:
        read_region_map(path, (3, 4))
    assert "\n" not in str(caught.value) and caught.value.exit_code == 1


def test_writing_rejects_what_is_not_a_region_map(tmp_path):
    with pytest.raises(ValueError):
        write_region_map(tmp_path / "x.npz", np.zeros((2, 2, 2), np.int32))
