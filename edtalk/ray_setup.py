"""Setup for the worker processes of the private local Ray instance that training and sweeps start.

Ray Train V2 starts a detached ``PlacementGroupCleaner`` actor per run that asks Ray's State API,
every second, whether the run's controller is still alive. The State API is served by the
dashboard, which a local instance here runs without (``include_dashboard=False``: it costs startup
time and memory on a 2-core machine). Every query then fails and the cleaner logs the same warning,
"Failed to query Ray Train Controller actor state", a few hundred times per stage. Its job (freeing
the placement group of a controller that died while the cluster lives on) does not arise here: the
local instance ends with the driver. So local instances silence that one logger; a cluster reached
with ``--address`` runs a dashboard and keeps the cleaner's warnings.
"""

from __future__ import annotations

import logging

PLACEMENT_GROUP_CLEANER_LOGGER = "ray.train.v2._internal.execution.controller.placement_group_cleaner"


def quiet_placement_group_cleaner() -> None:
    """``worker_process_setup_hook``: only errors from the cleaner's logger (see the module doc)."""
    logging.getLogger(PLACEMENT_GROUP_CLEANER_LOGGER).setLevel(logging.ERROR)


def local_runtime_env(env_vars: dict[str, str] | None = None) -> dict:
    """The ``runtime_env`` for ``ray.init`` of a private local instance: the hook, plus ``env_vars``."""
    runtime_env: dict = {"worker_process_setup_hook": f"{__name__}.{quiet_placement_group_cleaner.__name__}"}
    if env_vars:
        runtime_env["env_vars"] = dict(env_vars)
    return runtime_env
