"""Conventions of the metric code that a mutation review could change without any default test failing:
EAT's frame pairing when the prediction is the longer side and FID's five frames per video on it,
PSNR's integer path over the full uint8 range, SyncNet's offset sign, Acc_emo's spread and the
cosine axis of L_fea / L_m-c. Each test fails on the mutated code it names."""

import math

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio

from eval.context import ClipContext
from eval.metrics import get_metric
from eval.metrics.functional.acc_emo import accuracy_percent
from eval.metrics.functional.lse import lse
from eval.metrics.functional.psnr import frame_psnr


def _context(t_gt: int, t_pred: int) -> ClipContext:
    return ClipContext.from_arrays(
        np.zeros((t_gt, 8, 8, 3), np.uint8), np.zeros((t_pred, 8, 8, 3), np.uint8), clip_id="c"
    )


def test_linspace_pairing_spreads_the_longer_side_whichever_it_is():
    """EAT's pairing: n = min(T_gt, T_pred) frames, each side np.linspace(0, T, n, endpoint=False); the
    GT-longer case was pinned, the prediction-longer one only counted (an endpoint on that side passed)."""
    gt, pred = _context(7, 9).pair_indices("linspace")
    assert gt.tolist() == [0, 1, 2, 3, 4, 5, 6] and pred.tolist() == [0, 1, 2, 3, 5, 6, 7]
    gt, pred = _context(9, 7).pair_indices("linspace")
    assert gt.tolist() == [0, 1, 2, 3, 5, 6, 7] and pred.tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_eat_fid_takes_its_five_frames_of_each_side_from_that_sides_pairing():
    """The prediction's five frames are picked from its own paired indices (taking the GT's indices on
    both sides scored other prediction frames; only a slow test held unequal lengths)."""
    fid = get_metric("fid")(
        backbone="torchvision_eat", frames_per_video=5, pairing="linspace", max_length_diff=None, crop="none"
    )
    assert fid._indices(_context(7, 9)) == ((0, 1, 2, 4, 5), (0, 1, 2, 5, 6))
    assert fid._indices(_context(9, 7)) == ((0, 1, 2, 5, 6), (0, 1, 2, 4, 5))


def test_psnr_over_the_full_uint8_range_matches_skimage():
    """Squared differences up to 255^2 need more than int16 (the tests' +-20 noise never left it)."""
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    pred = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    black, white = np.zeros((1, 8, 8, 3), np.uint8), np.full((1, 8, 8, 3), 255, np.uint8)
    ours = np.concatenate([frame_psnr(gt, pred), frame_psnr(black, white)])
    reference = [peak_signal_noise_ratio(g, p) for g, p in zip(gt, pred, strict=True)] + [0.0]
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


def test_audio_that_lags_the_video_by_s_windows_gives_offset_minus_s():
    """syncnet_python's AV offset is vshift - argmin_k D(k): audio features equal to the video's delayed
    by 3 windows give -3 (only a slow test with a trained judge pinned the sign)."""
    rng = np.random.default_rng(1)
    video = rng.normal(size=(30, 8)).astype(np.float32)
    audio = rng.normal(size=(30, 8)).astype(np.float32)
    audio[3:] = video[:-3]  # audio window j shows video window j - 3
    out = lse(video, audio, vshift=5)
    assert out["offset"] == -3 and out["lse_c"] > 1  # the best offset far below the median one


def test_acc_emo_spread_is_the_sample_standard_deviation_of_per_video_hits():
    assert accuracy_percent(1, 4) == (25.0, 50.0)  # 0/100 per video: [100, 0, 0, 0], ddof 1
    assert accuracy_percent(3, 3) == (100.0, 0.0) and accuracy_percent(1, 1) == (100.0, None)


def test_feature_consistency_takes_the_cosine_of_each_row_not_across_the_batch():
    from edtalk.losses import feature_consistency

    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(feature_consistency(a, b), torch.tensor((math.exp(-1) + 1.0) / 2))


def test_a_clearly_negative_fid_is_shown_not_hidden_as_zero():
    """Only sqrtm round-off (within a tolerance of the traces) is clamped to 0; a clearly negative value,
    which only broken moments can give, passes through so that the fault shows."""
    from eval.metrics.functional.fid import frechet_distance

    mu, bad = np.zeros(3), -np.eye(3)  # a negative "covariance"
    assert frechet_distance(mu, bad, mu, bad) == -12.0
    assert frechet_distance(mu, np.eye(3), mu, np.eye(3)) == 0.0
