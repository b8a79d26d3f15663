"""Reading one photo as the networks see it (RGB, upright), and resizing frames one way everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edtalk.data.errors import DataError


class ImageReadError(DataError):
    """An image file that is missing or cannot be decoded."""


def read_rgb_image(path: str | Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image file, turned upright by its EXIF orientation (a phone stores
    a portrait shot sideways and says so in that tag: read as stored, the face lies on its side and
    no face is found). Raises ``ImageReadError`` naming the file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "missing: no such file")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I"):  # 16/32-bit grey: convert("RGB") clips every value to 255
                return _grey_to_rgb(np.asarray(im))
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ImageReadError(path, f"unreadable image ({err})") from None


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """uint8 RGB of an integer grey image: 16-bit values (any above 255) scaled by 255 / 65535."""
    values = grey.astype(np.float64)
    if values.max() > 255:
        values = values / 257.0
    return np.repeat(np.clip(np.rint(values), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def resize_frames(frames: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """uint8 (N, H, W, C) frames resized to ``height`` x ``width`` (square when ``width`` is None):
    cv2 INTER_AREA when shrinking, INTER_LINEAR when enlarging; returned as they are when already
    that size."""
    width = height if width is None else width
    if frames.shape[1:3] == (height, width):
        return frames
    import cv2

    interp = cv2.INTER_AREA if frames.shape[1] > height else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (width, height), interpolation=interp) for f in frames])
