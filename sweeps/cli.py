"""The command line every sweep script shares: its options (``build_parser``), with their defaults in
the help, and what ``--smoke-test`` changes (``smoke_defaults``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edtalk.cli import model_preset, non_negative_int, positive_int
from sweeps.parent_run import SMOKE_PARENT, smoke_parent
from sweeps.variant import DRIVING_METHODS

ASHA_METRIC = "psnr"  # what --scheduler asha ranks trials by (higher is better)


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" only where there is a value to show and the help does not already
    say what the default is (argparse would print "(default: None)" after "(default: all)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def protocol_help() -> str:
    """--protocol's help: eval.run's (``eval.run_checks.protocol_help``: the registered protocols and
    the default each reader gets)."""
    from eval.run_checks import protocol_help as scoring_protocols

    return f"scoring protocol: {scoring_protocols()}"


def build_parser(prog: str, description: str, smoke: str = "a few sweep points") -> argparse.ArgumentParser:
    """The options every sweep shares; ``smoke``: what --smoke-test keeps of the sweep's points."""
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=_DefaultsHelp)
    p.add_argument("--dataset", default="synthtalk", help="dataset reader (edtalk.data.readers)")
    p.add_argument("--root", default="data/synthtalk", help="dataset root folder")
    p.add_argument(
        "--preset",
        type=model_preset,
        default=None,
        help="ModelConfig preset: tiny for CPU, paper for GPUs (default tiny, also with --smoke-test)",
    )
    p.add_argument(
        "--scheduler",
        choices=("asha", "fifo"),
        default="fifo",
        help=f"Tune scheduler. asha ranks trials by {ASHA_METRIC} (which --metrics must then score); each "
        "trial reports once, when it is scored at its end, so ASHA stops no trial early here",
    )
    p.add_argument(
        "--num-samples",
        type=positive_int,
        default=1,
        help="trials per grid point, with seeds 0..N-1 (training and fresh initialisation); each is "
        "exported as its own method, edtalk_<variant>_seed<k> when N > 1",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="resume the sweep from --storage/--name (a new sweep starts, with a note, when there is none)",
    )
    p.add_argument(
        "--smoke-test",
        action="store_true",
        help=f"tiny preset, {smoke}, 2 steps per stage, 2 clips (2 CPU cores)",
    )
    p.add_argument(
        "--driving",
        choices=tuple(DRIVING_METHODS),
        default="audio",
        help="how every trial is scored: audio (edtalk_a: mouth from the clip's audio, pose and expression "
        "from the GT clip; the paper's mode for Tables 3 and 6; also trains the stages through audio_lip) "
        "or video (edtalk_v: every factor from the GT clip; isolates the decoupling stages)",
    )
    p.add_argument(
        "--parent",
        default=None,
        help="parent run: a folder with <stage>/final.pt per stage, experts/ and cache/ (as "
        f"`python -m edtalk.train --out` writes); default runs/, or with --smoke-test {SMOKE_PARENT} "
        "(at --preset tiny; runs/sweep_smoke_parent_<preset> at another), where a missing chain is "
        "trained first, as in a --parent folder that exists; without --smoke-test the parent must hold "
        "the chain",
    )
    p.add_argument("--out", default="results", help="results folder for the exported results files")
    p.add_argument(
        "--storage",
        default="ray_results",
        help="where Tune keeps the experiment: a folder (default ray_results), on a multi-node cluster one "
        "every node mounts at the same path, or object storage (s3://bucket/ray_results, gs://...)",
    )
    p.add_argument("--name", default=None, help="experiment name (default: the sweep's name)")
    p.add_argument(
        "--split",
        default="test",
        help="split each trial is scored on after training (default: test, the split of the paper's "
        "ablation tables; to choose a setting, score a held-out split of a dataset that has one)",
    )
    p.add_argument(
        "--max-clips",
        type=positive_int,
        default=None,
        help="clips scored per trial (default: all; 2 with --smoke-test)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="optimizer steps per retrained stage (default: 200; 2 with --smoke-test)",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="Ray Train workers per trial")
    p.add_argument(
        "--max-concurrent-trials",
        type=positive_int,
        default=None,
        help="trials at once (default: what the cluster holds when the sweep starts, its GPUs, else "
        "CPUs, over --workers; an autoscaling cluster that starts without GPU workers needs this set)",
    )
    p.add_argument(
        "--max-failures",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="start a failed trial again up to N times (a training worker or the trial's own process that "
        "died, a lost node, any error the trial raised: Tune cannot tell them apart; a node the autoscaler "
        "drains is a preemption, which Tune retries without counting); each try keeps the stages the "
        "trial finished and goes on from its stage's last checkpoint. Kept with the sweep: give --resume "
        "the same N (a trial's failures count across resumes; one that used them all gets one more try)",
    )
    p.add_argument(
        "--protocol",
        default=None,
        help=protocol_help(),
    )
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric ids to score (default: every metric of the protocol whose weight "
        "files are on the machine that starts the sweep, chosen once for every trial, a resumed sweep "
        "included (a sweep started by an older version asks each trial's node); the others are named "
        "when it starts)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster address (default: $RAY_ADDRESS, which `ray job submit` sets, else a local Ray)",
    )
    return p


def smoke_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """--smoke-test: tiny everything, unless a flag says otherwise."""
    args.preset = args.preset or "tiny"
    if args.smoke_test:
        args.steps = args.steps or 2
        args.max_clips = args.max_clips or 2
        args.parent = args.parent or smoke_parent(args.preset)
    args.parent = str(Path(args.parent or "runs").expanduser().resolve())  # '~/..' expands on the node
    args.root = str(Path(args.root).expanduser().resolve())
    args.out = str(Path(args.out).expanduser().resolve())
    args.steps = args.steps or 200
    return args
