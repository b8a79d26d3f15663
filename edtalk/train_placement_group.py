"""Ray Train's ``PlacementGroupCleaner`` left out of the TorchTrainers of a private local Ray instance
(why: ``edtalk.ray_setup``'s module doc), and its job done by a driver that outlives them.

Ray Train V2 builds its default callbacks, the cleaner's among them, in the process that calls
``fit()``; ``leave_out_placement_group_cleaner`` swaps the class it builds there for one that starts
no cleaner actor (``edtalk.train_run.stage_run_config``). ``free_orphaned_placement_groups`` is what
the cleaner was for: a sweep's trial actor that dies mid-stage takes its Ray Train controller with
it, and Ray keeps the controller's placement group until the *job* ends, holding the stage's worker
CPUs for the rest of the sweep (on this machine every CPU: the next trial waited forever). The
sweep's driver calls it (``sweeps.placement_groups``).
"""

from __future__ import annotations

import ray
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


def orphaned_placement_groups() -> list[bytes]:
    """IDs of this Ray job's placement groups whose creator actor has died: not detached, not yet
    removed, made by an actor (a Ray Train controller), not by the driver (Tune's trial resources;
    Ray marks a driver's groups creator-dead from the start). Read from the GCS table itself: the
    State API needs the dashboard, which a private instance runs without, and
    ``ray.util.placement_group_table`` leaves out who made a group. Ray marks the creator dead once
    it has failed at all, also when it restarts (``max_restarts``) or exits after handing its
    group to others: no actor of a sweep does either (Ray Train's controller and Tune's trials
    are never restarted)."""
    from ray._private.state import state
    from ray.core.generated.gcs_pb2 import PlacementGroupTableData

    job = ray.get_runtime_context().get_job_id()
    orphans = []
    for raw in state._connect_and_get_accessor().get_placement_group_table():
        group = PlacementGroupTableData.FromString(raw)
        made_by_actor = bool(group.creator_actor_id) and not ray.ActorID(group.creator_actor_id).is_nil()
        if (
            group.state != PlacementGroupTableData.REMOVED
            and not group.is_detached
            and group.creator_job_id.hex() == job
            and made_by_actor
            and group.creator_actor_dead
        ):
            orphans.append(group.placement_group_id)
    return orphans


def free_orphaned_placement_groups() -> int:
    """Remove ``orphaned_placement_groups``, giving their CPUs (GPUs) back; how many there were."""
    from ray._raylet import PlacementGroupID
    from ray.util.placement_group import PlacementGroup, remove_placement_group

    orphans = orphaned_placement_groups()
    for group_id in orphans:
        remove_placement_group(PlacementGroup(PlacementGroupID(group_id)))
    return len(orphans)
