"""Inputs shared by the inference tests (test_infer.py, test_infer_review.py)."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def face_crop() -> np.ndarray:
    """A 128 px square face crop (dlib's HOG detector finds the face)."""
    import skimage.data
    from PIL import Image

    return np.asarray(Image.fromarray(skimage.data.astronaut()[:400, 60:460]).resize((128, 128)))


@pytest.fixture(scope="session")
def noisy_faces(face_crop):
    """``noisy_faces(rng, n)``: ``n`` frames of the face crop, each with its own noise: driving videos
    that change from frame to frame and still pass the face check on driving videos."""

    def make(rng: np.random.Generator, n: int) -> np.ndarray:
        noise = rng.integers(-20, 21, (n, 128, 128, 3))
        return np.clip(face_crop[None].astype(int) + noise, 0, 255).astype(np.uint8)

    return make
