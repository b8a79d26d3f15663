"""Free what a trial that died mid-stage leaves behind, so the sweep goes on.

A trial actor killed while its stage trains (a crash in native code, ``kill -9``, the OOM killer
choosing it rather than a training worker) takes its Ray Train controller and workers with it, but
Ray keeps the controller's placement group until the sweep's driver ends: the stage's worker CPUs
stay reserved, and on a private local instance, sized to the machine, the next trial never starts.
Ray Train's own cleaner for this is left out there (``edtalk.train_placement_group``), so the driver
does its job: after a trial errors (or fails and is started again, ``--max-failures``), and every
few seconds of Tune's loop (Ray marks the controller dead a moment after Tune hears of the trial's
end). On a cluster Ray Train's cleaner runs too; whichever removes a group first, the other finds
nothing.

Tune pickles the callback by its import path into the sweep's ``tuner.pkl`` for ``--resume``: keep
this class's name and module.
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
        self._failing = False

    def __getstate__(self) -> dict:  # a clock reading means nothing in the process that resumes
        return {"every_s": self.every_s, "_checked_at": None, "_failing": False}

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        if self._checked_at is None or time.monotonic() - self._checked_at >= self.every_s:
            self.free()

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.free()

    def on_trial_recover(self, iteration: int, trials: list, trial, **info) -> None:
        """A failed trial that Tune starts again (``--max-failures``): its new try needs the CPUs."""
        self.free()

    def free(self) -> int:
        """One check; a note when it freed something. A check that fails (the GCS not answering)
        warns once and leaves the sweep running: Tune would end every trial for an error raised
        here. How many groups it removed."""
        from edtalk.train_placement_group import free_orphaned_placement_groups

        self._checked_at = time.monotonic()
        try:
            freed = free_orphaned_placement_groups()
        except Exception as e:  # noqa: BLE001 - any error here would stop the whole sweep
            if not self._failing:
                print(
                    f"warning: could not look for placement groups left by a trial that died ({e}); "
                    "the sweep goes on, but such a trial's CPUs may stay reserved",
                    file=sys.stderr,
                )
            self._failing = True
            return 0
        self._failing = False
        if freed:
            print(
                f"note: freed the resources of {freed} training run(s) whose trial died mid-stage",
                file=sys.stderr,
            )
        return freed
