"""ray_cluster.yaml is a valid Ray cluster-launcher config (Ray's own schema and checks), with a GPU
worker type, `make install` setup and the repo/data/weights mounts, and no experiment parameters."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CONFIG = Path(__file__).resolve().parents[1] / "ray_cluster.yaml"
SCHEMA = Path(ray.autoscaler.__file__).parent / "ray-schema.json"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_validates_against_rays_schema_and_checks(config):
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))
    validate_config(prepare_config(copy.deepcopy(config)))  # Ray's own post-defaults validation


def test_schema_validation_can_fail(config):
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu_worker"]["num_gpus"] = 4  # not a field of the schema
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text()))


def test_head_and_gpu_worker(config):
    types = config["available_node_types"]
    assert config["head_node_type"] in types
    gpu = [t for t in types.values() if t.get("resources", {}).get("GPU", 0) > 0]
    assert gpu and gpu[0]["max_workers"] >= 1 and gpu[0]["node_config"]["InstanceType"].startswith("g5.")


def test_setup_and_mounts(config):
    assert any("make install" in c for c in config["setup_commands"])
    mounts = config["file_mounts"]
    assert mounts["~/edtalk-bench"] == "."
    assert any("data" in k for k in mounts) and any("weights" in k for k in mounts)
    assert any("--head" in c for c in config["head_start_ray_commands"])
    assert any("--address" in c for c in config["worker_start_ray_commands"])


def test_no_experiment_parameters(config):
    dumped = yaml.safe_dump(config).lower()  # the parsed config (comments may name entry points)
    for word in ("bank", "num_samples", "learning_rate", "preset", "scheduler", "smoke", "epochs"):
        assert word not in dumped, word
