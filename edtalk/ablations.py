"""The paper's Table 3 ablations: one record per row, the one list of them (torch-free).

Each ``Ablation`` says what its row switches off (loss terms set to 0 in a stage, ``ModelConfig``
switches), the row's label as the paper prints it (``baselines/data/table3_ablation_mead.csv``) and as
LaTeX. Its ``id`` names the row's results: ``results/<dataset>/edtalk_ablation_<id>/<protocol>.json``.

Used by ``python -m edtalk.train --ablation ID`` (the rows that only switch loss terms off),
``sweeps/ablations.py`` (every row, as a config variant), ``baselines.reported`` (the paper's rows)
and ``eval.report.row_keys`` (row order and labels).

To add a row, append one ``Ablation`` to ``ABLATIONS`` (the order there is the report's row order):
``id`` (a new name; its results are ``edtalk_ablation_<id>``), ``row_label`` and ``latex_label``, and what
it changes: ``loss_weights`` (stage -> loss term -> weight; each stage's terms: ``edtalk.stages``) and/or
``model`` (``ModelConfig`` fields). Every row becomes a sweep variant, a loss-only row also an
``edtalk.train --ablation`` choice. The sweep retrains the stages the row's fields name
(``sweeps.ablations.retrained_stages``: a model switch trained in fewer stages than mouth_pose and
expression also needs a ``sweeps.ablations.MODEL_RETRAINS`` entry) and refuses a mistyped stage, term or
field before Ray starts. ABLATIONS is a dict, not an ``edtalk.registry.Registry``: a registry lists its
names sorted, and the order of these rows is the table's.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Ablation:
    """One row of Table 3: an EDTalk variant trained without one part."""

    id: str  # results' method name is edtalk_ablation_<id>
    row_label: str  # the paper's row label ("w/o L_fea")
    latex_label: str  # the same as LaTeX (eval.report's tables.tex)
    # stage -> loss term -> weight: the loss terms the row switches off (weight 0 in that stage)
    loss_weights: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # ModelConfig overrides

    @property
    def loss_only(self) -> bool:
        """Switches loss terms off and nothing else: ``edtalk.train --ablation`` runs it on any model."""
        return bool(self.loss_weights) and not self.model


# Table 3's rows, in the paper's order
ABLATIONS: dict[str, Ablation] = {
    a.id: a
    for a in (
        Ablation(
            "wo_l_fea", "w/o L_fea", r"w/o $\mathcal{L}_{fea}$", loss_weights={"mouth_pose": {"fea": 0.0}}
        ),
        Ablation(
            "wo_l_self",
            "w/o L_self",
            r"w/o $\mathcal{L}_{self}$",
            loss_weights={"mouth_pose": {"self": 0.0}},
        ),
        Ablation(
            "wo_l_m_rec",
            "w/o L^m_rec",
            r"w/o $\mathcal{L}^m_{rec}$",
            loss_weights={"audio_lip": {"m_rec": 0.0}},
        ),
        Ablation(
            "wo_l_m_sync",
            "w/o L^m_sync",
            r"w/o $\mathcal{L}^m_{sync}$",
            loss_weights={"audio_lip": {"m_sync": 0.0}},
        ),
        Ablation("wo_orthogonal", "w/o Orthogonal", "w/o Orthogonal", model={"orthogonal": False}),
        Ablation("wo_bank", "w/o Bank", "w/o Bank", model={"use_bank": False}),
        Ablation("wo_eem", "w/o EEM", "w/o EEM", model={"use_eem": False}),
        Ablation("only_lip", "only lip", "only lip", model={"components": "lip"}),
        Ablation("lip_pose", "lip+pose", "lip+pose", model={"components": "lip_pose"}),
        Ablation("full", "Full Model", "Full Model"),
    )
}


def loss_ablation_ids() -> list[str]:
    """The rows that only switch loss terms off (``edtalk.train --ablation`` choices), paper order."""
    return [a.id for a in ABLATIONS.values() if a.loss_only]


def ablation_of_row(label: str) -> Ablation:
    """The ablation of Table 3's row ``label`` ("w/o L_fea"); an unknown label names the known ones."""
    for a in ABLATIONS.values():
        if a.row_label == label:
            return a
    known = ", ".join(repr(a.row_label) for a in ABLATIONS.values())
    raise KeyError(f"no Table 3 ablation has the row label {label!r} (known: {known})")
