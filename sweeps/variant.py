"""A sweep point (``Variant``) and the driving modes its trials are trained and scored in.

A *variant* is a named change of the model config and the stages' loss weights, plus the stages it
must retrain from a parent run (the checkpoints of the other stages are reused):

    Variant(name="bank_mouth_10", param="mouth", value=10, model={"n_mouth": 10, "n_expression": 10},
            stages=("mouth_pose", "expression"))
"""

from __future__ import annotations

import dataclasses
from typing import Any

# --driving -> the eval.run method: EDTalk-A (mouth from the clip's audio, pose and expression from the
# GT clip; paper Tables 1, 3 and 6) or EDTalk-V (every factor from the GT clip; paper Table 5)
DRIVING_METHODS = {"audio": "edtalk_a", "video": "edtalk_v"}
AUDIO_MOUTH_STAGE = "audio_lip"  # the stage whose audio encoder and MLP^m_A EDTalk-A draws the mouth with
# --driving -> the last stage (edtalk.config.STAGE_NAMES) whose modules its method draws from: EDTalk-A
# the mouth from audio_lip (pose and expression from the GT clip), EDTalk-V every factor from the GT clip
SCORED_THROUGH = {"audio": AUDIO_MOUTH_STAGE, "video": "expression"}


def unscored_stages(driving: str) -> tuple[str, ...]:
    """The stages after ``SCORED_THROUGH[driving]``: the driving mode's method draws from none of their
    modules."""
    from edtalk.config import STAGE_NAMES

    return STAGE_NAMES[STAGE_NAMES.index(SCORED_THROUGH[driving]) + 1 :]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One sweep point: model-config overrides, loss-weight overrides per stage, stages to retrain."""

    name: str  # method name suffix: results go to edtalk_<name>
    param: str  # the swept axis ("mouth", "expression", "variant")
    value: Any  # its value (10, "wo_bank")
    stages: tuple[str, ...]  # stages the change affects, in order, retrained from the parent run
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # ModelConfig overrides
    loss_weights: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # stage -> term -> w
    # parent tensors (name prefixes) that start from the trial's seeded initialisation whatever their
    # shape, so that every point of a sweep starts alike (bank_size: the resized bank and its heads)
    fresh: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # the name last: Tune's status table shows the end of a grid value (its last 17 characters),
        # so a trial's row reads "...mouth_10'}" rather than the end of its list of fresh tensors
        d = dataclasses.asdict(self)
        return {**{k: v for k, v in d.items() if k != "name"}, "name": d["name"]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variant:
        d = dict(d)
        d["stages"] = tuple(d["stages"])
        d["fresh"] = tuple(d.get("fresh", ()))
        return cls(**d)

    def audio_only(self) -> bool:
        """The change is a loss weight of the audio stages only (L^m_rec, L^m_sync): video-driven
        scoring would not see it."""
        return self.unscored("video")

    def unscored(self, driving: str) -> bool:
        """The change is loss weights of stages after ``SCORED_THROUGH[driving]`` only, whose modules the
        driving mode's method never draws from (``unscored_stages``): scored, the variant would match its
        parent."""
        unseen = set(unscored_stages(driving))
        return not self.model and bool(self.loss_weights) and set(self.loss_weights) <= unseen

    def stage_overrides(self, stage: str, steps: int) -> dict[str, Any]:
        """The StageConfig fields a trial sets for ``stage`` (``stage_config_for``'s overrides): ``steps``
        optimizer steps, one checkpoint at the end, and the variant's loss weights of that stage."""
        return {
            "max_steps": steps,
            "checkpoint_every": steps,
            "loss_weights": self.loss_weights.get(stage, {}),
        }

    def trained_stages(self, driving: str) -> tuple[str, ...]:
        """The stages a trial trains: the variant's own; audio-driven also every later stage through
        ``audio_lip`` (each final.pt holds the whole model so far), less the expression stage of a
        model without an expression bank (only lip, lip+pose)."""
        from edtalk.config import STAGE_NAMES, ModelConfig

        if driving == "video":
            return self.stages
        first = STAGE_NAMES.index(self.stages[0])
        last = max(STAGE_NAMES.index(s) for s in (*self.stages, AUDIO_MOUTH_STAGE))
        # the components, whatever the preset (a bank size the tiny preset lacks room for included)
        components = {k: v for k, v in self.model.items() if k == "components"}
        banks = ModelConfig.preset("tiny", **components).bank_names
        skipped = () if "expression" in banks else ("expression",)
        return tuple(s for s in STAGE_NAMES[first : last + 1] if s in self.stages or s not in skipped)
