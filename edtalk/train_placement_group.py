"""Ray Train's ``PlacementGroupCleaner`` left out of the TorchTrainers of a private local Ray instance
(why: ``edtalk.ray_setup``'s module doc).

Ray Train V2 builds its default callbacks, the cleaner's among them, in the process that calls
``fit()``; ``leave_out_placement_group_cleaner`` swaps the class it builds there for one that starts
no cleaner actor. Imported by ``edtalk.train_run.stage_run_config`` only (it loads Ray Train).
"""

from __future__ import annotations

from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
from ray.train.v2.api import data_parallel_trainer


class NoPlacementGroupCleaner(PlacementGroupCleanerCallback):
    """The cleaner's callback without its detached actor: nothing to register, nothing to stop."""

    def after_controller_start(self, train_run_context) -> None:
        pass

    def after_worker_group_start(self, worker_group) -> None:
        pass


def leave_out_placement_group_cleaner() -> None:
    """From now on this process's TorchTrainers start no PlacementGroupCleaner."""
    data_parallel_trainer.PlacementGroupCleanerCallback = NoPlacementGroupCleaner
