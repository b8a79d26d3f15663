"""Reading one photo as the networks see it (RGB, upright), and resizing frames one way everywhere."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edtalk.data.errors import DataError

log = logging.getLogger(__name__)


class ImageReadError(DataError):
    """An image file that is missing or cannot be decoded."""


BACKGROUND = 255  # white: what a cut-out portrait (transparent background) shows on a page or in a viewer


def read_rgb_image(path: str | Path, *, note: Callable[[str], None] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image file, turned upright by its EXIF orientation (a phone stores
    a portrait shot sideways and says so in that tag: read as stored, the face lies on its side and
    no face is found). Raises ``ImageReadError`` naming the file.

    Every PIL mode comes out as 8-bit RGB: grey, palette, 1-bit and CMYK converted; 16/32-bit grey
    scaled to 0..255 (``_grey_to_rgb``); float grey read as [0, 1] when it lies there. An image with
    transparency (an alpha channel, or a PNG's transparent palette entry or colour) whose pixels are
    not all opaque is composited over a white background (``BACKGROUND``), logged and said to
    ``note`` (a CLI prints it): dropping the alpha kept whatever the transparent pixels hold, often
    black or the background a cut-out tool removed, and the networks read it as part of the photo.

    An image over Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, 89 megapixels) is
    refused naming its pixel count (``_too_many_pixels``): over twice the limit Pillow raises its own
    error (a traceback before), and between once and twice it decodes with a warning, which is
    refused too: the face check and crop would then run dlib's detector over every pixel, upsampled
    (slow, and gigabytes of memory), for a model that reads 256 px."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "missing: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused, as the error is
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im)
                if im.mode.startswith("I") or im.mode == "F":  # convert("RGB") clips every value to 255
                    return _grey_to_rgb(np.asarray(im), sixteen_bit=im.mode.startswith("I;16"))
                if not im.has_transparency_data:
                    return np.asarray(im.convert("RGB"))
                rgba = np.asarray(im.convert("RGBA"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageReadError(path, _too_many_pixels(err)) from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ImageReadError(path, f"unreadable image ({err})") from None
    return _over_background(rgba, path, note)


def _too_many_pixels(err: Exception) -> str:
    """The problem of an image over Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``):
    its pixel count, from Pillow's message ("Image size (N pixels) exceeds limit of ...")."""
    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(err))
    size = f"{int(found[1])} pixels ({int(found[1]) / 1e6:.3g} megapixels)" if found else "the image"
    return (
        f"{size} is too large to read: over Pillow's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} "
        "pixels; downscale it (the model reads a face crop of 256 px a side)"
    )


def _over_background(rgba: np.ndarray, path: Path, note: Callable[[str], None] | None) -> np.ndarray:
    """uint8 RGB of uint8 RGBA composited over ``BACKGROUND`` (the RGB as it is when all opaque)."""
    if (rgba[..., 3] == 255).all():
        return np.ascontiguousarray(rgba[..., :3])
    message = transparency_note(path)
    log.info(message)
    if note is not None:
        note(message)
    return over_background(rgba[..., :3], rgba[..., 3])


def over_background(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) ``rgb`` composited over ``BACKGROUND`` by its uint8 (H, W) ``alpha``: what a
    viewer shows of a transparent image (or video frame)."""
    a = alpha[..., None].astype(np.float32) / 255.0
    return np.clip(np.rint(rgb * a + BACKGROUND * (1.0 - a)), 0, 255).astype(np.uint8)


def transparency_note(path: str | Path) -> str:
    """The note said when ``path``'s transparent pixels are composited over ``BACKGROUND``."""
    return f"{path}: transparent pixels (alpha channel) composited over a white background"


def _grey_to_rgb(grey: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """uint8 RGB of an integer grey image (16-bit ones, and any with values above 255, scaled by
    255 / 65535) or a float one (scaled by 255 when it lies in [0, 1]; NaN as black)."""
    values = np.nan_to_num(grey.astype(np.float64), nan=0.0)
    top = values.max() if values.size else 0.0
    if sixteen_bit or top > 255:
        values = values / 257.0
    elif grey.dtype.kind == "f" and values.min() >= 0.0 and top <= 1.0:
        values = values * 255.0
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
