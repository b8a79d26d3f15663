"""eval.proof: the cross-driving quadruples and the printed table."""

from types import SimpleNamespace

from eval.proof import format_table, pick_quadruples

EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")


def _listing(n_ids=6):
    """A synthtalk-like sorted test listing: identity-major, 8 emotions x 3 levels each."""
    return [
        SimpleNamespace(id=f"st{i:03d}#{e}#level_{lv}#000", identity=f"st{i:03d}", emotion=e, level=lv)
        for i in range(n_ids)
        for e in EMOTIONS
        for lv in (1, 2, 3)
    ]


def test_quadruples_have_four_identities_and_a_new_strong_emotion_for_d():
    quads = pick_quadruples(_listing(), 6)
    assert len(quads) == 6
    for a, b, c, d in quads:
        assert len({a.identity, b.identity, c.identity, d.identity}) == 4
        assert d.emotion not in {a.emotion, b.emotion, c.emotion}
        assert d.level == 3
    # the emotions to transfer vary across quadruples (a fixed stride would repeat one)
    assert len({q[3].emotion for q in quads}) >= 3


def test_quadruples_need_four_identities():
    assert pick_quadruples(_listing(3), 4) == []


def test_table_prints_every_part():
    rec = {"psnr": 28.0, "ssim": 0.86, "lmk": 3.8}
    result = {
        "checkpoint": "x.pt",
        "reconstruction": {
            "edtalk_v": rec,
            "static_source": {"psnr": 26.2, "ssim": 0.82, "lmk": 4.1},
            "judge_landmark_error_on_gt_px": 2.4,
            "n_clips": 12,
        },
        "cross_driving": {"n_videos": 0},
        "audio_sync": {
            "lse_c_true_audio": 0.1,
            "lse_c_shuffled_audio": 0.05,
            "offset_zero_share": 0.5,
            "lse_c_gt_video": 0.2,
            "n_clips": 12,
        },
        "pose_seeds": {"skipped": "the model has no pose bank / pose flow"},
    }
    table = format_table(result)
    assert "28.00" in table and "26.20" in table and "n/a" in table and "skipped" in table
