"""dlib 68-point landmarks (offline weights) on skimage's astronaut portrait."""

import numpy as np
import skimage.data

from eval.backbones.dlib68 import detect_landmarks, face_descriptors
from eval.context import ClipContext


def test_dlib68_landmarks_on_astronaut_are_sane():
    img = skimage.data.astronaut()
    lmk = detect_landmarks(img[None])[0]
    assert lmk.shape == (68, 2) and np.isfinite(lmk).all()
    # the face sits around x 170-290, y 80-200 in this 512x512 photo
    assert 150 < lmk[:, 0].min() and lmk[:, 0].max() < 300 and 60 < lmk[:, 1].min() and lmk[:, 1].max() < 220
    jaw, brows, eyes, nose, mouth = lmk[0:17], lmk[17:27], lmk[36:48], lmk[27:36], lmk[48:68]
    assert brows[:, 1].mean() < eyes[:, 1].mean() < nose[:, 1].mean() < mouth[:, 1].mean() < jaw[8, 1]
    assert lmk[36:42, 0].mean() < lmk[42:48, 0].mean()  # image-left eye first
    blank = np.zeros((1, 64, 64, 3), np.uint8)
    assert np.isnan(detect_landmarks(blank)).all()


def test_dlib_descriptor_and_lmd_of_astronaut_against_itself():
    img = skimage.data.astronaut()
    d = face_descriptors(img[None])
    assert d.shape == (1, 128) and np.isfinite(d).all() and 0.1 < np.linalg.norm(d) < 2
    from eval.metrics import get_metric

    ctx = ClipContext.from_arrays(img[None], img[None].copy())
    m = get_metric("m_lmd")()
    assert m.compute(m.clip_state(ctx))["value"] == 0.0
