"""File names of the synthtalk expert networks, one place for all (no torch: the training driver's
``--help`` imports this).

A judge (judge split) scores; a loss expert (train split) trains. Each is saved as
``<name>.safetensors``; ``expert_file(kind)`` gives a loss expert's file name. The judges are
declared in the weights manager's catalogue (``edtalk.weight_catalogue``), which imports these names.
"""

from __future__ import annotations

JUDGE_NAMES = {"face_analyser": "synthtalk_face_judge", "sync_net": "synthtalk_sync_judge"}
EXPERT_NAMES = {"face_analyser": "synthtalk_face_expert", "sync_net": "synthtalk_sync_expert"}
SUFFIX = ".safetensors"
# optimiser steps of a loss expert's face analyser and sync net (the shipped set's; edtalk.train trains
# missing ones with these too): enough to carry a signal (150 / 40 did not)
LOSS_EXPERT_STEPS = {"face_analyser": 2000, "sync_net": 600}
# the commands that put the judges into the weights directory: the shipped pair, or trained here
INSTALL_JUDGES = "python -m eval.zoo install --data data/synthtalk"
TRAIN_JUDGES = "python -m eval.zoo train --data data/synthtalk"


def expert_file(kind: str) -> str:
    """The loss expert's file name for ``kind`` (face_analyser | sync_net)."""
    return EXPERT_NAMES[kind] + SUFFIX
