"""The ``eat`` protocol's face crops (eval/backbones/align.py) against the reference code's own
tools on the same inputs: skimage's SimilarityTransform / warp (EAT's ``utils_crop``), dlib on
EAT's grey image (``get_lmk``), and the PC-AVS alignment rule of EAT's ``scripts/align_68.py``."""

import cv2
import numpy as np
import pytest
import skimage.data
from skimage import transform as tf

from eval.backbones import align
from eval.context import ClipContext
from eval.metrics.base import ClipFailure


def _rotated(img: np.ndarray, degrees: float, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    m[:, 2] += shift
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_template_is_the_astronaut_face_placed_by_eats_rule():
    t = align.eat_template_from_face(skimage.data.astronaut())
    np.testing.assert_allclose(t[align.EAT_POINTS], align.EAT_TEMPLATE, atol=0.006)
    left, right = t[36:42].mean(0), t[42:48].mean(0)
    assert left[1] == pytest.approx(right[1]) and (left[0] + right[0]) / 2 == pytest.approx(64)


def test_frame_crop_is_skimage_warp_of_the_estimated_similarity():
    """EAT: ``tform.estimate(template, landmarks)``, ``tf.warp(image, tform, output_shape=(163,
    163))``, ``np.array(dst * 255, dtype=np.uint8)[1:129, 1:129]``."""
    rng = np.random.default_rng(0)
    img = skimage.data.astronaut()
    lmk = align.EAT_TEMPLATE * 1.7 + [90.0, 20.0] + rng.normal(0, 1.5, align.EAT_TEMPLATE.shape)
    fit = align.similarity_transform(align.EAT_TEMPLATE, lmk)
    tform = tf.SimilarityTransform.from_estimate(align.EAT_TEMPLATE, lmk)
    np.testing.assert_allclose(fit, tform.params[:2], atol=1e-9)
    ref = np.array(tf.warp(img, tform, output_shape=(163, 163)) * 255, dtype=np.uint8)[1:129, 1:129]
    ours = align.eat_frame_crop(img, fit)
    diff = np.abs(ours.astype(int) - ref.astype(int))  # truncation of x.99999 vs x+1: 1 level at most
    assert ours.shape == (128, 128, 3) and diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_eat_landmarks_are_dlib_on_eats_grey_image():
    """test_lmd.py's get_lmk: ``detector(cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY), 0)``, first face."""
    from edtalk.data.face_landmarks import face_detector, shape_predictor
    from eval.backbones.dlib68 import detect_landmarks, detect_landmarks_eat

    img = skimage.data.astronaut()
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    shape = shape_predictor()(grey, face_detector()(grey, 0)[0])
    ref = np.array([(p.x, p.y) for p in shape.parts()], float)
    np.testing.assert_array_equal(detect_landmarks_eat(img[None])[0], ref)
    assert not np.array_equal(detect_landmarks(img[None])[0], ref)  # the plain RGB grey differs


def test_eat_crop_finds_a_small_face_with_eats_one_upsampling():
    """The eat crop takes its landmarks from ``dlib68_eat_crop`` (EAT's grey image, one upsampling).
    The test faces were large enough for the plain ``dlib68`` backend too, and switching to it
    passed; at 192 px the astronaut's face is found only with the upsampling."""
    small = cv2.resize(skimage.data.astronaut(), (192, 192), interpolation=cv2.INTER_AREA)
    ctx = ClipContext.from_arrays(small[None], small[None].copy())
    assert ctx.feature("crop", "gt", kind="eat_frame_align", size=128).shape == (1, 128, 128, 3)


def test_per_frame_fit_takes_head_roll_out_of_the_crops():
    """Before: one fit per video, so a head rolling +-4 deg in the prediction of a still GT gave
    F-LMD 1.8 px in the 128 crop (0.5 with a fit per frame, as EAT crops)."""
    from eval.protocols import get_protocol

    img = skimage.data.astronaut()
    gt = np.stack([img] * 6)
    pred = np.stack([_rotated(img, a) for a in (-4, 4, -4, 4, -4, 4)])
    ctx = ClipContext.from_arrays(gt, pred)
    f_lmd = get_protocol("eat").build(["f_lmd"])["f_lmd"]
    assert f_lmd.compute(f_lmd.clip_state(ctx))["value"] < 0.8
    crops = ctx.feature("crop", "pred", kind="eat_frame_align", size=128)
    still = ctx.feature("crop", "gt", kind="eat_frame_align", size=128)[0]
    assert crops.shape == (6, 128, 128, 3)
    assert np.abs(crops[:, 20:100, 20:100].astype(int) - still[20:100, 20:100].astype(int)).mean() < 12


def test_a_frame_without_a_face_takes_its_neighbours_fit_and_none_at_all_fails():
    img = skimage.data.astronaut()
    frames = np.stack([img, np.zeros_like(img), _rotated(img, 3)])
    lmk = np.stack([align.EAT_TEMPLATE * 2.5 + 60, np.full((18, 2), np.nan), align.EAT_TEMPLATE * 2.4 + 70])
    full = np.full((3, 68, 2), np.nan)
    full[:, align.EAT_POINTS] = lmk
    fits = align.eat_frame_fits(full)
    np.testing.assert_array_equal(fits[1], fits[0])  # nearest detected frame (ties: the earlier one)
    assert not np.allclose(fits[2], fits[0])
    assert align.eat_frame_align(frames, full).shape == (3, 128, 128, 3)
    nothing = r"no face found in any frame of the generated video \(512x512 px\)$"
    with pytest.raises(ClipFailure, match=nothing):
        align.eat_frame_align(frames, np.full((3, 68, 2), np.nan), "pred")


def _pcavs_landmarks(t: int) -> np.ndarray:
    """68 points with eyes and inner mouth where the test wants them (the rest unused)."""
    rng = np.random.default_rng(1)
    lmk = np.zeros((t, 68, 2))
    for i in range(t):
        left, right = np.array([200.0, 180.0]) + rng.normal(0, 2, 2), np.array([280.0, 185.0])
        mouth = np.array([245.0, 290.0 + 6 * np.sin(i)])
        lmk[i, 36:42], lmk[i, 42:48], lmk[i, 60:68] = left, right, mouth
    return lmk


def test_pcavs_fit_follows_align_68():
    """One skimage similarity of the clip's mean eyes and inner mouth onto (87, 59), (137, 59),
    (112, 120); then each frame's mouth shift, 0.2 previous + 0.8 current, added to it."""
    lmk = _pcavs_landmarks(5)
    points = align.eyes_and_mouth(lmk)
    target = np.array([[87, 59], [137, 59], [112, 120]], float)
    tform = tf.SimilarityTransform.from_estimate(points.mean(0), target)
    base = tform.params[:2]
    fits = align.pcavs_fits(lmk)
    bias = None
    for i in range(5):
        mouth = base[:, :2] @ points[i, 2] + base[:, 2]
        raw = np.array([112.0, 120.0]) - mouth
        bias = raw if bias is None else 0.2 * bias + 0.8 * raw
        np.testing.assert_allclose(fits[i][:, :2], base[:, :2], atol=1e-9)
        np.testing.assert_allclose(fits[i][:, 2], base[:, 2] + bias, atol=1e-9)
    # with a still mouth every frame's inner-mouth centre lands on (112, 120)
    lmk[:, 60:68] = lmk[0, 60:68]
    for fit, p in zip(align.pcavs_fits(lmk), align.eyes_and_mouth(lmk), strict=True):
        np.testing.assert_allclose(fit[:, :2] @ p[2] + fit[:, 2], [112, 120], atol=1e-9)


def test_pcavs_crop_is_black_outside_and_fails_on_a_frame_without_a_face():
    frames = np.full((3, 400, 400, 3), 200, np.uint8)
    lmk = _pcavs_landmarks(3) * 0.25 - 40  # a small face at the corner: the crop reaches past the frame
    crops = align.pcavs_align(frames, lmk)
    assert crops.shape == (3, 224, 224, 3)
    assert (crops[:, 0, 0] == 0).all() and (crops[:, 112, 112] == 200).all()
    lmk[1] = np.nan
    with pytest.raises(ClipFailure, match=r"no face found in frame 1 of the ground-truth video"):
        align.pcavs_align(frames, lmk, "gt")


def test_crop_kinds_have_their_sizes():
    img = skimage.data.astronaut()
    ctx = ClipContext.from_arrays(img[None], img[None].copy())
    with pytest.raises(ValueError, match="eat_frame_align crops are 128 x 128 px, not 256"):
        ctx.feature("crop", "gt", kind="eat_frame_align", size=256)
    known = "unknown crop kind 'eat_align'; known: none, eat_frame_align, pcavs_align"
    with pytest.raises(ValueError, match=known):
        ctx.feature("crop", "gt", kind="eat_align", size=128)


def test_a_bad_crop_in_a_metric_setting_is_refused_when_the_metric_is_built():
    """Before: a protocol naming an unknown crop ran every clip, each failing with the same
    ValueError, and published a results file of n/a."""
    from eval.metrics import get_metric

    for metric_id in ("psnr", "m_lmd", "fid"):
        with pytest.raises(ValueError, match="unknown crop kind 'eat_align'"):
            get_metric(metric_id)(crop="eat_align", size=128)
    with pytest.raises(ValueError, match="pcavs_align crops are 224 x 224 px, not 128"):
        get_metric("ssim")(crop="pcavs_align", size=128)
