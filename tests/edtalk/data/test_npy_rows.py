"""NpyRowWriter writes a plain .npy block by block (the training frame cache, larger than memory)."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from edtalk.data.npy_rows import NpyRowWriter


@pytest.mark.parametrize(
    "dtype, row_shape", [(np.uint8, (4, 4, 3)), (np.float16, (80, 16)), (np.float32, ())]
)
def test_blocks_written_one_by_one_load_as_the_whole_array(tmp_path, dtype, row_shape):
    rng = np.random.default_rng(0)
    blocks = [(rng.random((n, *row_shape)) * 200).astype(dtype) for n in (3, 0, 7, 1)]
    with NpyRowWriter(tmp_path / "a.npy", row_shape, dtype) as writer:
        for block in blocks:
            writer.append(block)
    whole = np.concatenate(blocks)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), whole)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert mapped.shape == whole.shape and mapped.dtype == whole.dtype
    assert (tmp_path / "a.npy").read_bytes() == _saved(tmp_path / "b.npy", whole)  # what np.save writes


def _saved(path, array):
    np.save(path, array)
    return path.read_bytes()


def test_rows_of_another_shape_are_refused(tmp_path):
    with NpyRowWriter(tmp_path / "a.npy", (2, 2), np.float32) as writer:
        with pytest.raises(ValueError, match=r"a\.npy: rows of shape \(3, 2\), expected \(2, 2\)"):
            writer.append(np.zeros((1, 3, 2)))


def test_a_killed_builds_temp_folder_is_removed_a_live_ones_kept(tmp_path):
    from edtalk.data.training import TMP_PREFIX, _remove_abandoned_builds

    host = socket.gethostname()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = tmp_path / f"{TMP_PREFIX}{host}-{int(dead.stdout)}-x1"
    live = tmp_path / f"{TMP_PREFIX}{host}-{os.getpid()}-x2"
    other_host = tmp_path / f"{TMP_PREFIX}elsewhere-{int(dead.stdout)}-x3"
    for d in (gone, live, other_host):
        d.mkdir()
        (d / "frames.npy").write_bytes(b"partial")
    _remove_abandoned_builds(tmp_path)
    assert not gone.exists() and live.exists() and other_host.exists()
