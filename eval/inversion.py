"""``python -m eval.inversion``: can G draw a person's emotion, and does E hand it the code?

    python -m eval.inversion --ckpt runs/expression/final.pt --data data/synthtalk [--pairs 24]
                             [--frames 3] [--steps 200] [--device auto] [--out inversion.json]

``eval.proof``'s within-identity diagnostic drives a person's neutral frame with their own emotional
clip. When the judge seldom reads the driver's emotion there, this tool says which half of the model
falls short. For each test pair (``eval.proof.pick_emotion_pairs``: the first frame I^s of a person's
neutral clip, ``--frames`` frames I^d of that person's strongest-level emotional clip) the synthtalk
face judge reads, per frame, whether the picture shows the driver's emotion:

- ``gt``: I^d itself (what the judge can read at all);
- ``navigated``: G(f^{s->r} + sum_* B^* W^*, EEM(B^e W^e)) with W^* = MLP^*(E(I^d)) for every bank of
  the checkpoint: what the model draws;
- ``weights``: the same with every W^* optimised (Adam on the L1 to I^d; E, banks, EEM and G frozen):
  the best G draws inside the model's directions;
- ``latent``: the latent f^{s->d} itself optimised in all D dimensions (EEM keeps the navigated W^e):
  the best G draws from any latent.

``navigated`` far below ``weights`` or ``latent``: E and the navigation MLPs do not hand G the
emotion it could draw. ``latent`` low as well: G cannot draw it onto this face. ``weights`` far below
``latent``: the banks do not span the directions G would need. Measured on the demo's shipped
stage-1 init (the defaults: 24 pairs x 3 frames, 200 steps): gt 0.97, navigated 0.26, weights 0.36,
latent 0.61.

The table is printed and the figures written to ``--out`` (JSON, atomic). The optimised rows are an
upper bound for the checkpoint's G, not a figure of the method: each is fitted to the frame it is
judged on, on purpose.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from edtalk.cli import positive_float, positive_int, print_and_save
from edtalk.data.errors import DataError

MODES = ("gt", "navigated", "weights", "latent")
OPTIMISED = ("weights", "latent")


def driver_rows(n_frames: int, k: int) -> np.ndarray:
    """``k`` frame indices spread evenly inside a clip of ``n_frames`` (the middle one when k is 1)."""
    if k < 1:
        raise ValueError(f"--frames must be >= 1, got {k}")
    return np.linspace(0, n_frames - 1, k + 2)[1:-1].round().astype(int)


def _eem_input(model, weights: dict) -> torch.Tensor | None:
    """f^{r->e} = B^e W^e when ``weights`` hold an expression code, else None (EEM left out)."""
    return model.expression_latent(weights["expression"]) if "expression" in weights else None


def _draw(model, f_src, skips, weights: dict) -> torch.Tensor:
    """G(f^{s->r} + sum_* B^* W^*, EEM(f^{r->e})) for the bank weights ``weights``."""
    return model.generate(model.compose(f_src, weights), skips, _eem_input(model, weights))


def optimise(
    model,
    f_src,
    skips,
    w0: dict,
    target: torch.Tensor,
    free: str,
    steps: int,
    lr: float,
    progress: bool = False,
):
    """Adam on the L1 between G's picture and ``target``; only ``free`` moves ("weights": every W^*,
    "latent": f^{s->d} as a whole). Returns (picture, L1 per step). The model's parameters are not touched."""
    if free not in OPTIMISED:
        raise ValueError(f"free must be one of {OPTIMISED}, got {free!r}")
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        if free == "weights":
            weights = {k: v.detach().clone().requires_grad_(True) for k, v in w0.items()}
            variables = list(weights.values())

            def draw():
                return _draw(model, f_src, skips, weights)
        else:
            latent = model.compose(f_src, w0).detach().clone().requires_grad_(True)
            variables = [latent]
            e_nav = _eem_input(model, w0)

            def draw():
                return model.generate(latent, skips, e_nav)

        opt = torch.optim.Adam(variables, lr=lr)
        curve = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc=f"optimising {free}", unit="step")
        with torch.enable_grad():
            for _ in range(steps):
                loss = (draw() - target).abs().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                curve.append(loss.item())
                if bar is not None:
                    bar.update()
                    bar.set_postfix(l1=f"{curve[-1]:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        with torch.no_grad():
            return draw(), curve
    finally:
        for p in frozen:
            p.requires_grad_(True)


def pair_frames(pairs, frames: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """uint8 (source, driver) frames and the driver's emotion per row: for each (neutral clip, emotional
    clip) pair, its neutral first frame I^s repeated against ``frames`` frames I^d of the emotional clip."""
    src, tgt, emotion = [], [], []
    for s, d in pairs:
        rows = driver_rows(d.n_frames, frames)
        src.append(np.repeat(s.frames[:1], len(rows), 0))
        tgt.append(d.frames[rows])
        emotion += [d.emotion] * len(rows)
    return np.concatenate(src), np.concatenate(tgt), emotion


def pick_test_pairs(data, n_pairs: int) -> list[tuple]:
    """``n_pairs`` (neutral, emotional) clip pairs of the synthtalk TEST identities at ``data``
    (``eval.proof.pick_emotion_pairs``), not decoded: read before the judge loads, so a wrong
    ``--data`` is named first; a clear error when no test identity has both."""
    from edtalk.data.readers import read_clips
    from eval.proof.selection import pick_emotion_pairs

    pairs = pick_emotion_pairs(read_clips("synthtalk", data, split="test"), n_pairs)
    if not pairs:
        raise DataError(data, "no test identity has both a neutral and an emotional clip")
    return pairs


def decoded_pairs(pairs: list[tuple], progress: bool = True) -> list[tuple]:
    """``pick_test_pairs``' clips decoded (``edtalk.experts.data.decode_clips``), each clip once."""
    from edtalk.experts.data import decode_clips

    wanted = {c.id: c for pair in pairs for c in pair}
    decoded = {c.id: c for c in decode_clips([wanted[k] for k in sorted(wanted)], progress=progress)}
    return [(decoded[s.id], decoded[d.id]) for s, d in pairs]


def judged_shares(judge, pictures: dict[str, np.ndarray], emotion: np.ndarray) -> dict[str, float]:
    """Share of frames the judge reads as the driver's ``emotion``, per row of ``pictures``."""
    return {
        mode: float(np.mean(judge.predict(frames)["emotion"].argmax(1) == emotion))
        for mode, frames in pictures.items()
    }


@torch.no_grad()
def measure(model, judge, pairs, frames: int, steps: int, lr: float, progress: bool = True) -> dict:
    """Every row of ``MODES`` for ``pairs`` of decoded clips (neutral source, emotional driver)."""
    from edtalk.driving import model_device, model_input, to_frames

    size = model.cfg.image_size
    src, tgt, emotion = pair_frames(pairs, frames)
    device = model_device(model)
    source = model_input(src, size, "source").to(device)
    target = model_input(tgt, size, "driver").to(device)
    f_src, skips = model.encode(source)
    w0 = model.navigate(model.encode(target)[0])
    pictures = {"gt": target, "navigated": _draw(model, f_src, skips, w0)}
    curves = {}
    for free in OPTIMISED:
        t0 = time.time()
        pictures[free], curves[free] = optimise(model, f_src, skips, w0, target, free, steps, lr, progress)
        if progress:
            print(
                f"[inversion] {free}: L1 {curves[free][0]:.4f} -> {curves[free][-1]:.4f} "
                f"in {steps} steps ({time.time() - t0:.0f} s)",
                flush=True,
            )
    judged = {k: to_frames(v) for k, v in {**pictures, "source": source}.items()}
    shares = judged_shares(judge, judged, np.asarray(emotion))
    source_share = shares.pop("source")
    return {
        "pairs": len(pairs),
        "frames": len(emotion),
        "steps": steps,
        "lr": lr,
        "judged_as_driver": shares,
        "l1_to_driver": {k: float((v - target).abs().mean()) for k, v in pictures.items()},
        "source_judged_as_driver": source_share,
    }


def format_result(r: dict) -> str:
    lines = [
        f"within-identity pairs: {r['pairs']} (neutral frame -> own emotional clip), {r['frames']} frames, "
        f"{r['steps']} Adam steps at lr {r['lr']}",
        f"  {'row':<10} {'judged as driver':>16} {'L1 to driver':>13}",
    ]
    for mode in MODES:
        lines.append(f"  {mode:<10} {r['judged_as_driver'][mode]:>16.2f} {r['l1_to_driver'][mode]:>13.4f}")
    lines.append(f"  (the neutral source frame itself: {r['source_judged_as_driver']:.2f})")
    return "\n".join(lines)


def run(
    ckpt,
    data,
    n_pairs: int = 24,
    frames: int = 3,
    steps: int = 200,
    lr: float = 0.05,
    progress: bool = True,
    judge=None,
    device: str = "cpu",
) -> dict:
    """``measure`` on ``n_pairs`` test pairs; the model (and the face judge, unless one is given) on
    ``device`` ("auto": a GPU when there is one)."""
    from edtalk.driving import load_generator, model_device

    if steps < 1:
        raise ValueError(f"--steps must be >= 1, got {steps}")
    model, _ = load_generator(ckpt, device)
    pairs = pick_test_pairs(data, n_pairs)
    if judge is None:
        from edtalk.experts.store import load_judge

        judge = load_judge("face_analyser", str(model_device(model)), data)
    result = measure(model, judge, decoded_pairs(pairs, progress), frames, steps, lr, progress)
    return {"ckpt": str(ckpt), "data": str(data), **result}


def main(argv: list[str] | None = None) -> int:
    from edtalk.cli import add_device_option

    parser = argparse.ArgumentParser(
        prog="python -m eval.inversion",
        description="Within-identity emotion on synthtalk test pairs: what the model draws, against "
        "the best its frozen G draws when the bank weights or the whole latent are optimised for each "
        "frame. Tells 'E does not hand G the emotion' from 'G cannot draw it'.",
    )
    parser.add_argument("--ckpt", required=True, help="EDTalk checkpoint (any stage)")
    parser.add_argument("--data", required=True, type=Path, help="synthtalk root (test split)")
    parser.add_argument("--pairs", type=positive_int, default=24, help="neutral -> emotional pairs (24)")
    parser.add_argument("--frames", type=positive_int, default=3, help="driver frames per pair (3)")
    parser.add_argument("--steps", type=positive_int, default=200, help="Adam steps per optimised row (200)")
    parser.add_argument("--lr", type=positive_float, default=0.05, help="Adam learning rate (0.05)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")
    add_device_option(parser, "the model and the face judge")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    compute = partial(
        run,
        args.ckpt,
        args.data,
        args.pairs,
        args.frames,
        args.steps,
        args.lr,
        progress=not args.no_progress,
        device=args.device,
    )
    return print_and_save(compute, format_result, args.out)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
