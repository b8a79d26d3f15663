"""``python -m eval.proof``: does a trained EDTalk disentangle? Evidence on synthtalk's test identities.

    python -m eval.proof --ckpt runs/audio_expression/final.pt --data data/synthtalk
                         [--n-clips 12] [--n-videos 12] [--device auto] [--out proof.json]

Every number is measured with the synthtalk judges (trained on the judge identities by
``python -m eval.zoo train``) against synthtalk's ground truth, on TEST identities only:

1. Self-reconstruction (EDTalk-V, the clip drives mouth, pose and expression of its own first
   frame) vs the static-source-frame baseline (the first frame repeated): PSNR, SSIM (at the
   model's resolution, GT area-resized) and landmark error (judge landmarks vs true landmarks, px
   at the native resolution). The judge's own landmark error on GT frames is the floor.
2. Cross-driving: identity A (first frame of one of A's neutral clips, the source the expression
   stage is trained with, as in the paper's portraits), mouth from B, pose from C, expression from
   D (four different test identities; D's emotion differs from A's, B's and C's). Mouth error
   (the judged opening, ``JUDGE_MOUTH_FACTORS``)
   toward B vs toward A's clip and the other drivers; pose error toward C vs toward A / others;
   share of videos judged as D's emotion vs A's; identity cosine to A vs to B/C/D.
   Diagnostic beside it (no claim): X's neutral frame driven by X's own emotional clip, so a
   failure of 2.'s emotion can be told apart from a network that carries no emotion at all; and
   its control, the same clip driving its own first frame (G keeps an emotion instead of drawing
   one), so a judge misreading blurred or distorted faces is told apart from a G that cannot draw
   a new emotion.
   Figures beside it (no claim): synthtalk draws the ideal cross-driven video itself
   (``eval.cross_target``: A's face with B's mouth, C's pose, D's emotion); the generated video's
   PSNR to it vs A's static frame's, and the judge's emotion reading of it (the ceiling); the
   judge's probability of D's emotion vs the same video with A's own clip as the expression driver
   (how far D's code moves the reading, verdict or not); the error of the judge's 14 expression
   action amounts (brows, lids, cheeks, lip corners...) toward D's true amounts vs A's and B's/C's,
   the factors behind the emotion read finer than one label; and, per claim, the number of videos
   in which it holds (the verdicts compare means over a handful of videos).
3. Audio-driven mouth (EDTalk-A, identity's own pose and expression): LSE-C of the generated video
   against its true driving audio vs against another clip's (shuffled) audio, and the share of
   clips whose offset search lands on 0; the GT video's LSE-C for reference.
4. Pose sampling (EDTalk-A, pose from the flow): judge pose tracks for seeds 0 and 1 must differ;
   beside it (no claim) the judged pose's mean change from frame to frame in the samples and in the
   GT clips, since samples as jerky as noise differ too.

The mouth is also read by a second, independent judge, dlib's 68-point predictor
(``dlib_mouth_opening``: photographs-trained regression trees that share nothing with the
synthtalk judges or the loss experts, so a generator trained through those cannot fool it the same
way): in 1. its correlation with the GT track and the drawn amplitude as a share of GT's; in 2.
the mouth-track gap toward B vs A and C/D (and, as a figure without a claim, the track's
correlation with B's and with A's, which a mouth drawn too small still shows); in 3. the
correlation of the audio-driven mouth with its own clip's GT track vs another clip's.
In 2. each candidate's reference track is dlib's reading of that candidate's mouth drawn on A's
face (with C's pose and D's emotion), not of the candidate's own video: dlib measures lip
distances in pixels, which depend on whose lips they are, so even a perfect cross-driven video
sits away from B's own track and near A's (the rows ``*_own_face`` keep that comparison). Measured
with the ideal renders standing in for a model's videos (6 demo quadruples): own faces B 0.100 vs
A 0.107 (nearly blind); on A's face B 0.000 vs A 0.061.

The table is printed and the figures written to ``--out`` (JSON, atomic).
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

from edtalk.atomic import write_json
from edtalk.cli import (
    add_recompute_option,
    out_file_problem,
    positive_int,
    report_error,
    run_inputs,
    saved_result,
)

# Module globals on purpose: ``run_proof`` and ``main`` look these up here, so a test that patches
# ``eval.proof.format_table`` (or ``run_proof``, ``proof_inputs``) changes what ``main`` calls.
from eval.proof.judges import Judges
from eval.proof.measures import (
    audio_sync,
    cross_driving,
    emotion_within_identity,
    pose_seeds,
    self_reconstruction,
)
from eval.proof.selection import pick_emotion_pairs, pick_quadruples, spread_selection
from eval.proof.verdicts import CLAIM_STAGES, format_table, verdicts


def run_proof(
    ckpt: Path,
    data: Path,
    n_clips: int,
    batch_size: int = 16,
    progress: bool = True,
    device: str = "cpu",
    n_videos: int = 12,
) -> dict:
    """The proof's figures for checkpoint ``ckpt`` on the synthtalk test identities under ``data``."""
    from edtalk.data.readers import read_clips
    from edtalk.driving import load_generator, model_device
    from edtalk.driving import untrained as why_untrained
    from edtalk.experts.data import decode_clips
    from eval.cross_target import render_cross

    t0 = time.time()
    model, cfg = load_generator(ckpt, device)
    # claims taught by a stage this checkpoint skipped are n/a (their heads are still at init)
    meta = model.checkpoint_meta
    untrained = {
        stage: reason
        for stage in dict.fromkeys(CLAIM_STAGES.values())
        if (reason := why_untrained(meta, stage))
    }
    # it draws every measure and marks those claims n/a itself: the library's stage check
    # (edtalk.driving.check_trained) would refuse the whole run instead
    model.checkpoint_meta = {k: v for k, v in meta.items() if k != "stages_done"}
    judges = Judges(str(model_device(model)))
    listed = read_clips("synthtalk", data, split="test")
    chosen = spread_selection(listed, n_clips)
    transcripts = {clip.id: clip.transcript for clip in chosen}
    clips = decode_clips(chosen, progress=progress, desc="decode test")
    # cross-driving quadruples and within-identity emotion pairs are picked from the whole test
    # listing, then decoded
    decoded = {clip.id: clip for clip in clips}

    def decode_groups(groups: list[tuple], desc: str) -> list[tuple]:
        """The groups' clips decoded (those already decoded are reused)."""
        missing = {x.id: x for g in groups for x in g if x.id not in decoded}
        extra = [missing[k] for k in sorted(missing)]
        decoded.update({clip.id: clip for clip in decode_clips(extra, progress=progress, desc=desc)})
        return [tuple(decoded[x.id] for x in g) for g in groups]

    quads = decode_groups(pick_quadruples(listed, max(1, n_videos)), "decode drivers")
    emotion_pairs = decode_groups(pick_emotion_pairs(listed, max(1, n_clips)), "decode emotion drivers")
    result = {
        "checkpoint": str(ckpt),
        "data": str(data),
        "image_size": cfg.image_size,
        "reconstruction": self_reconstruction(model, judges, clips, cfg.image_size, batch_size),
        "cross_driving": cross_driving(
            model, judges, quads, cfg.image_size, batch_size, partial(render_cross, data)
        )
        if quads
        else {"n_videos": 0},
        "emotion_within_identity": emotion_within_identity(model, judges, emotion_pairs, batch_size),
        "audio_sync": {"skipped": untrained["audio_lip"]}
        if "audio_lip" in untrained
        else audio_sync(model, judges, clips, cfg.image_size, batch_size, transcripts),
        "pose_seeds": {"skipped": untrained["audio_pose"]}
        if "audio_pose" in untrained
        else pose_seeds(model, judges, clips[: max(1, min(3, len(clips)))], batch_size),
        "untrained": untrained,
    }
    result["claims"] = verdicts(result)
    result["seconds"] = time.time() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.proof``: run the proof (or reuse a saved one), print it, write ``--out``."""
    from edtalk.cli import add_device_option

    parser = argparse.ArgumentParser(prog="python -m eval.proof", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ckpt", required=True, type=Path, help="EDTalk checkpoint (e.g. runs/audio_expression/final.pt)"
    )
    parser.add_argument("--data", required=True, type=Path, help="synthtalk root (test identities are used)")
    parser.add_argument(
        "--n-clips",
        type=positive_int,
        default=12,
        help="test clips for self-reconstruction, audio sync and the within-identity pairs (12)",
    )
    parser.add_argument(
        "--n-videos",
        type=positive_int,
        default=12,
        help="cross-driving videos (A, B, C, D quadruples; 12: with 6 one or two videos could carry a mean)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=16, help="frames per forward pass of the model (16)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default <ckpt dir>/proof.json)")
    add_device_option(parser, "the model and the judges")
    add_recompute_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.model import CheckpointError

    out = args.out or args.ckpt.parent / "proof.json"
    if problem := out_file_problem(out):  # a read-only checkpoint folder: before the work, not after
        return report_error(f"{problem}; give --out FILE" if args.out is None else problem)
    try:
        inputs = proof_inputs(args)
        if not args.recompute and (saved := saved_result(out, inputs)) is not None:
            print(format_table(saved))
            print(
                f"[proof] up to date: {out} (same checkpoint, judges, data, settings and commit; "
                "--recompute to rerun)"
            )
            return 0
        result = run_proof(
            args.ckpt,
            args.data,
            args.n_clips,
            args.batch_size,
            not args.no_progress,
            args.device,
            args.n_videos,
        )
    except (DataError, CheckpointError, ConfigError, FileNotFoundError) as err:
        # a missing checkpoint, dataset or judge, a device this machine lacks: one line, no traceback
        return report_error(err)
    result["inputs"] = inputs
    print(format_table(result))
    write_json(out, json.loads(json.dumps(result, default=float)), indent=1, sort_keys=True)
    print(f"[proof] {out}")
    return 0


def proof_inputs(args: argparse.Namespace) -> dict:
    """What the proof's figures depend on (``edtalk.cli.run_inputs``): the checkpoint, both judges,
    the dataset's card (its generator settings), the clip counts and the device."""
    from edtalk.experts.store import JUDGE_NAMES, resolve_judge

    if not args.ckpt.is_file():  # named before a missing judge: what a user mistypes first
        raise FileNotFoundError(f"{args.ckpt}: checkpoint not found")
    judges = {f"judge {k}": resolve_judge(name, args.data) for k, name in sorted(JUDGE_NAMES.items())}
    return run_inputs(
        args.ckpt,
        args.data,
        judges,
        n_clips=args.n_clips,
        n_videos=args.n_videos,
        batch_size=args.batch_size,
        device=args.device,
    )
