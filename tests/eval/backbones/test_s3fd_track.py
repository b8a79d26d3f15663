"""syncnet_python's S3FD track crop (eval/backbones/s3fd_track.py): the crop geometry on fixed
boxes, the single-track rules, and the whole path (seeded S3FD + SyncNet weights) into LSE."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import eval.backbones as backbones
from edtalk import weights
from eval.backbones import s3fd_track as st
from eval.context import ClipContext
from eval.metrics import get_metric
from eval.metrics.base import ClipFailure


def _pattern(t: int = 20, size: int = 256) -> np.ndarray:
    """Frames whose pixels encode their (row, column) so a crop's position is visible."""
    yy, xx = np.mgrid[:size, :size]
    img = np.stack([yy % 251, xx % 251, (yy + xx) % 97], axis=-1).astype(np.uint8)
    return np.repeat(img[None], t, axis=0)


def test_crop_box_matches_reference_formula():
    # box (x0, y0, x1, y1) = (60, 40, 160, 160): s = max(100, 120) / 2 = 60, centre (110, 100)
    s, x, y = st.smooth_boxes(np.tile([60.0, 40.0, 160.0, 160.0], (20, 1)))
    assert np.allclose(s, 60) and np.allclose(x, 110) and np.allclose(y, 100)
    bsi, top, bottom, left, right = st.crop_box(60.0, 110.0, 100.0)
    assert bsi == int(60 * 1.8) == 108
    # padded coords: my = 208, mx = 218 -> rows [208-60, 208+108), cols [218-84, 218+84)
    assert (top, bottom, left, right) == (148, 316, 134, 302)


def test_track_crops_geometry_padding_and_smoothing():
    frames = _pattern()
    boxes = np.tile([60.0, 40.0, 160.0, 160.0], (20, 1))
    boxes[10] = [0.0, 0.0, 30.0, 30.0]  # a one-frame outlier: the kernel-13 median removes it
    crops = st.track_crops(frames, boxes)
    assert crops.shape == (20, 224, 224, 3) and crops.dtype == np.uint8
    # padded [148:316, 134:302] = original rows 40..208, cols 26..194 (inside the frame)
    expected = cv2.resize(frames[0, 40:208, 26:194], (224, 224))
    for i in (0, 10, 19):
        np.testing.assert_array_equal(crops[i], expected)

    # a face at the corner: the crop reaches into the 110-valued padding
    corner = st.track_crops(frames[:13], np.tile([0.0, 0.0, 100.0, 100.0], (13, 1)))
    # s = 50, bsi = 90: rows [0-50, 0+50+90) -> original -?.., cols [50-70, 50+70) = [-20, 120)
    assert (corner[:, :, :28] == 110).all()  # 20 of 140 source columns -> first 32 output columns
    assert not (corner[:, 40:, 40:] == 110).all()


def test_single_track_rules():
    box = np.array([[10.0, 10.0, 150.0, 160.0, 0.99]])
    empty = np.zeros((0, 5))
    dets = [box, empty, empty, box + [10, 0, 10, 0, 0], empty]
    start, boxes = st.single_track(dets)
    assert start == 0 and len(boxes) == 4  # frames 0..3; the trailing empty frame is not in the track
    np.testing.assert_allclose(boxes[1:3, 0], [10 + 10 / 3, 10 + 20 / 3])  # interpolated
    # a gap longer than num_failed_det splits; the longest segment wins
    gap = [box] + [empty] * 30 + [box, box, box]
    start, boxes = st.single_track(gap)
    assert start == 31 and len(boxes) == 3
    with pytest.raises(ClipFailure, match="no face"):
        st.single_track([empty, empty])
    with pytest.raises(ClipFailure, match="100 px"):
        st.single_track([np.array([[0.0, 0.0, 80.0, 90.0, 0.95]])])


@pytest.fixture
def s3fd_and_syncnet(seeded_weights):
    from syncnet_python.detectors.s3fd.nets import S3FDNet
    from syncnet_python.SyncNetModel import S

    torch.manual_seed(0)
    seeded_weights("syncnet_sfd_face", S3FDNet(device="cpu").state_dict())
    seeded_weights("syncnet_v2", S(num_layers_in_fc_layers=1024).state_dict())


def test_s3fd_track_lse_with_seeded_weights(s3fd_and_syncnet, monkeypatch):
    frames = _pattern(t=24)
    # the real S3FD network with seeded weights runs on the frames (conf_th 0.9, scale 0.25)
    dets = st.detect(frames[:2])
    assert all(d.ndim == 2 and d.shape[1] == 5 for d in dets)

    # a synthetic detection from frame 3 on: a track starting at 3, audio cut to match
    detector = backbones.get_backbone("syncnet_s3fd")
    calls = iter(range(len(frames)))

    def fake_detect(image, conf_th, scales):
        assert conf_th == 0.9 and scales == [0.25] and image.shape == frames[0].shape
        return np.zeros((0, 5)) if next(calls) < 3 else np.array([[60.0, 40.0, 160.0, 160.0, 0.99]])

    monkeypatch.setattr(detector, "detect_faces", fake_detect)
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, len(frames) * 640).astype(np.float32)
    ctx = ClipContext.from_arrays(None, frames, audio=audio)
    track = ctx.feature("s3fd_track", "pred")
    assert track["start"] == 3 and track["frames"].shape == (21, 224, 224, 3)
    np.testing.assert_array_equal(track["frames"][0], cv2.resize(frames[0, 40:208, 26:194], (224, 224)))

    from eval.backbones.syncnet import sync_embeddings
    from eval.metrics.functional.lse import lse

    c = get_metric("lse_c")(crop="s3fd_track", size=224)
    v, a = sync_embeddings(track["frames"], audio[3 * 640 :])
    assert c.clip_value(c.clip_state(ctx)) == pytest.approx(lse(v, a, 15)["lse_c"], abs=1e-9)


def test_s3fd_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "none"))
    backbones.clear_cache()
    ctx = ClipContext.from_arrays(None, _pattern(t=6), audio=np.zeros(6 * 640, np.float32))
    with pytest.raises(weights.MissingWeightsError, match="sfd_face"):
        get_metric("lse_c")(crop="s3fd_track").clip_state(ctx)
    backbones.clear_cache()
