"""Ray Tune sweep of the number of bases per bank, as in the paper's Table 6.

Mouth bank B^m in {5, 10, 20, 40} with the expression bank at 10, and the expression bank B^e in
{5, 10, 20, 40} with the mouth bank at 20. Mouth-bank trials retrain ``mouth_pose`` and
``expression`` from the parent's ``eg_pretrain`` checkpoint; expression-bank trials retrain
``expression`` from the parent's ``mouth_pose`` checkpoint. Every size starts alike: the swept
bank, its head in the latent navigation and the audio head that predicts its weights start from the
trial's seeded initialisation (also at the parent's own size, 20 or 10), the rest from the parent.

Driving mode (``--driving``, recorded as ``"driving"`` in every results file): audio by default, as
the paper's Table 6 (its mouth-20 and expression-10 cells are Table 3's Full Model and Table 1's
EDTalk-A): each trial also trains ``audio_lip`` and is scored as ``edtalk_a`` (mouth from the clip's
audio, pose and expression from the GT clip). ``--driving video`` scores ``edtalk_v`` (every factor
from the GT clip) without training audio_lip. Each trial is scored on ``--split`` (test by default)
and exported as ``results/<dataset>/edtalk_bank_<bank>_<n>/<protocol>.json`` (``..._<n>_video`` when
video-driven) with
``"sweep": {"name": "bank_size", "param": bank, "value": n, "seed": k}`` (Table 6 of ``eval.report``).

    python sweeps/bank_size.py --smoke-test                     # local, 2 CPU cores, minutes
    ray job submit --address http://127.0.0.1:8265 -- python sweeps/bank_size.py   # local Ray cluster

On a remote cluster, ``ray job submit --working-dir .`` runs the job in a temporary copy of the
repository: give ``--root``, ``--parent``, ``--storage`` and ``--out`` as paths outside it
(docs/cluster.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: repo on sys.path

from sweeps.bootstrap import ensure_project_python  # noqa: E402
from sweeps.cli import build_parser, smoke_defaults  # noqa: E402
from sweeps.tuner import run_sweep  # noqa: E402
from sweeps.variant import Variant  # noqa: E402

SWEEP = "bank_size"
FIXED = {"mouth": {"n_expression": 10}, "expression": {"n_mouth": 20}}  # the other bank (paper)
STAGES = {"mouth": ("mouth_pose", "expression"), "expression": ("expression",)}
FIELD = {"mouth": "n_mouth", "expression": "n_expression"}
# What every size of a bank starts afresh (seeded), its parent's size included: the bank, its head
# (MLN^m / ELN^e) and the audio head whose outputs are the bank's weights (MLP^m_A / MLP^e_A).
FRESH = {
    "mouth": ("banks.raw.mouth", "navigation.heads.mouth.", "audio_lip.to_mouth."),
    "expression": ("banks.raw.expression", "navigation.heads.expression.", "expression_predictor.mlp."),
}


def variant(bank: str, n: int) -> Variant:
    """The config change of one Table 6 cell: |B^bank| = n, the other bank at the paper's value."""
    return Variant(
        name=f"bank_{bank}_{n}",
        param=bank,
        value=n,
        stages=STAGES[bank],
        model={FIELD[bank]: n, **FIXED[bank]},
        fresh=FRESH[bank],
    )


# The search space: the paper's Table 6 (bases of the mouth bank, then of the expression bank);
# --smoke-test keeps 2 values per axis.
TABLE6_SIZES = {"mouth": [5, 10, 20, 40], "expression": [5, 10, 20, 40]}
SMOKE_SIZES = {"mouth": [5, 10], "expression": [5, 10]}


def variants(sizes: dict[str, list[int]]) -> list[Variant]:
    """One variant per bank size: ``{"mouth": [5, 10], ...}`` -> bank_mouth_5, bank_mouth_10, ..."""
    return [variant(bank, n) for bank, ns in sizes.items() for n in ns]


def main(argv: list[str] | None = None) -> int:
    ensure_project_python()  # `ray job submit -- python ...` may start another interpreter
    parser = build_parser("python sweeps/bank_size.py", __doc__.split("\n\n")[0], smoke="sizes 5 and 10")
    args = smoke_defaults(parser.parse_args(argv))
    points = variants(SMOKE_SIZES if args.smoke_test else TABLE6_SIZES)
    return run_sweep(args, points, SWEEP)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
