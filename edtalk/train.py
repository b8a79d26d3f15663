r"""The training command line: EDTalk's stages on Ray Train + DeepSpeed.

    python -m edtalk.train --stage mouth_pose --preset tiny --data synthtalk:data/synthtalk \
        --workers 2 --out runs/
    python -m edtalk.train --stages all --workers 2 --out runs/          # the whole chain, in order

``main`` parses the flags (``build_parser``) and ``_train`` runs them: first the checks that cost
nothing (the stages, their parents, their configs, a --resume run's checkpoints, --perceptual vgg19's
weights, Ray's size), then the frame cache and the loss experts, a note when L_per is the substitute,
one TorchTrainer per stage, and a self-reconstruction check of the last stage. The parts, one job each:

- ``edtalk.train_chain``: which stages a run trains, their parents and their StageConfigs;
- ``edtalk.train_cache``: the frame cache the driver decodes once from the training split;
- ``edtalk.train_experts``: the loss experts the stages need, copied or trained when missing;
- ``edtalk.train_resume``: ``--resume``: the checkpoints Ray registered and what may change;
- ``edtalk.train_run``: a stage's life on Ray Train (TorchTrainer, DeepSpeed, checkpoints,
  final.pt), the environment defaults and the GPU choice;
- ``edtalk.train_failures``: a worker that died (``WorkerDied``), a restart by ``--max-failures``,
  and the progress bars dead workers leave;
- ``edtalk.train_placement_group``: what a private Ray instance leaves out of Ray Train, and the
  placement groups a dead trial leaves (freed by the sweeps);
- ``edtalk.train_sanity``: the self-reconstruction check after the last stage.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from edtalk.cli import (
    end_ray,
    model_preset,
    non_negative_int,
    positive_float,
    positive_int,
    report_error,
    term_weight,
)
from edtalk.config import PERCEPTUAL_LOSSES, SEMANTIC_ENCODERS, TEXT_ENCODERS
from edtalk.ray_setup import (
    check_cluster_address,
    check_workers_fit,
    cluster_address,
    local_resources,
    start_ray,
)
from edtalk.train_cache import prepare_cache
from edtalk.train_chain import (
    parent_config_mismatch,
    stage_config_for,
    stage_model_config,
    stage_names,
    stage_parent,
    unmet_parent,
)
from edtalk.train_experts import EXPERT_STEPS, check_experts, ensure_experts
from edtalk.train_failures import LOG_MONITOR_LAG_S, WorkerDied
from edtalk.train_resume import (
    check_resumable,
    delete_earlier_run,
    trained_from_another_parent,
)
from edtalk.train_run import TrainingInterrupted, resolve_use_gpu, run_stage, set_env_defaults, worker_env
from edtalk.train_sanity import self_reconstruction_check


def parse_max_steps(value: str) -> dict[str, int]:
    """``--max-steps``: "N" -> {"*": N} (every stage); "STAGE=N,..." -> {STAGE: N, ...}."""
    from edtalk.stages import get_stage

    if "=" not in value:
        return {"*": positive_int(value)}
    steps = {}
    for item in filter(None, (i.strip() for i in value.split(","))):
        name, sep, n = (part.strip() for part in item.partition("="))
        if not sep:
            raise argparse.ArgumentTypeError(f"{item!r}: give N for every stage, or STAGE=N for each listed")
        try:
            get_stage(name)
        except KeyError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        if name in steps:
            raise argparse.ArgumentTypeError(f"{name} is given steps twice")
        steps[name] = positive_int(n)
    return steps


def expert_steps(value: str) -> tuple[int, int]:
    """``--expert-steps FACE,SYNC``: two step counts, each at least 1."""
    face, sep, sync = value.partition(",")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r}: expected FACE,SYNC step counts, e.g. 2000,600")
    return positive_int(face), positive_int(sync)


# --device: TrainConfig.use_gpu of each spelling (Ray Train's ScalingConfig(use_gpu=...); None: auto)
TRAIN_DEVICES = {"auto": None, "cuda": True, "gpu": True, "cpu": False}


def train_device(value: str) -> str:
    """``--device``: auto, cuda (or gpu) or cpu. A numbered GPU is refused: Ray gives each worker its own."""
    if value in TRAIN_DEVICES:
        return value
    if value.startswith("cuda:"):
        raise argparse.ArgumentTypeError(
            f"{value!r}: Ray gives each worker its own GPU (it sets the worker's CUDA_VISIBLE_DEVICES), so "
            "a run names none: use --device cuda (to keep a local run, one without --address, to some "
            "GPUs, set CUDA_VISIBLE_DEVICES on its command)"
        )
    raise argparse.ArgumentTypeError(f"{value!r}: expected auto, cuda (or gpu) or cpu")


def perceptual_loss(value: str) -> str:
    """``--perceptual``: one of PERCEPTUAL_LOSSES, with a did-you-mean on a typo; the substitute's bare
    name (``pyramid_l1_ssim``, taken before the spellings were checked) is its ``substitute:`` spelling."""
    if value in PERCEPTUAL_LOSSES:
        return value
    if f"substitute:{value}" in PERCEPTUAL_LOSSES:
        return f"substitute:{value}"
    close = difflib.get_close_matches(value, PERCEPTUAL_LOSSES, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise argparse.ArgumentTypeError(
        f"unknown perceptual loss {value!r}{hint} (known: {', '.join(PERCEPTUAL_LOSSES)})"
    )


def build_parser() -> argparse.ArgumentParser:
    from edtalk.ablations import loss_ablation_ids
    from edtalk.config import STAGE_NAMES

    p = argparse.ArgumentParser(
        prog="python -m edtalk.train",
        description="Train EDTalk's stages on Ray Train + DeepSpeed (one TorchTrainer per stage). Each "
        "stage continues from its parent's <out>/<parent>/final.pt and writes <out>/<stage>/final.pt.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", choices=STAGE_NAMES, help="train one stage")
    which.add_argument(
        "--stages", help="'all' (the chain in order) or a comma list, e.g. mouth_pose,expression"
    )
    p.add_argument(
        "--preset",
        type=model_preset,
        default="tiny",
        help="model preset: tiny (CPU) or paper (GPU) (default tiny)",
    )
    p.add_argument(
        "--text-encoder",
        choices=TEXT_ENCODERS,
        help="E_T, the frozen text encoder of the expression predictor (audio_expression): minilm (ships "
        "offline), emoberta (EmoBERTa-base: `python -m eval.weights status` says how to install it) or "
        "none (audio only); part of the model config, so give it to every stage of a chain (default: "
        "the preset's, minilm)",
    )
    p.add_argument(
        "--semantic-encoder",
        choices=SEMANTIC_ENCODERS,
        help="E_S, the semantics encoder of the expression predictor, which audio_expression trains: mel "
        "(a transformer on the Wav2Lip mel windows, trained from scratch, runs offline) or hubert (the "
        "paper's: pretrained HuBERT-large on the frame cache's 16 kHz audio, its CNN feature encoder "
        "frozen and its transformer fine-tuned; its weights, hubert_large_ll60k, must be installed "
        "first: `python -m eval.weights status` says how, and the run checks before any work). Only "
        "audio_expression builds it: the stages before it keep the preset's, and audio_expression "
        "starts its predictor fresh from them (default: the preset's, mel)",
    )
    p.add_argument(
        "--data",
        default="synthtalk:data/synthtalk",
        help="<reader>:<root> (default synthtalk:data/synthtalk)",
    )
    p.add_argument(
        "--split",
        default="train",
        help="identity split to train on (default train); the evaluation splits (test, judge, all) are "
        "refused, so that the judges and the test identities stay unseen",
    )
    p.add_argument("--workers", type=positive_int, default=2, help="Ray Train workers (default 2)")
    p.add_argument(
        "--out",
        default="runs",
        help="output root (default runs/): <out>/<stage>/ holds a stage's checkpoints, final.pt, "
        "summary.json and TensorBoard logs; without --resume a stage's folder is deleted and trained afresh",
    )
    p.add_argument(
        "--deepspeed",
        default="zero0",
        choices=("zero0", "zero1", "zero2", "zero3"),
        help="DeepSpeed ZeRO stage (default zero0)",
    )
    p.add_argument("--bf16", action="store_true", help="bf16 mixed precision (DeepSpeed)")
    p.add_argument(
        "--device",
        default="auto",
        type=train_device,
        metavar="{" + ",".join(TRAIN_DEVICES) + "}",
        help="where the workers run: cuda (or gpu) = one GPU each, which Ray assigns (so no cuda:N), cpu, "
        "or auto = GPUs when the Ray cluster has any (default auto)",
    )
    p.add_argument(
        "--max-steps",
        type=parse_max_steps,
        default={},
        help="steps of every stage (N), or of some stages (STAGE=N[,STAGE=N...], e.g. eg_pretrain=300); "
        "stages not named keep their default (at tiny: the demo schedule)",
    )
    p.add_argument("--batch-size", type=positive_int, help="samples per worker per step (default: per stage)")
    p.add_argument(
        "--lr", type=positive_float, help="learning rate of the trainable modules (default: per stage)"
    )
    p.add_argument(
        "--also-train",
        action="append",
        default=[],
        metavar="PREFIX",
        help="also train the EDTalk parameters under PREFIX in the named stage(s), e.g. 'generator' to "
        "fine-tune the decoder in the expression stage (the official authors' advice); repeatable",
    )
    p.add_argument(
        "--eg-expression-bank",
        action="store_true",
        help="eg_pretrain: the expression head and bank join the mouth and pose ones as LIA's motion bank "
        "(36 directions instead of 26), so that G learns to draw along the directions the expression "
        "stage later steers",
    )
    p.add_argument(
        "--fresh-mouth-pose-banks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mouth_pose: start MLN, PLN, B^m and B^p from a fresh initialisation, as the official trainer "
        "starts new banks after LIA's stage 1 (default: on at paper, off at tiny, where the demo's "
        "300 steps cannot re-learn the mouth; see edtalk.stages)",
    )
    p.add_argument(
        "--beta1",
        type=float,
        help="Adam beta1 of the trainable modules (default: 0 as in the official trainers; the tiny "
        "preset's demo schedules, every stage's but audio_expression's, use 0.9: edtalk.stages)",
    )
    p.add_argument("--checkpoint-every", type=positive_int, help="steps between Ray checkpoints (default 50)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint Ray registered (a changed model, ZeRO stage, bf16 or, "
        "under ZeRO >= 1, worker count is refused; a changed lr or batch size is announced); in a chain, "
        "skip stages whose final.pt exists, unless their parent's weights changed since (then retrained)",
    )
    p.add_argument(
        "--max-failures",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="let Ray Train restart a stage's workers from its latest checkpoint up to N times when one "
        "fails (a worker's process killed or out of memory, a node lost, an error raised: each restart "
        "costs the workers' start and the steps since that checkpoint); 0 ends the stage at the first "
        "failure, its checkpoints kept for --resume (default 0)",
    )
    p.add_argument(
        "--parent",
        default="",
        help="checkpoint the first stage starts from: a final.pt, or pretrained:NAME for a shipped "
        "stage-1 init (python -m edtalk.pretrained list; the demo uses pretrained:tiny_synthtalk_eg)",
    )
    p.add_argument(
        "--loss-weight",
        action="append",
        type=term_weight,
        default=[],
        metavar="TERM=W",
        help="override a loss weight in every named stage that has the term, e.g. fea=0 (W >= 0; "
        "repeatable; the terms of each stage: edtalk.stages)",
    )
    p.add_argument(
        "--ablation",
        action="append",
        default=[],
        choices=loss_ablation_ids(),
        help="Table 3 loss ablations by their results id, e.g. wo_l_fea (set the row's loss terms' weights "
        "to 0 in their stages, each of which the run must train; edtalk.ablations)",
    )
    p.add_argument(
        "--perceptual",
        default="auto",
        type=perceptual_loss,
        metavar="{" + ",".join(PERCEPTUAL_LOSSES) + "}",
        help="the image stages' perceptual loss L_per: vgg19 (the paper's; its weights must be "
        "installed: `python -m eval.weights fetch vgg19`), substitute:pyramid_l1_ssim (weight-free, not "
        "VGG: edtalk.perceptual) or auto = vgg19 when its weights are installed, else the substitute, "
        "said in a note before training (default auto)",
    )
    p.add_argument(
        "--experts",
        default="",
        help="loss-expert folder (default <out>/experts; trained if missing, which only synthtalk data can), "
        "or pretrained:NAME for a shipped set, copied into <out>/experts (the demo uses "
        "pretrained:tiny_synthtalk_loss_experts)",
    )
    p.add_argument(
        "--expert-steps",
        type=expert_steps,
        default=EXPERT_STEPS,
        help="face,sync expert steps when they must be trained (2000,600: about 7 minutes on 2 cores; "
        "far fewer leave experts that carry no signal: 150 face steps read every clip as one emotion)",
    )
    p.add_argument(
        "--extra-identities",
        type=non_negative_int,
        default=0,
        help="synthtalk only: the frames-only stages (eg_pretrain, mouth_pose, expression) also train on "
        "N rendered people of no split (still frames of every emotion x level, no audio; a range of "
        "identities apart from the judges' extras); the audio stages keep to the split (make "
        "pretrain uses it for stage 1, make demo for the whole chain)",
    )
    p.add_argument(
        "--extra-frames",
        type=positive_int,
        default=8,
        help="stills per emotion x level of each extra person (8)",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the initialisation and the batch samplers, >= 0 (rank r seeds torch with seed + r "
        "and its sampler with seed * 1000 + r; default 0)",
    )
    p.add_argument(
        "--address",
        default="",
        help="Ray cluster address (default: $RAY_ADDRESS, which `ray job submit` sets, else a local Ray "
        "on 127.0.0.1)",
    )
    return p


def cli_overrides(args: argparse.Namespace, stage: str, weight_overrides: dict) -> dict[str, Any]:
    """The StageConfig fields the command line sets for ``stage`` (None: the stage's default)."""
    return {
        "max_steps": args.max_steps.get(stage, args.max_steps.get("*")),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "beta1": args.beta1,
        "checkpoint_every": args.checkpoint_every,
        "loss_weights": weight_overrides.get(stage, {}),
        "also_train": tuple(args.also_train) or None,
        "eg_expression_bank": args.eg_expression_bank or None,
        "fresh_mouth_pose_banks": args.fresh_mouth_pose_banks,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # first, so --help and usage errors need no torch import
    set_env_defaults()
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError
    from edtalk.ray_setup import ClusterAddressError, WorkerFitError
    from edtalk.registry import UnknownNameError

    try:
        return _train(args)
    except TrainingInterrupted as err:
        print(f"[train] {err}", file=sys.stderr, flush=True)
        return 130  # the shell's code for a run stopped by Ctrl-C
    except WorkerDied as err:  # not the user's mistake (exit 2): the run failed
        # first the other ranks' tracebacks (their collective's peer gone) and the controller's
        # shutdown warning: some still on their way through Ray's log monitor, some held back by its
        # log de-duplication until Ray stops. The error line is what the user reads last
        time.sleep(LOG_MONITOR_LAG_S)
        end_ray()
        restart = "" if args.max_failures else " (--max-failures N has Ray Train restart the workers itself)"
        print(f"[train] error: {err}{restart}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:  # outside a stage's training: the frame cache, loss experts, final check
        how = (
            "run the same command to continue"
            if args.resume
            else "the same command starts again; with --resume it keeps the finished stages there, "
            "whatever settings they were trained with"
        )
        where = f"{args.out}'s finished stages are kept"
        print(
            f"\n[train] interrupted outside a stage's training; {where}: {how}", file=sys.stderr, flush=True
        )
        return 130
    except (
        ConfigError,
        DataError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        UnknownNameError,
        ClusterAddressError,
        WorkerFitError,
    ) as err:
        return report_error(err)  # a bad value, stage or loss name, dataset, file, Ray address or --workers


def _train(args: argparse.Namespace) -> int:
    """The run ``main`` parsed: checks, frame cache, loss experts, then one TorchTrainer per stage."""
    from edtalk.ablations import ABLATIONS
    from edtalk.config import STAGE_NAMES, ModelConfig, TrainConfig
    from edtalk.data.sampler import run_frames
    from edtalk.modules.expression_predictor import ENCODER_WEIGHTS
    from edtalk.stages import get_stage

    names = stage_names(args.stage, args.stages)
    if unused := sorted(set(args.max_steps) - {"*", *names}):
        return report_error(f"--max-steps names {', '.join(unused)}, which this run does not train")
    if args.extra_identities and not any(get_stage(n).frames_only for n in names):
        return report_error(
            "--extra-identities adds still frames without audio, which only the frames-only "
            f"stages ({', '.join(n for n in STAGE_NAMES if get_stage(n).frames_only)}) train on; "
            f"{','.join(names)} {'is an audio stage' if len(names) == 1 else 'are audio stages'}"
        )
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        return report_error(f"--out {args.out}: a file, not a folder (the runs' output root)")
    from edtalk.pretrained import PREFIX, PretrainedError, resolve

    try:
        parent = resolve(args.parent)
    except (PretrainedError, KeyError) as err:
        return report_error(f"--parent {args.parent}: {err}")
    expert_source = None  # a shipped expert set is copied into <out>/experts, which the run then uses
    try:
        if args.experts.startswith(PREFIX):
            expert_source, args.experts = resolve(args.experts, expert_set=True), ""
    except (PretrainedError, KeyError) as err:
        return report_error(f"--experts {args.experts}: {err}")
    if problem := unmet_parent(names, parent, out):
        return report_error(problem)
    train_cfg = TrainConfig(
        data=args.data,
        split=args.split,
        preset=args.preset,
        out=str(out),
        workers=args.workers,
        deepspeed=args.deepspeed,
        bf16=args.bf16,
        use_gpu=TRAIN_DEVICES[args.device],
        seed=args.seed,
        perceptual=args.perceptual,
        experts=str(Path(args.experts).resolve()) if args.experts else str(out / "experts"),
        parent=parent,
        resume=args.resume,
        max_failures=args.max_failures,
        cache=str(out / "cache"),
        address=cluster_address(args.address) or "",
        extra_identities=args.extra_identities,
        extra_frames=args.extra_frames,
    )
    encoders = {"text_encoder": args.text_encoder, "semantic_encoder": args.semantic_encoder}
    model_cfg = ModelConfig.preset(args.preset).replace(**{k: v for k, v in encoders.items() if v})
    if "audio_expression" in names:  # the stage that builds E_T and E_S: missing weights named now
        from edtalk.weights import resolve

        for encoder in encoders.values():
            if encoder in ENCODER_WEIGHTS:
                resolve(ENCODER_WEIGHTS[encoder])
    elif args.semantic_encoder in ENCODER_WEIGHTS:
        print(
            f"[train] --semantic-encoder {args.semantic_encoder}: only audio_expression builds E_S; "
            f"{', '.join(names)} keep the preset's",
            flush=True,
        )
    stage_models = {n: stage_model_config(model_cfg, n, args.preset) for n in names}
    if problem := parent_config_mismatch(names, parent, out, model_cfg):
        return report_error(problem)
    weight_overrides: dict[str, dict[str, float]] = {}
    for term, weight in args.loss_weight:
        having = [n for n in names if term in get_stage(n).weights]
        if not having:
            known = "; ".join(f"{n}: {', '.join(get_stage(n).weights)}" for n in names)
            return report_error(
                f"--loss-weight {term}={weight:g}: no stage of this run has a loss term {term!r} ({known})"
            )
        for n in having:
            weight_overrides.setdefault(n, {})[term] = weight
    for ablation in args.ablation:
        changed = ABLATIONS[ablation].loss_weights
        if untrained := [n for n in changed if n not in names]:  # as --loss-weight: never a silent no-op
            return report_error(
                f"--ablation {ablation}: it changes the loss weights of {', '.join(untrained)}, which this "
                f"run does not train ({', '.join(names)}); add {', '.join(untrained)} to --stages, or "
                f"leave --ablation {ablation} out"
            )
        for stage_name, terms in changed.items():
            weight_overrides.setdefault(stage_name, {}).update(terms)
    # every stage's config before any work, so a bad value stops the run here, not after the cache
    stage_cfgs = {
        n: stage_config_for(n, preset=args.preset, overrides=cli_overrides(args, n, weight_overrides))
        for n in names
    }
    needed = {e for n in names for e in get_stage(n).experts}
    check_experts(train_cfg, needed, expert_source)  # loss experts nothing can make: named now
    if args.resume:  # a checkpoint the model or ZeRO stage cannot load stops the run before any work
        for n in names:
            if not (len(names) > 1 and (out / n / "final.pt").is_file()):  # a finished stage is skipped
                check_resumable(out / n, stage_models[n].to_dict(), train_cfg.to_dict())
    with_l_per = any(get_stage(n).adversarial for n in names)  # the stages whose losses have L_per
    if with_l_per and (problem := check_perceptual(args.perceptual)):
        return report_error(problem)  # vgg19 without its weights: named now, not inside the first stage
    import ray

    address = cluster_address(args.address)
    if address:
        check_cluster_address(address)  # Ray would retry a wrong one for minutes
    elif not ray.is_initialized():  # the private instance Ray starts below: its size is known now
        check_workers_fit(
            args.workers, resolve_use_gpu(train_cfg), cluster=False, resources=local_resources()
        )
    if args.also_train:
        from edtalk.model import EDTalk
        from edtalk.stages import with_also_train

        try:
            with_also_train(get_stage(names[0]), tuple(args.also_train), EDTalk(stage_models[names[0]]))
        except ValueError as err:
            return report_error(f"--also-train: {err}")

    t0 = time.time()
    cache = prepare_cache(train_cfg, model_cfg)  # the split alone: audio stages, the final check
    runs = {n: run_frames(get_stage(n).sample, stage_cfgs[n]) for n in names if not get_stage(n).frames_only}
    if problem := silent_split(cache, runs):
        return report_error(problem)
    extras_cache = None  # the split plus the rendered people, built on first use
    face_steps, sync_steps = args.expert_steps
    ensure_experts(train_cfg, needed, face_steps, sync_steps, source=expert_source, checked=True)
    if with_l_per and (note := perceptual_note(args.perceptual)):  # said here, not in a worker's log
        print(f"note: {note}", file=sys.stderr, flush=True)
    if not ray.is_initialized():
        start_ray(address, env_vars=worker_env())
        if address:
            check_workers_fit(args.workers, resolve_use_gpu(train_cfg), cluster=True)  # it may grow
    finals = {}
    for i, n in enumerate(names):
        final = out / n / "final.pt"
        parent_stage = get_stage(n).parent
        why = None  # why --resume must train it anew: what it holds came from its parent's old run
        if args.resume and parent_stage in finals:
            why = f"it was trained from {parent_stage}'s run before the one this call trained"
        elif args.resume and len(names) > 1 and final.is_file():
            parent_file = stage_parent(n, i == 0, parent, out)  # a parent retrained by an earlier call?
            why = trained_from_another_parent(out / n, parent_file, finished=True)
            if why is None:
                print(f"[train] {n}: {final} exists, skipping (--resume)", flush=True)
                continue
        stage_cfg = stage_cfgs[n]
        cfg_i = train_cfg if i == 0 else replace(train_cfg, parent="")  # --parent applies to the first stage
        if why:
            cfg_i = replace(cfg_i, resume=False)
            if (out / n).exists():
                delete_earlier_run(n, out / n, why)
        cache_i = cache
        if train_cfg.extra_identities and get_stage(n).frames_only:
            extras_cache = extras_cache or prepare_cache(train_cfg, model_cfg, with_extras=True)
            cache_i = extras_cache
        elif train_cfg.extra_identities:  # an audio stage: the run config says it saw no extras
            cfg_i = replace(cfg_i, extra_identities=0)
        finals[n] = run_stage(stage_cfg, cfg_i, stage_models[n], cache_i)
    last = out / names[-1] / "final.pt"
    check = self_reconstruction_check(last, cache)
    (out / names[-1] / "self_reconstruction.json").write_text(json.dumps(check, indent=1))
    print(f"[train] {', '.join(names)} finished in {time.time() - t0:.1f} s; final: {last}", flush=True)
    print(
        f"[train] self-reconstruction on {check['n_clips']} training clips: L1 {check['model_l1']:.4f} "
        f"vs static source frame {check['static_l1']:.4f} "
        f"({'reconstructs' if check['model_l1'] < check['static_l1'] else 'NOT better than static'})",
        flush=True,
    )
    return 0


def check_perceptual(name: str) -> str | None:
    """The problem with ``--perceptual name`` on this machine, for a run whose stages train with L_per,
    found before any work: vgg19 without the VGG19 weights (missing, or failing their check)."""
    from edtalk.perceptual import resolve_vgg19
    from edtalk.weights import MissingWeightsError, WeightsMismatchError

    if name == "vgg19":
        try:
            resolve_vgg19()
        except (MissingWeightsError, WeightsMismatchError) as err:
            return f"--perceptual vgg19: {err}"
    return None


def perceptual_note(name: str) -> str | None:
    """What ``--perceptual auto`` means on this machine when it is not VGG19: the note that L_per is the
    substitute, why, and how to get VGG19 (``edtalk.perceptual.substitute_note``); None otherwise. The
    driver prints it once, after the frame cache and the loss experts (which a rerun reuses), before Ray."""
    from edtalk.perceptual import substitute_note, vgg19_unavailable

    if name == "auto" and (reason := vgg19_unavailable()):
        return substitute_note(reason)
    return None


def silent_split(cache: Path, frames: dict[str, int]) -> str | None:
    """Why the audio stages ``frames`` names cannot train on the frame cache ``cache``: none of its clips
    has audio (its meta.json's ``no_audio``), or none with audio has the T consecutive frames that a
    stage's samples take (``frames``: stage -> T, ``edtalk.data.sampler.run_frames``). The clips with audio
    shorter than a stage's T, which its draws leave out, are named in a note. A folder without
    meta.json is left to the stages to name."""
    try:
        meta = json.loads((Path(cache) / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    n_clips = len(meta.get("clip_ids", []))
    if frames and n_clips and len(meta.get("no_audio", [])) >= n_clips:
        short = len(meta.get("short_audio", []))
        why = f"{short} with audio too short for their video, " if short else ""
        return (
            f"none of the {n_clips} training clips has audio the audio stages can use ({why}the others "
            f"without audio file or track; cache {cache}), and {', '.join(frames)} train on it: give the "
            "clips their whole audio (a .wav beside each video), or train the frames-only stages alone "
            "(--stages)"
        )
    silent = set(meta.get("no_audio", []))
    lengths = dict(zip(meta.get("clip_ids", []), meta.get("length", []), strict=True))
    talking = {c: n for c, n in lengths.items() if c not in silent}
    for stage, n_frames in frames.items():
        if problem := _short_clips(cache, talking, stage, n_frames):
            return problem
    return None


def _short_clips(cache: Path, talking: dict[str, int], stage: str, n_frames: int) -> str | None:
    """``silent_split`` for one audio stage whose samples take ``n_frames`` consecutive frames of a
    clip, over the clips with audio (``talking``: id -> frames): the problem when none is that long,
    else a note naming those left out of the stage's draws."""
    short = [c for c, n in talking.items() if n < n_frames]
    if short and len(short) == len(talking):
        return (
            f"none of the {len(talking)} training clips with audio has the {n_frames} consecutive frames "
            f"that {stage}'s samples take (the longest has {max(talking.values())}; cache {cache}): give "
            f"clips of at least {n_frames} frames, or train without {stage} (--stages)"
        )
    if short:
        print(
            f"note: {len(short)} of {len(talking)} training clips with audio are shorter than the "
            f"{n_frames} consecutive frames that {stage}'s samples take (first: {', '.join(short[:3])}): "
            f"{stage} leaves them out",
            file=sys.stderr,
            flush=True,
        )
    return None


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
