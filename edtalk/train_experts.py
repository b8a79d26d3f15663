"""The loss experts the stages' losses need (``Stage.experts``: the synthtalk face expert for L_mot
and the sync expert for L^m_sync, ``edtalk.experts``): ``ensure_experts`` copies them from a shipped
set or trains them on the train split when missing, then refuses any that another synthtalk set
trained (a training-loss expert never sees the judge or test identities).
"""

from __future__ import annotations

from pathlib import Path

from edtalk.experts.names import LOSS_EXPERT_STEPS, expert_file
from edtalk.train_cache import parse_data

# face, sync steps of loss experts trained when missing (``python -m edtalk.experts train``'s defaults)
EXPERT_STEPS = (LOSS_EXPERT_STEPS["face_analyser"], LOSS_EXPERT_STEPS["sync_net"])


def ensure_experts(
    train_cfg,
    needed: set[str],
    face_steps: int,
    sync_steps: int,
    source: str | None = None,
    checked: bool = False,
) -> None:
    """Make the loss experts ``needed`` present in ``train_cfg.experts``: copied from ``source`` (a
    shipped set, ``edtalk.pretrained``) when given, else trained on the TRAIN split (never the judge
    split) if their files are missing. Then each is checked against the synthtalk set trained on:
    experts left in ``--out`` by a run on another synthtalk set (another preset's train people are
    this set's judge or test people) or a copy that is not ``source``'s (``check_experts``) are
    refused, not reused. ``checked``: the caller ran ``check_experts`` with these arguments already
    (``edtalk.train`` does, before the frame cache), so it is not run again."""
    if not checked:
        check_experts(train_cfg, needed, source)
    missing = {k for k in needed if not (Path(train_cfg.experts) / expert_file(k)).is_file()}
    if missing:
        _get_experts(train_cfg, missing, face_steps, sync_steps, source)
    from edtalk.experts.data import check_fits_dataset
    from edtalk.experts.store import TRAIN_LOSS_EXPERTS, read_metadata

    reader, root = parse_data(train_cfg.data)
    if reader == "synthtalk":
        for kind in sorted(needed):
            path = Path(train_cfg.experts) / expert_file(kind)
            how = f"Remove {path} (a rerun trains it on this set's train split), or {TRAIN_LOSS_EXPERTS}."
            check_fits_dataset(path, read_metadata(path), root, how)


def check_experts(train_cfg, needed: set[str], source: str | None = None) -> None:
    """What can be refused before the frame cache: loss experts ``needed`` missing from
    ``train_cfg.experts`` that nothing can make (with no shipped ``source``, only synthtalk data trains
    them; FileNotFoundError), and files there that are not ``source``'s (ConfigError)."""
    from edtalk.config import STAGE_NAMES, ConfigError
    from edtalk.experts.store import TRAIN_LOSS_EXPERTS, same_file_as_source
    from edtalk.stages import get_stage

    folder = Path(train_cfg.experts)
    missing = sorted(k for k in needed if not (folder / expert_file(k)).is_file())
    for path in sorted(folder / expert_file(k) for k in set(needed) - set(missing)):
        if source and not same_file_as_source(path, source):
            raise ConfigError(
                f"{path}: not the file of --experts {source} (an earlier run left another one in "
                f"{folder}); remove it to take {source}'s, or leave out --experts to use it"
            )
    if missing and not source and parse_data(train_cfg.data)[0] != "synthtalk":
        stages = ", ".join(n for n in STAGE_NAMES if set(get_stage(n).experts) & set(missing))
        raise FileNotFoundError(
            f"loss experts {missing} (read by the losses of {stages}) not found in {folder}, and only "
            f"synthtalk data trains them, not {train_cfg.data!r}: pass --experts DIR holding "
            f"{', '.join(expert_file(k) for k in missing)}; {TRAIN_LOSS_EXPERTS}"
        )


def _get_experts(train_cfg, missing: set[str], face_steps: int, sync_steps: int, source: str | None):
    """Copy the ``missing`` loss experts from ``source``, or train them on the train split."""
    if source:
        from edtalk.experts.store import copy_experts

        print(f"[train] loss experts {sorted(missing)} from {source} -> {train_cfg.experts}", flush=True)
        copy_experts(source, train_cfg.experts, [expert_file(k) for k in sorted(missing)])
        return
    from edtalk.experts.train import TrainSettings, train_experts

    reader, root = parse_data(train_cfg.data)
    settings = TrainSettings(face_steps=face_steps, sync_steps=sync_steps)
    print(
        f"[train] training loss experts {sorted(missing)} on the train split -> {train_cfg.experts}",
        flush=True,
    )
    train_experts(root, "train", train_cfg.experts, settings, only=tuple(sorted(missing)))
