"""``python -m edtalk.pretrained``: list the shipped inits, loss experts and judges, or export an init.

    python -m edtalk.pretrained list            # exit 0, whatever it finds (right after a rebuild too)
    python -m edtalk.pretrained list --check    # exit 1 when a shipped file is missing or altered
    python -m edtalk.pretrained export --ckpt runs_pretrain/more_people/eg_pretrain/final.pt \
        --data data/synthtalk   # the shipped init: `make pretrain`'s last stage-1 run

``export`` keeps the run's config, weights and training provenance (git hash, library versions),
adds the dataset card's identity (name, generator version, preset, seed) and the reproduce command,
drops machine paths, and prints the sha256 to record in ``edtalk/pretrained/__init__.py``. It
overwrites the shipped file in place unless ``--out`` names another file or folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edtalk.cli import name_subcommands, report_error
from edtalk.pretrained import PRETRAINED, PretrainedError, check
from edtalk.weights import sha256_of

MAKE_DATA = "python -m edtalk.data.synthtalk --out DIR --preset tiny --seed 0"


def read_card(data: Path) -> dict:
    """The ``card.json`` of a synthtalk dataset root; a ``PretrainedError`` saying how to make one."""
    what = f"--data {data}: must be a synthtalk dataset root (a folder with card.json)"
    if not data.is_dir():
        found = "a file" if data.exists() else "missing"
        raise PretrainedError(f"{what}, but it is {found}; make one with `{MAKE_DATA}`")
    if not (data / "card.json").is_file():
        raise PretrainedError(f"{what}, but it has no card.json; make one with `{MAKE_DATA}`")
    try:
        card = json.loads((data / "card.json").read_text())
    except ValueError as err:
        raise PretrainedError(
            f"{data}/card.json: not valid JSON ({err}); remake it with `{MAKE_DATA}`"
        ) from err
    if not isinstance(card, dict) or card.get("name") != "synthtalk":
        raise PretrainedError(
            f"{what}, but its card.json is not a synthtalk card; make one with `{MAKE_DATA}`"
        )
    return card


def export(ckpt: Path, name: str, data: Path, out: Path | None = None) -> Path:
    """Write the shipped init ``name`` (or, with ``out``, a file or folder elsewhere) from ``ckpt``."""
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
    card = read_card(data)
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
    dst = entry.path if out is None else out / entry.filename if out.is_dir() else out
    with atomic_path(dst) as tmp:
        torch.save(payload, tmp)
    return dst


def list_entries(strict: bool = False) -> int:
    """Print each shipped entry and its state; the exit status is 0, or with ``strict`` 1 when any entry
    is missing or altered (named in one ``error:`` line)."""
    bad = []
    for name in PRETRAINED:
        e = PRETRAINED.get(name)
        problem = check(e)  # an expert set: its manifest and every file it lists
        state = problem[0] if problem else "ok"
        print(f"{name:28s} {e.stage} {e.steps} steps, preset {e.preset}: {e.path.name} [{state}]")
        print(f"{'':28s} trained on {e.dataset}; reproduce: {e.command}")
        if problem:
            print(f"{'':28s} {problem[1]}")
            bad.append(f"{name} [{state}]")
    if strict and bad:
        print(
            f"error: {len(bad)} of {len(PRETRAINED)} shipped entries not intact: {', '.join(bad)} "
            "(what to do is printed under each)",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edtalk.pretrained", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser(
        "list",
        help="the shipped inits, their files and whether the hash checks (--check: exit 1 if one fails)",
    )
    ls.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when any shipped entry is missing or ALTERED (for scripts; without it list exits 0, "
        "as `make pretrain` needs right after a rebuild, before the new hashes are recorded)",
    )
    ex = sub.add_parser("export", help="write a shipped init from a training run's final.pt")
    ex.add_argument("--ckpt", type=Path, required=True, help="the run's final.pt")
    inits = [n for n in PRETRAINED.names() if not PRETRAINED.get(n).is_folder_set]
    ex.add_argument("--name", default="tiny_synthtalk_eg", choices=inits)
    ex.add_argument(
        "--data",
        type=Path,
        default=Path("data/synthtalk"),
        help="the synthtalk dataset root (with card.json) it was trained on (default data/synthtalk); make "
        f"one with `{MAKE_DATA}`",
    )
    ex.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write it (a file, or a folder to hold NAME's file); default: the shipped file, "
        "edtalk/pretrained/<its file>, overwritten in place",
    )
    name_subcommands(sub)
    args = parser.parse_args(argv)
    if args.cmd == "list":
        return list_entries(args.check)
    try:
        read_card(args.data)  # up front: before the (slower) checkpoint load
        path = export(args.ckpt, args.name, args.data, args.out)
    except (PretrainedError, OSError, ValueError) as err:
        return report_error(err)
    ship = "" if args.out is None else f"copy it to {PRETRAINED.get(args.name).path} and "
    print(f"wrote {path}\nsha256 {sha256_of(path)}  ({ship}record it in edtalk/pretrained/__init__.py)")
    return 0


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
