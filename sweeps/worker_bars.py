"""Take down the progress bars a failed trial's dead training workers leave on the sweep's screen.

A training worker's ``tqdm_ray`` bar is drawn by the sweep's driver (Ray sends the workers' output
there, not to the trial that runs the stage) and closed when the worker closes it. A worker killed
mid-stage never does, and its last state was redrawn after every later line of the sweep, to its
end (with ``--max-failures`` the whole rest of the sweep). After a trial fails, this callback takes
down the bars of worker processes on this machine that are gone
(``edtalk.train_failures.drop_bars_of_gone_workers``), on each step of Tune's loop for a short while,
since a dead trial's workers end a moment after Tune hears of it. A bar of another trial's worker
that ended normally in that while may be cleared instead of left as its last line.

Tune pickles the callback by its import path into the sweep's ``tuner.pkl`` for ``--resume``: keep
this class's name and module.
"""

from __future__ import annotations

import sys
import time

from ray import tune

WATCH_S = 30.0  # how long after a trial failed its workers' bars are looked at
CHECK_EVERY_S = 1.0  # between two looks within that while


class DropDeadWorkersBars(tune.Callback):
    """Tune callback: after a trial fails, close the bars of this machine's gone worker processes."""

    def __init__(self, watch_s: float = WATCH_S, every_s: float = CHECK_EVERY_S):
        self.watch_s = watch_s
        self.every_s = every_s
        self._until = 0.0  # monotonic time the watch after the last failure ends
        self._checked_at = 0.0
        self._warned = False

    def __getstate__(self) -> dict:  # a clock reading means nothing in the process that resumes
        return {
            "watch_s": self.watch_s,
            "every_s": self.every_s,
            "_until": 0.0,
            "_checked_at": 0.0,
            "_warned": False,
        }

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.watch()

    def on_trial_recover(self, iteration: int, trials: list, trial, **info) -> None:
        """A failed trial that Tune starts again (``--max-failures``)."""
        self.watch()

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        now = time.monotonic()
        if now < self._until and now - self._checked_at >= self.every_s:
            self.drop()

    def watch(self) -> None:
        """A trial failed: look now, and on Tune's steps for the next ``watch_s`` seconds."""
        self._until = time.monotonic() + self.watch_s
        self.drop()

    def drop(self) -> None:
        from edtalk.train_failures import drop_bars_of_gone_workers

        self._checked_at = time.monotonic()
        try:
            drop_bars_of_gone_workers()
        # tqdm_ray's bar manager is Ray's private API: a Ray whose manager has other attributes or
        # state shapes. Raised here, Tune would end every trial for it; a bar left is cosmetic
        except (AttributeError, KeyError, TypeError) as e:
            self._until = 0.0
            if not self._warned:
                print(
                    f"warning: could not take down the progress bars of a failed trial's workers ({e!r}); "
                    "the sweep goes on, but their last bars may stay on the screen",
                    file=sys.stderr,
                )
            self._warned = True
