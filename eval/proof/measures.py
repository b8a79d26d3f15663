"""The proof's measurements: self-reconstruction, cross-driving, the within-identity emotion
diagnostic, audio sync and pose sampling, each a dict of figures."""

from __future__ import annotations

import numpy as np

from edtalk.data.image import resize_frames
from eval.metrics.functional.disentangle import factor_errors, identity_cosine, track_correlation
from eval.proof.judges import (
    MOUTH_FACTOR_NAMES,
    Judges,
    _amplitude_ratio,
    _judged_mouth,
    _looped,
    _mean,
    _mean_psnr,
    _track_gap,
    landmark_error_px,
)
from eval.proof.selection import other_sentence


def self_reconstruction(model, judges: Judges, clips, size: int, batch_size: int) -> dict:
    """Each clip driving its own first frame (EDTalk-V) against that frame repeated (the static
    baseline): PSNR, SSIM, landmark error, and dlib's and the face judge's mouth readings."""
    from edtalk.driving import drive_video
    from eval.metrics.functional.ssim import frame_ssim

    rows = {
        "edtalk_v": {"psnr": [], "ssim": [], "lmk": []},
        "static_source": {"psnr": [], "ssim": [], "lmk": []},
    }
    judge_on_gt, dlib_corr, dlib_amp, judge_mouth_corr = [], [], [], []
    for clip in clips:
        gt = resize_frames(clip.frames, size)
        on_gt = judges.analyse(gt)  # read once: landmark floor and per-factor mouth reading
        judged = on_gt["mouth"]
        judge_mouth_corr.append(
            [track_correlation(judged[:, k], clip.mouth[: len(judged), k]) for k in range(judged.shape[1])]
        )
        pred = drive_video(
            model, clip.frames[0], clip.frames, clip.frames, clip.frames, batch_size=batch_size
        )
        n = min(len(pred), len(gt))
        mouth_gt, mouth_pred = judges.mouth_dlib_gt(clip, size)[:n], judges.mouth_dlib(pred[:n])
        dlib_corr.append(track_correlation(mouth_pred, mouth_gt))
        dlib_amp.append(_amplitude_ratio(mouth_pred, mouth_gt))
        static = np.repeat(gt[:1], n, axis=0)
        for name, frames in (("edtalk_v", pred[:n]), ("static_source", static)):
            rows[name]["psnr"].append(_mean_psnr(gt[:n], frames))
            rows[name]["ssim"].append(float(frame_ssim(gt[:n], frames).mean()))
            rows[name]["lmk"].append(landmark_error_px(judges, frames, clip.landmarks, clip.size))
        judge_on_gt.append(landmark_error_px(judges, gt, clip.landmarks, clip.size, analysed=on_gt))
    out = {name: {k: _mean(v) for k, v in lists.items()} for name, lists in rows.items()}
    out["judge_landmark_error_on_gt_px"] = _mean(judge_on_gt)
    # dlib's reading of the drawn mouth: correlation with the GT clip's track, and its amplitude
    # (std) as a share of the GT track's (1: the full movement; the static frame has 0)
    out["mouth_dlib"] = {"corr_with_gt": _mean(dlib_corr), "amplitude_vs_gt": _mean(dlib_amp)}
    # how well the face judge reads each mouth factor on GT frames (why JUDGE_MOUTH_FACTORS)
    out["judge_mouth_corr_on_gt"] = {
        name: _mean([row[k] for row in judge_mouth_corr]) for k, name in enumerate(MOUTH_FACTOR_NAMES)
    }
    out["n_clips"] = len(clips)
    return out


def cross_driving(model, judges: Judges, quads, size: int, batch_size: int, render) -> dict:
    """Cross-driving on quadruples (A, B, C, D). dlib's mouth tracks are compared with each
    candidate's mouth drawn on A's face by ``render(identity, mouth, pose, expression, n_frames)``
    (``eval.cross_target.render_cross`` bound to the dataset root); ``*_own_face`` keeps the older
    comparison with the drivers' own videos, whose lips are another person's."""
    from edtalk.driving import driving_weights, loop_to_length
    from edtalk.driving import render as draw  # ``render`` is the cross-target argument

    acc = {
        key: []
        for key in (
            "mouth_to_B",
            "mouth_to_A",
            "mouth_to_others",
            "mouth_dlib_to_B",
            "mouth_dlib_to_A",
            "mouth_dlib_to_others",
            "mouth_dlib_corr_B",
            "mouth_dlib_corr_A",
            "mouth_dlib_own_face_to_B",
            "mouth_dlib_own_face_to_A",
            "mouth_dlib_own_face_to_others",
            "psnr_to_ideal",
            "psnr_static_to_ideal",
            "ideal_emotion_is_D",
            "pose_to_C",
            "pose_to_A",
            "pose_to_others",
            "emotion_is_D",
            "emotion_is_A",
            "emotion_is_B_or_C",
            "emotion_p_D",
            "emotion_p_D_expression_from_A",
            "expression_to_D",
            "expression_to_A",
            "expression_to_others",
            "ideal_expression_to_D",
            "id_cos_A",
            "id_cos_BCD",
        )
    }
    for a, b, c, d in quads:
        weights = driving_weights(model, b.frames, c.frames, d.frames, batch_size)
        pred = draw(model, a.frames[0], weights, batch_size)
        out = judges.analyse(pred)
        judged = _judged_mouth(out["mouth"])
        n = len(pred)
        # every driver's track over all n frames, looped as drive_video loops a short driver
        acc["mouth_to_B"].append(factor_errors(judged, _judged_mouth(b.mouth)).mean())
        acc["mouth_to_A"].append(factor_errors(judged, _judged_mouth(_looped(a.mouth, n))).mean())
        acc["mouth_to_others"].append(
            np.mean([factor_errors(judged, _judged_mouth(_looped(x.mouth, n))).mean() for x in (c, d)])
        )
        mouth = judges.mouth_dlib(pred)
        drivers = dict(zip("ABCD", (a, b, c, d), strict=True))
        # each candidate's mouth on A's face, with C's pose and D's expression; "B" is the ideal video
        on_a = {name: resize_frames(render(a, x, c, d, n), size) for name, x in drivers.items()}
        on_a_tracks = {name: judges.mouth_dlib(v) for name, v in on_a.items()}  # dlib once per video
        gap = {name: _track_gap(mouth, track) for name, track in on_a_tracks.items()}
        # the shape of the track, whatever its amplitude (a mouth drawn too small still moves with B)
        acc["mouth_dlib_corr_B"].append(track_correlation(mouth, on_a_tracks["B"]))
        acc["mouth_dlib_corr_A"].append(track_correlation(mouth, on_a_tracks["A"]))
        acc["mouth_dlib_to_B"].append(gap["B"])
        acc["mouth_dlib_to_A"].append(gap["A"])
        acc["mouth_dlib_to_others"].append(_mean([gap["C"], gap["D"]]))
        own = {
            name: _track_gap(mouth, _looped(judges.mouth_dlib_gt(x, size), n)) for name, x in drivers.items()
        }
        acc["mouth_dlib_own_face_to_B"].append(own["B"])
        acc["mouth_dlib_own_face_to_A"].append(own["A"])
        acc["mouth_dlib_own_face_to_others"].append(_mean([own["C"], own["D"]]))
        acc["psnr_to_ideal"].append(_mean_psnr(on_a["B"], pred))
        acc["psnr_static_to_ideal"].append(
            _mean_psnr(on_a["B"], np.repeat(resize_frames(a.frames[:1], size), n, 0))
        )
        ideal = judges.analyse(on_a["B"])
        acc["ideal_emotion_is_D"].append(float(int(ideal["emotion"].mean(0).argmax()) == d.emotion))
        # the factors behind an emotion: the judge's 14 action amounts against each clip's true ones
        acc["expression_to_D"].append(amount_error(out, d))
        acc["expression_to_A"].append(amount_error(out, a))
        acc["expression_to_others"].append(_mean([amount_error(out, x) for x in (b, c)]))
        acc["ideal_expression_to_D"].append(amount_error(ideal, d))
        pose_c = _looped(c.pose, len(pred))
        acc["pose_to_C"].append(factor_errors(out["pose"], pose_c).mean())
        acc["pose_to_A"].append(factor_errors(out["pose"], _looped(a.pose, n)).mean())
        acc["pose_to_others"].append(
            np.mean([factor_errors(out["pose"], _looped(x.pose, n)).mean() for x in (b, d)])
        )
        judged = int(out["emotion"].mean(0).argmax())
        # how far D's expression code moves the reading at all, whatever the verdict: the judge's
        # P(D's emotion) against the same video with A's own clip as the expression driver (only W^e
        # changes: B's and C's codes are reused, A's clip is encoded once)
        a_looped = loop_to_length(a.frames, n)
        from_a = driving_weights(model, a_looped, expression_frames=a_looped, batch_size=batch_size)
        with_a_expression = dict(weights)
        if "expression" in from_a:  # a model without an expression bank draws the same video twice
            with_a_expression["expression"] = from_a["expression"]
        without_d = draw(model, a.frames[0], with_a_expression, batch_size)
        acc["emotion_p_D"].append(emotion_probability(out["emotion"], d.emotion))
        acc["emotion_p_D_expression_from_A"].append(
            emotion_probability(judges.analyse(without_d)["emotion"], d.emotion)
        )
        acc["emotion_is_D"].append(float(judged == d.emotion))
        acc["emotion_is_A"].append(float(judged == a.emotion))
        acc["emotion_is_B_or_C"].append(float(judged in (b.emotion, c.emotion)))
        acc["id_cos_A"].append(
            identity_cosine(out["identity"], judges.analyse(a.frames[:1])["identity"]).mean()
        )
        acc["id_cos_BCD"].append(
            np.mean(
                [
                    identity_cosine(out["identity"], judges.analyse(x.frames[:1])["identity"]).mean()
                    for x in (b, c, d)
                ]
            )
        )
    result = {k: _mean(v) for k, v in acc.items()}
    result["n_videos"] = len(quads)
    result["videos_supporting"] = videos_supporting(acc)
    return result


def amount_error(judged: dict, clip) -> float | None:
    """Mean absolute error between the judge's per-frame expression action amounts and ``clip``'s
    true ones (synthtalk's 14 ``EXPRESSION_KEYS``, one set per clip); None without either."""
    amounts = judged.get("expression")
    truth = getattr(clip, "expression", None)
    if amounts is None or truth is None:
        return None
    return float(factor_errors(amounts, np.broadcast_to(truth, np.shape(amounts))).mean())


def emotion_probability(logits: np.ndarray, emotion: int) -> float:
    """The judge's softmax probability of ``emotion``, averaged over the frames of a video."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return float((p[:, emotion] / p.sum(axis=1)).mean())


# claim -> (the per-video error that must be smallest, the errors it must beat); "emotion" is judged
# per video (judged as D, not as A), so its row is the share itself
PER_VIDEO_CLAIMS = {
    "cross_mouth_follows_B": ("mouth_to_B", ("mouth_to_A", "mouth_to_others")),
    "cross_mouth_follows_B_dlib": ("mouth_dlib_to_B", ("mouth_dlib_to_A", "mouth_dlib_to_others")),
    "cross_pose_follows_C": ("pose_to_C", ("pose_to_A", "pose_to_others")),
}


def videos_supporting(acc: dict[str, list]) -> dict[str, list[int]]:
    """For each cross-driving claim, [videos where it holds, videos measured]: the verdicts compare
    means over a handful of videos, and this says whether one video carries a mean or most agree.
    A video whose reading is missing (dlib found no face) is not counted either way."""
    out = {}
    for claim, (key, alternatives) in PER_VIDEO_CLAIMS.items():
        rows = [
            (first, *others)
            for first, *others in zip(acc[key], *(acc[a] for a in alternatives), strict=True)
            if first is not None and all(o is not None for o in others)
        ]
        out[claim] = [sum(all(first < o for o in others) for first, *others in rows), len(rows)]
    raised = acc.get("emotion_p_D") or [None] * len(acc["emotion_is_D"])
    without = acc.get("emotion_p_D_expression_from_A") or [None] * len(acc["emotion_is_D"])
    out["cross_emotion_follows_D"] = [
        sum(
            bool(is_d) and (p is None or q is None or p > q)
            for is_d, p, q in zip(acc["emotion_is_D"], raised, without, strict=True)
        ),
        len(acc["emotion_is_D"]),
    ]  # judged as D's emotion, with D's code raising P(D) over A's own code
    return out


def emotion_within_identity(model, judges: Judges, pairs, batch_size: int) -> dict:
    """Diagnostic (no claim): a neutral frame of X driven in mouth, pose AND expression by X's own
    emotional clip. Cross-driving asks more (D is another person); when this share is low too, the
    network cannot carry emotion from a driver at all, whatever the identity."""
    from edtalk.driving import driving_weights, render

    def judged(frames) -> int:
        return int(judges.analyse(frames)["emotion"].mean(0).argmax())

    as_driver, as_neutral, judge_gt, kept = [], [], [], []
    for src, drv in pairs:
        weights = driving_weights(model, drv.frames, drv.frames, drv.frames, batch_size)  # both sources
        from_neutral = judged(render(model, src.frames[0], weights, batch_size))
        as_driver.append(float(from_neutral == drv.emotion))
        as_neutral.append(float(from_neutral == src.emotion))
        judge_gt.append(float(judged(drv.frames) == drv.emotion))
        kept.append(float(judged(render(model, drv.frames[0], weights, batch_size)) == drv.emotion))
    return {
        "judged_as_driver": _mean(as_driver),
        "judged_as_neutral": _mean(as_neutral),
        "judge_on_gt_drivers": _mean(judge_gt),
        # the control: the driver's own (already emotional) first frame as the source, so G has to
        # keep an emotion rather than draw one; the judge reading it tells blur and artefacts apart
        # from a G that cannot draw a new emotion
        "judged_as_driver_from_own_frame": _mean(kept),
        "n_videos": len(pairs),
    }


def audio_sync(
    model, judges: Judges, clips, size: int, batch_size: int, transcripts: dict[str, str | None] | None = None
) -> dict:
    """Audio-driven mouths against the true and another sentence's audio (``transcripts``: clip id
    -> spoken sentence, for choosing the control, ``other_sentence``)."""
    from edtalk.driving import drive_audio

    true_c, shuf_c, zero, gt_c, corr_true, corr_other = [], [], [], [], [], []
    for j, clip in enumerate(clips):
        pred = drive_audio(model, clip.frames[0], clip.wav, batch_size=batch_size)
        other = other_sentence(clips, j, transcripts or {})
        # dlib: does the drawn mouth move with this clip's true mouth (its audio's) or another's?
        mouth = judges.mouth_dlib(pred)
        corr_true.append(track_correlation(mouth, judges.mouth_dlib_gt(clip, size)))
        corr_other.append(track_correlation(mouth, _looped(judges.mouth_dlib_gt(other, size), len(mouth))))
        shuffled = (
            np.resize(other.wav, len(clip.wav))
            if other is not clip
            else np.roll(clip.wav, len(clip.wav) // 2)
        )
        true_sync = judges.lse(pred, clip.wav)
        true_c.append(true_sync["lse_c"])
        zero.append(float(true_sync["offset"] == 0))
        shuf_c.append(judges.lse(pred, shuffled)["lse_c"])
        gt_c.append(judges.lse(clip.frames, clip.wav)["lse_c"])
    return {
        "lse_c_true_audio": _mean(true_c),
        "lse_c_shuffled_audio": _mean(shuf_c),
        "offset_zero_share": _mean(zero),
        "lse_c_gt_video": _mean(gt_c),
        "mouth_dlib_corr_own_clip": _mean(corr_true),
        "mouth_dlib_corr_other_clip": _mean(corr_other),
        "n_clips": len(clips),
    }


def _pose_step(track: np.ndarray) -> float | None:
    """Mean absolute change of a judged pose track (T, 3 angles, deg) from one frame to the next."""
    return float(np.abs(np.diff(track, axis=0)).mean()) if len(track) > 1 else None


def pose_seeds(model, judges: Judges, clips, batch_size: int, seeds=(0, 1)) -> dict:
    """Audio-driven videos with poses sampled from the flow under two ``seeds``: do they differ? And
    (no claim) how much the judged pose moves from frame to frame in them and in the GT clips: head
    motion as jerky as noise also "differs"."""
    from edtalk.driving import drive_audio

    if "pose" not in model.cfg.bank_names or getattr(model, "pose_flow", None) is None:
        return {"skipped": "the model has no pose bank / pose flow"}
    diffs, pix, steps, gt_steps = [], [], [], []
    for clip in clips:
        gt_steps.append(_pose_step(judges.analyse(resize_frames(clip.frames, model.cfg.image_size))["pose"]))
        tracks, frames = [], []
        for seed in seeds:
            pred = drive_audio(
                model, clip.frames[0], clip.wav, sample_pose=True, seed=seed, batch_size=batch_size
            )
            tracks.append(judges.analyse(pred)["pose"])
            frames.append(pred.astype(np.float64))
        n = min(len(t) for t in tracks)
        diffs.append(float(np.abs(tracks[0][:n] - tracks[1][:n]).mean()))
        pix.append(float(np.abs(frames[0][:n] - frames[1][:n]).mean()))
        steps += [_pose_step(t) for t in tracks]
    return {
        "seeds": list(seeds),
        "judge_pose_diff_deg": _mean(diffs),
        "pixel_diff": _mean(pix),
        "pose_step_deg": {"sampled": _mean(steps), "gt": _mean(gt_steps)},
        "differ": bool(_mean(diffs) is not None and _mean(diffs) > 0.5),
        "n_clips": len(clips),
    }
