"""What a sweep refuses before Ray starts, besides the parent run (``sweeps.parent_run``): inputs
every trial would only fail on after training, and variants the driving mode would not see."""

from __future__ import annotations

import argparse

from sweeps.cli import ASHA_METRIC
from sweeps.variant import Variant


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before Ray starts, what every trial would only fail on after training: an unknown
    preset, dataset reader, protocol or metric, a missing dataset root, an empty train or scoring
    split, a Ray address nothing answers at, and (with --metrics) a weight file those metrics need."""
    from edtalk.config import ModelConfig
    from edtalk.data.readers import read_clips
    from eval.protocols import get_protocol
    from eval.run_checks import UsageError, check_address, check_weights, select_metrics

    ModelConfig.preset(args.preset)
    check_address(args.address)
    for split in dict.fromkeys(("train", args.split)):
        if not read_clips(args.dataset, args.root, split):
            raise UsageError(f"{args.root}: {args.dataset} split {split!r} has no clips")
    protocol = get_protocol(args.protocol)
    ids = protocol.available()[0]
    if args.metrics:
        ids, _ = select_metrics(protocol, args.metrics)
        check_weights(protocol, protocol.build(ids), allow_unverified=False)
    if args.scheduler == "asha" and ASHA_METRIC not in ids:
        raise UsageError(
            f"--scheduler asha ranks trials by {ASHA_METRIC}, which the scored metrics ({', '.join(ids)}) "
            f"leave out: add {ASHA_METRIC} to --metrics, or use --scheduler fifo"
        )


def check_driving(variants: list[Variant], driving: str) -> None:
    """Video-driven scoring never uses the audio stages: refuse variants that change only those."""
    from eval.run_checks import UsageError

    unused = [v.name for v in variants if driving == "video" and v.audio_only()]
    if unused:
        raise UsageError(
            f"--driving video scores the GT clip's mouth, so {', '.join(unused)} (a change of the audio "
            "stages only) would score as their parent; leave them out or use --driving audio"
        )
