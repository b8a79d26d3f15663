"""``python -m eval.capacity``: can eg_pretrain's E and G learn to draw a talking mouth at all?

    python -m eval.capacity --data data/synthtalk [--steps 1000] [--oracle-mouth] [--mouth-weight 20]
                            [--device auto]   # a GPU when there is one (the paper preset needs it)
                            [--curve 250,500]   # also measure on the way: a learning curve

The proof (``eval.proof``) asks whether the trained chain transfers mouth, pose and emotion. When it
does not, this tool separates "the data/schedule is too short" from "the network cannot do it in
this budget": it overfits stage 1 (eg_pretrain, L_rec + L_per as the stage's own loss) on ONE training
clip, source I^i = the clip's first frame, targets I^d = its frames, and then judges the
self-reconstruction of that same clip with the synthtalk face judge:

- full-image L1 and mouth-box L1 (landmarks 48-67, +-3 px) against the static source frame;
- the judged mouth opening: its standard deviation over the clip (GT frames give the target) and its
  correlation with the true opening from the sidecar;
- the judged pose error against the true pose, and the static source frame's.

``--oracle-mouth`` takes E and the mouth navigation out of the loop: W^m is a learned linear map of
the clip's TRUE mouth opening and width (sidecar factors, standardised over the clip) instead of
MLP^m(E(I^d)), so what remains is G's ability to draw a mouth it is told about.
``--mouth-weight`` adds a mouth-box L1 term (a diagnostic, not one of the paper's losses).

The result is printed and written to ``--out`` (JSON, atomic). Nothing here is a benchmark figure:
the model is trained on the clip it is judged on, on purpose.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edtalk.atomic import write_json
from edtalk.cli import (
    add_device_option,
    model_preset,
    non_negative_float,
    non_negative_int,
    out_file_problem,
    positive_float,
    positive_int,
    report_error,
)
from edtalk.data.errors import DataError

MOUTH_MARGIN_PX = 3  # mouth box = bounding box of landmarks 48-67 grown by this many pixels
FLAT_STD = 1e-6  # a judged or true mouth opening whose std is at most this does not move: no correlation


def mouth_boxes(landmarks: np.ndarray, size: int, native: int) -> torch.Tensor:
    """(T, 68, 2) landmarks at ``native`` px -> (T, 1, size, size) float mask of the mouth box."""
    pts = np.asarray(landmarks, np.float32)[:, 48:68] * (size / native)
    mask = torch.zeros(len(pts), 1, size, size)
    lo = np.floor(pts.min(1) - MOUTH_MARGIN_PX).astype(int).clip(0, size)
    hi = np.ceil(pts.max(1) + MOUTH_MARGIN_PX).astype(int).clip(0, size)
    for i in range(len(pts)):
        mask[i, :, lo[i, 1] : hi[i, 1], lo[i, 0] : hi[i, 0]] = 1.0
    return mask


def masked_l1(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error inside ``mask`` (per pixel and channel)."""
    return ((fake - real).abs() * mask).sum() / (mask.sum() * fake.shape[1]).clamp(min=1.0)


class MouthOracle(nn.Module):
    """W^m = A [opening, width] + b from the true mouth factors (standardised over the clip)."""

    def __init__(self, mouth: np.ndarray, n_bases: int) -> None:
        super().__init__()
        factors = torch.as_tensor(np.asarray(mouth, np.float32)[:, :2])
        self.register_buffer("factors", (factors - factors.mean(0)) / factors.std(0).clamp(min=1e-6))
        self.linear = nn.Linear(2, n_bases)

    def forward(self, frame_index: torch.Tensor) -> torch.Tensor:
        return self.linear(self.factors[frame_index])


def _weights(model, f_target, oracle: MouthOracle | None, index: torch.Tensor):
    names = tuple(n for n in ("mouth", "pose") if n in model.cfg.bank_names)
    w = model.navigate(f_target, names)
    if oracle is not None:
        w["mouth"] = oracle(index)
    return w


def reconstruct(
    model, frames: torch.Tensor, oracle: MouthOracle | None, batch_size: int = 32
) -> torch.Tensor:
    """Self-reconstruction of every frame from frame 0 (all banks driven by the frame itself)."""
    out = []
    with torch.no_grad():
        f_s, skips = model.encode(frames[:1])
        for start in range(0, len(frames), batch_size):
            chunk = frames[start : start + batch_size]
            n = len(chunk)
            f_t, _ = model.encode(chunk)
            w = _weights(model, f_t, oracle, torch.arange(start, start + n))
            latent = model.compose(f_s.expand(n, -1), w)
            out.append(model.generate(latent, [s.expand(n, -1, -1, -1) for s in skips]))
    return torch.cat(out)


def overfit_clip(
    model,
    frames: torch.Tensor,
    mouth_mask: torch.Tensor,
    steps: int,
    *,
    lr: float = 2e-3,
    beta1: float = 0.9,
    batch_size: int = 8,
    mouth_weight: float = 0.0,
    oracle: MouthOracle | None = None,
    perceptual: nn.Module | None = None,
    seed: int = 0,
    progress: bool = False,
    measure_at: tuple[int, ...] = (),
    measure=None,
) -> list[float]:
    """Train eg_pretrain's parameters (+ the oracle) on one clip; returns the loss of every step.

    ``measure(step)`` is called (model in eval mode, then back to training) after each step count in
    ``measure_at``, so one run with one optimiser gives a learning curve."""
    from edtalk.perceptual import auto_perceptual, build_perceptual
    from edtalk.stages import apply_freezing, get_stage, set_train_mode

    stage = get_stage("eg_pretrain")
    params = apply_freezing(stage, model) + (list(oracle.parameters()) if oracle is not None else [])
    set_train_mode(stage, model)
    optimiser = torch.optim.Adam(params, lr=lr, betas=(beta1, 0.99))
    perceptual = (perceptual if perceptual is not None else build_perceptual(auto_perceptual())).to(
        frames.device
    )
    rng = np.random.default_rng(seed)
    losses = []
    steps_iter = range(steps)
    if progress:
        from tqdm import tqdm

        steps_iter = tqdm(steps_iter, desc="overfit one clip", unit="step")
    for _ in steps_iter:
        index = torch.as_tensor(rng.integers(len(frames), size=batch_size))
        target = frames[index]
        f_s, skips = model.encode(frames[:1].expand(batch_size, -1, -1, -1))
        f_t, _ = model.encode(target)
        fake = model.generate(model.compose(f_s, _weights(model, f_t, oracle, index)), skips)
        loss = (fake - target).abs().mean() + perceptual(fake, target)
        if mouth_weight:
            loss = loss + mouth_weight * masked_l1(fake, target, mouth_mask[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        if measure is not None and len(losses) in measure_at and len(losses) < steps:
            model.eval()
            measure(len(losses))
            set_train_mode(stage, model)
    model.eval()
    return losses


def judge_clip(judge, fake: np.ndarray, clip) -> dict:
    """Judged mouth opening (std, correlation with the truth) and pose error, vs GT and static frames."""
    from eval.metrics.functional.disentangle import factor_errors

    static = np.repeat(clip.frames[:1], len(clip.frames), axis=0)
    judged = {
        name: judge.analyse(frames)
        for name, frames in (("gt", clip.frames), ("fake", fake), ("static", static))
    }
    true_open = clip.mouth[:, 0]

    def corr(a: np.ndarray) -> float | None:
        """None where a side (nearly) never moves: the static frames, judged with float32 noise of
        ~1e-9, made np.corrcoef divide by ~0 into a NaN (a bare NaN in the output JSON)."""
        if a.std() <= FLAT_STD or true_open.std() <= FLAT_STD:
            return None
        r = float(np.corrcoef(a, true_open)[0, 1])
        return r if np.isfinite(r) else None

    return {
        "mouth_open_std": {k: float(v["mouth"][:, 0].std()) for k, v in judged.items()},
        "mouth_open_corr_with_truth": {k: corr(v["mouth"][:, 0]) for k, v in judged.items()},
        "pose_error_deg": {k: float(factor_errors(v["pose"], clip.pose).mean()) for k, v in judged.items()},
    }


def run(
    data: Path,
    clip_id: str | None,
    steps: int,
    *,
    preset: str = "tiny",
    lr: float = 2e-3,
    mouth_weight: float = 0.0,
    oracle_mouth: bool = False,
    judge=None,
    seed: int = 0,
    progress: bool = True,
    curve_at: tuple[int, ...] = (),
    device: str = "cpu",
) -> dict:
    """Overfit, then measure at ``steps`` (and at each step count of ``curve_at`` on the way: the
    result's ``curve``, one optimiser throughout). Top-level measures are those at ``steps``. The
    model trains on ``device`` ("auto": a GPU when there is one)."""
    from edtalk.config import ModelConfig, StageConfig
    from edtalk.data.readers import read_clips
    from edtalk.driving import model_input, resolve_device, to_frames
    from edtalk.experts.data import decode_clips
    from edtalk.model import EDTalk
    from edtalk.stages import get_stage

    listed = read_clips("synthtalk", data, split="train")
    if not listed:
        raise DataError(data, "no training clips (splits/train.txt is empty)")
    chosen = next((c for c in listed if c.id == clip_id), None) if clip_id else listed[0]
    if chosen is None:
        raise DataError(data, f"no training clip {clip_id!r} (see splits/train.txt)")
    dev = resolve_device(device)
    clip = decode_clips([chosen])[0]
    torch.manual_seed(seed)
    cfg = ModelConfig.preset(preset)
    model = EDTalk(cfg).to(dev)
    frames = model_input(clip.frames, cfg.image_size, name=clip.id).to(dev)
    mask = mouth_boxes(clip.landmarks, cfg.image_size, clip.size).to(dev)
    oracle = MouthOracle(clip.mouth, cfg.bank_size("mouth")).to(dev) if oracle_mouth else None
    beta1 = get_stage("eg_pretrain").config_defaults(preset).get("beta1", StageConfig.beta1)
    static = frames[:1].expand_as(frames)
    curve: list[dict] = []
    t0, measuring = time.time(), 0.0  # seconds spent measuring are not training time

    def measure(step: int) -> None:
        nonlocal measuring
        start = time.time()
        fake = reconstruct(model, frames, oracle)
        point = {
            "steps": step,
            "train_seconds": start - t0 - measuring,
            "l1": {
                "fake": float((fake - frames).abs().mean()),
                "static": float((static - frames).abs().mean()),
            },
            "mouth_box_l1": {
                "fake": float(masked_l1(fake, frames, mask)),
                "static": float(masked_l1(static, frames, mask)),
            },
        }
        if judge is not None:
            point["judged"] = judge_clip(judge, to_frames(fake), clip)
        curve.append(point)
        measuring += time.time() - start

    marks = tuple(sorted({m for m in curve_at if 0 < m < steps}))
    losses = overfit_clip(
        model,
        frames,
        mask,
        steps,
        lr=lr,
        beta1=beta1,
        mouth_weight=mouth_weight,
        oracle=oracle,
        seed=seed,
        progress=progress,
        measure_at=marks,
        measure=measure,
    )
    measure(steps)
    final = curve[-1]
    result = {
        "clip": clip.id,
        "preset": preset,
        "steps": steps,
        "lr": lr,
        "beta1": beta1,
        "mouth_weight": mouth_weight,
        "oracle_mouth": oracle_mouth,
        "train_seconds": final["train_seconds"],
        "loss_first_last": [losses[0], losses[-1]] if losses else None,
        **{k: final[k] for k in ("l1", "mouth_box_l1", "judged") if k in final},
    }
    if len(curve) > 1:
        result["curve"] = curve
    return result


def _fmt_corr(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_result(r: dict) -> str:
    lines = [
        f"clip {r['clip']}  preset {r['preset']}  {r['steps']} steps in {r['train_seconds']:.0f} s"
        f"  lr {r['lr']}  mouth weight {r['mouth_weight']}  oracle mouth {r['oracle_mouth']}",
        f"L1 self-recon {r['l1']['fake']:.4f} (static frame {r['l1']['static']:.4f});  mouth-box L1 "
        f"{r['mouth_box_l1']['fake']:.4f} (static {r['mouth_box_l1']['static']:.4f})",
    ]
    j = r.get("judged")
    if j:
        lines += [
            f"judged mouth opening std: GT {j['mouth_open_std']['gt']:.3f}  self-recon "
            f"{j['mouth_open_std']['fake']:.3f}  static {j['mouth_open_std']['static']:.3f}",
            f"  correlation with the true opening: GT {_fmt_corr(j['mouth_open_corr_with_truth']['gt'])}"
            f"  self-recon {_fmt_corr(j['mouth_open_corr_with_truth']['fake'])}",
            f"judged pose error (deg): GT {j['pose_error_deg']['gt']:.2f}  self-recon "
            f"{j['pose_error_deg']['fake']:.2f}  static {j['pose_error_deg']['static']:.2f}",
        ]
    if r.get("curve"):
        lines.append("learning curve: steps  train s  L1  mouth-box L1  [judged mouth std  corr  pose err]")
        for point in r["curve"]:
            row = (
                f"  {point['steps']:>6}  {point['train_seconds']:>7.0f}  {point['l1']['fake']:.4f}"
                f"  {point['mouth_box_l1']['fake']:.4f}"
            )
            pj = point.get("judged")
            if pj:
                row += (
                    f"  {pj['mouth_open_std']['fake']:.3f}"
                    f"  {_fmt_corr(pj['mouth_open_corr_with_truth']['fake'])}"
                    f"  {pj['pose_error_deg']['fake']:.2f}"
                )
            lines.append(row)
    return "\n".join(lines)


def _step_list(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated step counts, got {text!r}") from None
    if any(s <= 0 for s in steps):
        raise argparse.ArgumentTypeError(f"step counts must be positive, got {text!r}")
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.capacity",
        description="Overfit eg_pretrain on one synthtalk training clip and judge whether it draws the "
        "clip's mouth and pose (a capacity check, not a benchmark).",
    )
    parser.add_argument("--data", required=True, type=Path, help="synthtalk root (a training clip is used)")
    parser.add_argument(
        "--clip", default=None, help="training clip id (default: the first of splits/train.txt)"
    )
    parser.add_argument("--steps", type=positive_int, default=1000, help="training steps (1000)")
    parser.add_argument("--preset", type=model_preset, default="tiny", help="model preset (tiny)")
    parser.add_argument(
        "--lr", type=positive_float, default=2e-3, help="Adam learning rate (2e-3, the stage's)"
    )
    parser.add_argument(
        "--mouth-weight", type=non_negative_float, default=0.0, help="weight of a mouth-box L1 term (0)"
    )
    parser.add_argument(
        "--oracle-mouth", action="store_true", help="W^m from the true mouth factors instead of MLP^m(E(I^d))"
    )
    parser.add_argument(
        "--curve",
        type=_step_list,
        default=(),
        help="also measure after these step counts, comma-separated (e.g. 1000,2500): a learning curve "
        "from one run",
    )
    parser.add_argument("--no-judge", action="store_true", help="skip the judge (pixel measures only)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the run, >= 0 (0)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    add_device_option(parser, "the model and the judge")
    args = parser.parse_args(argv)
    if beyond := [m for m in args.curve if m >= args.steps]:
        parser.error(
            f"--curve {','.join(map(str, beyond))}: at or past --steps {args.steps}, where the run stops "
            "(the final measures are at --steps); raise --steps or give earlier counts"
        )
    from edtalk.driving import resolve_device
    from edtalk.driving_inputs import InferenceError

    if problem := out_file_problem(args.out):  # before the work, not after it
        return report_error(problem)
    try:
        device = str(resolve_device(args.device))
    except InferenceError as err:
        return report_error(err)
    judge = None
    if not args.no_judge:
        from edtalk.weights import MissingWeightsError

        try:
            from eval.proof.judges import Judges

            judge = Judges(device, args.data, sync=False)  # refused if it saw this set's train people
        except MissingWeightsError as err:
            return report_error(f"{err}\n(or run with --no-judge for the pixel measures only)")
        except DataError as err:  # a judge trained on this set's train or test people
            return report_error(err)
    try:
        result = run(
            args.data,
            args.clip,
            args.steps,
            preset=args.preset,
            lr=args.lr,
            mouth_weight=args.mouth_weight,
            oracle_mouth=args.oracle_mouth,
            judge=judge,
            seed=args.seed,
            curve_at=args.curve,
            device=device,
        )
    except DataError as err:  # a missing dataset root or an unknown --clip: one line
        return report_error(err)
    print(format_result(result))
    if args.out:
        write_json(args.out, result, indent=1, sort_keys=True)
        print(f"[capacity] {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from edtalk.cli import run_main

    run_main(main)
