"""What a sweep refuses before Ray starts, besides the parent run (``sweeps.parent_run``): inputs
every trial would only fail on after training, variants the driving mode would not see, and variants
whose config every trial would refuse or whose loss weights no trial would apply."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
from pathlib import Path

from sweeps.cli import ASHA_METRIC
from sweeps.variant import DRIVING_METHODS, Variant, unscored_stages


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before Ray starts, what every trial would only fail on after training: an unknown
    preset, dataset reader, protocol or metric, a protocol the dataset's faces do not fit, a missing
    dataset root, an empty train or scoring split, a Ray address nothing answers at, and (with
    --metrics) a weight file those metrics need. Sets --protocol, when left out, to the dataset's
    default (``eval.run_checks.choose_protocol``, as eval.run does), and ``args.protocol_note`` to the
    note to print about it (or None), which ``fit_sweep`` prints once every check has passed."""
    from edtalk.config import ModelConfig
    from edtalk.data.readers import read_clips
    from eval.protocols import get_protocol
    from eval.run_checks import UsageError, check_address, check_weights, choose_protocol, select_metrics

    ModelConfig.preset(args.preset)
    args.protocol, args.protocol_note = choose_protocol(args.dataset, args.protocol)
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
    """Refuse variants whose change the driving mode's scoring never sees (``Variant.unscored``): loss
    weights of the audio stages only with video driving, of audio_pose or audio_expression only with
    audio driving (EDTalk-A takes pose and expression from the GT clip)."""
    from eval.run_checks import UsageError

    unused = [v.name for v in variants if v.unscored(driving)]
    if unused and driving == "video":
        raise UsageError(
            f"--driving video scores the GT clip's mouth, so {', '.join(unused)} (a change of the audio "
            "stages only) would score as their parent; leave them out or use --driving audio"
        )
    if unused:
        unseen = unscored_stages(driving)
        raise UsageError(
            f"--driving {driving} scores {DRIVING_METHODS[driving]}, which takes pose and expression from "
            f"the GT clip, so {', '.join(unused)} (a change of {' or '.join(unseen)} only) would score as "
            "their parent; leave them out"
        )


def check_variants(variants: list[Variant], args: argparse.Namespace) -> None:
    """Refuse, before Ray starts, a variant every trial of it would fail on or silently ignore: a stage
    name that is none, no stage to retrain, a model override ``ModelConfig.preset(--preset, ...)``
    refuses, loss weights of a stage its trials do not train (``Variant.trained_stages``), and a
    StageConfig of a trained stage that ``stage_config_for`` refuses (a mistyped loss term), each one
    line naming the variant."""
    from edtalk.config import STAGE_NAMES, ConfigError, ModelConfig
    from edtalk.train_chain import stage_config_for
    from eval.run_checks import UsageError

    for v in variants:
        for field, stages in (("loss_weights", tuple(v.loss_weights)), ("stages", v.stages)):
            if bad := [s for s in stages if s not in STAGE_NAMES]:
                close = difflib.get_close_matches(bad[0], STAGE_NAMES, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise UsageError(
                    f"sweep variant {v.name}: its {field} name {bad[0]!r}, which is no stage ({hint}known: "
                    f"{', '.join(STAGE_NAMES)}); correct the name"
                )
        if not v.stages:
            raise UsageError(
                f"sweep variant {v.name}: it retrains no stage; give it the stages its change affects"
            )
        try:
            banks = ModelConfig.preset(args.preset, **v.model).bank_names
        except ConfigError as e:
            raise UsageError(
                f"sweep variant {v.name}: its model overrides {v.model} at --preset {args.preset}: {e}"
            ) from None
        if "expression" in v.stages and "expression" not in banks:
            raise UsageError(
                f"sweep variant {v.name}: it retrains the expression stage, but its model has no expression "
                f"bank (components {v.model.get('components')!r}); drop its expression loss weights"
            )
        trained = v.trained_stages(args.driving)
        if untrained := [s for s in v.loss_weights if s not in trained]:
            raise UsageError(
                f"sweep variant {v.name}: its loss_weights change stage {untrained[0]}, which its trials do "
                f"not train with --driving {args.driving} (they train {', '.join(trained)}), so the weight "
                f"would never apply; add {untrained[0]} to the stages it retrains, or drop the weight"
            )
        for stage in trained:
            try:
                stage_config_for(stage, preset=args.preset, overrides=v.stage_overrides(stage, args.steps))
            except ConfigError as e:
                raise UsageError(f"sweep variant {v.name}: stage {stage}: {e}") from None


def metrics_to_score(protocol: str) -> str:
    """Without --metrics: the protocol's metrics whose weight files this machine (the sweep's driver)
    has, chosen once for every trial, so that the rows of one sweep, a resumed one included, score
    the same metrics whichever node runs them and whatever was installed meanwhile. Names the others
    and how to get them, before anything is trained; ``fit_sweep`` calls it once the inputs and the
    resume settings passed their checks, so it never comes before their error."""
    from eval.run_checks import UsageError
    from sweeps.trial import split_metrics

    scored, skipped = split_metrics(protocol)
    if not scored:
        raise UsageError(
            f"no metric of protocol {protocol} can be scored on this machine ({'; '.join(skipped)}): "
            "`python -m eval.weights status` lists the files and where they go; or choose --metrics"
        )
    if skipped:
        print(
            f"note: without --metrics, every trial scores the metrics whose weight files this machine has "
            f"({', '.join(scored)}); skipped: {'; '.join(skipped)}. `python -m eval.weights status` lists "
            "each file and where it goes, `python -m eval.zoo install` (or `train`) makes the synthtalk "
            "judges; or choose with --metrics",
            file=sys.stderr,
        )
    return ",".join(scored)


def note_perceptual(variants: list[Variant], driving: str) -> None:
    """When the trials train a stage with L_per and this machine has no usable VGG19 weights, say once
    that they train with the substitute (``edtalk.train.perceptual_note``, what ``edtalk.train`` says)."""
    from edtalk.stages import get_stage
    from edtalk.train import perceptual_note

    stages = {s for v in variants for s in v.trained_stages(driving)}
    if any(get_stage(s).adversarial for s in stages) and (note := perceptual_note("auto")):
        print(f"note: the trials' {note}", file=sys.stderr)


def check_folders(args: argparse.Namespace) -> None:
    """Refuse, before Ray starts, an --out or --storage folder this machine cannot write (a file, a
    read-only mount) and one in the temporary copy of the repository a ``ray job submit --working-dir``
    job runs in, which other nodes do not see and Ray deletes: the sweep would find out only when
    it starts its Tuner, or when it exports, after every trial."""
    from eval.run_checks import UsageError
    from sweeps.storage import is_uri, storage_root

    copy = job_working_dir()
    folders = {"--out": args.out}
    if not is_uri(args.storage):
        folders["--storage"] = storage_root(args.storage)
    for flag, folder in folders.items():
        folder = Path(folder)
        if copy is not None and folder.is_relative_to(copy):
            raise UsageError(
                f"{flag} {folder}: this folder lies in {copy}, the copy of the repository that `ray job "
                "submit --working-dir` runs this job in, which other nodes do not see and Ray deletes; give "
                f"{flag} a path outside it (absolute, or under '~', which is expanded on the node)"
            )
        try:
            existing = next(p for p in (folder, *folder.parents) if p.exists())  # the part made so far
            if not existing.is_dir():
                raise NotADirectoryError(f"{existing} is a file")
            tempfile.TemporaryFile(dir=existing).close()
        except OSError as e:
            raise UsageError(
                f"{flag} {folder}: cannot write there ({e.strerror or e}); give a folder this machine "
                "can write"
            ) from None


def job_working_dir() -> Path | None:
    """The working directory of a Ray job submitted with ``--working-dir`` (Ray's temporary copy of
    it), from the job config Ray gives the entrypoint; None outside such a job."""
    try:
        job = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}")
    except ValueError:
        return None
    runtime_env = job.get("runtime_env") if isinstance(job, dict) else None
    return Path.cwd() if isinstance(runtime_env, dict) and runtime_env.get("working_dir") else None
