"""Write a ``.npy`` array row block by row block, so that an array larger than memory (a training
split's decoded frames: 196 KB a frame at 256 px, hundreds of GB for MEAD) never has to be held whole.

The header is written first with room for any row count and rewritten with the true count on
``close``; the file is a plain ``.npy`` that ``np.load(..., mmap_mode="r")`` opens.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

_MOST_ROWS = 10**15  # the header's placeholder count: as many digits as any real count needs


def _header(n_rows: int, row_shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    buf = io.BytesIO()
    header = {
        "descr": npy_format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": (n_rows, *row_shape),
    }
    npy_format.write_array_header_1_0(buf, header)
    return buf.getvalue()


class NpyRowWriter:
    """``append`` blocks of shape (n, *row_shape); ``close`` fixes the row count. A context manager."""

    def __init__(self, path: str | Path, row_shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        self.path = Path(path)
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.n_rows = 0
        self._file = open(self.path, "wb")  # closed in close()
        placeholder = _header(_MOST_ROWS, self.row_shape, self.dtype)
        self._header_size = len(placeholder)
        self._file.write(placeholder)

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows)
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"{self.path.name}: rows of shape {rows.shape[1:]}, expected {self.row_shape}")
        self._file.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.n_rows += len(rows)

    def close(self) -> Path:
        if not self._file.closed:
            header = _header(self.n_rows, self.row_shape, self.dtype)
            if len(header) != self._header_size:  # padded to 64 bytes: the same for any count
                raise RuntimeError(
                    f"{self.path}: .npy header changed size ({len(header)} vs {self._header_size})"
                )
            self._file.seek(0)
            self._file.write(header)
            self._file.close()
        return self.path

    def __enter__(self) -> NpyRowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
