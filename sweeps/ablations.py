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
DECOUPLE = ("mouth_pose", "expression")
# the audio rows retrain what Full retrains, then audio_lip (the stage EDTalk-A draws the mouth with)
# with their changed loss weight, so that they differ from Full in that weight only
AUDIO = (*DECOUPLE, "audio_lip")
# the stages a row retrains from the parent run, where not DECOUPLE (see the table above)
RETRAINS = {
    "wo_l_m_rec": AUDIO,
    "wo_l_m_sync": AUDIO,
    "wo_eem": ("expression",),
    "only_lip": ("mouth_pose",),
    "lip_pose": ("mouth_pose",),
}


def ablation_variant(ablation: Ablation) -> Variant:
    """One Table 3 row (``edtalk.ablations``) as a config variant: its model switches and loss weights."""
    return Variant(
        name=f"ablation_{ablation.id}",
        param="variant",
        value=ablation.id,
        stages=RETRAINS.get(ablation.id, DECOUPLE),
        model=dict(ablation.model),
        loss_weights={stage: dict(terms) for stage, terms in ablation.loss_weights.items()},
    )


# Table 3's rows as config variants, in the paper's order
VARIANTS: dict[str, Variant] = {name: ablation_variant(a) for name, a in ABLATIONS.items()}


def chosen_names(args, parser) -> list[str]:
    """The variants to run: --variants (known, each once), else full and wo_eem with --smoke-test,
    else all ten (less the two audio-only rows with --driving video)."""
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
        return ["full", "wo_eem"]
    return [n for n, v in VARIANTS.items() if args.driving == "audio" or not v.audio_only()]


def main(argv: list[str] | None = None) -> int:
    ensure_project_python()  # `ray job submit -- python ...` may start another interpreter
    parser = build_parser(
        "python sweeps/ablations.py", __doc__.split("\n\n")[0], smoke="variants full and wo_eem"
    )
    parser.add_argument(
        "--variants",
        default=None,
        help="comma-separated subset of: " + ", ".join(VARIANTS) + " (default: all, less wo_l_m_rec and "
        "wo_l_m_sync with --driving video)",
    )
    args = smoke_defaults(parser.parse_args(argv))
    # The search space (paper Table 3)
    return run_sweep(args, [VARIANTS[n] for n in chosen_names(args, parser)], SWEEP)


if __name__ == "__main__":
    sys.exit(main())
