"""face-alignment FAN + S3FD landmarker vs the face_alignment package's own FaceAlignment, both with
the same seeded weights (no download: the package's loader is pointed at the seeded files)."""

import numpy as np
import pytest
import skimage.data
import torch

from edtalk.weights import MissingWeightsError
from eval.backbones import get_backbone
from eval.context import ClipContext
from eval.metrics import get_metric


@pytest.fixture
def seeded_fan(seeded_weights, tmp_path, monkeypatch):
    """Seeded S3FD + a 1-module FAN installed as ``s3fd`` / ``fan_2dfan4``; returns the
    package's FaceAlignment built on the same files (flip_input=False, as FOMM)."""
    import face_alignment
    import face_alignment.api as fa_api
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    torch.manual_seed(0)
    det_sd = s3fd().state_dict()
    with torch.no_grad():  # bias the face class so that some anchors pass the 0.5 threshold
        for k in [k for k in det_sd if k.endswith("_conf.bias")]:
            det_sd[k][-1] += 0.5
    fan_sd = FAN(1).state_dict()
    for k, v in fan_sd.items():
        if k.endswith("running_var"):
            v.uniform_(0.5, 2.0)
    det_path = seeded_weights("s3fd", det_sd)
    fan_path = seeded_weights("fan_2dfan4", fan_sd)

    def no_download(url, *a, **k):
        assert url == "seeded://2DFAN-1", url
        return str(fan_path)

    monkeypatch.setattr(fa_api, "load_file_from_url", no_download)
    # both paths call the package's numba-jitted heatmap decoding; its pure-Python originals give
    # the same numbers without the ~20 s JIT compile (test speed only)
    import face_alignment.utils as fa_utils

    for name in ("_get_preds_fromhm", "transform_np"):
        monkeypatch.setattr(fa_utils, name, getattr(fa_utils, name).py_func)
    monkeypatch.setitem(fa_api.models_urls, "2DFAN-1", "seeded://2DFAN-1")
    ref = face_alignment.FaceAlignment(
        face_alignment.LandmarksType.TWO_D,
        network_size=1,
        device="cpu",
        flip_input=False,
        face_detector="sfd",
        face_detector_kwargs={"path_to_detector": str(det_path)},
        compile=False,
    )
    return ref


def _frames():
    img = skimage.data.astronaut()[::4, ::4]  # 128 x 128 RGB portrait
    return np.stack([img, np.ascontiguousarray(img[:, ::-1])])


def test_fan_and_akd_match_face_alignment_package(seeded_fan):
    """GT side = the portrait, prediction = its mirror image: our detections and landmarks (through
    ``ctx.feature("landmarks", backend="fan")``) equal the package's, and AKD equals FOMM's
    formula on the package's landmarks."""
    ref = seeded_fan
    frames = _frames()
    ctx = ClipContext.from_arrays(frames[:1], frames[1:])
    ours = get_backbone("fan")
    expect = []
    for t, side in enumerate(("gt", "pred")):
        boxes = ours.detect(frames[t : t + 1])[0]
        ref_boxes = np.asarray(ref.face_detector.detect_from_image(frames[t].copy())).reshape(-1, 5)
        assert len(ref_boxes) == len(boxes) > 0
        assert np.allclose(ref_boxes[0], boxes[0], atol=1e-3)  # the face FOMM uses (kp[0])
        # the same set (near-equal random scores may swap places after the first)
        assert np.abs(ref_boxes[:, None, :] - boxes[None, :, :]).max(-1).min(1).max() <= 1e-3
        # get_landmarks(frame)[0] is the first box's landmarks (faces are independent), so the
        # package is given its own first detection through ``detected_faces=``
        expect.append(ref.get_landmarks(frames[t].copy(), detected_faces=[ref_boxes[0]])[0])
        lmk = ctx.feature("landmarks", side, backend="fan", crop="none", size=None)
        err = np.abs(lmk[0] - expect[-1]).max()
        print(f"{side}: {len(ref_boxes)} boxes, max |ours - face_alignment| = {err:.2e} px")
        assert lmk.shape == (1, 68, 2) and err <= 1e-3
    akd = get_metric("akd")(size=None)
    out = akd.compute(akd.clip_state(ctx))
    assert out["n"] == 1 and out["value"] == pytest.approx(np.mean(np.abs(expect[0] - expect[1])), rel=1e-6)
    assert np.isnan(ours.landmarks_for_boxes(frames[:1], [None])).all()


def test_missing_fan_weights_name_file_url_and_target(tmp_path, monkeypatch):
    import eval.backbones as backbones

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "empty"))
    backbones.clear_cache()
    with pytest.raises(MissingWeightsError) as err:
        get_backbone("fan")
    msg = str(err.value)
    assert "s3fd-619a316812.pth" in msg or "2DFAN4-11f355bf06.pth.tar" in msg
    assert "adrianbulat.com" in msg and str(tmp_path / "empty") in msg
    backbones.clear_cache()
