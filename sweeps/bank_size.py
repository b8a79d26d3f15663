"""Ray Tune sweep of the number of bases per bank, as in the paper's Table 6.

Mouth bank B^m in {5, 10, 20, 40} with the expression bank at 10, and the expression bank B^e in
{5, 10, 20, 40} with the mouth bank at 20. Mouth-bank trials retrain ``mouth_pose`` and
``expression`` from the parent's ``eg_pretrain`` checkpoint; expression-bank trials retrain
``expression`` from the parent's ``mouth_pose`` checkpoint. Each trial is scored on a validation
split and exported as ``results/<dataset>/edtalk_bank_<bank>_<n>/<protocol>.json`` with
``"sweep": {"name": "bank_size", "param": bank, "value": n}`` (Table 6 of ``eval.report``).

    python sweeps/bank_size.py --smoke-test                     # local, 2 CPU cores, minutes
    ray job submit --address http://127.0.0.1:8265 --working-dir . -- python sweeps/bank_size.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: repo on sys.path

from sweeps.common import (  # noqa: E402
    Variant,
    build_parser,
    concurrent_trials,
    ensure_project_python,
    init_ray,
    prepare_parent,
    run_tuner,
    scheduler,
    smoke_defaults,
    trainable_with_resources,
    trial_config,
)

SWEEP = "bank_size"
FIXED = {"mouth": {"n_expression": 10}, "expression": {"n_mouth": 20}}  # the other bank (paper)
STAGES = {"mouth": ("mouth_pose", "expression"), "expression": ("expression",)}
FIELD = {"mouth": "n_mouth", "expression": "n_expression"}


def variant(bank: str, n: int) -> Variant:
    """The config change of one Table 6 cell: |B^bank| = n, the other bank at the paper's value."""
    return Variant(
        name=f"bank_{bank}_{n}",
        param=bank,
        value=n,
        stages=STAGES[bank],
        model={FIELD[bank]: n, **FIXED[bank]},
    )


def variants(sizes: dict[str, list[int]]) -> list[dict]:
    return [variant(bank, n).to_dict() for bank, ns in sizes.items() for n in ns]


def main(argv: list[str] | None = None) -> int:
    ensure_project_python()  # `ray job submit -- python ...` may start another interpreter
    parser = build_parser("python sweeps/bank_size.py", __doc__.split("\n\n")[0])
    args = smoke_defaults(parser.parse_args(argv))
    from ray import tune

    init_ray(args.address)
    # The search space (paper Table 6); --smoke-test keeps 2 values per axis.
    sizes = {"mouth": [5, 10, 20, 40], "expression": [5, 10, 20, 40]}
    if args.smoke_test:
        sizes = {"mouth": [5, 10], "expression": [5, 10]}
    param_space = {**trial_config(args), "variant": tune.grid_search(variants(sizes))}

    prepare_parent(args, [Variant.from_dict(d) for d in variants(sizes)])

    def make_tuner():
        return tune.Tuner(
            trainable_with_resources(args.workers),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                num_samples=args.num_samples,
                max_concurrent_trials=concurrent_trials(args.workers),
                scheduler=scheduler(args.scheduler, "psnr", "max"),
            ),
            run_config=tune.RunConfig(
                name=args.name or SWEEP, storage_path=str(Path(args.storage).resolve())
            ),
        )

    return run_tuner(make_tuner, args, SWEEP)


if __name__ == "__main__":
    sys.exit(main())
