"""The local-Ray worker hook that silences Ray Train's placement-group cleaner (edtalk.ray_setup)."""

import importlib
import logging

from edtalk.ray_setup import PLACEMENT_GROUP_CLEANER_LOGGER, local_runtime_env, quiet_placement_group_cleaner


def test_logger_is_the_cleaner_module_of_the_installed_ray():
    module = importlib.import_module(PLACEMENT_GROUP_CLEANER_LOGGER)  # a Ray upgrade that moves it fails here
    assert hasattr(module, "PlacementGroupCleaner")
    assert module.logger.name == PLACEMENT_GROUP_CLEANER_LOGGER


def test_hook_keeps_errors_and_drops_warnings():
    logger = logging.getLogger(PLACEMENT_GROUP_CLEANER_LOGGER)
    before = logger.level
    try:
        quiet_placement_group_cleaner()
        assert not logger.isEnabledFor(logging.WARNING)
        assert logger.isEnabledFor(logging.ERROR)
    finally:
        logger.setLevel(before)


def test_runtime_env_names_an_importable_hook_and_keeps_env_vars():
    env = local_runtime_env({"DS_ACCELERATOR": "cpu"})
    module_name, _, func_name = env["worker_process_setup_hook"].rpartition(".")
    assert getattr(importlib.import_module(module_name), func_name) is quiet_placement_group_cleaner
    assert env["env_vars"] == {"DS_ACCELERATOR": "cpu"}
    assert "env_vars" not in local_runtime_env()
