"""The parent run the trials start from (a folder with ``<stage>/final.pt`` per stage, ``experts/`` and
``cache/``, as ``python -m edtalk.train --out`` writes): the checkpoint a stage starts from, that
checkpoint grafted onto a variant's model config, the check before Ray starts that the run has the
stages and preset the trials need, and its preparation (loss experts, frame cache; with --smoke-test
the missing stages trained first)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sweeps.variant import Variant

SMOKE_PARENT = "runs/sweep_smoke_parent"  # --smoke-test's --parent, where a missing chain is trained


def smoke_parent(preset: str) -> str:
    """--smoke-test's default --parent for a model preset: ``SMOKE_PARENT`` at tiny, a folder of its own
    for another (``runs/sweep_smoke_parent_paper``), so that `--smoke-test --preset paper` never meets
    the tiny chain a tiny smoke test trained there (it was refused as a parent of another size)."""
    return SMOKE_PARENT if preset == "tiny" else f"{SMOKE_PARENT}_{preset}"


def parent_checkpoint(parent: Path, stage: str) -> Path:
    """The parent run's checkpoint that ``stage`` starts from: ``<parent>/<previous stage>/final.pt``
    (or ``parent`` itself when it is a file)."""
    from edtalk.config import parent_stage  # the stage before in STAGE_NAMES (the chain is linear)

    if parent.is_file():
        return parent
    before = parent_stage(stage)
    ckpt = parent / str(before) / "final.pt"
    if before is None or not ckpt.is_file():
        raise FileNotFoundError(
            f"{ckpt}: the parent run has no checkpoint for stage {before!r}, needed to retrain {stage!r}; "
            f"train it first (python -m edtalk.train --stages all --out {parent}) or pass --parent "
            "with a run that has it"
        )
    return ckpt


def graft_parent(
    parent_ckpt: Path,
    model_overrides: dict[str, Any],
    dest: Path,
    fresh_prefixes: tuple[str, ...] = (),
    seed: int = 0,
) -> tuple[Path, list[str]]:
    """A parent checkpoint for a changed model config: every tensor whose name and shape still match
    is copied, the rest (e.g. a resized bank and its head) and those under ``fresh_prefixes`` keep the
    initialisation of a model seeded with ``seed``. Returns (checkpoint path, names of re-initialised
    tensors); a checkpoint with nothing to change passes through."""
    import hashlib
    import json

    import torch

    from edtalk.model import EDTalk, load_checkpoint, save_checkpoint
    from edtalk.modules.navigation import raw_key_of
    from edtalk.train_resume import parent_weights

    ckpt = load_checkpoint(parent_ckpt)
    cfg = ckpt["config"].replace(**model_overrides)
    if cfg == ckpt["config"] and not fresh_prefixes:
        return parent_ckpt, []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = EDTalk(cfg).state_dict()
    parent = ckpt["state_dict"]
    kept = {
        k: v
        for k, v in parent.items()
        if k in state and state[k].shape == v.shape and not k.startswith(fresh_prefixes)
    }
    # a bank's orientation (edtalk.modules.navigation) goes with its V: kept with a kept V; for a fresh
    # V, or any V of a parent saved before orientations existed, it is left out and loading derives it
    # from the grafted V (so one recipe gives one start, whatever the parent's format)
    for key in [k for k in state if raw_key_of(k)]:
        if key not in kept or raw_key_of(key) not in kept:
            kept.pop(key, None)
            del state[key]
    fresh = sorted(set(state) - set(kept))
    state.update(kept)
    meta = {k: v for k, v in ckpt["meta"].items() if k != "provenance"}
    meta.update(grafted_from=str(parent_ckpt), reinitialised=fresh)
    # its weights named by the recipe (edtalk.train_resume.parent_weights): a trial restarted on a node
    # whose random draws differ in the last bits keeps the stages it trained from this graft
    recipe = {"from": parent_weights(str(parent_ckpt)), "config": cfg.to_dict(), "fresh": fresh, "seed": seed}
    meta["weights_identity"] = hashlib.sha256(
        json.dumps(recipe, sort_keys=True, default=str).encode()
    ).hexdigest()
    return save_checkpoint(dest, state, cfg, extra=meta), fresh


def parent_chain(args: argparse.Namespace, variants: list[Variant]) -> tuple[list[str], list[str]]:
    """(the parent stages the trials start from, those the parent run lacks): the stages before each
    variant's first stage; nothing is missing when ``--parent`` is a checkpoint file."""
    from edtalk.config import STAGE_NAMES

    parent = Path(args.parent)
    chain_end = max(STAGE_NAMES.index(v.stages[0]) for v in variants)
    needed_chain = list(STAGE_NAMES[:chain_end])
    missing = [] if parent.is_file() else [s for s in needed_chain if not (parent / s / "final.pt").is_file()]
    return needed_chain, missing


def check_parent(args: argparse.Namespace, variants: list[Variant]) -> None:
    """Before Ray starts: a parent run without a stage the trials start from is an error naming the
    file and the command that makes it (--smoke-test trains a missing chain instead), and so is a
    parent model of another size than --preset's (its trials would train the parent's model with
    the other preset's schedule and build a frame cache of the other size)."""
    needed_chain, missing = parent_chain(args, variants)
    parent = Path(args.parent)
    if missing and not (args.smoke_test and _may_train_parent(parent, args.preset)):
        why = (
            ""
            if not args.smoke_test
            else f" (--smoke-test trains one only into {smoke_parent(args.preset)} or a folder that exists)"
        )
        raise FileNotFoundError(
            f"{parent / missing[0] / 'final.pt'}: the parent run lacks stage(s) {missing}{why}; train them "
            f"with `python -m edtalk.train --stages {','.join(needed_chain)} --out {parent}` or pass "
            "--parent with a run that has them"
        )
    if not missing:
        check_parent_preset(parent_checkpoint(parent, min(variants, key=_first_stage_index).stages[0]), args)


def _may_train_parent(parent: Path, preset: str) -> bool:
    """Whether --smoke-test trains a missing parent chain into ``parent`` (resolved): its default
    (``smoke_parent``), or a folder that exists; a mistyped --parent is an error, not a chain trained
    there."""
    return parent.is_dir() or parent == Path(smoke_parent(preset)).expanduser().resolve()


def _first_stage_index(variant: Variant) -> int:
    from edtalk.config import STAGE_NAMES

    return STAGE_NAMES.index(variant.stages[0])


def check_parent_preset(ckpt: Path, args: argparse.Namespace) -> None:
    """The parent checkpoint's model has --preset's image size and latent width."""
    from edtalk.config import ModelConfig
    from edtalk.model import load_checkpoint
    from eval.run_checks import UsageError

    have, want = load_checkpoint(ckpt)["config"], ModelConfig.preset(args.preset)
    if (have.image_size, have.latent_dim) != (want.image_size, want.latent_dim):
        raise UsageError(
            f"{ckpt}: the parent model is {have.image_size} px with latent {have.latent_dim}, but --preset "
            f"{args.preset} is {want.image_size} px with latent {want.latent_dim}: pass the --preset it was "
            "trained with, or a parent run of this preset"
        )


def prepare_parent(args: argparse.Namespace, variants: list[Variant]) -> None:
    """Make sure the parent run has what every trial starts from (``check_parent`` has run): the
    checkpoints of the stages before each variant's first stage, the loss experts its trained stages
    need and the frame cache. With --smoke-test a missing parent chain is trained here first (a few
    steps per stage)."""
    from edtalk import train as edtrain
    from edtalk.config import ModelConfig, TrainConfig
    from edtalk.stages import get_stage
    from edtalk.train_cache import prepare_cache
    from edtalk.train_experts import EXPERT_STEPS, ensure_experts

    parent = Path(args.parent)
    needed_chain, missing = parent_chain(args, variants)
    stages = {s for v in variants for s in v.trained_stages(args.driving)}
    experts = sorted({e for s in stages for e in get_stage(s).experts})
    if missing:
        print(f"[sweep] smoke test: training the parent chain {needed_chain} into {parent}", flush=True)
        code = edtrain.main([
            "--stages", ",".join(needed_chain), "--resume", "--max-steps", str(args.steps),
            "--checkpoint-every", str(args.steps), "--expert-steps", "20,20", "--preset", args.preset,
            "--data", f"{args.dataset}:{args.root}", "--out", str(parent), "--workers", str(args.workers),
        ])  # fmt: skip
        if code == 130:  # interrupted; edtalk.train said where it stopped
            raise KeyboardInterrupt
        if code:
            raise RuntimeError(f"training the parent chain failed (exit {code})")
    if parent.is_dir():
        train_cfg = TrainConfig(data=f"{args.dataset}:{args.root}", preset=args.preset, out=str(parent),
                                experts=str(parent / "experts"), cache=str(parent / "cache"))  # fmt: skip
        if experts:
            steps = (20, 20) if args.smoke_test else EXPERT_STEPS
            ensure_experts(train_cfg, set(experts), *steps)
        prepare_cache(train_cfg, ModelConfig.preset(args.preset))
