"""``python -m edtalk.pretrained``: list the shipped stage-1 inits and loss experts, or export an init.

    python -m edtalk.pretrained list
    python -m edtalk.pretrained export --ckpt runs_pretrain/more_people/eg_pretrain/final.pt \
        --data data/synthtalk   # the shipped init: `make pretrain`'s last stage-1 run

``export`` keeps the run's config, weights and training provenance (git hash, library versions),
adds the dataset card's identity (name, generator version, preset, seed) and the reproduce command,
drops machine paths, and prints the sha256 to record in ``edtalk/pretrained/__init__.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edtalk.cli import report_error
from edtalk.pretrained import PRETRAINED, PretrainedError
from edtalk.weights import sha256_of


def export(ckpt: Path, name: str, data: Path) -> Path:
    import torch

    from edtalk.atomic import atomic_path
    from edtalk.config import ModelConfig
    from edtalk.model import load_checkpoint

    entry = PRETRAINED.get(name)
    loaded = load_checkpoint(ckpt)
    meta = loaded["meta"]
    if meta.get("stage") != entry.stage:
        raise PretrainedError(
            f"{ckpt}: a {meta.get('stage')!r} checkpoint, but {name} is a {entry.stage} init"
        )
    if loaded["config"] != ModelConfig.preset(entry.preset):
        raise PretrainedError(f"{ckpt}: its model config is not the current {entry.preset!r} preset")
    card = json.loads((data / "card.json").read_text())
    train_cfg = meta.get("run", {}).get("train_config", {})
    extra = {
        k: train_cfg[k] for k in ("extra_identities", "extra_frames") if train_cfg.get("extra_identities")
    }
    payload = {
        "config": loaded["config"].to_dict(),
        "state_dict": loaded["state_dict"],
        "meta": {
            "stage": meta["stage"],
            "step": meta.get("stage_steps_total", meta.get("step")),  # a continued stage counts its parent's
            "stages_done": [meta["stage"]],
            "pretrained": name,
            "dataset": {k: card.get(k) for k in ("name", "generator_version", "preset", "seed")}
            | {"split": "train"}
            | extra,  # rendered people of no split it also saw (edtalk.train --extra-identities)
            "command": entry.command,
            "perceptual": meta.get("perceptual"),
            "stage_config": meta.get("run", {}).get("stage_config"),
            "provenance": meta.get("provenance", {}),
        },
    }
    with atomic_path(entry.path) as tmp:
        torch.save(payload, tmp)
    return entry.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edtalk.pretrained", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the shipped inits, their files and whether the hash checks")
    ex = sub.add_parser("export", help="write a shipped init from a training run's final.pt")
    ex.add_argument("--ckpt", type=Path, required=True, help="the run's final.pt")
    inits = [n for n in PRETRAINED.names() if not PRETRAINED.get(n).is_expert_set]
    ex.add_argument("--name", default="tiny_synthtalk_eg", choices=inits)
    ex.add_argument("--data", type=Path, default=Path("data/synthtalk"), help="the dataset it was trained on")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for name in PRETRAINED:
            e = PRETRAINED.get(name)
            if not e.hashed_file.is_file():
                state = "missing"
            else:
                actual = sha256_of(e.hashed_file)
                state = "ok" if actual == e.sha256 else f"ALTERED: sha256 now {actual}"
            print(f"{name:28s} {e.stage} {e.steps} steps, preset {e.preset}: {e.path.name} [{state}]")
            print(f"{'':28s} trained on {e.dataset}; reproduce: {e.command}")
        return 0
    try:
        path = export(args.ckpt, args.name, args.data)
    except (PretrainedError, FileNotFoundError, ValueError) as err:
        return report_error(err)
    print(f"wrote {path}\nsha256 {sha256_of(path)}  (record it in edtalk/pretrained/__init__.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
