"""EDTalk inference: ``python -m edtalk.infer {video,audio,interpolate,edit-base}``.

- ``video``: EDTalk-V. Identity image + mouth / pose / expression driving videos (Fig. 2a).
- ``audio``: EDTalk-A. Identity image + speech: W^m from E_a + MLP^m_A (Gaussian-smoothed), W^p from a
  pose video, sampled from the flow phi_p (``--sample-pose --seed N``) or the identity's own pose,
  W^e from an expression video, a named emotion (per-emotion mean W^e stored in the checkpoint's
  meta["emotion_weights"]), the expression predictor (``--text`` and/or ``--expression-from-audio``),
  or the identity's own expression.
- ``interpolate``: W^e = a W^e_1 + (1 - a) W^e_2 from two expression videos.
- ``edit-base``: sweep one base weight w^*_k over a range (the rest from the identity image); its video
  has no audio track.

Every subcommand streams: driving videos are decoded a batch at a time into their codes W^* (only
the [T, K] codes are held), and frames are rendered and written a batch at a time
(``driving.iter_render`` into ``data.video.VideoWriter``), so memory follows ``--batch-size``, not
the length of the videos.

The output length is the mouth video's (``video``, ``interpolate``) or the audio's (``audio``); a pose or
expression video of another length is ping-pong looped (forward, backward, ...) or cut to it, with a
note on stderr.

The command line only: the model code it runs is ``edtalk.driving`` (the Python API), imported once
the arguments are parsed, so ``--help`` and usage errors come without loading torch. Inputs must be
square face crops: a square of another side is resized to the model's ``image_size`` (noted on
stderr), a non-square one is refused unless ``--crop`` cuts it to its face's square. An identity
image or a driving video under 64 px a side is refused (``driving_inputs.MIN_IMAGE_SIDE``), and so is
an identity image over Pillow's decompression-bomb limit; transparent pixels (of an image, or of a
video with an alpha channel) are composited over white, with a note. A driving video holding fewer
frames than its header announces (cut off) is refused when opened, before any frame is decoded. The
identity image and the driving videos (their first, middle and last frames) are checked for a face
with dlib's HOG detector (``--no-face-check`` skips this). ``--out`` is checked for being writable
before the model loads (its missing folders are made only when the video is written); ``~`` is
expanded in every path. The output's audio track keeps its source's sample rate and channels (the
model reads 16 kHz mono).
"""

from __future__ import annotations

import argparse
import difflib
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edtalk.cli import (
    NumberFriendlyParser,
    add_device_option,
    finite_float,
    mp4_path,
    non_negative_float,
    non_negative_int,
    os_reason,
    out_file_problem,
    positive_int,
    report_error,
    user_path,
)
from edtalk.data.clip import EMOTIONS

if TYPE_CHECKING:
    from edtalk.config import ModelConfig
    from edtalk.driving_inputs import Track

MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 64 bits


# --- argument types (no torch) ---------------------------------------------------------------------
def out_path(text: str) -> Path:
    """argparse ``type`` for ``--out``: an .mp4 path that is not a folder, ``~`` expanded."""
    try:
        return user_path(mp4_path(text))
    except OSError:  # a name too long to look at: main's check of --out says so in one line
        return user_path(text)


def seed(text: str) -> int:
    """argparse ``type`` for ``--seed``: a whole number from 0 to 2**64 - 1 (a torch generator's seed)."""
    n = non_negative_int(text)
    if n > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most 2**64 - 1 (a 64-bit seed), got {n}")
    return n


def blend_factor(text: str) -> float:
    """argparse ``type`` for ``--alpha``: a number a in [0, 1] (W^e = a W^e_1 + (1 - a) W^e_2)."""
    a = finite_float(text)
    if not 0.0 <= a <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return a


def emotion_name(text: str) -> str:
    """argparse ``type`` for ``--emotion``: one of MEAD's eight emotions, checked before the model loads."""
    if text not in EMOTIONS:
        close = difflib.get_close_matches(text, EMOTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise argparse.ArgumentTypeError(f"unknown emotion {text!r}{hint} (known: {', '.join(EMOTIONS)})")
    return text


# --- outputs ---------------------------------------------------------------------------------------
def _track_of(video: str | Path, n_frames: int) -> Track | None:
    """The driving video's own audio track (its rate and channels) fitted to ``n_frames``, or None when
    it has none."""
    from edtalk.data.errors import DataError
    from edtalk.driving_inputs import fit_track, load_track

    try:
        return fit_track(load_track(video), n_frames)
    except DataError:
        return None


def _write(out: str | Path, batches: Iterable[np.ndarray], audio: Track | None) -> None:
    """Write the uint8 frame batches to ``out`` as they come, with ``audio`` as its AAC track at the
    track's own rate and channels (atomic: nothing at ``out`` on error; the missing folders of ``out``
    are made only now)."""
    from edtalk.data.video import VideoWriter
    from edtalk.driving_inputs import FPS, SAMPLE_RATE, InferenceError

    samples, rate = (None, SAMPLE_RATE) if audio is None else audio
    try:
        with VideoWriter(out, fps=FPS, audio=samples, sample_rate=rate, keep_channels=True) as video:
            for frames in batches:
                video.write(frames)
    except OSError as err:  # the disk filled up, the folder went away or became read-only meanwhile
        raise InferenceError(out, f"cannot write the video here ({os_reason(err)})") from None
    height, width = video.size
    print(
        f"wrote {out} ({video.n_frames} frames, {width}x{height}, "
        f"{'with' if audio is not None else 'no'} audio)"
    )


def _reader(args: argparse.Namespace, image_size: int):
    """``DrivingVideo`` per file name, one for every option naming it (read and encoded once), checked on
    opening: refused under the identity image's minimum side (``driving_inputs.min_side_for`` of the model's
    ``image_size``) or when it holds fewer frames than its header announces, and checked for a face
    unless --no-face-check."""
    from edtalk.driving_inputs import DrivingVideo, min_side_for

    return functools.cache(
        functools.partial(
            DrivingVideo,
            crop=args.crop,
            face_check=not args.no_face_check,
            min_side=min_side_for(image_size),
            length_check=True,
        )
    )


def _note_fitted(video: object, role: str, n: int, reference: str) -> None:
    """Say when the ``role`` driving video was ping-pong looped or cut to the output's ``n`` frames
    (``reference`` sets that length: the mouth video or the audio)."""
    from edtalk.driving_inputs import FPS, DrivingVideo, note_once

    if not isinstance(video, DrivingVideo) or video.n_read is None:  # absent, or not used by this model
        return
    if video.n_read < n:
        how = "held" if video.n_read == 1 else "ping-pong looped (forward, backward, ...)"
        note_once(
            f"{video.path}: the {role} video has {video.n_read} frame(s) at {FPS:.0f} fps, {how} to "
            f"{reference}'s {n} frames"
        )
    elif video.cut:
        note_once(
            f"{video.path}: the {role} video is longer than {reference} ({n} frames at {FPS:.0f} fps): "
            f"cut to its first {n} frames"
        )


# --- subcommands -----------------------------------------------------------------------------------
def _identity(args: argparse.Namespace, image_size: int) -> np.ndarray:
    """The --identity image (or a video's first frame), checked for a face unless --no-face-check;
    refused when smaller than ``driving_inputs.MIN_IMAGE_SIDE`` (or the model's ``image_size``, when that is
    smaller) a side: ``driving_inputs.min_side_for``, the driving videos' minimum too."""
    from edtalk.driving_inputs import check_face, min_side_for, read_image

    frame = read_image(args.identity, args.crop, min_side=min_side_for(image_size))
    if not args.no_face_check:
        check_face(frame, args.identity)
    return frame


# the options driving a factor, as (argparse dest, flag, the bank it drives)
FACTOR_OPTIONS = (
    ("pose", "--pose", "pose"),
    ("sample_pose", "--sample-pose", "pose"),
    ("expression", "--expression", "expression"),
    ("emotion", "--emotion", "expression"),
    ("text", "--text", "expression"),
    ("expression_from_audio", "--expression-from-audio", "expression"),
    ("expression_a", "--expression-a", "expression"),
    ("expression_b", "--expression-b", "expression"),
)


def _require_banks(args: argparse.Namespace, cfg: ModelConfig) -> None:
    """Refuse a factor option whose bank the model lacks (an ablation's checkpoint, components "lip" or
    "lip_pose"): the model would drop it without a word. Checked before the stages, as no stage adds a
    bank."""
    from edtalk.driving_inputs import InferenceError

    for dest, flag, bank in FACTOR_OPTIONS:
        if getattr(args, dest, None) not in (None, False) and bank not in cfg.bank_names:
            raise InferenceError(
                args.ckpt,
                f"{flag} drives the {bank} bank, which this model lacks (has: {', '.join(cfg.bank_names)}; "
                f"components={cfg.components!r}, an ablation without that bank): leave {flag} out, or use "
                "a checkpoint of the full model",
            )


def _require_trained_mask(args: argparse.Namespace, cfg: ModelConfig) -> None:
    """Refuse one modality alone for a predictor that never trained the other's mask embedding (Eq. 7;
    ``mask_audio_p`` / ``mask_text_p`` of 0): W^e would come from an untrained mask."""
    from edtalk.driving_inputs import InferenceError

    text_only = args.text is not None and not args.expression_from_audio
    audio_only = args.expression_from_audio and args.text is None and cfg.text_encoder != "none"
    for alone, masked, p_name, p in (
        (text_only, "audio", "mask_audio_p", cfg.mask_audio_p),
        (audio_only, "text", "mask_text_p", cfg.mask_text_p),
    ):
        if alone and p == 0:
            raise InferenceError(
                args.ckpt,
                f"the expression predictor was trained with {p_name}=0, so it never learned to do without "
                f"the {masked}: give --text and --expression-from-audio together",
            )


def cmd_video(args: argparse.Namespace) -> None:
    from edtalk.driving import (
        driving_weights,
        iter_render,
        load_generator,
        n_rendered,
        require_stages,
        video_stages,
    )
    from edtalk.driving_inputs import fit_track, load_track, note_once

    model, cfg = load_generator(args.ckpt, args.device)
    _require_banks(args, cfg)
    require_stages(model.checkpoint_meta, args.ckpt, video_stages(bool(args.expression)))  # before any input
    identity = _identity(args, model.cfg.image_size)
    track = load_track(args.audio) if args.audio else None  # fail fast, before any work
    read = _reader(args, model.cfg.image_size)  # a file given for several factors is read (and encoded) once
    mouth = read(args.mouth)
    pose = read(args.pose) if args.pose else None
    expr = read(args.expression) if args.expression else None
    weights = driving_weights(model, mouth, pose, expr, batch_size=args.batch_size)
    n = n_rendered(weights)  # the mouth video's length
    if pose is not None and pose is expr:  # one file driving both: one note
        _note_fitted(pose, "pose / expression", n, "the mouth video")
    else:
        _note_fitted(pose, "pose", n, "the mouth video")
        _note_fitted(expr, "expression", n, "the mouth video")
    if n == 1:
        note_once(f"{args.mouth}: a single frame: the mouth video sets the output's length, one frame")
    if track is not None:
        _note_length_mismatch(args.audio, len(track.samples) / track.rate, n)
    audio = fit_track(track, n) if track is not None else _track_of(args.mouth, n)
    _write(args.out, iter_render(model, identity, weights, args.batch_size), audio)


def _note_length_mismatch(audio: str | Path, seconds: float, n_frames: int) -> None:
    """Say when --audio is cut or padded by more than a second to the mouth video's length."""
    from edtalk.driving_inputs import FPS, note_once

    video_s = n_frames / FPS
    if abs(seconds - video_s) > 1.0:
        fate = "cut" if seconds > video_s else "padded with silence"
        note_once(
            f"{audio}: {seconds:.1f} s of audio; the output follows the mouth video ({video_s:.1f} s): {fate}"
        )


def cmd_audio(args: argparse.Namespace) -> None:
    from edtalk.driving import (
        audio_stages,
        audio_weights,
        emotion_weights,
        iter_render,
        load_generator,
        n_rendered,
        require_stages,
    )
    from edtalk.driving_inputs import (
        InferenceError,
        check_speech_length,
        fit_track,
        load_speech,
        load_track,
        note_if_silent,
    )

    model, cfg = load_generator(args.ckpt, args.device)
    _require_banks(args, cfg)
    if args.text is not None and cfg.text_encoder == "none":
        raise InferenceError(
            args.ckpt,
            "--text: the model has no text encoder (text_encoder='none'), so the transcript would be "
            "ignored; use --expression-from-audio, or a checkpoint trained with a text encoder",
        )
    _require_trained_mask(args, cfg)
    needed = audio_stages(
        expression=bool(args.emotion or args.expression),
        sample_pose=args.sample_pose,
        predicted_expression=bool(args.text or args.expression_from_audio),
    )
    require_stages(model.checkpoint_meta, args.ckpt, needed)  # before any input is read
    identity = _identity(args, model.cfg.image_size)
    if args.emotion is not None:
        emotion_weights(model, args.emotion)  # fail fast, before any work
    wav = load_speech(args.audio)  # the model's input: 16 kHz mono
    check_speech_length(wav, args.audio)
    note_if_silent(wav, args.audio)
    track = load_track(args.audio)  # the output's soundtrack: the file's own rate and channels
    read = _reader(args, model.cfg.image_size)
    pose = read(args.pose) if args.pose else None
    expr = read(args.expression) if args.expression else None
    weights = audio_weights(
        model,
        wav,
        pose_frames=pose,
        emotion=args.emotion,
        expression_frames=expr,
        text=args.text,
        expression_from_audio=args.expression_from_audio,
        sample_pose=args.sample_pose,
        seed=0 if args.seed is None else args.seed,
        batch_size=args.batch_size,
        pose_temperature=1.0 if args.pose_temperature is None else args.pose_temperature,
    )
    n = n_rendered(weights)
    _note_fitted(pose, "pose", n, "the audio")
    _note_fitted(expr, "expression", n, "the audio")
    frames = iter_render(model, identity, weights, args.batch_size)
    _write(args.out, frames, fit_track(track, n))


def cmd_interpolate(args: argparse.Namespace) -> None:
    from edtalk.driving import blended_expression, iter_render, load_generator, require_stages, weights_of

    model, cfg = load_generator(args.ckpt, args.device)
    _require_banks(args, cfg)
    require_stages(model.checkpoint_meta, args.ckpt, ["mouth_pose", "expression"])
    identity = _identity(args, model.cfg.image_size)
    read, bs = _reader(args, model.cfg.image_size), args.batch_size
    mouth, video_a, video_b = read(args.mouth), read(args.expression_a), read(args.expression_b)
    pose = read(args.pose) if args.pose else None
    weights = {"mouth": weights_of(model, mouth, "mouth", "mouth video", bs)}
    n = len(weights["mouth"])
    if pose is not None:
        weights["pose"] = weights_of(model, pose, "pose", "pose video", bs, n)
        _note_fitted(pose, "pose", n, "the mouth video")
    w1 = weights_of(model, video_a, "expression", "expression a", bs, n)
    _note_fitted(video_a, "expression-a", n, "the mouth video")
    w2 = weights_of(model, video_b, "expression", "expression b", bs, n)
    _note_fitted(video_b, "expression-b", n, "the mouth video")
    weights["expression"] = blended_expression(w1, w2, args.alpha)
    _write(args.out, iter_render(model, identity, weights, bs), _track_of(args.mouth, n))


def cmd_edit_base(args: argparse.Namespace) -> None:
    import torch

    from edtalk.driving import (
        base_edit_weights,
        edit_base_problem,
        iter_render,
        load_generator,
        require_stages,
    )
    from edtalk.driving_inputs import InferenceError

    model, cfg = load_generator(args.ckpt, args.device)
    if problem := edit_base_problem(cfg, args.bank, args.index, "--index"):
        raise InferenceError(None, problem)
    require_stages(
        model.checkpoint_meta, args.ckpt, ["expression" if args.bank == "expression" else "mouth_pose"]
    )
    identity = _identity(args, model.cfg.image_size)
    values = torch.linspace(args.range[0], args.range[1], args.steps)
    weights = base_edit_weights(model, identity, args.bank, args.index, values)
    _write(args.out, iter_render(model, identity, weights, args.batch_size), None)


def build_parser() -> argparse.ArgumentParser:
    parser = NumberFriendlyParser(  # --range -3e0 3: any negative number is a value, not an option
        prog="python -m edtalk.infer",
        description="Generate talking-head videos with a trained EDTalk checkpoint (25 fps mp4 out). "
        "Inputs are square face crops (resized to the model's image size; an identity image or driving "
        "video under 64 px a side is refused); a non-square input is refused unless --crop finds the face "
        "in it. The output is as long as the mouth video (video, interpolate) or the audio (audio); pose "
        "and expression videos of another length are ping-pong looped or cut to it, with a note.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{video,audio,interpolate,edit-base}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--ckpt",
            required=True,
            type=user_path,
            help="EDTalk checkpoint (.pt from edtalk.model.save_checkpoint)",
        )
        p.add_argument(
            "--identity",
            required=True,
            type=user_path,
            help="identity source image I^i (or a video: first frame)",
        )
        p.add_argument(
            "--out",
            required=True,
            type=out_path,
            help="output .mp4 path (checked for being writable before any work; missing folders are made "
            "when it is written)",
        )
        p.add_argument(
            "--no-face-check",
            action="store_true",
            help="skip the dlib face check on --identity and on the driving videos (their first, middle "
            "and last frames)",
        )
        p.add_argument(
            "--crop",
            action="store_true",
            help="cut the identity and driving videos to square 256 px face crops first, as `python -m "
            "edtalk.data.crop` does (inputs need not be square; the official demos' --need_crop_* flags)",
        )
        p.add_argument(
            "--batch-size", type=positive_int, default=16, help="frames per forward pass (default 16)"
        )
        add_device_option(p)

    fitted = "ping-pong looped or cut to the {}'s length, with a note"
    p = sub.add_parser("video", help="EDTalk-V: mouth, pose and expression from three driving videos")
    common(p)
    p.add_argument(
        "--mouth", required=True, type=user_path, help="mouth driving video I^m (sets the output length)"
    )
    p.add_argument(
        "--pose",
        type=user_path,
        help=f"pose driving video I^p, {fitted.format('mouth video')} (default: the identity's pose)",
    )
    p.add_argument(
        "--expression",
        type=user_path,
        help=f"expression driving video I^e, {fitted.format('mouth video')} (default: the identity's "
        "expression)",
    )
    p.add_argument(
        "--audio",
        type=user_path,
        help="audio to mux at its own sample rate and channels, cut or padded with silence to the mouth "
        "video's length (default: the mouth video's audio track; none when it has none)",
    )
    p.set_defaults(func=cmd_video, subparser=p)

    p = sub.add_parser("audio", help="EDTalk-A: mouth from speech; pose and expression from options")
    common(p)
    p.add_argument(
        "--audio",
        required=True,
        type=user_path,
        help="speech (wav, or any file with an audio track); sets the output length",
    )
    p.add_argument(
        "--text",
        help="transcript for the expression predictor: W^e from it alone (E_T, the audio masked as "
        "Eq. 7 trains it), or with --expression-from-audio from both (not with --expression/--emotion)",
    )
    p.add_argument(
        "--expression-from-audio",
        action="store_true",
        help="predict W^e from the audio (E_S, the text masked; with --text, from both)",
    )
    pose = p.add_mutually_exclusive_group()
    pose.add_argument(
        "--pose",
        type=user_path,
        help=f"pose driving video, {fitted.format('audio')} (without --pose or --sample-pose: the "
        "identity's own pose throughout, a still head)",
    )
    pose.add_argument("--sample-pose", action="store_true", help="sample W^p from the normalizing flow")
    p.add_argument(
        "--seed",
        type=seed,
        help="seed of --sample-pose's flow samples, 0 to 2**64 - 1 (default 0; only with --sample-pose)",
    )
    p.add_argument(
        "--pose-temperature",
        type=non_negative_float,
        help="scale of --sample-pose's flow noise z (default 1; below 1 calmer head motion, 0 the flow's "
        "mode; only with --sample-pose). The tiny demo's flow samples move about 8x more from frame to "
        "frame than real heads at 1 (eval.proof prints it)",
    )
    expr = p.add_mutually_exclusive_group()
    expr.add_argument(
        "--expression",
        type=user_path,
        help=f"expression driving video, {fitted.format('audio')} (without --expression, --emotion, "
        "--text or --expression-from-audio: the identity's own expression throughout)",
    )
    expr.add_argument(
        "--emotion",
        type=emotion_name,
        help=f"named emotion: {', '.join(EMOTIONS)} (needs meta['emotion_weights'])",
    )
    p.set_defaults(func=cmd_audio, subparser=p)

    p = sub.add_parser("interpolate", help="blend two expressions: W^e = a W^e_1 + (1 - a) W^e_2")
    common(p)
    p.add_argument(
        "--mouth", required=True, type=user_path, help="mouth driving video (sets the output length)"
    )
    p.add_argument(
        "--pose",
        type=user_path,
        help=f"pose driving video, {fitted.format('mouth video')} (default: the identity's pose)",
    )
    p.add_argument(
        "--expression-a",
        required=True,
        type=user_path,
        help=f"expression video 1 (weight alpha), {fitted.format('mouth video')}",
    )
    p.add_argument(
        "--expression-b",
        required=True,
        type=user_path,
        help=f"expression video 2 (weight 1 - alpha), {fitted.format('mouth video')}",
    )
    p.add_argument("--alpha", type=blend_factor, default=0.5, help="blend factor a in [0, 1] (default 0.5)")
    p.set_defaults(func=cmd_interpolate, subparser=p)

    p = sub.add_parser(
        "edit-base",
        help="sweep one base weight w^*_k over a range (single-base edit; the video has no audio track)",
    )
    common(p)
    p.add_argument("--bank", required=True, choices=["mouth", "pose", "expression"], help="which bank")
    p.add_argument("--index", type=int, required=True, help="base index k within the bank")
    p.add_argument(
        "--range",
        type=finite_float,
        nargs=2,
        default=(-3.0, 3.0),
        metavar=("LO", "HI"),
        help="the values w_k takes, from LO to HI over the frames: they replace the identity's own w_k "
        "(not offsets from it) (default -3 3)",
    )
    p.add_argument("--steps", type=positive_int, default=16, help="frames in the sweep (default 16)")
    p.set_defaults(func=cmd_edit_base, subparser=p)
    return parser


def _check_expression_source(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """EDTalk-A takes W^e from one source: an expression video, a named emotion, or the expression
    predictor (--text and/or --expression-from-audio); drive_audio would silently drop the predictor.
    --seed seeds only --sample-pose: without it, it would be silently unused."""
    if args.func is not cmd_audio:
        return
    parser = getattr(args, "subparser", parser)  # its usage line, not the top level's
    if args.text is not None and not args.text.strip():
        parser.error("--text is empty: give the transcript the expression predictor reads (E_T)")
    predictor = args.text is not None or args.expression_from_audio
    if predictor and (args.expression or args.emotion):
        given = "--expression" if args.expression else "--emotion"
        parser.error(f"{given} and --text/--expression-from-audio each set the expression W^e; give one")
    for flag, what, value in (
        ("--seed", "seeds", args.seed),
        ("--pose-temperature", "scales", args.pose_temperature),
    ):
        if value is not None and not args.sample_pose:
            parser.error(
                f"{flag} {what} only --sample-pose's flow samples: give --sample-pose, or leave {flag} out"
            )


INPUT_OPTIONS = ("ckpt", "identity", "mouth", "pose", "expression", "expression_a", "expression_b", "audio")


def _check_out_is_not_an_input(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--out naming one of the inputs would overwrite it (a driving video lost after the run)."""
    parser = getattr(args, "subparser", parser)
    out = Path(args.out).expanduser().resolve()
    for name in INPUT_OPTIONS:
        given = getattr(args, name, None)
        if isinstance(given, (str, Path)) and Path(given).expanduser().resolve() == out:
            parser.error(
                f"--out {args.out} is also --{name.replace('_', '-')}: writing it would overwrite that input"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_expression_source(parser, args)
    _check_out_is_not_an_input(parser, args)
    # the model code loads only now: --help and usage errors above need no torch
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.driving import resolve_device
    from edtalk.model import CheckpointError
    from edtalk.weights import MissingWeightsError, WeightsMismatchError

    try:
        args.device = str(resolve_device(args.device))  # edtalk.cli.parse_device; cpu or cuda only
        if problem := out_file_problem(args.out, suffix=".tmp.mp4"):  # before the model loads, not after
            return report_error(problem)
        args.func(args)
    except (DataError, CheckpointError, ConfigError, MissingWeightsError, WeightsMismatchError) as err:
        return report_error(err)
    except OSError as err:  # e.g. the disk full: a sentence, not a traceback
        where = f"{err.filename}: " if err.filename else ""
        return report_error(f"{where}{os_reason(err)}")
    return 0


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
