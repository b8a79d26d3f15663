"""Config values of the wrong type, as JSON, YAML, sweeps and CLI overrides pass them, are a ConfigError
naming the field, the value and the expected type; held-out split names are refused at parse time."""

from __future__ import annotations

import json

import pytest

from edtalk.config import MODEL_PRESETS, STAGE_NAMES, ConfigError, ModelConfig, StageConfig, TrainConfig

MP = {"name": "mouth_pose"}
WRONG_TYPES = [
    (StageConfig, {**MP, "max_steps": "10"}, "StageConfig.max_steps must be an integer, got '10' (str)"),
    (StageConfig, {**MP, "batch_size": 2.5}, "StageConfig.batch_size must be an integer, got 2.5 (float)"),
    (StageConfig, {**MP, "lr": "1e-3"}, "StageConfig.lr must be a number, got '1e-3' (str)"),
    (StageConfig, {**MP, "window": True}, "StageConfig.window must be an integer, got True (bool)"),
    (
        StageConfig,
        {**MP, "fresh_mouth_pose_banks": 1},
        "fresh_mouth_pose_banks must be true or false (a bool)",
    ),
    (StageConfig, {**MP, "also_train": "generator"}, "also_train must be a list of parameter prefixes"),
    (StageConfig, {**MP, "also_train": [1]}, "StageConfig.also_train must be a list of strings, got (1,)"),
    (
        StageConfig,
        {**MP, "loss_weights": {"fea": "0"}},
        "loss_weights['fea'] must be a number, got '0' (str)",
    ),
    (StageConfig, {**MP, "loss_weights": "fea=0"}, "loss_weights must be a mapping of loss term to weight"),
    (StageConfig, {**MP, "loss_weights": {"foo": 1.0}}, "unknown loss terms ['foo'] for stage mouth_pose"),
    (StageConfig, {**MP, "loss_weights": {"fae": 0.0}}, "did you mean 'fea'?"),
    (StageConfig, {"name": 3}, "StageConfig.name must be a string, got 3 (int)"),
    (TrainConfig, {"workers": "2"}, "TrainConfig.workers must be an integer, got '2' (str)"),
    (TrainConfig, {"bf16": "false"}, "TrainConfig.bf16 must be true or false (a bool), got 'false' (str)"),
    (TrainConfig, {"resume": 0}, "TrainConfig.resume must be true or false (a bool), got 0 (int)"),
    (TrainConfig, {"use_gpu": "auto"}, "use_gpu must be true or false (a bool) or null (None), got 'auto'"),
    (TrainConfig, {"seed": 1.5}, "TrainConfig.seed must be an integer, got 1.5 (float)"),
    (TrainConfig, {"seed": -1}, "seed must be >= 0, got -1"),  # numpy's samplers refuse it in the workers
    (TrainConfig, {"split": None}, "TrainConfig.split must be a string, got None (NoneType)"),
    (ModelConfig, {"image_size": "64"}, "ModelConfig.image_size must be an integer, got '64' (str)"),
    (
        ModelConfig,
        {"orthogonal": "false"},
        "ModelConfig.orthogonal must be true or false (a bool), got 'false'",
    ),
    (ModelConfig, {"mask_audio_p": "0.3"}, "ModelConfig.mask_audio_p must be a number, got '0.3' (str)"),
]


@pytest.mark.parametrize("cls, data, message", WRONG_TYPES, ids=[repr(d) for _, d, _ in WRONG_TYPES])
def test_wrong_types_are_a_config_error_naming_field_value_and_type(cls, data, message):
    """They were a bare TypeError deep inside (str < int), or accepted: batch_size=2.5, bf16='false'
    (truthy: bf16 on), also_train='generator' (a tuple of its letters), an unknown loss term (refused
    only inside the Ray workers)."""
    with pytest.raises(ConfigError) as err:
        cls.from_dict(data)
    assert message in str(err.value)


def test_constructors_replace_and_presets_check_types_too():
    with pytest.raises(ConfigError, match=r"also_train must be a list of strings, got 'generator' \(str\)"):
        StageConfig(name="mouth_pose", also_train="generator")
    with pytest.raises(ConfigError, match=r"TrainConfig.bf16 must be true or false \(a bool\), got 'false'"):
        TrainConfig(bf16="false")
    with pytest.raises(ConfigError, match=r"ModelConfig.n_mouth must be an integer, got 20.0 \(float\)"):
        ModelConfig.preset("tiny").replace(n_mouth=20.0)
    with pytest.raises(ConfigError, match=r"ModelConfig.flow_lu must be true or false \(a bool\), got 'no'"):
        ModelConfig.preset("tiny", flow_lu="no")


def test_valid_values_as_json_gives_them_still_load():
    """Lists for tuples, ints for float fields, (term, weight) pairs, None for use_gpu: and every
    config survives a JSON round trip (run.json, checkpoint meta)."""
    stage = StageConfig.from_dict(
        {"name": "mouth_pose", "lr": 1, "beta1": 0, "loss_weights": [["fea", 0]], "also_train": ["generator"]}
    )
    assert stage.also_train == ("generator",) and stage.loss_weights == (("fea", 0),) and stage.lr == 1
    assert StageConfig(name="audio_lip", also_train=["audio_encoder"]).also_train == ("audio_encoder",)
    assert StageConfig.from_dict(json.loads(json.dumps(stage.to_dict()))) == stage
    from edtalk.train_chain import stage_config_for

    for name in STAGE_NAMES:  # every stage's defaults, and its demo schedule at tiny (edtalk.stages)
        for cfg in (StageConfig(name=name), stage_config_for(name, {}, "paper"), stage_config_for(name, {})):
            assert StageConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    train = TrainConfig(use_gpu=None, bf16=True, split="val")
    assert TrainConfig.from_dict(json.loads(json.dumps(train.to_dict()))) == train
    for preset in MODEL_PRESETS:
        model = ModelConfig.preset(preset)
        assert ModelConfig.from_dict(json.loads(json.dumps(model.to_dict()))) == model


@pytest.mark.parametrize("split", ["all", "ALL", "judge", "Judge", "test", " test"])
def test_train_config_refuses_the_held_out_split_names(split):
    """'all' takes every clip, the judges' and the test identities too; it was accepted and trained
    on them. Case and spaces do not get around it."""
    with pytest.raises(ConfigError, match="the judges' and the test identities must stay unseen") as err:
        TrainConfig(split=split)
    assert f"split {split!r}" in str(err.value)


def test_train_config_other_split_names_pass():
    for split in ("train", "val", "hdtf_train", "all_train"):
        assert TrainConfig(split=split).split == split
