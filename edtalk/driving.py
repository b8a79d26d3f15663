"""Drive a trained EDTalk model from frames and audio: the Python API behind ``edtalk.infer``.

- ``load_generator(ckpt, device)``: a checkpoint, in eval mode, on a device ("auto": a GPU when there is one).
- ``drive_video``: EDTalk-V, identity frame + mouth / pose / expression driving frames (Fig. 2a).
  ``driving_weights`` + ``render`` do the same in two steps (one set of codes, several identities).
- ``drive_audio``: EDTalk-A, identity frame + 16 kHz speech; W^p from a pose video, the flow phi_p or the
  identity; W^e from an expression video, a named emotion (``emotion_weights``), the expression
  predictor (text and/or audio), or the identity. ``audio_weights`` + ``render`` in two steps.
- ``iter_render``: ``render`` a batch at a time, for videos too long to hold decoded; driving frames may
  be streamed (``edtalk.driving_inputs.DrivingVideo``). Only the codes W^* ([T, K]) are held whole.

Its inputs (images, driving videos, speech; face checks) are read by ``edtalk.driving_inputs``.

Everything runs on the device the model sits on: frames go there a batch at a time and come back as
uint8 arrays. Frames map [-1, 1] -> [0, 255] with a fixed affine map and clipping (the official demos
min-max normalise each clip instead, which changes brightness per clip; we do not). Square frames of
another side are resized to the model's ``image_size`` (noted on stderr); non-square ones are refused.
Each function runs the model in eval mode and leaves every module's train/eval mode as it found it
(``in_eval_mode``), so a preview inside a training loop does not switch its dropout or BatchNorm off.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edtalk.cli import parse_device
from edtalk.config import ModelConfig
from edtalk.data.clip import EMOTIONS
from edtalk.driving_inputs import (
    FPS,
    SAMPLE_RATE,
    DrivingVideo,
    Frames,
    InferenceError,
    check_speech_length,
    note_once,
)
from edtalk.model import EDTalk, build_from_checkpoint
from edtalk.modules.audio_encoder import smooth_weights


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device a name means (``edtalk.cli.parse_device``: "auto" is the first CUDA GPU when
    there is one, else the CPU; a CUDA device on a machine without one is an error, not a silent CPU
    run). Only the CPU and CUDA GPUs run the model: another torch device type (mps, meta, xpu...) or a
    GPU index this machine lacks is an error too, not a traceback from the first tensor moved there."""
    try:
        resolved = torch.device(parse_device(device))
    except ValueError as err:
        raise InferenceError(None, str(err)) from None
    if resolved.type not in ("cpu", "cuda"):
        raise InferenceError(
            None, f"--device {device}: EDTalk runs on the CPU or a CUDA GPU (auto, cpu, cuda or cuda:N)"
        )
    if resolved.type == "cuda" and resolved.index is not None:
        count = torch.cuda.device_count()
        if resolved.index >= count:
            raise InferenceError(
                None, f"--device {device}: this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})"
            )
    return resolved


def load_generator(ckpt_path: str | Path, device: str | torch.device = "cpu") -> tuple[EDTalk, ModelConfig]:
    """Load an EDTalk checkpoint (eval mode) onto ``device`` ("auto": a GPU when there is one); its
    meta is kept as ``model.checkpoint_meta``."""
    model, ckpt = build_from_checkpoint(ckpt_path)
    model.to(resolve_device(str(device)))  # a torch.device is checked too (meta, mps: refused)
    model.checkpoint_meta = ckpt["meta"]
    model.checkpoint_path = Path(ckpt_path)  # named by errors about what its meta holds
    return model, ckpt["config"]


def untrained(meta: dict, stage: str) -> str | None:
    """Why a checkpoint with ``meta`` cannot do what ``stage`` teaches, or None when it can.

    None when ``meta["stages_done"]`` (written by edtalk.train) lists ``stage``, or when the checkpoint
    records no stage history (converted or hand-made checkpoints are trusted).
    """
    done = meta.get("stages_done")
    if done is None or stage in done:
        return None
    listed = ", ".join(dict.fromkeys(done)) or "none"  # a stage trained twice is listed once
    return f"the checkpoint has not been through the {stage} stage (stages done: {listed})"


def require_stages(meta: dict, ckpt: str | Path, stages: Sequence[str]) -> None:
    """Raise InferenceError naming the checkpoint when it skipped one of ``stages`` (its heads would be
    untrained, the video meaningless)."""
    for stage in stages:
        if reason := untrained(meta, stage):
            raise InferenceError(
                ckpt, f"{reason}; use a checkpoint from the {stage} stage or later (e.g. the chain's final)"
            )


def video_stages(expression: bool = False) -> list[str]:
    """The stages EDTalk-V needs: mouth_pose (E's W^m / W^p heads), expression for an expression driver."""
    return ["mouth_pose"] + (["expression"] if expression else [])


def audio_stages(
    *, expression: bool = False, sample_pose: bool = False, predicted_expression: bool = False
) -> list[str]:
    """The stages EDTalk-A needs: audio_lip; expression for an expression video or a named emotion;
    audio_pose for sampled poses; audio_expression for W^e predicted from text and/or audio."""
    needed = ["audio_lip"] + (["expression"] if expression else [])
    return (
        needed
        + (["audio_pose"] if sample_pose else [])
        + (["audio_expression"] if predicted_expression else [])
    )


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """``model`` in eval mode, then each of its modules back in the train/eval mode it had (a training
    loop keeps its frozen modules in eval)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def in_eval_mode(fn: Callable) -> Callable:
    """Run ``fn(model, ...)`` (a generator function too) in ``eval_mode(model)``."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(model, *args, **kwargs):
            with eval_mode(model):
                yield from fn(model, *args, **kwargs)

        return generator

    @functools.wraps(fn)
    def call(model, *args, **kwargs):
        with eval_mode(model):
            return fn(model, *args, **kwargs)

    return call


def check_trained(model: EDTalk, stages: Sequence[str]) -> None:
    """``require_stages`` for a model ``load_generator`` loaded (its ``checkpoint_meta``); a model built
    in Python (``EDTalk(cfg)``, no checkpoint) is the caller's to vouch for."""
    meta = getattr(model, "checkpoint_meta", None)
    if meta is not None:
        require_stages(meta, getattr(model, "checkpoint_path", None), stages)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters sit on (where its inputs must go)."""
    return next(model.parameters()).device


def model_input(frames: np.ndarray, size: int, name: str = "frames") -> torch.Tensor:
    """uint8 (T, H, W, 3) or (H, W, 3) RGB -> float [T, 3, size, size] in [-1, 1] (resized if needed)."""
    if isinstance(frames, (str, Path)):
        raise InferenceError(
            frames,
            f"{name}: a path, not frames: read it with edtalk.driving_inputs.read_image or read_frames",
        )
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InferenceError(name, f"expected RGB frames (T, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:  # a cast would read floats in [0, 1] as a black image
        raise InferenceError(
            name,
            f"expected uint8 RGB frames (0-255), got {frames.dtype}: convert floats in [0, 1] with "
            "(x * 255).round().astype(np.uint8), or read files with edtalk.driving_inputs",
        )
    h, w = frames.shape[1:3]
    if h != w:  # an array: the CLI's advice (crop the file, --crop) is read_image's / read_frames' crop=True
        raise InferenceError(
            name,
            f"{w}x{h} (width x height): EDTalk drives square face crops; read the file with "
            "edtalk.driving_inputs.read_image or read_frames with crop=True, or crop the array square",
        )
    x = torch.from_numpy(np.array(frames, dtype=np.uint8)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if h != size:
        note_once(f"{name}: resized {h}x{w} -> {size}x{size} (model image_size)")
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x


def to_frames(images: torch.Tensor) -> np.ndarray:
    """[T, 3, H, W] in [-1, 1] -> uint8 (T, H, W, 3)."""
    x = ((images.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def loop_index(length: int, n: int) -> np.ndarray:
    """Indices of a ping-pong loop (forward, backward, ...) over ``length`` frames, cut to ``n``."""
    if length >= n:
        return np.arange(n)
    cycle = (
        np.concatenate([np.arange(length), np.arange(length - 2, 0, -1)]) if length > 2 else np.arange(length)
    )
    return np.resize(cycle, n)


def loop_to_length(frames: np.ndarray, n: int) -> np.ndarray:
    """Ping-pong loop (forward, backward, ...) or cut ``frames`` to exactly ``n`` frames."""
    return frames[loop_index(len(frames), n)]


@in_eval_mode
@torch.no_grad()
def weights_of(
    model: EDTalk, frames: Frames, name: str, label: str, batch_size: int, n: int | None = None
) -> torch.Tensor:
    """W^* for every frame of a driving video ([T, K]); with ``n``, ping-pong looped or cut to ``n``
    frames (the codes are looped, not the frames)."""
    return factor_codes(model, {name: frames}, n, batch_size, label)[name]


@torch.no_grad()
def _codes_of(
    model: EDTalk, batches: Iterable[np.ndarray], names: tuple[str, ...], label: str
) -> dict[str, torch.Tensor]:
    """W^* of every bank in ``names`` for every frame of one driving video ([T, K] each), from one
    pass of E over its frame batches (made float a batch at a time: a long 256 px video is about
    0.8 MB a frame as floats)."""
    device = model_device(model)
    parts = [
        model.navigate(model.encode(model_input(frames, model.cfg.image_size, label).to(device))[0], names)
        for frames in batches
    ]
    return {name: torch.cat([part[name] for part in parts]) for name in names}


def _batches(frames: Frames, batch_size: int, limit: int | None = None) -> Iterator[np.ndarray]:
    """The first ``limit`` (all when None) frames of an array or a ``DrivingVideo``, ``batch_size`` at
    a time."""
    if isinstance(frames, DrivingVideo):
        return frames.batches(batch_size, limit)
    frames = frames[:limit]
    return (frames[i : i + batch_size] for i in range(0, len(frames), batch_size))


@in_eval_mode
def factor_codes(
    model: EDTalk, drivers: dict[str, Frames | None], n: int | None, batch_size: int, label: str | None = None
) -> dict[str, torch.Tensor]:
    """W^* ([n, K]) of each factor in ``drivers`` (mouth, pose, expression) from its driving video,
    ping-pong looped or cut to ``n`` frames (None: the first video's length, the mouth's). One pass of
    E per distinct video (the same array or ``DrivingVideo``: encoded once for all the factors it
    drives), over its own first ``n`` frames (the codes are looped, not the frames)."""
    videos: dict[int, tuple[Frames, list[str]]] = {}  # id(video) -> (video, the factors it drives)
    for name, frames in drivers.items():
        if frames is not None and (name == "mouth" or name in model.cfg.bank_names):
            videos.setdefault(id(frames), (frames, []))[1].append(name)
    weights: dict[str, torch.Tensor] = {}
    for frames, names in videos.values():
        label_of = label or " / ".join(names) + " video"
        codes = _codes_of(model, _batches(frames, batch_size, n), tuple(names), label_of)
        length = len(codes[names[0]])  # min(len(frames), n)
        n = length if n is None else n
        index = torch.from_numpy(loop_index(length, n))
        weights.update({name: code[index.to(code.device)] for name, code in codes.items()})
    return {name: weights[name] for name in drivers if name in weights}


def check_weights(weights: dict[str, torch.Tensor], sizes: dict[str, int]) -> None:
    """A ValueError naming the bank when ``weights`` cannot be drawn by a model whose banks have
    ``sizes`` (bank -> K): an unknown bank (a typo would draw the identity's own codes), a W^* that is
    not [T, K], or W^* of different lengths T (``render`` draws one frame per row of each)."""
    if unknown := sorted(set(weights) - set(sizes)):
        raise ValueError(f"weights for {', '.join(unknown)}: this model's banks are {', '.join(sizes)}")
    for name, w in weights.items():
        if w.ndim != 2 or w.shape[1] != sizes[name] or w.shape[0] == 0:
            raise ValueError(
                f"W^{name[0]} ({name}) must be [T, {sizes[name]}] (T >= 1 frames, one weight per base of the "
                f"{name} bank), got {list(w.shape)}"
            )
    if len(set((lengths := {name: w.shape[0] for name, w in weights.items()}).values())) > 1:
        said = ", ".join(f"{name} {t}" for name, t in lengths.items())
        raise ValueError(f"the W^* to render have different lengths ({said} frames): give each the same T")


def n_rendered(weights: dict[str, torch.Tensor]) -> int:
    """Frames ``render`` draws for ``weights``: the longest W^* (one frame when there is none)."""
    return max(w.shape[0] for w in weights.values()) if weights else 1


def render(
    model: EDTalk, identity_frame: np.ndarray, weights: dict[str, torch.Tensor], batch_size: int = 16
) -> np.ndarray:
    """Compose f^{i->r} + sum_* B^* W^* per frame and decode; absent components use the identity's W^*."""
    return np.concatenate(list(iter_render(model, identity_frame, weights, batch_size)))


@in_eval_mode
@torch.no_grad()
def iter_render(
    model: EDTalk, identity_frame: np.ndarray, weights: dict[str, torch.Tensor], batch_size: int = 16
) -> Iterator[np.ndarray]:
    """``render`` a batch at a time: uint8 (b, H, W, 3) frames, ``batch_size`` per decoder pass."""
    device = model_device(model)
    src = model_input(identity_frame, model.cfg.image_size, "identity").to(device)
    f_src, skips = model.encode(src)
    own = model.navigate(f_src)
    check_weights(weights, {k: v.shape[1] for k, v in own.items()})
    n = n_rendered(weights)
    full = {k: (weights[k].to(device) if k in weights else own[k].expand(n, -1)) for k in own}
    for start in range(0, n, batch_size):
        part = {k: v[start : start + batch_size] for k, v in full.items()}
        b = next(iter(part.values())).shape[0]
        latent = model.compose(f_src.expand(b, -1), part)
        e = model.expression_latent(part["expression"]) if "expression" in part else None
        yield to_frames(model.generate(latent, skips, e))


def drive_video(
    model: EDTalk,
    identity_frame: np.ndarray,
    mouth_frames: Frames,
    pose_frames: Frames | None = None,
    expression_frames: Frames | None = None,
    batch_size: int = 16,
) -> np.ndarray:
    """EDTalk-V: uint8 frames (T = len(mouth_frames)). Pose/expression videos are ping-pong looped to T;
    a missing pose or expression driver keeps the identity's own pose / expression, and so does one of
    a bank the model lacks (an ablation model, components ``lip``/``lip_pose``: the sweeps drive every
    variant with the same videos; ``python -m edtalk.infer`` refuses such a driver instead)."""
    weights = driving_weights(model, mouth_frames, pose_frames, expression_frames, batch_size)
    return render(model, identity_frame, weights, batch_size)


@in_eval_mode
def driving_weights(
    model: EDTalk,
    mouth_frames: Frames,
    pose_frames: Frames | None = None,
    expression_frames: Frames | None = None,
    batch_size: int = 16,
) -> dict[str, torch.Tensor]:
    """EDTalk-V's W^m, W^p, W^e per frame ([T, K] each, T = the mouth video's length) from the driving
    videos, as ``drive_video`` uses them; ``render`` draws them onto any identity frame (one set of
    codes, several identities)."""
    has_expression = expression_frames is not None and "expression" in model.cfg.bank_names
    check_trained(model, video_stages(has_expression))
    drivers = {"mouth": mouth_frames, "pose": pose_frames, "expression": expression_frames}
    return factor_codes(model, drivers, None, batch_size)


def blended_expression(w_a: torch.Tensor, w_b: torch.Tensor, alpha: float) -> torch.Tensor:
    """W^e = alpha W^e_1 + (1 - alpha) W^e_2 (``infer interpolate``): alpha 1 is the first expression,
    0 the second; both [T, Ke] of one length (``weights_of`` with the same ``n`` loops them so)."""
    if w_a.shape != w_b.shape:
        raise ValueError(
            f"W^e_1 and W^e_2 must have one shape to blend, got {list(w_a.shape)} and {list(w_b.shape)}"
        )
    return alpha * w_a + (1.0 - alpha) * w_b


def edit_base_problem(cfg: ModelConfig, bank: str, index: int, index_name: str = "index") -> str | None:
    """Why base ``index`` of ``bank`` cannot be edited in a model of ``cfg`` (no such bank, or an index
    outside it; ``index_name`` is how the caller calls the index), else None."""
    if bank not in cfg.bank_names:
        return f"unknown bank {bank!r} for this model (has: {', '.join(cfg.bank_names)})"
    if not 0 <= index < (k := cfg.n_weights(bank)):
        return f"{index_name} must be in [0, {k - 1}] for the {bank} bank, got {index}"
    return None


@in_eval_mode
@torch.no_grad()
def base_edit_weights(
    model: EDTalk, identity_frame: np.ndarray, bank: str, index: int, values: Sequence[float] | torch.Tensor
) -> dict[str, torch.Tensor]:
    """W^* for ``infer edit-base``: the identity's own W of ``bank``, one frame per entry of ``values``,
    with weight ``index`` (the index-th base of the bank) set to that value; ``render`` draws them."""
    if problem := edit_base_problem(model.cfg, bank, index):
        raise ValueError(problem)
    device = model_device(model)
    x = model_input(identity_frame, model.cfg.image_size, "identity").to(device)
    own = model.navigate(model.encode(x)[0], (bank,))[bank]
    values = torch.as_tensor(values, dtype=own.dtype, device=device).reshape(-1)
    edited = own.repeat(len(values), 1)
    edited[:, index] = values
    return {bank: edited}


def emotion_weights(model: EDTalk, emotion: str) -> torch.Tensor:
    """The per-emotion mean W^e stored in the checkpoint's meta["emotion_weights"] ([1, Ke])."""
    if emotion not in EMOTIONS:
        close = difflib.get_close_matches(emotion, EMOTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InferenceError(None, f"unknown emotion {emotion!r}{hint} (known: {', '.join(EMOTIONS)})")
    ckpt = getattr(model, "checkpoint_path", None)  # the file errors about its meta name
    table = getattr(model, "checkpoint_meta", {}).get("emotion_weights") or {}
    if not isinstance(table, dict):
        raise InferenceError(
            ckpt,
            f"the checkpoint's meta['emotion_weights'] is a {type(table).__name__}, not a mapping of "
            "emotion to weights",
        )
    if emotion not in table:
        raise InferenceError(
            ckpt,
            f"the checkpoint has no expression weights for {emotion!r} (meta['emotion_weights'] holds "
            f"{sorted(map(str, table)) or 'nothing'}); use a checkpoint saved after the expression stage, "
            "or drive the expression with --expression VID",
        )
    k = model.cfg.n_weights("expression")
    try:
        w = torch.tensor(table[emotion], dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        w = None
    if w is None or w.ndim != 1:
        raise InferenceError(
            ckpt,
            f"the checkpoint's emotion weights for {emotion!r} are {str(table[emotion])[:60]!r}, not a "
            f"list of {k} numbers",
        )
    if len(w) != k:
        raise InferenceError(
            ckpt, f"the checkpoint's emotion weights for {emotion!r} have {len(w)} entries, model expects {k}"
        )
    return w[None]


def drive_audio(
    model: EDTalk,
    identity_frame: np.ndarray,
    wav: np.ndarray,
    pose_frames: Frames | None = None,
    emotion: str | None = None,
    expression_frames: Frames | None = None,
    text: str | None = None,
    expression_from_audio: bool = False,
    sample_pose: bool = False,
    seed: int | None = 0,
    fps: float = FPS,
    batch_size: int = 16,
    pose_temperature: float = 1.0,
) -> np.ndarray:
    """EDTalk-A: uint8 frames for 16 kHz mono ``wav`` (float samples in [-1, 1]; integer PCM is refused)
    (T = duration * fps); ``audio_weights`` says where each W^* comes from."""
    weights = audio_weights(
        model,
        wav,
        pose_frames,
        emotion,
        expression_frames,
        text,
        expression_from_audio,
        sample_pose,
        seed,
        fps,
        batch_size,
        pose_temperature,
    )
    return render(model, identity_frame, weights, batch_size)


@in_eval_mode
@torch.no_grad()
def audio_weights(
    model: EDTalk,
    wav: np.ndarray,
    pose_frames: Frames | None = None,
    emotion: str | None = None,
    expression_frames: Frames | None = None,
    text: str | None = None,
    expression_from_audio: bool = False,
    sample_pose: bool = False,
    seed: int | None = 0,
    fps: float = FPS,
    batch_size: int = 16,
    pose_temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """EDTalk-A's W^* per frame ([T, K], T = duration * fps), as ``drive_audio`` renders them.

    W^m = smooth(MLP^m_A(E_a(mel windows))). W^p: pose video, else flow samples (``sample_pose``;
    z ~ N(0, ``pose_temperature``^2 I): below 1 calmer, 0 the flow's mode), else the identity's pose
    (absent). W^e: expression video, ``emotion``, the expression predictor (``text`` alone: E_T with
    the audio masked, as Eq. 7 trains a missing modality; ``expression_from_audio`` alone: E_S with the
    text masked; both: both), else the identity's expression (absent). A model without the pose or
    expression bank (an ablation model) takes none of that bank's drivers and options: they are
    ignored here (the sweeps score every variant alike), refused by ``python -m edtalk.infer``.
    """
    from edtalk.data.audio import frames_covered, mel_windows, melspectrogram

    has = model.cfg.bank_names
    expression_wanted = "expression" in has and (
        emotion is not None or expression_frames is not None or text is not None or expression_from_audio
    )
    chosen = expression_frames is not None or emotion is not None  # the first sources W^e is taken from
    check_trained(
        model,
        audio_stages(
            expression=expression_wanted and chosen,
            sample_pose="pose" in has and pose_frames is None and sample_pose,
            predicted_expression=expression_wanted and not chosen,
        ),
    )
    check_speech_length(wav)
    n = frames_covered(len(wav), fps, SAMPLE_RATE)
    mel = melspectrogram(wav)
    windows, device = torch.from_numpy(mel_windows(mel, n, fps)).float(), model_device(model)
    f_a = torch.cat([model.audio_lip.encoder(c.to(device)) for c in windows.split(256)])
    weights = {"mouth": smooth_weights(model.audio_lip.to_mouth(f_a))}
    # pose and expression videos: one pass of E per distinct video (edtalk_a drives both with one)
    weights |= factor_codes(model, {"pose": pose_frames, "expression": expression_frames}, n, batch_size)
    if "pose" in has and "pose" not in weights and sample_pose:
        weights["pose"] = model.pose_flow.sample(f_a[None], seed=seed, temperature=pose_temperature)[0]
    if "expression" in has and "expression" not in weights:
        if emotion is not None:
            weights["expression"] = emotion_weights(model, emotion).to(device).expand(n, -1)
        elif text is not None or expression_from_audio:
            w_e = predicted_expression(model, windows, wav, text, fps=fps, use_audio=expression_from_audio)
            weights["expression"] = w_e.expand(n, -1)
    return weights


def trained_window(model: EDTalk) -> int:
    """K, the frames whose mel windows audio_expression laid side by side for one W^e (its run
    config in the checkpoint; StageConfig's default 5 when the checkpoint does not say)."""
    from edtalk.config import StageConfig

    run = getattr(model, "checkpoint_meta", {}).get("run") or {}
    return int((run.get("stage_config") or {}).get("window") or StageConfig.window)


@in_eval_mode
@torch.no_grad()
def predicted_expression(
    model: EDTalk,
    windows: torch.Tensor,
    wav: np.ndarray,
    text: str | None,
    group_batch: int = 64,
    fps: float = FPS,
    use_audio: bool = True,
) -> torch.Tensor:
    """W^e ([1, Ke]) from the expression predictor (E_S, E_T, MLP^e_A; Eq. 7's inputs). Without
    ``use_audio``: from ``text`` alone, the audio masked (Eq. 7's learned mask embedding, as
    audio_expression trains a missing modality). With it, fed as audio_expression trained it: the audio
    of K consecutive frames per group, one W^e per group, averaged over the clip. The "mel" E_S reads
    the K frames' mel windows side by side (the whole clip's mel at once cost memory growing with the
    square of its length in E_S's attention: 9 GB for 5 minutes); HuBERT reads their waveform end to
    end, cut as the frame cache cuts it (``cache_decode.wav_rows``). ``windows``: [n, 1, 80, 16]."""
    from edtalk.data.audio import from_pcm16
    from edtalk.data.cache_decode import wav_rows
    from edtalk.modules.expression_predictor import mel_side_by_side

    predictor = model.expression_predictor
    device = model_device(model)
    text_features = None
    if text is not None:
        from edtalk.modules.expression_predictor import encode_text

        text_features = encode_text([text], predictor.text_encoder_name)
    if not use_audio:
        if text_features is None:
            raise ValueError("the expression predictor needs audio, a transcript, or both")
        return predictor(audio=None, text_features=text_features.to(device))
    k = min(trained_window(model), len(windows))
    g = len(windows) // k
    if predictor.audio_input == "wav":
        rows = torch.from_numpy(from_pcm16(wav_rows(wav, g * k, fps)))
        groups = rows.reshape(g, -1)  # [g, k * 640]
    else:
        groups = mel_side_by_side(windows[: g * k].view(g, k, 80, -1))
    w_e = [
        predictor(
            audio=part.to(device),
            text_features=None if text_features is None else text_features.expand(len(part), -1),
        )
        for part in groups.split(group_batch)
    ]
    return torch.cat(w_e).mean(0, keepdim=True)
