"""The proof's claims: each measured figure turned into a yes / NO / n/a, and the printed table."""

from __future__ import annotations

from eval.proof.judges import JUDGE_MOUTH_FACTORS, MOUTH_FACTOR_NAMES


def _less_than_or_none(a, b) -> bool | None:
    """``a < b``; None when either figure is missing (not measured)."""
    return None if a is None or b is None else bool(a < b)


# the training stage that teaches what each claim tests (a checkpoint that skipped it gets n/a)
CLAIM_STAGES = {
    "self_recon_psnr_beats_static": "mouth_pose",
    "self_recon_ssim_beats_static": "mouth_pose",
    "self_recon_landmarks_beat_static": "mouth_pose",
    "cross_mouth_follows_B": "mouth_pose",
    "cross_mouth_follows_B_dlib": "mouth_pose",
    "cross_pose_follows_C": "mouth_pose",
    "cross_emotion_follows_D": "expression",
    "audio_sync_beats_shuffled": "audio_lip",
    "audio_mouth_follows_own_clip_dlib": "audio_lip",
    "sampled_poses_differ": "audio_pose",
}


# what each claim says, for a reader of the report (the issue's item 6, claim by claim)
CLAIM_TEXT = {
    "self_recon_psnr_beats_static": "Self-reconstruction: a higher PSNR than the static source frame",
    "self_recon_ssim_beats_static": "... and a higher SSIM",
    "self_recon_landmarks_beat_static": "... and a lower landmark error",
    "cross_mouth_follows_B": "Cross-driving: the mouth follows B's (the face judge's mouth factors)",
    "cross_mouth_follows_B_dlib": "... and by dlib's landmarks",
    "cross_pose_follows_C": "Cross-driving: the pose follows C's",
    "cross_emotion_follows_D": "Cross-driving: the emotion follows D's",
    "audio_sync_beats_shuffled": "Audio-driven: better lip sync (LSE-C) with its audio than another clip's",
    "audio_mouth_follows_own_clip_dlib": "Audio-driven: the mouth follows its own clip's more than another's",
    "sampled_poses_differ": "Poses sampled with different seeds differ",
}


def verdicts(proof: dict) -> dict[str, bool | None]:
    """The claims of the proof, each True/False (None: not measured, or the checkpoint has not been
    through the stage that teaches it: ``proof["untrained"]``)."""
    claims = _measured_verdicts(proof)
    untrained = proof.get("untrained", {})
    return {k: None if CLAIM_STAGES[k] in untrained else v for k, v in claims.items()}


def _measured_verdicts(proof: dict) -> dict[str, bool | None]:
    """Every claim judged on its figures alone (``verdicts`` then marks untrained stages n/a)."""
    rec, cross, audio = proof["reconstruction"], proof["cross_driving"], proof["audio_sync"]
    generated, static = rec["edtalk_v"], rec["static_source"]

    def below_all(key: str, *alternatives: str) -> bool | None:
        """The cross-driving error ``key`` is below every one of ``alternatives``: NO as soon as one
        measured alternative is not beaten, n/a (None) when ``key`` or an alternative is missing."""
        beats = [_less_than_or_none(cross.get(key), cross.get(a)) for a in alternatives]
        return False if False in beats else None if None in beats else True

    return {
        "self_recon_psnr_beats_static": _less_than_or_none(static["psnr"], generated["psnr"]),
        "self_recon_ssim_beats_static": _less_than_or_none(static["ssim"], generated["ssim"]),
        "self_recon_landmarks_beat_static": _less_than_or_none(generated["lmk"], static["lmk"]),
        "cross_mouth_follows_B": below_all("mouth_to_B", "mouth_to_A", "mouth_to_others"),
        "cross_mouth_follows_B_dlib": below_all("mouth_dlib_to_B", "mouth_dlib_to_A", "mouth_dlib_to_others"),
        "cross_pose_follows_C": below_all("pose_to_C", "pose_to_A", "pose_to_others"),
        "cross_emotion_follows_D": emotion_follows_d(cross),
        "audio_sync_beats_shuffled": _less_than_or_none(
            audio.get("lse_c_shuffled_audio"), audio.get("lse_c_true_audio")
        ),
        "audio_mouth_follows_own_clip_dlib": _less_than_or_none(
            audio.get("mouth_dlib_corr_other_clip"), audio.get("mouth_dlib_corr_own_clip")
        ),
        "sampled_poses_differ": proof["pose_seeds"].get("differ"),
    }


CHANCE_EMOTION = 1 / 8  # the judge's eight emotion classes


def emotion_follows_d(cross: dict) -> bool | None:
    """Cross-driven emotion follows D: judged as D's emotion more often than as A's and than chance,
    and D's expression code raises the judge's P(D's emotion) over the same video drawn with A's own
    code (so a share that is the judge's base rate for D's emotion, or blur read as it, is no
    transfer)."""
    is_d, is_a = cross.get("emotion_is_D"), cross.get("emotion_is_A")
    if is_d is None or is_a is None:
        return None
    moved = _less_than_or_none(cross.get("emotion_p_D_expression_from_A"), cross.get("emotion_p_D"))
    return bool(is_a < is_d and is_d > CHANCE_EMOTION and moved is not False)


def yes_no(ok: bool | None) -> str:
    """A verdict as printed: yes, NO, or n/a when it was not measured."""
    return "n/a" if ok is None else ("yes" if ok else "NO")


def _fmt(value, digits=2) -> str:
    """A figure as printed: ``digits`` decimals, or n/a when it is missing."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def pose_section(pose: dict) -> list[str]:
    """Section 4's lines: do sampled poses differ across seeds, and (no claim) how jerky they are."""
    if "skipped" in pose:
        return [f"4. pose samples across seeds skipped: {pose['skipped']}"]
    lines = [
        f"4. pose samples across seeds {pose['seeds']}: judge pose diff {_fmt(pose['judge_pose_diff_deg'])} "
        f"deg, pixel diff {_fmt(pose['pixel_diff'])}, differ = {pose['differ']}"
    ]
    if "pose_step_deg" in pose:  # absent in results written before it was measured
        step = pose["pose_step_deg"]
        lines.append(
            f"   (no claim: judged pose change from frame to frame {_fmt(step['sampled'])} deg in the "
            f"samples vs {_fmt(step['gt'])} deg in the GT clips)"
        )
    return lines


def format_table(proof: dict) -> str:
    """The proof as printed: one section per measurement, then the claims."""
    rec, cross = proof["reconstruction"], proof["cross_driving"]
    audio, pose = proof["audio_sync"], proof["pose_seeds"]
    lines = [
        f"EDTalk proof on synthtalk TEST identities ({proof['checkpoint']})",
        "",
        "1. self-reconstruction (video-driven)     PSNR      SSIM    landmark err (px)",
    ]
    for name in ("edtalk_v", "static_source"):
        row = rec[name]
        lines.append(
            f"   {name:<36}  {_fmt(row['psnr']):>6}   {_fmt(row['ssim'], 3):>6}    {_fmt(row['lmk'])}"
        )
    lines.append(
        f"   (judge on GT frames: landmark err {_fmt(rec['judge_landmark_error_on_gt_px'])} px;"
        f" {rec['n_clips']} clips)"
    )
    dlib = rec.get("mouth_dlib", {})
    lines.append(
        f"   mouth read by dlib: correlation with GT track {_fmt(dlib.get('corr_with_gt'))},"
        f" amplitude {_fmt(dlib.get('amplitude_vs_gt'))} of GT's"
    )
    reads = rec.get("judge_mouth_corr_on_gt", {})
    lines.append(
        "   face judge on GT, correlation with the true mouth "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in reads.items())
        + f" (compared in 2.: {', '.join(MOUTH_FACTOR_NAMES[k] for k in JUDGE_MOUTH_FACTORS)})"
    )
    lines += [
        "",
        f"2. cross-driving (A id, B mouth, C pose, D expression; {cross.get('n_videos', 0)} videos)",
        f"   mouth open toward B {_fmt(cross.get('mouth_to_B'), 3)}"
        f"   toward A {_fmt(cross.get('mouth_to_A'), 3)}"
        f"   toward C/D {_fmt(cross.get('mouth_to_others'), 3)}",
        f"   mouth dlib toward B {_fmt(cross.get('mouth_dlib_to_B'), 3)}"
        f"   toward A {_fmt(cross.get('mouth_dlib_to_A'), 3)}"
        f"   toward C/D {_fmt(cross.get('mouth_dlib_to_others'), 3)}   (each mouth drawn on A's face)",
        f"   mouth dlib correlation with B's track {_fmt(cross.get('mouth_dlib_corr_B'))}"
        f"   with A's {_fmt(cross.get('mouth_dlib_corr_A'))}",
        f"   (drivers' own faces, no claim: toward B {_fmt(cross.get('mouth_dlib_own_face_to_B'), 3)}"
        f"   toward A {_fmt(cross.get('mouth_dlib_own_face_to_A'), 3)}"
        f"   toward C/D {_fmt(cross.get('mouth_dlib_own_face_to_others'), 3)})",
        f"   pose err   toward C {_fmt(cross.get('pose_to_C'))} deg   toward A {_fmt(cross.get('pose_to_A'))}"
        f"   toward B/D {_fmt(cross.get('pose_to_others'))}",
        f"   emotion    judged as D {_fmt(cross.get('emotion_is_D'))}"
        f"   as A {_fmt(cross.get('emotion_is_A'))}"
        f"   as B/C {_fmt(cross.get('emotion_is_B_or_C'))}",
        f"   (no claim: the judge's P(D's emotion) {_fmt(cross.get('emotion_p_D'), 3)}; with A's own clip"
        f" as the expression driver {_fmt(cross.get('emotion_p_D_expression_from_A'), 3)})",
        f"   (no claim: expression amounts toward D {_fmt(cross.get('expression_to_D'), 3)}"
        f"   toward A {_fmt(cross.get('expression_to_A'), 3)}"
        f"   toward B/C {_fmt(cross.get('expression_to_others'), 3)};"
        f" the ideal video toward D {_fmt(cross.get('ideal_expression_to_D'), 3)})",
        f"   identity   cos to A {_fmt(cross.get('id_cos_A'), 3)}"
        f"   to B/C/D {_fmt(cross.get('id_cos_BCD'), 3)}",
        f"   ideal video (synthtalk draws A with B's mouth, C's pose, D's emotion): PSNR to it"
        f" {_fmt(cross.get('psnr_to_ideal'))} vs A's static frame {_fmt(cross.get('psnr_static_to_ideal'))};"
        f" the judge reads it as D's emotion {_fmt(cross.get('ideal_emotion_is_D'))}",
    ]
    support = cross.get("videos_supporting")
    if support:
        lines.append(
            "   videos where the claim holds: "
            + ", ".join(f"{k.removeprefix('cross_')} {won} of {n}" for k, (won, n) in support.items())
        )
    within = proof.get("emotion_within_identity")
    if within and within.get("n_videos"):
        lines += [
            f"   diagnostic: X's neutral frame driven by X's own emotional clip"
            f" ({within['n_videos']} videos)",
            f"   emotion    judged as the driver's {_fmt(within['judged_as_driver'])}"
            f"   as neutral {_fmt(within['judged_as_neutral'])}"
            f"   (judge on those GT clips {_fmt(within['judge_on_gt_drivers'])})",
        ]
        if within.get("judged_as_driver_from_own_frame") is not None:
            lines.append(
                "   control: the driver's own first frame as the source, judged as the driver's"
                f" {_fmt(within['judged_as_driver_from_own_frame'])}"
            )
    lines += (
        ["", f"3. audio-driven mouth sync skipped: {audio['skipped']}"]
        if "skipped" in audio
        else [
            "",
            f"3. audio-driven mouth sync ({audio['n_clips']} clips)",
            f"   LSE-C true audio {_fmt(audio['lse_c_true_audio'], 3)}   shuffled audio "
            f"{_fmt(audio['lse_c_shuffled_audio'], 3)}   offset 0 found {_fmt(audio['offset_zero_share'])}"
            f"   (GT video {_fmt(audio['lse_c_gt_video'], 3)})",
            f"   mouth (dlib) correlation with own clip's track {_fmt(audio.get('mouth_dlib_corr_own_clip'))}"
            f"   with another clip's {_fmt(audio.get('mouth_dlib_corr_other_clip'))}",
        ]
    )
    lines += [
        "",
        *pose_section(pose),
        "",
        "claims: " + ", ".join(f"{k} {yes_no(ok)}" for k, ok in verdicts(proof).items()),
    ]
    lines += [f"n/a for {stage}: {reason}" for stage, reason in proof.get("untrained", {}).items()]
    return "\n".join(lines)
