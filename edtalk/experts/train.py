"""Training loops for the two synthtalk experts (``python -m edtalk.experts train``: ``edtalk.experts.cli``).

``split`` picks the identity split (``train``: training-loss experts; ``judge``: evaluation
judges); the split guard refuses clips whose identities belong to another split, and ``test`` is
never trainable. Both loops are plain PyTorch on CPU-sized batches: the face analyser on single
frames (every frame of the split, area-resized once), the sync net on whole clips (all lip
windows of a few clips per step, contrastive over shifts).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edtalk.experts.cli import TrainSettings
from edtalk.experts.data import ExpertClip, dataset_record, load_split
from edtalk.experts.face_analyser import (
    FaceAnalyser,
    FaceAnalyserConfig,
    align_faces,
    face_loss,
    frame_to_box,
    to_input,
)
from edtalk.experts.names import EXPERT_NAMES
from edtalk.experts.store import save_expert
from edtalk.experts.sync_net import (
    SyncNetConfig,
    SyncNetJudge,
    audio_windows,
    lip_frames,
    stack_windows,
    sync_loss,
)

# -- augmentation: make the judges robust to generated frames (blur, colour, noise) -------------


def augment_images(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """x: (N, C, H, W) in [-1, 1], C a multiple of 3 (frames stacked). Per sample: contrast and
    brightness jitter, a blur on about a third (3x3 box or a down-up resample), light noise."""
    n = x.shape[0]
    contrast = 1.0 + 0.25 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 2
    bright = 0.15 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 2
    x = x * contrast + bright
    pick = torch.rand(n, generator=gen)
    box = pick < 0.15
    down = (pick >= 0.15) & (pick < 0.3)
    if box.any():
        x[box] = F.avg_pool2d(x[box], 3, stride=1, padding=1, count_include_pad=False)
    if down.any():
        h, w = x.shape[-2:]
        small = F.interpolate(x[down], size=(max(h // 2, 1), max(w // 2, 1)), mode="area")
        x[down] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    x = x + 0.03 * torch.randn(x.shape, generator=gen)
    return x.clamp(-1.5, 1.5)


def augment_faces(
    x: torch.Tensor, landmarks: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmentations that hide identity cues so that emotion / factors generalise to unseen
    identities: random per-axis scale and shift (faces of other widths / lengths / positions;
    landmarks follow), random channel permutation, grayscale and per-channel gains (skin, hair and
    background colours), then ``augment_images``. x: (N, 3, s, s); landmarks (N, 68, 2) in [0, 1]."""
    n = x.shape[0]
    scale = 1.0 + 0.24 * (torch.rand(n, 2, generator=gen) - 0.5)  # zoom per axis, 0.88 .. 1.12
    shift = 0.12 * (torch.rand(n, 2, generator=gen) - 0.5)  # in [-1, 1] grid units
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = 1.0 / scale[:, 0], 1.0 / scale[:, 1]
    theta[:, :, 2] = -shift / scale
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # output point p (grid units g = 2p - 1) samples input g_in = g / scale - shift / scale,
    # so an input landmark at g_in appears at g = g_in * scale + shift
    g = (landmarks * 2 - 1) * scale[:, None, :] + shift[:, None, :]
    landmarks = (g + 1) / 2
    return augment_colours(x, gen), landmarks


def augment_colours(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Colour augmentations against skin / hair / background identity cues (random channel
    permutation, grayscale, per-channel gains), then ``augment_images``. x: (N, 3, s, s)."""
    n = x.shape[0]
    perm = torch.rand(n, generator=gen) < 0.5
    if perm.any():
        order = torch.randperm(3, generator=gen)
        x[perm] = x[perm][:, order]
    gray = torch.rand(n, generator=gen) < 0.25
    if gray.any():
        x[gray] = x[gray].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    x = x * (1.0 + 0.3 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5))
    return augment_images(x, gen)


def align_jitter(n: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 4) random (dx, dy, log-scale, angle) for ``align_faces``: about the error of aligning
    on predicted instead of true eye centres (+-2 px, +-5 % scale, +-3 degrees)."""
    r = torch.rand(n, 4, generator=gen) * 2 - 1
    return r * torch.tensor([0.04, 0.04, 0.05, 0.05])


def mix_faces(
    aligned: torch.Tensor, expression: torch.Tensor, emotion: torch.Tensor, share: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup of eye-aligned faces across the batch (mostly other identities): a ``share`` of the
    samples becomes lam * face + (1 - lam) * another face, lam ~ U(0, 1), with the action amounts
    mixed the same way and soft emotion targets. Aligned faces blend into plausible in-between
    faces, so the expression branch sees many more than the split's few identities."""
    n = aligned.shape[0]
    lam = torch.rand(n, generator=gen)
    lam = torch.where(torch.rand(n, generator=gen) < share, lam, torch.ones(n))
    other = torch.randperm(n, generator=gen)
    mixed = lam[:, None, None, None] * aligned + (1 - lam[:, None, None, None]) * aligned[other]
    amounts = lam[:, None] * expression + (1 - lam[:, None]) * expression[other]
    onehot = F.one_hot(emotion, 8).float() if emotion.ndim == 1 else emotion
    soft = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[other]
    return mixed, amounts, soft


def _one_cycle(opt: torch.optim.Optimizer, lr: float, steps: int):
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)


def _bar(steps: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(range(steps), desc=desc, unit="step", disable=not enabled, leave=False)


# -- face analyser -------------------------------------------------------------------------------


def face_tensors(
    clips: list[ExpertClip], cfg: FaceAnalyserConfig, identities: list[str]
) -> dict[str, torch.Tensor]:
    """Every frame of ``clips`` as training tensors (face boxes resized once, uint8 to save memory)."""
    ident = {name: i for i, name in enumerate(identities)}
    images, boxes, lms, pose, mouth, emo, idn, expr = [], [], [], [], [], [], [], []

    def as_uint8(x: torch.Tensor) -> torch.Tensor:
        return ((x + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)

    for c in clips:
        x = to_input(c.frames, cfg.input_size, cfg.crop)
        images.append(as_uint8(x))
        if cfg.align_size:  # the face box at its native size, for the aligned branch
            top, bottom, left, right = cfg.crop
            native = int(round(max(bottom - top, right - left) * c.size))
            boxes.append(as_uint8(to_input(c.frames, native, cfg.crop)))
        lms.append(torch.from_numpy(frame_to_box(c.landmarks, c.size, cfg.crop)))
        pose.append(torch.from_numpy(c.pose))
        mouth.append(torch.from_numpy(c.mouth))
        emo.append(torch.full((c.n_frames,), c.emotion, dtype=torch.long))
        idn.append(torch.full((c.n_frames,), ident[c.identity], dtype=torch.long))
        amounts = c.expression if c.expression is not None else np.zeros(14, np.float32)
        expr.append(torch.from_numpy(amounts)[None].expand(c.n_frames, -1))
    out = {"boxes": torch.cat(boxes)} if boxes else {}
    return {
        **out,
        "images": torch.cat(images),
        "landmarks": torch.cat(lms).float(),
        "pose": torch.cat(pose).float(),
        "mouth": torch.cat(mouth).float(),
        "emotion": torch.cat(emo),
        "identity": torch.cat(idn),
        "expression": torch.cat(expr).float(),
    }


def train_face_analyser(
    clips: list[ExpertClip],
    settings: TrainSettings,
    cfg: FaceAnalyserConfig | None = None,
    before_more_threads: Callable[[], None] | None = None,
) -> FaceAnalyser:
    """Fit the face analyser on every frame of ``clips`` (target statistics from the data).

    At step ``settings.face_more_threads_step`` it calls ``before_more_threads`` (which waits for
    whatever else used the other core) and doubles torch's threads, up to the CPU count."""
    threads = torch.get_num_threads()
    try:
        return _fit_face_analyser(clips, settings, cfg, before_more_threads)
    finally:
        torch.set_num_threads(threads)


def _fit_face_analyser(clips, settings, cfg, before_more_threads) -> FaceAnalyser:
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    identities = sorted({c.identity for c in clips})
    base = cfg or FaceAnalyserConfig()
    data = face_tensors(clips, base, identities)
    cfg = dataclasses.replace(
        base,
        n_identities=len(identities),
        pose_mean=tuple(data["pose"].mean(0).tolist()),
        pose_std=tuple(data["pose"].std(0).clamp_min(1e-3).tolist()),
        mouth_mean=tuple(data["mouth"].mean(0).tolist()),
        mouth_std=tuple(data["mouth"].std(0).clamp_min(1e-3).tolist()),
    )
    model = FaceAnalyser(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=5e-4)
    sched = _one_cycle(opt, settings.lr, settings.face_steps)
    n = len(data["images"])
    model.train()
    bar = _bar(settings.face_steps, "face analyser", settings.progress)
    for step in bar:
        if step == settings.face_more_threads_step:
            if before_more_threads is not None:
                before_more_threads()
            torch.set_num_threads(min(os.cpu_count() or 1, 2 * torch.get_num_threads()))
        idx = torch.randint(0, n, (min(settings.batch_size, n),), generator=gen)
        batch = {k: data[k][idx] for k in ("landmarks", "pose", "mouth", "emotion", "identity", "expression")}
        aligned = None
        if cfg.align_size:  # aligned on the true eye centres, jittered like predicted ones
            box = data["boxes"][idx].float() / 127.5 - 1.0
            aligned = align_faces(box, batch["landmarks"], cfg.align_size, align_jitter(len(idx), gen))
            aligned = augment_colours(aligned, gen)
            if settings.mixup > 0:
                aligned, batch["expression"], batch["emotion"] = mix_faces(
                    aligned, batch["expression"], batch["emotion"], settings.mixup, gen
                )
        x, batch["landmarks"] = augment_faces(
            data["images"][idx].float() / 127.5 - 1.0, batch["landmarks"], gen
        )
        loss, parts = face_loss(model, model.analyse(x, aligned), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(
            loss=f"{float(loss.detach()):.3f}", emo=f"{parts['emotion']:.2f}", lmk=f"{parts['landmarks']:.3f}"
        )
    return model.eval()


# -- sync net -------------------------------------------------------------------------------------


def sync_tensors(clips: list[ExpertClip], cfg: SyncNetConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per clip: lip frames (T, 3, h, w) and in-sync mel windows (T-4, 1, 80, 16)."""
    out = []
    for c in clips:
        lips = lip_frames(c.frames, cfg)
        mels = audio_windows(c.wav, c.n_frames, c.fps)
        out.append((lips, mels))
    return out


def train_sync_net(
    clips: list[ExpertClip], settings: TrainSettings, cfg: SyncNetConfig | None = None
) -> SyncNetJudge:
    """Fit the sync net contrastively (in-sync vs shifted windows, see ``sync_loss``)."""
    torch.manual_seed(settings.seed + 1)
    gen = torch.Generator().manual_seed(settings.seed + 1)
    cfg = cfg or SyncNetConfig()
    data = sync_tensors(clips, cfg)
    model = SyncNetJudge(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.sync_lr, weight_decay=1e-4)
    sched = _one_cycle(opt, settings.sync_lr, settings.sync_steps)
    model.train()
    bar = _bar(settings.sync_steps, "sync net", settings.progress)
    for _ in bar:
        pick = torch.randperm(len(data), generator=gen)[: settings.sync_clips].tolist()
        lips, mels = [], []
        for i in pick:
            frames, mel = data[i]
            frames = augment_images(frames, gen)
            lips.append(stack_windows(frames))
            gain = 0.3 * (torch.rand(1, generator=gen) - 0.5) * 2  # level shift in normalised dB
            mels.append((mel + gain + 0.05 * torch.randn(mel.shape, generator=gen)).clamp(-4, 4))
        loss, parts = sync_loss(model, lips, mels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{parts['sync']:.3f}", offset_acc=f"{parts['offset_acc']:.2f}")
    return model.eval()


# -- the command ----------------------------------------------------------------------------------


def _sync_worker(data: str, split: str, settings: dict, threads: int) -> tuple[dict, dict, float]:
    """Child process: decode ``split`` and fit the sync net; returns (config, state dict, seconds)."""
    torch.set_num_threads(threads)
    settings_ = dataclasses.replace(TrainSettings(**settings), progress=False)
    clips = load_split(data, split, max_clips=settings_.max_clips, progress=False)
    t = time.time()
    model = train_sync_net(clips, settings_)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return model.cfg.to_dict(), state, time.time() - t


def train_experts(
    data: str | Path,
    split: str,
    out: str | Path,
    settings: TrainSettings,
    only: tuple[str, ...] = tuple(EXPERT_NAMES),
) -> dict[str, Path]:
    """Load ``split`` (guarded), train the requested experts (``only``: kinds of ``EXPERT_NAMES``,
    face_analyser and sync_net), save them; returns name -> path.

    With ``settings.parallel`` and both experts requested, the sync net trains in a spawned
    child process (one torch thread) while this process trains the face analyser, so the two
    small single-threaded loops use both cores; the results are the same as sequential."""
    if unknown := sorted(set(only) - set(EXPERT_NAMES)):
        raise ValueError(f"unknown expert kind(s) {unknown}; the kinds are {', '.join(EXPERT_NAMES)}")
    t0 = time.time()
    clips = load_split(data, split, max_clips=settings.max_clips, progress=settings.progress)
    identities = sorted({c.identity for c in clips})
    print(
        f"[experts] {split}: {len(clips)} clips, {len(identities)} identities, "
        f"{sum(c.n_frames for c in clips)} frames (decoded in {time.time() - t0:.1f}s)"
    )
    extra = {"settings": dataclasses.asdict(settings)}
    paths = {}
    pool = future = None
    if settings.parallel and "face_analyser" in only and "sync_net" in only:
        import multiprocessing

        from edtalk.data.pool_worker import start_pool_worker  # Ctrl-C left to this process; ends with it

        pool = multiprocessing.get_context("spawn").Pool(1, initializer=start_pool_worker)
        future = pool.apply_async(
            _sync_worker, (str(data), split, dataclasses.asdict(settings), torch.get_num_threads())
        )
        print("[experts] sync net training in a second process")

    def keep(model, name: str, seconds: float, how: str = "") -> None:
        p = save_expert(model, name, split, identities, out, extra, dataset_record(data))
        paths[p.stem] = p
        print(f"[experts] {name.replace('_', ' ')} trained in {seconds:.1f}s{how} -> {p}")

    try:
        if "face_analyser" in only:
            t = time.time()
            extra_clips = []
            if settings.extra_identities:
                from edtalk.experts.extra_identities import (
                    EXTRA_INDEX_BASE,
                    TRAIN_EXTRA_INDEX_BASE,
                    render_extra_clips,
                )

                # a loss expert's extra people come from the training range, never the judges'
                base = EXTRA_INDEX_BASE if split == "judge" else TRAIN_EXTRA_INDEX_BASE
                extra_clips = render_extra_clips(
                    data,
                    settings.extra_identities,
                    settings.extra_frames_per_clip,
                    settings.progress,
                    index_base=base,
                )
                extra["extra_index_base"] = base
                print(
                    f"[experts] + {settings.extra_identities} rendered identities of no split, "
                    f"{sum(c.n_frames for c in extra_clips)} stills ({time.time() - t:.1f}s)"
                )
            wait = future.wait if future is not None else None  # the sync net frees its core
            model = train_face_analyser(clips + extra_clips, settings, before_more_threads=wait)
            keep(model, "face_analyser", time.time() - t)
        if future is not None:
            cfg, state, seconds = future.get()
            pool.close()
            pool.join()
            pool = None
            model = SyncNetJudge(SyncNetConfig.from_dict(cfg))
            model.load_state_dict(state)
            keep(model.eval(), "sync_net", seconds, " (second process)")
        elif "sync_net" in only:
            t = time.time()
            keep(train_sync_net(clips, settings), "sync_net", time.time() - t)
    finally:
        if pool is not None:  # this process failed before the child finished: stop it
            pool.terminate()
            pool.join()
    return paths
