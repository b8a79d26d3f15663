"""synthtalk rendering: landmarks agree with the painted pixels; pose and expression move them."""

import numpy as np
import pytest

from edtalk.data.synthtalk import expression_params, render_frame, sample_identity
from edtalk.data.synthtalk.expression import neutral_expression

SIZE = 256
FRONTAL = dict(yaw=0.0, pitch=0.0, roll=0.0, tx=0.0, ty=0.0, scale=1.0, mouth_width=0.0, mouth_round=0.0)


def _render(identity, mouth_open=0.0, expression=None, **pose):
    factors = {**FRONTAL, "mouth_open": mouth_open, **pose}
    return render_frame(identity, factors, expression or neutral_expression(), SIZE)


def _pixel(image, point):
    x, y = np.round(point).astype(int)
    return image[y, x].astype(float)


def _lum(rgb):
    return float(rgb @ [0.299, 0.587, 0.114])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_eye_landmarks_surround_the_painted_iris_and_whites(seed):
    identity = sample_identity(np.random.default_rng(seed))
    image, lm = _render(identity)
    skin = np.asarray(identity["skin"], float)
    for eye in (lm[36:42], lm[42:48]):
        centre = eye.mean(0)
        pupil = _pixel(image, centre)
        assert _lum(pupil) < 0.6 * _lum(skin) and _lum(pupil) < 90, "pupil/iris expected at the eye centre"
        half = (eye[3, 0] - eye[0, 0]) / 2
        for direction in (-1, 1):  # between the iris and each corner lies eye white
            samples = [
                _pixel(image, centre + [direction * f * half, 0.0]) for f in np.linspace(0.45, 0.85, 9)
            ]
            white = max(samples, key=_lum)
            # shading darkens the white, but it stays grey-white (unsaturated) and far brighter than the iris
            assert _lum(white) > max(90, _lum(pupil) + 60) and np.ptp(white) < 35, (
                f"eye white expected: {white}"
            )


@pytest.mark.parametrize("seed", [0, 4])
def test_open_mouth_interior_is_dark_and_closed_mouth_is_lips(seed):
    identity = sample_identity(np.random.default_rng(seed))
    open_img, lm_open = _render(identity, mouth_open=1.0)
    inner = lm_open[60:68]
    interior = _pixel(open_img, inner.mean(0))
    assert _lum(interior) < 70, f"dark mouth interior expected inside the inner lip polygon, got {interior}"
    assert lm_open[66, 1] - lm_open[62, 1] > 8, "inner lips must part when the mouth is open"
    closed_img, lm_closed = _render(identity, mouth_open=0.0)
    assert abs(lm_closed[66, 1] - lm_closed[62, 1]) < 1.0
    lip = _pixel(closed_img, lm_closed[57] * 0.5 + lm_closed[66] * 0.5)  # inside the lower lip
    assert _lum(lip) > 60, "a closed mouth shows lips, not a dark interior"


@pytest.mark.parametrize("seed", [0, 5, 6])
def test_landmarks_lie_on_the_face_not_the_background(seed):
    identity = {**sample_identity(np.random.default_rng(seed)), "background": [0, 255, 0]}
    for pose in ({}, {"yaw": 15.0, "pitch": -6.0, "roll": 5.0, "tx": 0.03, "scale": 1.05}):
        image, lm = _render(identity, mouth_open=0.4, **pose)
        assert lm.shape == (68, 2)
        assert (lm >= 0).all() and (lm < SIZE).all()
        nose = lm[30]
        for k, point in enumerate(lm):
            inward = point + (nose - point) * (0.12 if k < 17 else 0.0)  # jaw points sit on the outline
            r, g, b = _pixel(image, inward)
            assert g < r + 40, f"landmark {k} falls on the (pure green) background"


def test_pose_and_expression_move_the_landmarks_the_documented_way():
    identity = sample_identity(np.random.default_rng(7))
    _, front = _render(identity)
    _, right = _render(identity, yaw=20.0)
    _, down = _render(identity, pitch=15.0)
    assert right[30, 0] - front[30, 0] > 5  # yaw > 0 turns the nose to the image right
    assert down[30, 1] - front[30, 1] > 3  # pitch > 0 tips the nose down
    _, happy = _render(identity, expression=expression_params("happy", 3))
    _, sad = _render(identity, expression=expression_params("sad", 3))
    corner_rise = lambda lm: lm[62, 1] - (lm[48, 1] + lm[54, 1]) / 2  # noqa: E731
    assert corner_rise(happy) > corner_rise(front) + 2 > corner_rise(sad) + 4
    _, surprised = _render(identity, expression=expression_params("surprised", 3))
    assert (surprised[17:27, 1] < front[17:27, 1] - 2).all(), "surprise raises both brows"
    _, angry = _render(identity, expression=expression_params("angry", 3))
    assert angry[22, 0] - angry[21, 0] < front[22, 0] - front[21, 0] - 2, "anger pulls the brows together"


def test_levels_grow_in_intensity():
    a1, a3 = expression_params("angry", 1), expression_params("angry", 3)
    assert abs(a3["brow_lower"]) > abs(a1["brow_lower"]) > 0
    assert all(v == 0 for v in expression_params("neutral", 3).values())
    with pytest.raises(ValueError, match="unknown emotion"):
        expression_params("bored", 1)
