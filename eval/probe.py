"""``python -m eval.probe``: what do E's latent and the navigation weights carry for unseen people?

    python -m eval.probe --ckpt runs/audio_expression/final.pt --data data/synthtalk
                         [--every 8] [--device auto] [--out probe.json] [--no-progress]

``eval.proof`` judges generated frames. When a factor does not transfer, this tool looks one step
earlier, at what G is given: linear probes fitted on the *train* identities' frames and scored on
the *test* identities' frames (people E never saw), for

- emotion (8-way logistic regression; accuracy) from E's latent f^{*->r} and from W^e = MLP^e(f);
- mouth opening (ridge regression; R^2) from f and from W^m;
- head yaw and pitch (ridge; R^2 averaged over the two) from f and from W^p.

"chance" is the share of the most frequent test emotion; an R^2 of 0 predicts the train mean.
Reading it: a probe that scores well on train identities and near chance on test identities means
E codes that factor together with identity (it saw too few people); one that scores well on test
identities while the proof's claim fails points at G, which is given the factor but does not draw it.
Features are standardised with the train frames' statistics; targets come from synthtalk's sidecars.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np
import torch

from edtalk.cli import positive_int, print_and_save, run_inputs
from edtalk.data.errors import DataError

BATCH = 64  # frames per encoder pass


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(0), train.std(0) + 1e-6
    return (train - mean) / std, (test - mean) / std


def classification_probe(x_train, y_train, x_test, y_test, c: float = 0.1) -> dict:
    """Logistic regression (L2, inverse strength ``c``): accuracy on train and test, test chance."""
    from sklearn.linear_model import LogisticRegression

    a, b = _standardise(np.asarray(x_train, np.float64), np.asarray(x_test, np.float64))
    clf = LogisticRegression(C=c, max_iter=3000).fit(a, y_train)
    counts = np.bincount(np.asarray(y_test))
    return {
        "train": float(clf.score(a, y_train)),
        "test": float(clf.score(b, y_test)),
        "chance": float(counts.max() / counts.sum()),
    }


def regression_probe(x_train, y_train, x_test, y_test, alpha: float = 1.0) -> dict:
    """Ridge regression per target column: R^2 on train and test, averaged over the columns."""
    from sklearn.linear_model import Ridge

    a, b = _standardise(np.asarray(x_train, np.float64), np.asarray(x_test, np.float64))
    y_train, y_test = np.asarray(y_train, np.float64), np.asarray(y_test, np.float64)
    reg = Ridge(alpha=alpha).fit(a, y_train)
    return {"train": float(reg.score(a, y_train)), "test": float(reg.score(b, y_test))}


@torch.no_grad()
def encode_frames(model, clips, every: int) -> dict[str, np.ndarray]:
    """Every ``every``-th frame of each decoded clip -> f, the W of each bank, and the sidecar targets."""
    from edtalk.driving import model_device, model_input

    banks = tuple(model.cfg.bank_names)
    keys = ("f", *(f"W_{k}" for k in banks), "emotion", "mouth", "pose", "identity")
    out: dict[str, list] = {k: [] for k in keys}
    device = model_device(model)
    for clip in clips:
        index = np.arange(0, clip.n_frames, every)
        images = model_input(clip.frames[index], model.cfg.image_size)
        for start in range(0, len(images), BATCH):
            f, _ = model.encode(images[start : start + BATCH].to(device))
            weights = model.navigate(f, banks)
            out["f"].append(f.cpu().numpy())
            for k in banks:
                out[f"W_{k}"].append(weights[k].cpu().numpy())
        out["emotion"].append(np.full(len(index), clip.emotion))
        out["mouth"].append(clip.mouth[index, :1])
        out["pose"].append(clip.pose[index, :2])
        out["identity"].append(np.full(len(index), clip.identity))
    return {k: np.concatenate(v) for k, v in out.items() if v}


def centre_per_identity(values: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """``values`` minus the mean over the frames of the same identity (removes a per-person offset)."""
    out = np.array(values, np.float64)
    for person in np.unique(identity):
        rows = identity == person
        out[rows] -= out[rows].mean(0)
    return out


PROBES = (  # (target, feature, kind)
    ("emotion", "f", "class"),
    ("emotion", "W_expression", "class"),
    ("mouth", "f", "reg"),
    ("mouth", "W_mouth", "reg"),
    ("pose", "f", "reg"),
    ("pose", "W_pose", "reg"),
)


def run(
    ckpt: str | Path, data: str | Path, every: int = 8, progress: bool = True, device: str = "cpu"
) -> dict:
    """Fit every probe of ``PROBES`` on the train split's frames, score it on the test split's; E and
    the navigation MLPs run on ``device`` ("auto": a GPU when there is one)."""
    from edtalk.data.readers import read_clips
    from edtalk.driving import load_generator
    from edtalk.experts.data import decode_clips

    if every < 1:
        raise ValueError(f"--every must be >= 1, got {every}")
    model, _ = load_generator(ckpt, device)
    feats = {}
    for split in ("train", "test"):
        listed = read_clips("synthtalk", data, split=split)
        if not listed:
            raise DataError(data, f"the {split} split has no clips")
        clips = decode_clips(listed, progress=progress, desc=f"decode {split}")
        feats[split] = encode_frames(model, clips, every)
    tr, te = feats["train"], feats["test"]
    # each person's mean taken out of features and regression targets, once per split: what they carry
    # about a factor relative to that person, whatever code E gives the person
    centred = {
        split: {
            k: centre_per_identity(v, d["identity"]) for k, v in d.items() if k not in ("identity", "emotion")
        }
        for split, d in feats.items()
    }
    ctr, cte = centred["train"], centred["test"]
    probes = []
    for target, feature, kind in PROBES:
        if feature not in tr:  # a model without that bank (an ablation)
            continue
        fit = classification_probe if kind == "class" else regression_probe
        score = fit(tr[feature], tr[target], te[feature], te[target])
        y_tr, y_te = (ctr[target], cte[target]) if kind == "reg" else (tr[target], te[target])
        in_person = fit(ctr[feature], y_tr, cte[feature], y_te)
        probes.append(
            {
                "target": target,
                "features": feature,
                "measure": _MEASURE[kind],
                **score,
                "centred": {k: in_person[k] for k in ("train", "test")},
            }
        )
    return {
        "ckpt": str(ckpt),
        "data": str(data),
        "every": every,
        "frames": {"train": int(len(tr["f"])), "test": int(len(te["f"]))},
        "identities": {split: len(np.unique(d["identity"])) for split, d in feats.items()},
        "probes": probes,
    }


_MEASURE = {"class": "accuracy", "reg": "R^2"}


def format_result(r: dict) -> str:
    lines = [
        f"linear probes: fitted on {r['frames']['train']} frames of {r['identities']['train']} train "
        f"identities, scored on {r['frames']['test']} frames of {r['identities']['test']} test identities",
        f"  {'':<34}{'as coded':>14}{'':>8}{'per-identity centred':>22}",
        f"  {'target':<9}{'features':<15}{'measure':<10}"
        f"{'train':>7}{'test':>7}{'chance':>8}{'train':>11}{'test':>7}",
    ]
    for p in r["probes"]:
        chance = f"{p['chance']:>8.2f}" if "chance" in p else f"{'':>8}"
        lines.append(
            f"  {p['target']:<9}{p['features']:<15}{p['measure']:<10}"
            f"{p['train']:>7.2f}{p['test']:>7.2f}{chance}"
            f"{p['centred']['train']:>11.2f}{p['centred']['test']:>7.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from edtalk.cli import add_device_option, add_recompute_option

    parser = argparse.ArgumentParser(
        prog="python -m eval.probe",
        description="Linear probes of E's latent and the navigation weights: train identities -> test "
        "identities (emotion accuracy, mouth and pose R^2). Tells 'E does not code the factor for "
        "unseen people' from 'G does not draw it'.",
    )
    parser.add_argument("--ckpt", required=True, type=Path, help="EDTalk checkpoint (any stage)")
    parser.add_argument("--data", required=True, type=Path, help="synthtalk root (train and test splits)")
    parser.add_argument("--every", type=positive_int, default=8, help="use every N-th frame of each clip (8)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default: print only)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_option(parser, "E and the navigation MLPs")
    add_recompute_option(parser)
    args = parser.parse_args(argv)
    compute = partial(
        run, args.ckpt, args.data, every=args.every, progress=not args.no_progress, device=args.device
    )
    inputs = partial(run_inputs, args.ckpt, args.data, every=args.every, device=args.device)
    return print_and_save(compute, format_result, args.out, inputs, args.recompute)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
