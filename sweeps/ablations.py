"""Ray Tune sweep of the paper's Table 3 ablations (``edtalk.ablations``), each a named config variant.

| Table 3 row    | variant       | change                           | retrains (+ audio_lip if audio-driven) |
|----------------|---------------|----------------------------------|----------------------------------------|
| w/o L_fea      | wo_l_fea      | mouth_pose loss weight fea = 0   | mouth_pose, expression                 |
| w/o L_self     | wo_l_self     | mouth_pose loss weight self = 0  | mouth_pose, expression                 |
| w/o L^m_rec    | wo_l_m_rec    | audio_lip loss weight m_rec = 0  | mouth_pose, expression, audio_lip      |
| w/o L^m_sync   | wo_l_m_sync   | audio_lip loss weight m_sync = 0 | mouth_pose, expression, audio_lip      |
| w/o Orthogonal | wo_orthogonal | model.orthogonal = False         | mouth_pose, expression                 |
| w/o Bank       | wo_bank       | model.use_bank = False           | mouth_pose, expression                 |
| w/o EEM        | wo_eem        | model.use_eem = False            | expression                             |
| only lip       | only_lip      | model.components = "lip"         | mouth_pose (no expression stage)       |
| lip+pose       | lip_pose      | model.components = "lip_pose"    | mouth_pose (no expression stage)       |
| Full Model     | full          | none (same budget as the others) | mouth_pose, expression                 |

Each row's stages come from its own fields (``retrained_stages``): those of its model switches
(``MODEL_RETRAINS``: ``use_eem`` the expression stage, ``components`` mouth_pose; any other field
mouth_pose and expression, as Full Model), plus every stage whose loss weights it changes.

To add a row, add an ``Ablation`` to ``edtalk.ablations.ABLATIONS`` (how: its docstring); it becomes a
variant here, listed by ``--help``. Only a model switch whose modules train in fewer stages than
mouth_pose and expression needs an entry in ``MODEL_RETRAINS``. Before Ray starts the sweep refuses
(``sweeps.checks``) a row whose model overrides or loss terms ``ModelConfig``/``StageConfig`` refuse,
one whose loss weights a stage its trials do not train, and one whose change the driving mode's
scoring never sees (with --driving audio: loss weights of audio_pose or audio_expression only).

Driving mode (``--driving``, recorded as ``"driving"`` in every results file), one for every row so
that the rows compare: audio by default, as the paper's Table 3 (its Full Model row is Table 1's
EDTalk-A): each trial also trains ``audio_lip`` after its own stages and is scored as ``edtalk_a``
(mouth from the clip's audio, pose and expression from the GT clip), so the L^m_rec and L^m_sync rows
are ranked against an audio-driven Full Model that went through the same stages and steps (they
differ from it only in their audio_lip loss weight). ``--driving video``
scores ``edtalk_v`` (every factor from the GT clip, isolating the decoupling stages) and leaves out
the two audio-only rows, which video-driven scoring would not see.

Results: ``results/<dataset>/edtalk_ablation_<variant>/<protocol>.json`` (``..._video`` when
video-driven) with
``"sweep": {"name": "ablations", "param": "variant", "value": <variant>}`` (Table 3 of eval.report).

    python sweeps/ablations.py --smoke-test
    ray job submit --address http://127.0.0.1:8265 -- python sweeps/ablations.py   # local Ray cluster

On a remote cluster, ``ray job submit --working-dir .`` runs the job in a temporary copy of the
repository: give ``--root``, ``--parent``, ``--storage`` and ``--out`` as paths outside it
(docs/cluster.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: repo on sys.path

from edtalk.ablations import ABLATIONS, Ablation  # noqa: E402
from sweeps.bootstrap import ensure_project_python  # noqa: E402
from sweeps.cli import build_parser, smoke_defaults  # noqa: E402
from sweeps.tuner import run_sweep  # noqa: E402
from sweeps.variant import Variant  # noqa: E402

SWEEP = "ablations"
SMOKE = ("full", "wo_eem")  # the variants --smoke-test runs
DECOUPLE = ("mouth_pose", "expression")  # what Full Model retrains from the parent run
# ModelConfig fields whose change fewer stages than DECOUPLE see -> the stages a row changing them
# retrains (a row changing any other field retrains DECOUPLE)
MODEL_RETRAINS = {
    "use_eem": ("expression",),  # the EEM: the mouth_pose parent is the Full Model's
    "components": ("mouth_pose",),  # only lip, lip+pose: no expression bank for the expression stage
}


def retrained_stages(ablation: Ablation) -> tuple[str, ...]:
    """The stages a row retrains from the parent run, in chain order: those of its model switches
    (``MODEL_RETRAINS``, else DECOUPLE, as Full Model) and every stage whose loss weights it changes, so
    that a loss row differs from Full Model in its weights only (w/o L^m_rec: DECOUPLE, then audio_lip)."""
    from edtalk.config import STAGE_NAMES

    model = {s for key in ablation.model for s in MODEL_RETRAINS.get(key, DECOUPLE)}
    stages = (model or set(DECOUPLE)) | set(ablation.loss_weights)
    # a name that is no stage is kept, last, for ``checks.check_variants`` to refuse
    return tuple(
        sorted(stages, key=lambda s: (STAGE_NAMES.index(s) if s in STAGE_NAMES else len(STAGE_NAMES), s))
    )


def ablation_variant(ablation: Ablation) -> Variant:
    """One Table 3 row (``edtalk.ablations``) as a config variant: its model switches and loss weights,
    and the stages it retrains (``retrained_stages``)."""
    return Variant(
        name=f"ablation_{ablation.id}",
        param="variant",
        value=ablation.id,
        stages=retrained_stages(ablation),
        model=dict(ablation.model),
        loss_weights={stage: dict(terms) for stage, terms in ablation.loss_weights.items()},
    )


# Table 3's rows as config variants, in the paper's order
VARIANTS: dict[str, Variant] = {name: ablation_variant(a) for name, a in ABLATIONS.items()}


def chosen_names(args, parser) -> list[str]:
    """The variants to run: --variants (known, each once), else SMOKE with --smoke-test, else every
    variant, less those the driving mode's scoring would not see (``Variant.unscored``: the audio
    stages' rows with --driving video)."""
    if args.variants is not None:
        names = [n.strip() for n in args.variants.split(",")]
        unknown = [n for n in names if n not in VARIANTS]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if not any(names) or unknown or repeated:
            parser.error(
                f"--variants {args.variants!r}: give each variant once, from: {', '.join(VARIANTS)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
                + (f" (repeated: {', '.join(repeated)})" if repeated else "")
            )
        return names
    if args.smoke_test:
        return list(SMOKE)
    return [n for n, v in VARIANTS.items() if not v.unscored(args.driving)]


def variants_help() -> str:
    """--variants' help, from VARIANTS: every name, and the default."""
    from edtalk.cli import listed

    less = "".join(
        f", less {listed(names)} with --driving {driving}"
        for driving in ("video", "audio")
        if (names := [n for n, v in VARIANTS.items() if v.unscored(driving)])
    )
    return f"comma-separated subset of: {', '.join(VARIANTS)} (default: all {len(VARIANTS)}{less})"


def main(argv: list[str] | None = None) -> int:
    ensure_project_python()  # `ray job submit -- python ...` may start another interpreter
    parser = build_parser(
        "python sweeps/ablations.py", __doc__.split("\n\n")[0], smoke=f"variants {' and '.join(SMOKE)}"
    )
    parser.add_argument("--variants", default=None, help=variants_help())
    args = smoke_defaults(parser.parse_args(argv))
    # The search space (paper Table 3)
    variants = [VARIANTS[n] for n in chosen_names(args, parser)]
    return run_sweep(args, variants, SWEEP)


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
