import numpy as np
import pytest

from edtalk.data.mouth_swap import MOUTH, anchor_points, mouth_mask, similarity_transform, swap_mouth


def _face(size: int, shift: float, colour: int) -> tuple[np.ndarray, np.ndarray]:
    """A flat image and plausible 68 landmarks: eyes at y=0.35, mouth at y=0.72 (times size)."""
    rng = np.random.default_rng(0)
    lm = np.zeros((68, 2), np.float32)
    lm[:] = rng.uniform(0.3, 0.7, (68, 2)) * size
    lm[36:42] = [0.33 * size + shift, 0.35 * size]
    lm[42:48] = [0.67 * size + shift, 0.35 * size]
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    lm[48:68] = np.stack(
        [0.5 * size + shift + 0.12 * size * np.cos(t), 0.72 * size + 0.05 * size * np.sin(t)], 1
    )
    img = np.full((size, size, 3), colour, np.uint8)
    return img, lm


def test_similarity_transform_recovers_known_transform():
    src = np.array([[10.0, 20.0], [40.0, 22.0], [25.0, 50.0]])
    ang, s, t = 0.3, 1.7, np.array([5.0, -3.0])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = src @ (s * rot).T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(src @ m[:, :2].T + m[:, 2], dst, atol=1e-3)


def test_anchor_points_rejects_bad_shape():
    with pytest.raises(ValueError, match="68x2"):
        anchor_points(np.zeros((5, 2)))


def test_swap_mouth_shape_and_mouth_comes_from_donor():
    size = 64
    recipient, rlm = _face(size, 0.0, 40)
    donor, dlm = _face(size, 3.0, 220)
    out, mask = swap_mouth(recipient, rlm, donor, dlm)
    assert out.shape == recipient.shape and out.dtype == np.uint8
    assert mask.shape == (size, size)
    centre = rlm[MOUTH].mean(0).round().astype(int)
    # mouth centre: donor's pixels; far corner (top-left, hair/background): recipient's
    assert abs(int(out[centre[1], centre[0], 0]) - 220) <= 2
    assert int(out[2, 2, 0]) == 40
    # the mask is feathered: values strictly between 0 and 1 exist, and it peaks at 1 on the mouth
    assert mask[centre[1], centre[0]] == pytest.approx(1.0, abs=1e-3)
    assert ((mask > 0.05) & (mask < 0.95)).any()


def test_swap_mouth_warps_donor_to_recipient_geometry():
    """A donor whose face is shifted and scaled: its mouth must land on the recipient's mouth."""
    size = 64
    recipient, rlm = _face(size, 0.0, 0)
    donor = np.zeros_like(recipient)
    # donor landmarks = recipient's scaled 0.8 about the image centre; paint the donor mouth white
    dlm = (rlm - size / 2) * 0.8 + size / 2
    mouth_box = dlm[MOUTH]
    x0, y0 = np.floor(mouth_box.min(0)).astype(int)
    x1, y1 = np.ceil(mouth_box.max(0)).astype(int)
    donor[y0:y1, x0:x1] = 255
    out, _ = swap_mouth(recipient, rlm, donor, dlm)
    centre = rlm[MOUTH].mean(0).round().astype(int)
    assert out[centre[1], centre[0], 0] > 240  # the white donor mouth lands on the recipient's mouth centre


def test_mouth_mask_bounds():
    _, lm = _face(32, 0.0, 0)
    m = mouth_mask(lm, (32, 32))
    assert m.min() >= 0.0 and m.max() <= 1.0 + 1e-6
