"""Reading a photo as the networks see it (edtalk.data.image)."""

import numpy as np
import pytest
from PIL import Image

from edtalk.data.image import ImageReadError, read_rgb_image


def test_a_16_bit_grey_png_keeps_its_tones(tmp_path):
    """PIL's convert("RGB") of a 16-bit grey PNG clipped every pixel to 255: a white image, and
    'no face found' for a face."""
    grey = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    rgb = read_rgb_image(tmp_path / "grey16.png")
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 0], np.rint(grey / 257.0).astype(np.uint8))
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_unreadable_or_missing_images_are_named(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"notes\.png: unreadable image"):
        read_rgb_image(tmp_path / "notes.png")
    with pytest.raises(ImageReadError, match=r"gone\.png: missing"):
        read_rgb_image(tmp_path / "gone.png")


def test_resize_frames_shrinks_by_area_enlarges_linearly_and_keeps_the_same_size():
    import cv2

    from edtalk.data.image import resize_frames

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    assert resize_frames(frames, 8) is frames
    small = resize_frames(frames, 4)
    assert small.shape == (2, 4, 4, 3)
    assert np.array_equal(small[1], cv2.resize(frames[1], (4, 4), interpolation=cv2.INTER_AREA))
    wide = resize_frames(frames, 12, 16)
    assert wide.shape == (2, 12, 16, 3)
    assert np.array_equal(wide[0], cv2.resize(frames[0], (16, 12), interpolation=cv2.INTER_LINEAR))
