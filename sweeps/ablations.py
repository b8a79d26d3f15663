"""Ray Tune sweep of the paper's Table 3 ablations, each a named config variant.

| Table 3 row     | variant        | change                                      | retrains            |
|-----------------|----------------|---------------------------------------------|---------------------|
| w/o L_fea       | wo_l_fea       | mouth_pose loss weight fea = 0              | mouth_pose, expression |
| w/o L_self      | wo_l_self      | mouth_pose loss weight self = 0             | mouth_pose, expression |
| w/o L^m_rec     | wo_l_m_rec     | audio_lip weight m_rec = 0      | audio_lip..audio_expression |
| w/o L^m_sync    | wo_l_m_sync    | audio_lip weight m_sync = 0     | audio_lip..audio_expression |
| w/o Orthogonal  | wo_orthogonal  | model.orthogonal = False                    | mouth_pose, expression |
| w/o Bank        | wo_bank        | model.use_bank = False                      | mouth_pose, expression |
| w/o EEM         | wo_eem         | model.use_eem = False                       | expression          |
| only lip        | only_lip       | model.components = "lip"                    | mouth_pose          |
| lip+pose        | lip_pose       | model.components = "lip_pose"               | mouth_pose          |
| Full Model      | full           | none (same budget as the others)            | mouth_pose, expression |

The other variants are scored video-driven (edtalk_v: mouth, pose and expression from the GT clip),
which isolates the decoupling modules they change; the paper's Table 3 scores audio-driven.

Results: ``results/<dataset>/edtalk_ablation_<variant>/<protocol>.json`` with
``"sweep": {"name": "ablations", "param": "variant", "value": <variant>}`` (Table 3 of eval.report).

    python sweeps/ablations.py --smoke-test
    ray job submit --address http://127.0.0.1:8265 --working-dir . -- python sweeps/ablations.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: repo on sys.path

from sweeps.common import Variant, build_parser, ensure_project_python, run_sweep, smoke_defaults  # noqa: E402

SWEEP = "ablations"
DECOUPLE = ("mouth_pose", "expression")
# audio_lip and the stages after it: each final.pt holds the whole model so far, so the audio
# chain is retrained after the changed audio_lip to give a complete audio-driven model.
AUDIO = ("audio_lip", "audio_pose", "audio_expression")


def _v(variant: str, stages=DECOUPLE, model=None, loss_weights=None, driven="video") -> Variant:
    return Variant(
        name=f"ablation_{variant}",
        param="variant",
        value=variant,
        stages=stages,
        model=model or {},
        loss_weights=loss_weights or {},
        driven=driven,
    )


# Table 3's rows as config variants, in the paper's order (keys: baselines.reported.ABLATION_IDS
# values; tests/sweeps checks they match).
VARIANTS: dict[str, Variant] = {
    "wo_l_fea": _v("wo_l_fea", loss_weights={"mouth_pose": {"fea": 0.0}}),
    "wo_l_self": _v("wo_l_self", loss_weights={"mouth_pose": {"self": 0.0}}),
    "wo_l_m_rec": _v("wo_l_m_rec", stages=AUDIO, loss_weights={"audio_lip": {"m_rec": 0.0}}, driven="audio"),
    "wo_l_m_sync": _v(
        "wo_l_m_sync", stages=AUDIO, loss_weights={"audio_lip": {"m_sync": 0.0}}, driven="audio"
    ),
    "wo_orthogonal": _v("wo_orthogonal", model={"orthogonal": False}),
    "wo_bank": _v("wo_bank", model={"use_bank": False}),
    "wo_eem": _v("wo_eem", stages=("expression",), model={"use_eem": False}),
    "only_lip": _v("only_lip", stages=("mouth_pose",), model={"components": "lip"}),
    "lip_pose": _v("lip_pose", stages=("mouth_pose",), model={"components": "lip_pose"}),
    "full": _v("full"),
}


def main(argv: list[str] | None = None) -> int:
    ensure_project_python()  # `ray job submit -- python ...` may start another interpreter
    parser = build_parser("python sweeps/ablations.py", __doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=None, help="comma-separated subset of: " + ", ".join(VARIANTS))
    args = smoke_defaults(parser.parse_args(argv))
    # The search space (paper Table 3); --smoke-test keeps 2 variants.
    names = list(VARIANTS)
    if args.variants:
        names = [n.strip() for n in args.variants.split(",")]
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            parser.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    elif args.smoke_test:
        names = ["full", "wo_eem"]
    chosen = [VARIANTS[n] for n in names]
    return run_sweep(args, chosen, SWEEP)


if __name__ == "__main__":
    sys.exit(main())
