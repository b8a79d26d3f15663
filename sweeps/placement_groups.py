"""Free what a trial that died mid-stage leaves behind, so the sweep goes on.

A trial actor killed while its stage trains (the OOM killer, a crash in native code, a ``kill -9``)
takes its Ray Train controller and workers with it, but Ray keeps the controller's placement group
until the sweep's driver ends: the stage's worker CPUs stay reserved, and on a private local
instance, sized to the machine, the next trial never starts. Ray Train's own cleaner for this is
left out there (``edtalk.train_placement_group``), so the driver does its job: after a trial
errors, and every few seconds of Tune's loop (Ray marks the controller dead a moment after Tune
hears of the trial's end).
"""

from __future__ import annotations

import sys
import time

from ray import tune

CHECK_EVERY_S = 5.0  # between two reads of the placement group table in Tune's loop


class FreeOrphanedPlacementGroups(tune.Callback):
    """Tune callback: remove this job's placement groups whose creator actor has died."""

    def __init__(self, every_s: float = CHECK_EVERY_S):
        self.every_s = every_s
        self._checked_at: float | None = None

    def __getstate__(self) -> dict:  # Tune pickles the callbacks with the sweep (--resume)
        return {"every_s": self.every_s, "_checked_at": None}

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        if self._checked_at is None or time.monotonic() - self._checked_at >= self.every_s:
            self.free()

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.free()

    def free(self) -> int:
        """One check; prints a note when it freed something. How many groups it removed."""
        from edtalk.train_placement_group import free_orphaned_placement_groups

        self._checked_at = time.monotonic()
        freed = free_orphaned_placement_groups()
        if freed:
            print(
                f"note: freed the resources of {freed} training run(s) whose trial died mid-stage",
                file=sys.stderr,
            )
        return freed
