"""``python -m eval.oracle``: could the expression half draw an emotion handed a clean code, and can E
hand it one?

    python -m eval.oracle --ckpt runs/mouth_pose/final.pt --data data/synthtalk [--cache DIR]
                          [--steps 2000] [--lr 5e-3] [--frozen-decoder] [--readout-steps 1000]
                          [--device auto] [--out oracle.json]

``eval.inversion`` asks whether a frozen G can draw a person's emotion at all. This asks the two
questions behind the expression stage (paper Sec. 3.2) separately, on synthtalk's emotion labels:

1. **Code.** W^e is replaced by one learnable code per emotion label (an oracle: the driver's true
   emotion picks it) and trained with B^e, EEM and, unless ``--frozen-decoder``, G's decoder (at a
   tenth of the rate; ``edtalk.train --also-train generator`` trains it at the stage's own rate) on
   the expression stage's self-reconstruction L1: a neutral frame of a training person drawn with
   the driver's W^m, W^p and its emotion's code, against the driver. E, MLN and PLN stay frozen.
2. **Readout.** MLP^e (ELN) is then fitted, E frozen, to predict those codes from E's K-frame-averaged
   features (the best linear readout E's latent allows; trained on the labels, on purpose). With
   ``--readout-encoder-lr`` E learns the labels too.

Judged on eval.inversion's test pairs (a test person's neutral frame driven by frames of their own
emotional clip; people neither half saw), the face judge reads the driver's emotion in:
``none`` (W^e left out), ``code`` (the emotion's code), ``shifted`` (the next emotion's code: the
share read as THAT emotion, i.e. does the judge follow the code), ``readout`` (ELN's W^e); and
``readout_code_accuracy`` is how often ELN's W^e lies nearest the driver's emotion's code.
``code`` well above ``none``: B^e/EEM/G can draw the emotion onto unseen faces; ``readout_code_accuracy``
near chance (1/8): E's latent does not carry unseen people's emotion, whatever draws it.

Measured on the demo chain's mouth_pose (76 training people with the rendered extras; defaults,
7 min on 2 CPU cores): none 0.19, code 0.46, next code read as itself 0.22, readout 0.24, readout
accuracy 0.32 (chance 0.12; GT 0.97). The drawn frame moves by ~1.2 grey levels either way.
Neither half is a figure of the method: the codes see the labels. The checkpoint is never written.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from edtalk.cli import non_negative_float, positive_float, positive_int, print_and_save
from edtalk.data.clip import EMOTIONS
from edtalk.data.errors import DataError

N_EMOTIONS = len(EMOTIONS)
ROWS = ("none", "code", "shifted", "readout")


def find_training_cache(root: str | Path, size: int) -> Path:
    """The frame cache under ``root`` (``edtalk.train``'s ``<out>/cache``) at ``size`` px with the most
    clips (the one with the rendered extra people when the chain used them)."""
    found = []
    for meta in sorted(Path(root).glob("*/meta.json")):
        info = json.loads(meta.read_text())
        if info.get("size") == size:
            found.append((len(info["start"]), meta.parent))
    if not found:
        raise DataError(
            root,
            f"no training frame cache at {size} px here (edtalk.train writes one to <out>/cache; "
            "give it with --cache)",
        )
    return max(found)[1]


def _unfreeze(model, prefixes: tuple[str, ...]) -> list[torch.nn.Parameter]:
    """Make the parameters under ``prefixes`` trainable (named as a stage's ``trainable``,
    ``edtalk.stages.param_matches``) and return them; the others keep their requires_grad."""
    from edtalk.stages import param_matches

    params = [p for name, p in model.named_parameters() if param_matches(name, prefixes)]
    for p in params:
        p.requires_grad_(True)
    return params


def _draw(model, f_src, skips, w_d: dict, w_e: torch.Tensor | None) -> torch.Tensor:
    """G(f^{s->r} + B^m W^m + B^p W^p [+ B^e W^e], EEM(B^e W^e)); W^e None leaves expression out."""
    if w_e is None:
        return model.generate(model.compose(f_src, w_d), skips)
    return model.generate(
        model.compose(f_src, {**w_d, "expression": w_e}), skips, model.expression_latent(w_e)
    )


def _adam_steps(opt, loss_of_a_batch, steps: int, desc: str, metric: str, progress: bool) -> list[float]:
    """``steps`` steps of ``opt`` on ``loss_of_a_batch()`` (a fresh batch each call), with a progress bar
    when ``progress``; returns the loss of each step."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=desc, unit="step")
    curve = []
    for _ in range(steps):
        loss = loss_of_a_batch()
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
        if bar is not None:
            bar.update()
            bar.set_postfix({metric: f"{curve[-1]:.4f}"}, refresh=False)
    if bar is not None:
        bar.close()
    return curve


def train_codes(model, sampler, steps: int, lr: float, train_decoder: bool, batch: int = 8, progress=True):
    """Phase 1: one W^e per emotion label, with B^e and EEM (and G's decoder at lr / 10), on the
    self-reconstruction L1. Returns (codes [8, K^e], L1 per step)."""
    device = next(model.parameters()).device
    torch.manual_seed(0)
    k_e = model.bases()["expression"].shape[1]
    codes = torch.nn.Parameter(0.5 * torch.randn(N_EMOTIONS, k_e, device=device))
    model.requires_grad_(False)
    head = _unfreeze(model, ("banks.raw.expression", "eem"))
    decoder = _unfreeze(model, ("generator",)) if train_decoder else []
    opt = torch.optim.Adam([{"params": [codes, *head]}, {"params": decoder, "lr": lr / 10}], lr=lr)

    def loss_of_a_batch():
        b = sampler.expression_windows(batch, 1)
        source, driving = b["source"].to(device), b["driving"].to(device)
        with torch.no_grad():
            f_src, skips = model.encode(source)
            w_d = model.navigate(model.encode(driving)[0], ("mouth", "pose"))
        return (_draw(model, f_src, skips, w_d, codes[b["emotion"].to(device)]) - driving).abs().mean()

    model.train()
    curve = _adam_steps(opt, loss_of_a_batch, steps, "oracle codes", "l1", progress)
    model.eval()
    return codes.detach(), curve


def fit_readout(
    model,
    sampler,
    codes,
    steps: int,
    lr: float,
    window: int,
    encoder_lr: float = 0.0,
    batch: int = 8,
    progress=True,
):
    """Phase 2: MLP^e (ELN) regresses each driver's emotion code from E's ``window``-frame-averaged
    features; E frozen unless ``encoder_lr`` > 0 (then E learns the labels too, at that rate). Returns
    the squared error per step."""
    device = codes.device
    model.requires_grad_(False)
    groups = [{"params": _unfreeze(model, ("navigation.heads.expression",))}]
    if encoder_lr > 0:
        groups.append({"params": _unfreeze(model, ("encoder",)), "lr": encoder_lr})
    opt = torch.optim.Adam(groups, lr=lr)

    def loss_of_a_batch():
        b = sampler.expression_windows(batch, window)
        n, k = b["window"].shape[:2]
        with torch.set_grad_enabled(encoder_lr > 0):
            f_win = model.encode(b["window"].flatten(0, 1).to(device))[0]
        w_e = model.navigate(f_win, ("expression",))["expression"].view(n, k, -1).mean(1)
        return ((w_e - codes[b["emotion"].to(device)]) ** 2).mean()

    curve = _adam_steps(opt, loss_of_a_batch, steps, "ELN readout", "mse", progress)
    model.requires_grad_(False)
    return curve


@torch.no_grad()
def measure(model, judge, codes, pairs, frames: int) -> dict:
    """The rows of ``ROWS`` on ``pairs`` of decoded (neutral, emotional) clips, and ELN's code accuracy."""
    from edtalk.driving import model_input, to_frames
    from eval.inversion import pair_frames

    size, device = model.cfg.image_size, codes.device
    src, tgt, emotion = pair_frames(pairs, frames)
    source = model_input(src, size, "source").to(device)
    target = model_input(tgt, size, "driver").to(device)
    emo = torch.as_tensor(emotion, device=device)
    shifted = (emo + 1) % N_EMOTIONS
    f_src, skips = model.encode(source)
    f_drv = model.encode(target)[0]
    w_d = model.navigate(f_drv, ("mouth", "pose"))
    w_read = model.navigate(f_drv, ("expression",))["expression"]
    drawn = {
        "none": _draw(model, f_src, skips, w_d, None),
        "code": _draw(model, f_src, skips, w_d, codes[emo]),
        "shifted": _draw(model, f_src, skips, w_d, codes[shifted]),
        "readout": _draw(model, f_src, skips, w_d, w_read),
    }
    wanted = {"none": emo, "code": emo, "shifted": shifted, "readout": emo}
    judged = {}
    for row, pictures in {**drawn, "gt": target}.items():
        read = judge.predict(to_frames(pictures))["emotion"].argmax(1)
        judged[row] = float(np.mean(read == wanted.get(row, emo).cpu().numpy()))
    nearest = torch.cdist(w_read, codes).argmin(1)
    return {
        "pairs": len(pairs),
        "frames": len(emotion),
        "judged": judged,
        "readout_code_accuracy": float((nearest == emo).float().mean()),
        "moved_grey_levels": {
            row: float((drawn[row] - drawn["none"]).abs().mean() * 127.5) for row in ROWS if row != "none"
        },
    }


def format_result(r: dict) -> str:
    j = r["judged"]
    decoder = "decoder trained" if r["train_decoder"] else "decoder frozen"
    lines = [
        f"oracle codes: {r['steps']} steps at lr {r['lr']} ({decoder}), "
        f"L1 {r['code_l1'][0]:.4f} -> {r['code_l1'][1]:.4f}; ELN readout: {r['readout_steps']} steps, "
        f"MSE {r['readout_mse'][0]:.4f} -> {r['readout_mse'][1]:.4f}",
        f"test pairs: {r['pairs']} (neutral frame -> own emotional clip), {r['frames']} frames; "
        "share the face judge reads as the driver's emotion:",
        f"  no expression code      {j['none']:.2f}",
        f"  the emotion's code      {j['code']:.2f}",
        f"  the next emotion's code {j['shifted']:.2f}   (read as that next emotion)",
        f"  ELN's code from E       {j['readout']:.2f}   (nearest code is the driver's emotion: "
        f"{r['readout_code_accuracy']:.2f}; chance {1 / N_EMOTIONS:.2f})",
        f"  ground truth            {j['gt']:.2f}",
    ]
    return "\n".join(lines)


def _head_tail(curve: list[float], n: int = 50) -> list[float]:
    """Mean of the first and last ``n`` steps (a noisy per-batch curve, summarised)."""
    return [float(np.mean(curve[:n])), float(np.mean(curve[-n:]))]


def run(
    ckpt,
    data,
    cache=None,
    steps: int = 2000,
    lr: float = 5e-3,
    train_decoder: bool = True,
    readout_steps: int = 1000,
    readout_lr: float = 2e-3,
    readout_encoder_lr: float = 0.0,
    n_pairs: int = 24,
    frames: int = 3,
    progress: bool = True,
    judge=None,
    device: str = "cpu",
) -> dict:
    """Both phases on a copy of ``ckpt`` loaded onto ``device``, then ``measure`` on the test pairs."""
    from edtalk.config import StageConfig
    from edtalk.data.sampler import StageSampler
    from edtalk.data.training import load_frame_cache
    from edtalk.driving import load_generator, model_device
    from edtalk.experts.store import load_judge
    from eval.inversion import decoded_pairs, pick_test_pairs

    if steps < 1 or readout_steps < 1:
        raise ValueError(f"--steps and --readout-steps must be >= 1, got {steps}, {readout_steps}")
    model, _ = load_generator(ckpt, device)
    if model.eem is None or "expression" not in model.cfg.bank_names:
        raise ValueError(f"{ckpt}: this model has no expression bank / EEM (a lip or lip+pose ablation)")
    picked = pick_test_pairs(data, n_pairs)  # a wrong --data is named before the cache and the judge
    size = model.cfg.image_size
    cache = Path(cache) if cache else find_training_cache(Path(ckpt).resolve().parent.parent / "cache", size)
    frame_cache = load_frame_cache(cache)
    if frame_cache.frames.shape[1] != size:  # before: a shape error naming no file, once the judge had loaded
        raise DataError(
            cache,
            f"a frame cache at {frame_cache.frames.shape[1]} px; {ckpt} draws at {size} px (give the "
            f"cache edtalk.train built at {size} px, or leave --cache out)",
        )
    if (frame_cache.emotion < 0).any():
        raise ValueError(f"{cache}: some clips have no emotion label; the oracle codes need one per clip")
    sampler = StageSampler(frame_cache, seed=1)
    if judge is None:
        judge = load_judge("face_analyser", str(model_device(model)), data)
    pairs = decoded_pairs(picked, progress)
    t0 = time.time()
    codes, code_curve = train_codes(model, sampler, steps, lr, train_decoder, progress=progress)
    window = StageConfig(name="expression").window
    readout_curve = fit_readout(
        model, sampler, codes, readout_steps, readout_lr, window, readout_encoder_lr, progress=progress
    )
    result = measure(model, judge, codes, pairs, frames)
    return {
        "ckpt": str(ckpt),
        "data": str(data),
        "cache": str(cache),
        "training_people": len(frame_cache.identities),
        "steps": steps,
        "lr": lr,
        "train_decoder": train_decoder,
        "readout_steps": readout_steps,
        "readout_encoder_lr": readout_encoder_lr,
        "code_l1": _head_tail(code_curve),
        "readout_mse": _head_tail(readout_curve),
        "seconds": round(time.time() - t0, 1),
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    from edtalk.cli import add_device_option

    parser = argparse.ArgumentParser(
        prog="python -m eval.oracle",
        description="Emotion with an oracle code: train one W^e per emotion label with B^e, EEM (and G's "
        "decoder), then fit ELN to those codes from E's features, and have the face judge read synthtalk "
        "test pairs. Tells 'the expression half cannot draw it' from 'E does not carry it'.",
    )
    parser.add_argument(
        "--ckpt", required=True, help="EDTalk checkpoint with an expression bank (e.g. mouth_pose)"
    )
    parser.add_argument("--data", required=True, type=Path, help="synthtalk root (test split)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="training frame cache (default: the largest at the model's size in <ckpt>/../../cache)",
    )
    parser.add_argument("--steps", type=positive_int, default=2000, help="oracle-code steps (2000)")
    parser.add_argument(
        "--lr", type=positive_float, default=5e-3, help="codes, B^e and EEM rate; decoder gets lr/10 (5e-3)"
    )
    parser.add_argument("--frozen-decoder", action="store_true", help="keep G's decoder frozen in phase 1")
    parser.add_argument("--readout-steps", type=positive_int, default=1000, help="ELN readout steps (1000)")
    parser.add_argument(
        "--readout-encoder-lr",
        type=non_negative_float,
        default=0.0,
        help="train E with the labels in the readout at this rate (default 0: E frozen)",
    )
    parser.add_argument("--pairs", type=positive_int, default=24, help="neutral -> emotional test pairs (24)")
    parser.add_argument("--frames", type=positive_int, default=3, help="driver frames per pair (3)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_option(parser, "the model and the face judge")
    args = parser.parse_args(argv)
    compute = partial(
        run,
        args.ckpt,
        args.data,
        args.cache,
        args.steps,
        args.lr,
        not args.frozen_decoder,
        args.readout_steps,
        readout_encoder_lr=args.readout_encoder_lr,
        n_pairs=args.pairs,
        frames=args.frames,
        progress=not args.no_progress,
        device=args.device,
    )
    return print_and_save(compute, format_result, args.out)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
