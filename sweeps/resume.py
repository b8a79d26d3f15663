"""What ``--resume`` continues: the settings a sweep was started with (``SETTINGS_FILE``, beside Tune's
experiment state), compared with the command line's, and whether this run restores the sweep."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sweeps.trial import trial_config
from sweeps.variant import Variant

SETTINGS_FILE = "edtalk_sweep.json"  # beside Tune's experiment state: what the sweep was started with
# settings added after sweeps were first saved, with the value a sweep saved before had (Tune's default)
ADDED_SETTINGS = {"max_failures": 0}


def sweep_settings(args: argparse.Namespace, variants: list[Variant]) -> dict[str, Any]:
    """What a resumed sweep keeps from its first start (Tune restores the saved search space and
    TuneConfig: the scheduler and the trials at once)."""
    return {
        **trial_config(args),
        "variants": [v.name for v in variants],
        "num_samples": args.num_samples,
        "scheduler": args.scheduler,
        "max_concurrent_trials": args.max_concurrent_trials,
        "max_failures": args.max_failures,
    }


def check_resume(path: str, settings: dict[str, Any]) -> None:
    """--resume continues a sweep with the settings it was started with (Tune restores its saved
    search space and ignores new flags); refuse, naming each one, when the command line differs.
    ``path``: the experiment's folder or URI (``sweeps.storage``)."""
    from edtalk.config import changed_fields
    from eval.run_checks import UsageError

    saved = _saved_settings(path)
    if saved is None:  # started before this check existed: nothing to compare
        return
    added = {k: v for k, v in ADDED_SETTINGS.items() if k in settings}  # a sweep saved before them had these
    changed = changed_fields({**added, **saved}, settings)
    if changed:
        raise UsageError(
            f"{path}: --resume continues the sweep with the settings it was started with, and these "
            f"differ: {'; '.join(changed)}. Rerun with the original settings, or start another sweep "
            "(--name NEW, without --resume)"
        )


def _saved_settings(path: str) -> dict[str, Any] | None:
    """The settings file of the sweep at ``path``; None when there is none. A file that is not a JSON
    object (truncated, edited by hand) is a UsageError naming it and what to do."""
    from eval.run_checks import UsageError
    from sweeps.storage import joined, read_text

    location = joined(path, SETTINGS_FILE)
    try:
        text = read_text(location)
        saved = None if text is None else json.loads(text)
    except ValueError as err:  # not JSON, or not text (UnicodeDecodeError)
        problem = f"not JSON: {err}"
    else:
        if saved is None or isinstance(saved, dict):
            return saved
        problem = f"a JSON {type(saved).__name__}, not an object"
    raise UsageError(
        f"{location}: unreadable ({problem}); it keeps the settings the sweep was started with, which "
        "--resume compares with the command line. Put the original back, delete it to resume without "
        "that check, or start another sweep (--name NEW, without --resume)"
    )


def resume_plan(args: argparse.Namespace, path: str, settings: dict[str, Any]) -> bool:
    """Whether this run restores the sweep at ``path`` (--resume and Tune can restore it, with the
    settings it was started with), with a note on stderr when it starts a new sweep over or instead
    of one (as ``edtalk.train --resume`` says when there is nothing to resume). --resume with a
    --storage that is itself a sweep's folder is refused: it would start a new sweep inside that one."""
    from ray import tune

    from eval.run_checks import UsageError

    restorable = tune.Tuner.can_restore(path)
    storage, name = path.rsplit("/", 1)
    if args.resume and restorable:
        check_resume(path, settings)
    elif args.resume and storage.strip("/") and tune.Tuner.can_restore(storage):  # --storage <a sweep>
        above, sweep = storage.rsplit("/", 1)
        raise UsageError(
            f"--resume: --storage {storage} is itself a sweep's folder (no sweep {name!r} in it); give "
            f"the folder above it and the sweep's name: --storage {above or '/'} --name {sweep}"
        )
    elif args.resume:
        print(
            f"note: --resume: no sweep to restore at {path}; starting a new one (check --storage and --name "
            "if you meant an earlier sweep)",
            file=sys.stderr,
        )
    elif restorable:
        print(
            f"note: {path} holds an earlier sweep; this run starts a new one there, which a later --resume "
            "continues (to continue the earlier one instead, rerun with --resume; --name NEW keeps both)",
            file=sys.stderr,
        )
    return args.resume and restorable
