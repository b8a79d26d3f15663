"""One DeepSpeed step per stage in-process (no Ray; world size 1, gloo) on the tiny preset.

The chain runs in order: each stage starts from the previous stage's exported final.pt, so this
also checks the parent hand-over, the export, and the per-emotion W^e written after `expression`.
"""

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from edtalk.config import STAGE_NAMES, ModelConfig, TrainConfig


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_one_deepspeed_step_per_stage(training_fixture, single_process_group, bf16):
    """``--bf16`` casts the parameters only: the warp, the flow's 1x1 mixing and BatchNorm's running
    statistics each broke a stage before (NaN/1e36 frames, linalg.inv in bf16, dtype mismatch)."""
    from edtalk.model import load_checkpoint
    from edtalk.train_chain import stage_config_for
    from edtalk.train_run import trained_on
    from edtalk.worker import StageWorker

    fx = training_fixture
    out = fx["root"] / ("runs_bf16" if bf16 else "runs")
    train_cfg = TrainConfig(
        data=f"synthtalk:{fx['data']}",
        workers=1,
        experts=str(fx["root"] / "experts"),
        out=str(out),
        cache=str(fx["root"] / "cache"),
        bf16=bf16,
    )
    parent = ""
    for name in STAGE_NAMES:
        stage_cfg = stage_config_for(name, {"max_steps": 1, "batch_size": 2})
        run = {
            "stage_dir": str(out / name),
            "parent": parent,
            "cache": str(fx["cache"]),
            "trained_on": trained_on(name, train_cfg),
        }
        worker = StageWorker(
            {
                "model": fx["model"].to_dict(),
                "stage": stage_cfg.to_dict(),
                "train": train_cfg.to_dict(),
                "run": run,
            }
        )
        model = worker.engine.module.model
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        terms = worker.step()
        assert all(abs(v) < 1e3 for v in terms.values()), (name, terms)  # finite and sane
        assert {k for k, w in worker.weights.items() if w} <= set(terms), (name, terms)
        worker.step()  # a part behind a zero-initialised one (the trunk behind the heads) moves from step 2
        changed = set()
        for n, p in model.named_parameters():
            if p.requires_grad:
                changed |= {n} if not torch.equal(p.detach(), before[n]) else set()
            else:
                assert torch.equal(p.detach(), before[n]), f"{name}: frozen parameter {n} changed"
        # every trainable part moved, not just some: a part cut out of the forward (EEM skipped, a dead
        # trunk) leaves the others training (per part: not every parameter of a fresh part has a gradient)
        for prefix in worker.stage.trainable:
            if any(n.startswith(prefix) for n in before):
                assert any(n.startswith(prefix) for n in changed), f"{name}: no parameter of {prefix} moved"
        parent = str(worker.export(out / name / "final.pt", step=1))
        meta = load_checkpoint(parent)["meta"]
        assert meta["stage"] == name and meta["stages_done"][-1] == name
        assert meta["provenance"]["machine"]["cpus"] >= 1  # the machine the steps ran on
        if name in ("eg_pretrain", "mouth_pose", "expression"):
            assert meta["perceptual"] == "substitute:pyramid_l1_ssim" or meta["perceptual"] == "vgg19"
            assert ("discriminator" in meta) == (
                worker.disc is not None or "discriminator" in worker.parent_meta
            )
        if name == "expression":
            weights = meta["emotion_weights"]
            assert weights and all(len(v) == fx["model"].n_expression for v in weights.values())
    # the last stage's final.pt is a complete EDTalk that inference can load
    from edtalk.driving import load_generator

    model, cfg = load_generator(parent)
    assert cfg == fx["model"]
    # saved as float32 whatever the training dtype; integer buffers keep theirs
    state = load_checkpoint(parent)["state_dict"]
    assert {v.dtype for k, v in state.items() if k.endswith("num_batches_tracked")} == {torch.int64}
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}
    assert model.checkpoint_meta["stages_done"] == list(STAGE_NAMES)
    # what each stage trained on, the data root resolved: scoring refuses those clips
    data = f"synthtalk:{Path(fx['data']).resolve()}"
    assert model.checkpoint_meta["trained_on"] == [
        {"stage": n, "data": data, "split": "train"} for n in STAGE_NAMES
    ]
    assert model.checkpoint_meta["emotion_weights"]
    # each stage counts its own steps; a run continuing the same stage adds its parent's
    first = out / "eg_pretrain" / "final.pt"
    assert load_checkpoint(first)["meta"]["stage_steps_total"] == 1
    assert load_checkpoint(out / "mouth_pose" / "final.pt")["meta"]["stage_steps_total"] == 1
    worker = StageWorker(
        {
            "model": fx["model"].to_dict(),
            "stage": stage_config_for("eg_pretrain", {"max_steps": 1, "batch_size": 2}).to_dict(),
            "train": train_cfg.to_dict(),
            "run": {
                "stage_dir": str(out / "more"),
                "parent": str(first),
                "cache": str(fx["cache"]),
            },
        }
    )
    worker.step()
    more = load_checkpoint(worker.export(out / "more" / "final.pt", step=3))["meta"]
    assert more["step"] == 3 and more["stage_steps_total"] == 4


def _stage_worker(fx, folder: str, stage: str = "eg_pretrain", parent: str = "", **overrides):
    """A StageWorker (batch 2; eg_pretrain with no parent unless told) on the fixture, writing to fx
    root/folder."""
    from edtalk.train_chain import stage_config_for
    from edtalk.worker import StageWorker

    out = fx["root"] / folder
    train_cfg = TrainConfig(data=f"synthtalk:{fx['data']}", workers=1, out=str(out))
    stage_cfg = stage_config_for(stage, {"max_steps": 1, "batch_size": 2, **overrides})
    return StageWorker(
        {
            "model": fx["model"].to_dict(),
            "stage": stage_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "run": {"stage_dir": str(out), "parent": parent, "cache": str(fx["cache"])},
        }
    )


def test_a_mouth_pose_worker_with_fresh_banks_starts_them_afresh_over_its_parent(
    training_fixture, single_process_group
):
    from edtalk.model import EDTalk, save_checkpoint
    from edtalk.stages import get_stage, start_fresh
    from edtalk.train_chain import stage_config_for

    fx = training_fixture
    torch.manual_seed(7)
    stage1 = EDTalk(fx["model"])
    with torch.no_grad():  # every value now differs from a fresh model's (zero biases included)
        for p in stage1.parameters():
            p.add_(0.5)
    parent = save_checkpoint(fx["root"] / "fresh_parent.pt", stage1.state_dict(), fx["model"])
    expected = EDTalk(fx["model"])
    expected.load_state_dict(stage1.state_dict())
    on = stage_config_for("mouth_pose", {"fresh_mouth_pose_banks": True})
    names = start_fresh(get_stage("mouth_pose"), on, expected, seed=0)  # TrainConfig's default seed
    kept = _stage_worker(fx, "kept", "mouth_pose", str(parent)).model.state_dict()
    fresh = _stage_worker(
        fx, "fresh", "mouth_pose", str(parent), fresh_mouth_pose_banks=True
    ).model.state_dict()
    for name, value in expected.state_dict().items():
        assert torch.equal(fresh[name].cpu(), value), name
        assert torch.equal(kept[name].cpu(), stage1.state_dict()[name]), name
    assert names and all(not torch.equal(fresh[n], kept[n]) for n in names)


def test_a_non_finite_loss_stops_the_step_before_the_weights_change(training_fixture, single_process_group):
    import dataclasses

    worker = _stage_worker(training_fixture, "nan")
    real = worker.stage.losses

    def poisoned(out, b, nets):
        return {**real(out, b, nets), "rec": torch.tensor(float("nan"))}

    worker.stage = dataclasses.replace(worker.stage, losses=poisoned)
    before = {n: p.detach().clone() for n, p in worker.model.named_parameters()}
    with pytest.raises(FloatingPointError, match=r"stage eg_pretrain: the loss is nan \(rec nan, per "):
        worker.step()
    assert all(torch.equal(p.detach(), before[n]) for n, p in worker.model.named_parameters())


def test_a_resume_trains_with_the_run_configs_lr_and_betas_not_the_checkpoints(
    training_fixture, single_process_group
):
    """Loading a checkpoint restores Adam's state dict, param_groups (lr, betas) included: a resume
    with another --lr/--beta1/--d-lr, announced by the driver and recorded in run.json, trained on
    the checkpoint's values. The run config's now replace them; the moments still come from the
    checkpoint."""
    from edtalk.engine_setup import D_BETAS, G_BETAS

    fx, adv = training_fixture, {"loss_weights": {"adv": 1.0}}  # so D and its Adam exist
    folder = fx["root"] / "lr" / "ck"
    first = _stage_worker(fx, "lr", lr=2e-4, beta1=0.9, d_lr=3e-4, **adv)
    first.step()
    first.save(folder, 1)
    resumed = _stage_worker(fx, "lr", lr=1e-5, beta1=0.0, d_lr=4e-5, **adv)
    assert resumed.load(folder) == 1
    (g,) = resumed.engine.optimizer.param_groups
    assert (g["lr"], tuple(g["betas"])) == (1e-5, (0.0, G_BETAS[1]))
    (d,) = resumed.d_opt.param_groups
    assert (d["lr"], tuple(d["betas"])) == (4e-5, D_BETAS)
    for opt in (resumed.engine.optimizer, resumed.d_opt):
        assert opt.state and all(int(s["step"]) == 1 for s in opt.state.values())


def test_a_resume_past_max_steps_exports_the_checkpoints_steps_under_the_config_that_trained_them(
    training_fixture, single_process_group
):
    """``--resume --max-steps 2`` from a step-3 checkpoint trains nothing and writes final.pt again:
    its meta said step 3 under a stage config of max_steps 2. The record now keeps the config the
    steps were trained under and names the rerun's apart."""
    from edtalk.model import load_checkpoint

    fx = training_fixture
    folder = fx["root"] / "past" / "ck"
    first = _stage_worker(fx, "past", max_steps=3)
    first.save(folder, 3)
    resumed = _stage_worker(fx, "past", max_steps=2)
    assert resumed.load(folder) == 3
    run = load_checkpoint(resumed.export(fx["root"] / "past" / "final.pt", step=3))["meta"]["run"]
    assert run["stage_config"]["max_steps"] == 3
    assert run["exported_again_by"]["stage_config"]["max_steps"] == 2
    trained = load_checkpoint(first.export(fx["root"] / "past" / "first.pt", step=3))["meta"]["run"]
    assert "exported_again_by" not in trained  # a run that trained its steps keeps its own record


def test_the_workers_optimiser_is_plain_adam_without_weight_decay(training_fixture, single_process_group):
    """DeepSpeed's "Adam" is AdamW unless adam_w_mode is off; with torch_adam (the CPU) that was
    torch's AdamW with its default weight decay 0.01, which the official trainers' Adam does not have
    (and FusedAdam on GPUs does not apply)."""
    import torch

    worker = _stage_worker(training_fixture, "adam")
    inner = getattr(worker.engine.optimizer, "optimizer", worker.engine.optimizer)
    assert type(inner) is torch.optim.Adam
    assert all(g["weight_decay"] == 0.0 for g in worker.engine.optimizer.param_groups)


def test_a_checkpoint_cut_off_mid_save_is_one_named_error(training_fixture, single_process_group):
    """A truncated engine file gave ~130 lines of traceback ending in 'PytorchStreamReader failed
    reading zip archive', naming no folder."""
    from edtalk.data.errors import DataError

    fx = training_fixture
    folder = fx["root"] / "cut" / "ck"
    worker = _stage_worker(fx, "cut")
    worker.save(folder, 1)
    [states] = list(folder.rglob("mp_rank_00_model_states.pt"))
    states.write_bytes(states.read_bytes()[:1000])
    with pytest.raises(DataError, match="cannot be loaded .*cut off while being saved") as err:
        _stage_worker(fx, "cut").load(folder)
    assert str(folder) in str(err.value)


def test_a_resumed_worker_draws_the_batches_and_random_numbers_an_uninterrupted_one_would(
    training_fixture, single_process_group, capsys
):
    """Each rank's sampler and torch RNG states are saved with the checkpoint: a resumed run drew
    step 1's batches again (and restarted torch's draws: masking, dropout). A checkpoint without
    them (saved before they were kept) still loads, draws from the seed again and says so."""
    fx = training_fixture
    folder = fx["root"] / "rng" / "ck"
    first = _stage_worker(fx, "rng")
    seed_batch = first.next_batch()
    first.step()
    torch.rand(5)  # a stage's own torch draws move torch's RNG between checkpoints
    first.save(folder, 2)
    expected_terms = first.step()  # what the uninterrupted run does next
    expected_torch = torch.get_rng_state()
    expected_batch = first.next_batch()

    resumed = _stage_worker(fx, "rng")  # a restarted worker: seeded afresh
    assert resumed.load(folder) == 2
    assert resumed.step() == pytest.approx(expected_terms, rel=1e-6)
    assert torch.equal(torch.get_rng_state(), expected_torch)
    batch = resumed.next_batch()
    assert all(torch.equal(batch[k], expected_batch[k]) for k in expected_batch)

    for p in folder.glob("rng_rank*.pt"):
        p.unlink()
    capsys.readouterr()
    old = _stage_worker(fx, "rng")
    assert old.load(folder) == 2
    assert "no sampler/RNG state for rank(s) 0" in capsys.readouterr().out
    batch = old.next_batch()
    assert all(torch.equal(batch[k], seed_batch[k]) for k in seed_batch)


def test_cpu_workers_skip_deepspeeds_inference_only_shm_kernel(
    training_fixture, single_process_group, monkeypatch
):
    """DeepSpeed would JIT-compile its shared-memory all-reduce (about 40 s, once per machine) for
    inference_all_reduce, which training never calls; a GPU worker's op table is left alone."""
    import deepspeed.ops
    from deepspeed.comm.torch import build_shm_op

    from edtalk.engine_setup import skip_inference_shm_kernel

    ops = deepspeed.ops.__compatible_ops__
    monkeypatch.setitem(ops, "deepspeed_shm_comm", True)  # what DeepSpeed's probe finds on Linux
    monkeypatch.setenv("DS_ACCELERATOR", "cuda")
    skip_inference_shm_kernel()
    assert ops["deepspeed_shm_comm"] is True
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    _stage_worker(training_fixture, "shm")
    assert ops["deepspeed_shm_comm"] is False
    assert build_shm_op() is None


def test_demo_schedule_only_at_tiny_and_cli_overrides_merge():
    from edtalk.engine_setup import deepspeed_config
    from edtalk.stages import get_stage
    from edtalk.train_chain import stage_config_for

    eg = get_stage("eg_pretrain")
    paper = stage_config_for("eg_pretrain", {}, preset="paper")
    tiny = stage_config_for("eg_pretrain", {"loss_weights": {"per": 0.5}}, preset="tiny")
    assert paper.beta1 == 0.0 and eg.loss_weights(paper)["adv"] == 1.0 and eg.trains_discriminator(paper)
    assert tiny.beta1 == 0.9 and tiny.max_steps == 400
    # a CLI loss-weight override adds to the demo's weights instead of replacing them
    assert eg.loss_weights(tiny) == {"rec": 1.0, "per": 0.5, "adv": 0.0} and not eg.trains_discriminator(tiny)
    ds = deepspeed_config(tiny, TrainConfig())
    assert ds["optimizer"]["params"]["betas"][0] == 0.9


def test_deepspeed_config_cpu_and_bf16():
    """Also the optimiser of a fresh run: the stage's lr and beta1 (a non-default 0.5), and the official
    beta2 0.99^(4/5); a fixed lr or betas would leave --lr / --beta1 unread until a resume."""
    from edtalk.config import StageConfig
    from edtalk.engine_setup import G_BETAS, deepspeed_config

    cfg = deepspeed_config(
        StageConfig(name="mouth_pose", batch_size=3, lr=1e-3, beta1=0.5),
        TrainConfig(deepspeed="zero2", bf16=True),
    )
    assert cfg["optimizer"]["params"]["lr"] == 1e-3
    assert cfg["optimizer"]["params"]["betas"] == [0.5, G_BETAS[1]] and G_BETAS[1] == 0.99 ** (4 / 5)
    assert cfg["zero_optimization"]["stage"] == 2
    assert cfg["optimizer"]["params"]["torch_adam"] is True
    assert cfg["bf16"] == {"enabled": True}
    assert cfg["communication_data_type"] == "fp32"  # gradients averaged in fp32, not bf16
    assert cfg["train_micro_batch_size_per_gpu"] == 3
    # torch's Adam on GPUs too (FusedAdam would be compiled at startup: nvcc of torch's exact CUDA)
    plain = deepspeed_config(StageConfig(name="mouth_pose"), TrainConfig())
    assert plain["optimizer"]["params"]["torch_adam"] is True and "bf16" not in plain
    assert "communication_data_type" not in plain
    assert plain["optimizer"]["params"]["betas"] == [StageConfig(name="mouth_pose").beta1, G_BETAS[1]]


def test_train_config_refuses_judge_split_and_bad_zero():
    from edtalk.config import ConfigError

    with pytest.raises(ConfigError, match="judge"):
        TrainConfig(split="judge")
    with pytest.raises(ConfigError, match="zero0..zero3"):
        TrainConfig(deepspeed="zero4")


def test_stage_config_refuses_rates_and_loss_weights_no_run_could_use():
    """What sweeps and library callers pass reaches StageConfig without the CLI's argparse checks."""
    from edtalk.config import ConfigError, StageConfig

    with pytest.raises(ConfigError, match="lr must be a finite number above 0, got 0.0"):
        StageConfig(name="eg_pretrain", lr=0.0)
    with pytest.raises(ConfigError, match="d_lr must be a finite number above 0, got nan"):
        StageConfig(name="eg_pretrain", d_lr=float("nan"))
    with pytest.raises(ConfigError, match=r"loss_weights\['fea'\] must be a finite number >= 0, got -1.0"):
        StageConfig(name="mouth_pose", loss_weights=(("fea", -1.0),))
    assert StageConfig(name="mouth_pose", loss_weights=(("fea", 0.0),)).weight("fea", 1.0) == 0.0


def test_cli_help_and_unknown_stage(capsys):
    from edtalk.train import main

    with pytest.raises(SystemExit) as err:
        main(["--help"])
    assert err.value.code == 0
    assert "--deepspeed" in capsys.readouterr().out
    assert main(["--stages", "eg_pretrain,mouth_pse", "--out", "/nonexistent-never-created"]) == 2
    assert "unknown training stage 'mouth_pse'. Did you mean 'mouth_pose'?" in capsys.readouterr().err


def test_cli_help_loads_no_torch():
    """--help answers before set_env_defaults, whose CUDA check imports torch (~2 s)."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom edtalk.train import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\nprint('torch loaded:', 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "--deepspeed" in out
    assert out.strip().endswith("torch loaded: False")


def test_missing_parent_is_a_clear_error(tmp_path):
    from edtalk.train_chain import stage_config_for
    from edtalk.train_run import run_stage

    cfg = TrainConfig(out=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train eg_pretrain first"):
        run_stage(stage_config_for("mouth_pose", {}), cfg, ModelConfig.preset("tiny"), tmp_path)


def test_cli_reports_bad_runs_in_one_line_before_any_work(tmp_path, capsys):
    """A missing parent, a chain out of order, a bad dataset: 'error: ...' and exit 2, no traceback,
    and nothing built first (no frame cache, no loss experts). A bad --preset is refused at parse time
    (tests/edtalk/test_cli.py)."""
    from edtalk.train import main

    base = ["--data", f"synthtalk:{tmp_path / 'nowhere'}", "--out", str(tmp_path / "runs")]
    cases = [
        (["--stage", "mouth_pose", "--preset", "tiny"], "train eg_pretrain first"),
        (
            ["--stages", "expression,mouth_pose", "--preset", "tiny"],
            "train eg_pretrain first",
        ),  # put in order
        (["--stages", ","], "names no stage"),  # failed with an IndexError after the cache and Ray
        (["--stages", "mouth_pose,mouth_pose"], "names mouth_pose more than once"),
        (["--stages", "all,eg_pretrain"], "'all' stands alone"),  # was: unknown training stage 'all'
        (["--stage", "audio_lip", "--extra-identities", "3"], "audio_lip is an audio stage"),
        (["--stage", "mouth_pose", "--parent", str(tmp_path / "gone.pt")], "gone.pt: no such checkpoint"),
        (["--stage", "eg_pretrain", "--preset", "tiny"], "nowhere"),
        # each of these used to fail only after Ray and the frame cache, or (a typo'd loss term) never
        (["--stage", "eg_pretrain", "--loss-weight", "fae=0"], "no stage of this run has a loss term 'fae'"),
        (["--stage", "eg_pretrain", "--beta1", "1.5"], "beta1 must be in [0, 1), got 1.5"),
        (["--stage", "eg_pretrain", "--also-train", "gen"], "['gen']: no EDTalk parameter name starts"),
    ]
    for argv, message in cases:
        assert main(argv + base) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "runs" / "cache").exists() and not (tmp_path / "runs" / "experts").exists()


def test_resume_refuses_another_model_and_names_changed_settings(tmp_path):
    """--resume over checkpoints of another preset or ZeRO stage is refused before Ray starts (DeepSpeed
    would fail on shapes inside a worker); other changes are listed, max_steps is free to grow."""
    import json

    from edtalk.config import ConfigError
    from edtalk.train_chain import stage_config_for
    from edtalk.train_resume import resume_check

    def run(model="tiny", lr=None, steps=300, zero="zero0", **train):
        stage = stage_config_for("mouth_pose", {"max_steps": steps, **({"lr": lr} if lr else {})})
        return {
            "model_config": ModelConfig.preset(model).to_dict(),
            "stage_config": stage.to_dict(),
            "train_config": TrainConfig(deepspeed=zero, resume=steps > 300, **train).to_dict(),
        }

    stage_dir = tmp_path / "mouth_pose"
    assert resume_check(stage_dir, run()) == []  # nothing saved yet: a fresh start
    for name in ("checkpoint_2026-01-01_10-00-00.1", "checkpoint_2026-01-01_10-05-00.2"):
        (stage_dir / name).mkdir(parents=True)
    (stage_dir / "checkpoint_2026-01-01_10-00-00.1" / "run.json").write_text(json.dumps(run(lr=0.5)))
    (stage_dir / "checkpoint_2026-01-01_10-05-00.2" / "run.json").write_text(json.dumps(run()))
    register_checkpoints(stage_dir, ["checkpoint_2026-01-01_10-00-00.1", "checkpoint_2026-01-01_10-05-00.2"])
    assert resume_check(stage_dir, run(steps=600)) == []  # the newest checkpoint's settings, run longer
    older = run()
    del older["model_config"]["use_eem"]  # written before a field existed: it reads as the default
    (stage_dir / "checkpoint_2026-01-01_10-05-00.2" / "run.json").write_text(json.dumps(older))
    assert resume_check(stage_dir, run()) == []
    assert resume_check(stage_dir, run(lr=1e-3)) == ["lr 0.0002 -> 0.001"]
    # train-config changes are named too (ZeRO-0 keeps the whole optimiser state: --workers may change)
    assert resume_check(stage_dir, run(seed=1)) == ["seed 0 -> 1"]
    assert resume_check(stage_dir, run(workers=1)) == ["workers 2 -> 1"]
    assert resume_check(stage_dir, run(lr=1e-3, data="synthtalk:elsewhere")) == [
        "lr 0.0002 -> 0.001",
        "data 'synthtalk:data/synthtalk' -> 'synthtalk:elsewhere'",
    ]
    with pytest.raises(ConfigError, match="another model config .*image_size 64 -> 256"):
        resume_check(stage_dir, run(model="paper"))
    with pytest.raises(ConfigError, match="another DeepSpeed setting .*deepspeed 'zero0' -> 'zero2'"):
        resume_check(stage_dir, run(zero="zero2"))


def register_checkpoints(stage_dir, names: list[str], step: int = 50) -> None:
    """Ray Train's record of the checkpoints it registered, the last of ``names`` the latest."""
    import json

    results = [{"checkpoint_dir_name": n, "metrics": {"step": step}} for n in names]
    snapshot = {"checkpoint_results": results, "latest_checkpoint_result": results[-1]}
    (stage_dir / "checkpoint_manager_snapshot.json").write_text(json.dumps(snapshot))


def test_resume_refuses_another_precision_or_sharded_world_size_before_any_work(tmp_path):
    """A switched --bf16, or another --workers under ZeRO >= 1, passed the check and then failed
    inside DeepSpeed (KeyError 'dynamic_loss_scale'; 'used a DP world size of 2')."""
    import json

    from edtalk.config import ConfigError
    from edtalk.train_resume import check_resumable

    model = ModelConfig.preset("tiny").to_dict()
    stage_dir = tmp_path / "eg_pretrain"
    for zero in ("zero0", "zero2"):
        saved = stage_dir / f"checkpoint_{zero}"
        saved.mkdir(parents=True)
        written = TrainConfig(deepspeed=zero, workers=2).to_dict()
        (saved / "run.json").write_text(json.dumps({"model_config": model, "train_config": written}))
        register_checkpoints(stage_dir, [saved.name])
        with pytest.raises(ConfigError, match="bf16 False -> True"):
            check_resumable(stage_dir, model, TrainConfig(deepspeed=zero, workers=2, bf16=True).to_dict())
        fewer = TrainConfig(deepspeed=zero, workers=1).to_dict()
        if zero == "zero0":
            check_resumable(stage_dir, model, fewer)  # whole optimizer state on every rank: fine
        else:
            with pytest.raises(ConfigError, match="workers 2 -> 1"):
                check_resumable(stage_dir, model, fewer)


def test_a_run_without_resume_says_what_it_deletes(tmp_path, capsys):
    """A rerun without --resume deleted a stage's finished run (final.pt and checkpoints) silently."""
    from edtalk.train_resume import delete_earlier_run

    stage_dir = tmp_path / "audio_lip"
    stage_dir.mkdir()
    delete_earlier_run("audio_lip", stage_dir, "--resume keeps and continues it")  # empty: nothing to say
    assert capsys.readouterr().out == "" and not stage_dir.exists()
    (stage_dir / "checkpoint_a").mkdir(parents=True)
    register_checkpoints(stage_dir, ["checkpoint_a"], step=20)
    (stage_dir / "final.pt").write_bytes(b"x")
    delete_earlier_run("audio_lip", stage_dir, "--resume keeps and continues it")
    out = capsys.readouterr().out
    assert f"audio_lip: deleting the earlier run in {stage_dir}" in out
    assert "a finished run (final.pt), checkpoints to step 20" in out and "--resume keeps" in out
    assert not stage_dir.exists()


def test_resume_follows_rays_record_not_the_newest_folder(tmp_path, capsys):
    """A folder written as a run was stopped, never registered, was read as 'the latest' (its
    half-written run.json crashed the driver); a corrupt record is named, not a traceback."""
    import json

    from edtalk.config import ConfigError
    from edtalk.train_resume import _latest_run, note_resume

    stage_dir = tmp_path / "mouth_pose"
    for name in ("checkpoint_a", "checkpoint_b", "checkpoint_c"):
        (stage_dir / name).mkdir(parents=True)
        (stage_dir / name / "run.json").write_text(json.dumps({"name": name}))
    (stage_dir / "checkpoint_c" / "run.json").write_text('{"half')
    assert _latest_run(stage_dir) is None  # no record: Ray starts afresh, so does the check
    note_resume("mouth_pose", stage_dir, 100)
    assert "holds no checkpoint: training from step 0" in capsys.readouterr().out
    register_checkpoints(stage_dir, ["checkpoint_a", "checkpoint_b"], step=30)
    assert _latest_run(stage_dir)["name"] == "checkpoint_b"
    note_resume("mouth_pose", stage_dir, 20)
    out = capsys.readouterr().out
    assert "removed checkpoint_c" in out and "from step 30, at or past --max-steps 20" in out
    note_resume("mouth_pose", stage_dir, 30)  # the boundary: nothing left to train either
    assert "from step 30, at or past --max-steps 30" in capsys.readouterr().out
    note_resume("mouth_pose", stage_dir, 31)  # one step to train: a plain resume, from step 30
    assert capsys.readouterr().out == "[train] mouth_pose: --resume from step 30 of 31\n"
    assert sorted(p.name for p in stage_dir.glob("checkpoint_*") if p.is_dir()) == [
        "checkpoint_a",
        "checkpoint_b",
    ]
    (stage_dir / "checkpoint_b" / "run.json").write_text('{"half')
    with pytest.raises(ConfigError, match=r"checkpoint_b/run.json .*cannot be read"):
        _latest_run(stage_dir)


def test_stages_are_trained_in_chain_order(capsys):
    from edtalk.train_chain import stage_names

    assert stage_names(None, "audio_lip,mouth_pose") == ["mouth_pose", "audio_lip"]
    assert "training in chain order, mouth_pose,audio_lip" in capsys.readouterr().out
    assert stage_names(None, "all") == list(STAGE_NAMES)
    assert stage_names("expression", None) == ["expression"]


def test_ctrl_c_after_a_stage_is_not_left_to_ray_trains_finished_run():
    """Ray Train's fit() installs a SIGINT handler and leaves it, bound to the finished run: Ctrl-C
    (and SIGTERM) between stages or in the final check aborted nothing and the command went on."""
    import signal

    from edtalk.train_run import TrainingInterrupted, _fit

    def ours(signum, frame):
        raise KeyboardInterrupt

    class LikeRayTrain:
        def __init__(self, aborted: bool = False):
            self.aborted = aborted

        def fit(self):
            signal.signal(signal.SIGINT, lambda *a: None)  # the finished run's abort
            if self.aborted:  # Ray Train's handler ends an aborted fit with sys.exit(0)
                raise SystemExit(0)
            return "result"

    before = signal.signal(signal.SIGINT, ours)
    try:
        assert _fit(LikeRayTrain()) == "result"
        assert signal.getsignal(signal.SIGINT) is ours
        with pytest.raises(TrainingInterrupted):
            _fit(LikeRayTrain(aborted=True))
        assert signal.getsignal(signal.SIGINT) is ours
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_says_how_to_continue_and_exits_130(tmp_path, monkeypatch, capsys):
    """Ray's SIGINT handler aborts the run and exits: the command ended with status 1 and no word."""
    from edtalk import train
    from edtalk.train_run import TrainingInterrupted, _fit

    class Stopped:
        def fit(self):
            raise SystemExit(0)

    with pytest.raises(TrainingInterrupted):
        _fit(Stopped())
    monkeypatch.setattr(train, "_train", lambda args: (_ for _ in ()).throw(TrainingInterrupted("x: y")))
    assert train.main(["--stage", "eg_pretrain", "--out", str(tmp_path)]) == 130
    assert "x: y" in capsys.readouterr().err
    # outside a stage (frame cache, loss experts, final check): a traceback before
    monkeypatch.setattr(train, "_train", lambda args: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert train.main(["--stage", "eg_pretrain", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted outside a stage's training; {tmp_path}'s finished stages are kept" in err
    assert "the same command starts again; with --resume it keeps the finished stages there" in err
    assert train.main(["--stage", "eg_pretrain", "--out", str(tmp_path), "--resume"]) == 130
    assert "are kept: run the same command to continue" in capsys.readouterr().err


def test_out_that_is_a_file_is_one_error_line(tmp_path, capsys):
    from edtalk.train import main

    (tmp_path / "afile").write_text("")
    assert main(["--stage", "eg_pretrain", "--out", str(tmp_path / "afile")]) == 2
    assert "a file, not a folder" in capsys.readouterr().err


def test_resume_with_another_preset_stops_before_the_frame_cache(tmp_path, monkeypatch, capsys):
    """The check ran inside run_stage, after the new preset's frame cache was decoded and the loss
    experts trained (minutes to hours); the command line now stops at once."""
    import json

    from edtalk import train

    checkpoint = tmp_path / "eg_pretrain" / "checkpoint_2026-01-01_10-00-00.1"
    checkpoint.mkdir(parents=True)
    saved = {"model_config": ModelConfig.preset("tiny").to_dict(), "train_config": TrainConfig().to_dict()}
    (checkpoint / "run.json").write_text(json.dumps(saved))
    register_checkpoints(checkpoint.parent, [checkpoint.name])
    monkeypatch.setattr(train, "prepare_cache", lambda *a: pytest.fail("built the cache first"))
    argv = ["--stage", "eg_pretrain", "--out", str(tmp_path), "--resume", "--preset", "paper"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert "was written with another model config (" in err and "image_size 64 -> 256" in err


def test_workers_use_the_clusters_gpus_even_from_a_cpu_only_driver(monkeypatch):
    """--device auto asks the Ray cluster, not the driver/trial process (a CPU-only head node)."""
    import ray

    from edtalk.train_run import resolve_use_gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the driver has no GPU
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 64.0, "GPU": 8.0})
    assert resolve_use_gpu(TrainConfig()) is True
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    assert resolve_use_gpu(TrainConfig()) is False
    assert resolve_use_gpu(TrainConfig(use_gpu=True)) is True  # --device gpu / cpu win over auto
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # no Ray yet: this machine decides
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_use_gpu(TrainConfig()) is True


def test_each_worker_picks_the_deepspeed_accelerator_of_its_own_device(monkeypatch):
    from edtalk.engine_setup import match_deepspeed_accelerator

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")  # inherited from a CPU-only driver or the Makefile
    match_deepspeed_accelerator()
    assert os.environ["DS_ACCELERATOR"] == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("DS_ACCELERATOR")
    match_deepspeed_accelerator()
    assert os.environ["DS_ACCELERATOR"] == "cpu"


def test_cli_device_flag_reaches_the_train_config(monkeypatch, tmp_path):
    from edtalk import train

    seen = {}
    monkeypatch.setattr(train, "local_resources", lambda: {"CPU": 2.0, "GPU": 2.0})  # --device gpu fits

    def stop(train_cfg, model_cfg):  # the first thing main does with the config: stop there
        seen["use_gpu"] = train_cfg.use_gpu
        raise SystemExit(0)

    monkeypatch.setattr(train, "prepare_cache", stop)
    for flag, expected in (("auto", None), ("gpu", True), ("cpu", False)):
        with pytest.raises(SystemExit):
            train.main(["--stage", "eg_pretrain", "--out", str(tmp_path), "--device", flag])
        assert seen.pop("use_gpu") is expected


def test_peak_gpu_memory_is_reported_on_cuda_workers_only(monkeypatch):
    from edtalk.worker_devices import peak_memory

    assert peak_memory(torch.device("cpu")) == {}
    seen = []
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d: seen.append(d) or 3 * 2**30)
    assert peak_memory(torch.device("cuda", 1)) == {"peak_gpu_mem_gib": 3.0}
    assert seen == [torch.device("cuda", 1)]


def test_emotion_weights_average_a_capped_even_spread_of_clips():
    """meta["emotion_weights"]: per emotion, the mean over clips of each clip's mean W^e on evenly
    spaced frames; at most ``clips_per_emotion`` clips, spread over the cache (first and last kept)."""
    import numpy as np

    from edtalk.data.clip import EMOTIONS
    from edtalk.data.sampler import to_tensor
    from edtalk.data.training import FrameCache
    from edtalk.emotion_table import emotion_weight_table
    from edtalk.model import EDTalk

    rng = np.random.default_rng(0)
    length = rng.integers(3, 12, size=9)
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    n = int(length.sum())
    cache = FrameCache(
        frames=rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8),
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        mels=np.zeros((n, 80, 16), np.float16),
        start=start,
        length=length,
        identity=np.zeros(9, np.int64),
        emotion=np.array([1, 2, 1, 1, -1, 2, 1, 1, 1]),
        clip_ids=[f"c{i}" for i in range(9)],
        identities=["p0"],
        transcripts=[""] * 9,
    )
    torch.manual_seed(0)
    model = EDTalk(ModelConfig.preset("tiny")).eval()

    def by_hand(clips):
        with torch.no_grad():
            per_clip = []
            for c in clips:
                idx = start[c] + np.linspace(0, length[c] - 1, 4).round().astype(int)
                f, _ = model.encode(to_tensor(cache.frames[idx]))
                per_clip.append(model.navigate(f, ("expression",))["expression"].mean(0))
        return torch.stack(per_clip).mean(0)

    table = emotion_weight_table(model, cache, frames_per_clip=4, clips_per_emotion=3)
    assert sorted(table) == sorted([EMOTIONS[1], EMOTIONS[2]])  # the unlabelled clip counts nowhere
    # emotion 1 has clips 0, 2, 3, 6, 7, 8: three evenly spread are positions 0, 2.5 -> 2, 5
    torch.testing.assert_close(torch.tensor(table[EMOTIONS[1]]), by_hand([0, 3, 8]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.tensor(table[EMOTIONS[2]]), by_hand([1, 5]), rtol=1e-4, atol=1e-5)


def test_resume_trains_again_a_finished_stage_whose_parent_it_trained(monkeypatch, tmp_path, capsys):
    """--resume skipped every stage with a final.pt, also one whose parent stage this call had just
    trained again (its earlier run deleted by a rerun without --resume): the chain mixed a new parent
    with a child trained from the old one. A stage whose parent is untouched is still skipped."""
    import ray

    from edtalk import train

    calls = []
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: tmp_path)
    monkeypatch.setattr(train, "ensure_experts", lambda *a, **k: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)

    def fake_run_stage(stage_cfg, train_cfg, *a):
        calls.append((stage_cfg.name, train_cfg.resume, (tmp_path / stage_cfg.name).exists()))
        return tmp_path / stage_cfg.name / "final.pt"

    monkeypatch.setattr(train, "run_stage", fake_run_stage)
    monkeypatch.setattr(train, "self_reconstruction_check", lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    for stage in ("eg_pretrain", "mouth_pose"):
        (tmp_path / stage).mkdir()
        (tmp_path / stage / "final.pt").write_bytes(b"x")
    run = ["--stages", "eg_pretrain,mouth_pose", "--out", str(tmp_path), "--resume"]
    with pytest.raises(SystemExit):
        train.main(run)
    assert calls == []  # both finished: both skipped
    (tmp_path / "eg_pretrain" / "final.pt").unlink()  # deleted by a rerun without --resume, say
    with pytest.raises(SystemExit):
        train.main(run)
    assert calls == [("eg_pretrain", True, True), ("mouth_pose", False, False)]
    out = capsys.readouterr().out
    assert f"[train] mouth_pose: deleting the earlier run in {tmp_path / 'mouth_pose'}" in out
    assert "(it was trained from eg_pretrain's run before the one this call trained)" in out


class TrainerStarted(Exception):
    """Raised by ``trainer_starts``' TorchTrainer: run_stage got as far as building its trainer."""


@pytest.fixture
def trainer_starts(monkeypatch) -> list[dict]:
    """TorchTrainer replaced by one that records its ``train_loop_config`` and raises TrainerStarted."""
    import ray.train.torch

    started = []

    def trainer(*a, train_loop_config, **k):
        started.append(train_loop_config)
        raise TrainerStarted

    monkeypatch.setattr(ray.train.torch, "TorchTrainer", trainer)
    return started


def save_parent(path, value: float) -> str:
    """A parent checkpoint of weights all ``value`` written as a stage writes one (save_checkpoint);
    returns its weights digest."""
    from edtalk.model import save_checkpoint, state_digest

    state = {"w": torch.full((3,), value)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, state, ModelConfig.preset("tiny"), extra={"stage": "eg_pretrain"})
    return state_digest(state)


def test_resume_trains_again_a_finished_stage_whose_parent_an_earlier_call_retrained(
    monkeypatch, tmp_path, capsys
):
    """The same as above when the parent was retrained by an earlier call (its own `--stage
    eg_pretrain`): --resume kept the child, trained from the parent's old run. The child's final.pt
    records its parent's weights digest, which the skip now compares with the parent there: the same
    weights written again (another file: every save differs) keep it."""
    import ray

    from edtalk import train

    calls = []
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: tmp_path)
    monkeypatch.setattr(train, "ensure_experts", lambda *a, **k: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(
        train, "run_stage", lambda stage_cfg, train_cfg, *a: calls.append((stage_cfg.name, train_cfg.resume))
    )
    monkeypatch.setattr(train, "self_reconstruction_check", lambda *a: (_ for _ in ()).throw(SystemExit(0)))
    parent = tmp_path / "eg_pretrain" / "final.pt"
    child = {
        "config": ModelConfig.preset("tiny").to_dict(),
        "state_dict": {},
        "meta": {"run": {"parent_weights": save_parent(parent, 1.0)}},
    }
    (tmp_path / "mouth_pose").mkdir()
    torch.save(child, tmp_path / "mouth_pose" / "final.pt")
    run = ["--stages", "eg_pretrain,mouth_pose", "--out", str(tmp_path), "--resume"]
    for _ in range(2):
        with pytest.raises(SystemExit):
            train.main(run)
        assert calls == []  # the child's parent weights are there: both skipped
        save_parent(parent, 1.0)  # written again, as a --resume past --max-steps does
    save_parent(parent, 2.0)  # retrained
    with pytest.raises(SystemExit):
        train.main(run)
    assert calls == [("mouth_pose", False)] and not (tmp_path / "mouth_pose").exists()
    out = capsys.readouterr().out
    assert "[train] eg_pretrain: " in out and "exists, skipping (--resume)" in out
    assert f"[train] mouth_pose: deleting the earlier run in {tmp_path / 'mouth_pose'}" in out
    assert f"(it was trained from other parent weights than those now in {parent})" in out


def test_resume_does_not_continue_checkpoints_trained_from_another_parent(trainer_starts, tmp_path, capsys):
    """A stopped stage's checkpoints hold its parent's weights as they were: resumed after the parent
    was retrained, the run ignored the new parent. run_stage now compares the weights digest the
    latest checkpoint's run.json records with the parent's and trains such a stage anew; the same
    weights written again (a sweep trial's graft is made again on each attempt) are resumed."""
    import json

    from edtalk.train_chain import stage_config_for
    from edtalk.train_run import run_stage

    started = trainer_starts  # the configs run_stage gave TorchTrainer
    cfg = TrainConfig(out=str(tmp_path), resume=True)
    model = ModelConfig.preset("tiny")
    parent = tmp_path / "eg_pretrain" / "final.pt"
    stage_dir = tmp_path / "mouth_pose"
    (stage_dir / "checkpoint_a").mkdir(parents=True)
    record = {
        "parent_weights": save_parent(parent, 1.0),
        "model_config": model.to_dict(),
        "stage_config": stage_config_for("mouth_pose", {}).to_dict(),
        "train_config": cfg.to_dict(),
    }
    (stage_dir / "checkpoint_a" / "run.json").write_text(json.dumps(record, default=str))
    register_checkpoints(stage_dir, ["checkpoint_a"], step=20)
    for _ in range(2):
        with pytest.raises(TrainerStarted):  # the same parent weights: resumed
            run_stage(stage_config_for("mouth_pose", {}), cfg, model, tmp_path)
        assert started[-1]["train"]["resume"] and (stage_dir / "checkpoint_a").is_dir()
        assert started[-1]["run"]["parent_weights"] == record["parent_weights"]
        assert "deleting" not in capsys.readouterr().out
        save_parent(parent, 1.0)  # written again: another file, the same weights
    save_parent(parent, 2.0)
    with pytest.raises(TrainerStarted):
        run_stage(stage_config_for("mouth_pose", {}), cfg, model, tmp_path)
    assert not started[-1]["train"]["resume"] and not (stage_dir / "checkpoint_a").exists()
    out = capsys.readouterr().out
    assert "mouth_pose: deleting the earlier run" in out and "checkpoints to step 20" in out
    assert f"(it was trained from other parent weights than those now in {parent})" in out


def test_a_resume_with_no_step_left_says_so_instead_of_a_rate(monkeypatch, tmp_path, capsys):
    """A --resume at or past --max-steps trains nothing, yet ended with 'done in 32 s, it/s 1.80': a
    rate from the checkpoint's metrics, for steps this call never trained."""
    import json
    from types import SimpleNamespace

    import ray.train.torch

    from edtalk.train_chain import stage_config_for
    from edtalk.train_run import run_stage

    monkeypatch.setattr(
        ray.train.torch,
        "TorchTrainer",
        lambda *a, **k: SimpleNamespace(
            fit=lambda: SimpleNamespace(error=None, metrics={"it_per_s": 1.8}, checkpoint=None)
        ),
    )
    cfg = TrainConfig(out=str(tmp_path), resume=True)
    model = ModelConfig.preset("tiny")
    weights = save_parent(tmp_path / "eg_pretrain" / "final.pt", 1.0)
    stage_dir = tmp_path / "mouth_pose"
    (stage_dir / "checkpoint_a").mkdir(parents=True)
    for max_steps, said in ((20, "final.pt written again from step 20 in"), (30, "it/s 1.80")):
        stage_cfg = stage_config_for("mouth_pose", {"max_steps": max_steps})
        record = {
            "parent_weights": weights,
            "model_config": model.to_dict(),
            "stage_config": stage_cfg.to_dict(),
            "train_config": cfg.to_dict(),
        }
        (stage_dir / "checkpoint_a" / "run.json").write_text(json.dumps(record, default=str))
        register_checkpoints(stage_dir, ["checkpoint_a"], step=20)
        torch.save({"config": model.to_dict(), "state_dict": {}, "meta": {}}, stage_dir / "final.pt")
        run_stage(stage_cfg, cfg, model, tmp_path)
        out = capsys.readouterr().out
        assert said in out and ("it/s" in out) == (max_steps > 20), out
        assert json.loads((stage_dir / "summary.json").read_text())["trained_steps"] == max_steps - 20


def test_a_first_stage_resumed_without_its_parent_flag_goes_on_from_its_recorded_parent(
    trainer_starts, tmp_path, capsys
):
    """eg_pretrain started from --parent and resumed without it was judged against 'no parent' and
    deleted; kept but started without a parent, its export would lose the parent's meta (what the
    init trained on, which the scoring's leak check reads). It now goes on from the recorded parent."""
    import json

    from edtalk.train_chain import stage_config_for
    from edtalk.train_resume import trained_from_another_parent
    from edtalk.train_run import run_stage

    started = trainer_starts  # the configs run_stage gave TorchTrainer
    model = ModelConfig.preset("tiny")
    init = tmp_path / "init.pt"
    weights = save_parent(init, 1.0)
    stage_dir = tmp_path / "runs" / "eg_pretrain"
    (stage_dir / "checkpoint_a").mkdir(parents=True)
    cfg = TrainConfig(out=str(tmp_path / "runs"), resume=True, parent=str(init))
    record = {
        "parent": str(init),
        "parent_weights": weights,
        "model_config": model.to_dict(),
        "stage_config": stage_config_for("eg_pretrain", {}).to_dict(),
        "train_config": cfg.to_dict(),
    }
    (stage_dir / "checkpoint_a" / "run.json").write_text(json.dumps(record, default=str))
    register_checkpoints(stage_dir, ["checkpoint_a"], step=20)
    with pytest.raises(TrainerStarted):
        run_stage(stage_config_for("eg_pretrain", {}), replace(cfg, parent=""), model, tmp_path)
    assert started[-1]["train"]["resume"] and started[-1]["run"]["parent"] == str(init.resolve())
    out = capsys.readouterr().out
    assert f"eg_pretrain: --resume goes on from the parent its run started from, {init}" in out
    assert "deleting" not in out and "changed settings" not in out
    # a finished run's skip with no parent named judges nothing
    torch.save({"config": model.to_dict(), "state_dict": {}, "meta": {"run": record}}, stage_dir / "final.pt")
    assert trained_from_another_parent(stage_dir, "", finished=True, weights="") is None
    assert trained_from_another_parent(stage_dir, str(init), finished=True, weights="b") is not None
    assert trained_from_another_parent(stage_dir, str(init), finished=True) is None  # read here: the same
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert (
        trained_from_another_parent(stage_dir, str(tmp_path / "bad.pt"), finished=True) is None
    )  # unreadable


def test_state_digest_names_the_weights_not_the_file(tmp_path):
    """Two saves of one state differ as files (meta, torch.save's archive name) but not in digest."""
    from edtalk.model import load_checkpoint, save_checkpoint, state_digest
    from edtalk.weights import sha256_of

    state = {"b": torch.arange(4, dtype=torch.bfloat16), "a": torch.tensor(3.0), "c": torch.ones(2, 2) > 0}
    a = save_checkpoint(tmp_path / "a.pt", state, ModelConfig.preset("tiny"), extra={"step": 1})
    b = save_checkpoint(tmp_path / "b.pt", state, ModelConfig.preset("tiny"), extra={"step": 2})
    assert sha256_of(a) != sha256_of(b)
    assert state_digest(load_checkpoint(a)["state_dict"]) == state_digest(load_checkpoint(b)["state_dict"])
    assert state_digest(state) == state_digest(dict(reversed(state.items())))
    for changed in (
        {**state, "a": torch.tensor(3.5)},
        {**state, "a": torch.tensor([3.0])},
        {"a": state["a"]},
    ):
        assert state_digest(changed) != state_digest(state)


def test_max_steps_for_every_stage_or_per_stage(monkeypatch, tmp_path, capsys):
    """--max-steps N sets every stage; STAGE=N,... sets those stages and leaves the others' defaults."""
    import ray

    from edtalk import train
    from edtalk.train_chain import stage_config_for

    seen = {}
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: tmp_path)
    monkeypatch.setattr(train, "ensure_experts", lambda *a, **k: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(
        train, "run_stage", lambda stage_cfg, *a: seen.setdefault(stage_cfg.name, stage_cfg.max_steps)
    )

    def stop(*a):  # the chain's closing check: the stages have been configured by then
        raise SystemExit(0)

    monkeypatch.setattr(train, "self_reconstruction_check", stop)
    run = ["--stages", "eg_pretrain,mouth_pose", "--out", str(tmp_path)]
    with pytest.raises(SystemExit):
        train.main([*run, "--max-steps", "eg_pretrain=7"])
    assert seen == {"eg_pretrain": 7, "mouth_pose": stage_config_for("mouth_pose", {}).max_steps}
    seen.clear()
    with pytest.raises(SystemExit):
        train.main([*run, "--max-steps", "5"])
    assert seen == {"eg_pretrain": 5, "mouth_pose": 5}

    assert train.main([*run, "--max-steps", "audio_lip=3"]) == 2
    assert "--max-steps names audio_lip, which this run does not train" in capsys.readouterr().err
    for bad, message in (
        ("eg_pretrian=3", "Did you mean 'eg_pretrain'"),
        ("0", "at least 1"),
        ("x", "whole number"),
    ):
        with pytest.raises(SystemExit):
            train.main([*run, "--max-steps", bad])
        assert message in capsys.readouterr().err


def test_a_run_checks_its_loss_experts_once_and_names_a_missing_one_before_any_work(
    tmp_path, monkeypatch, capsys
):
    """check_experts (a sha256 of every expert file under --experts pretrained:NAME) ran twice per run:
    before the frame cache and again inside ensure_experts. Once now, with the same errors before Ray."""
    import ray

    import edtalk.train_experts as train_experts
    from edtalk import train

    calls, check = [], train_experts.check_experts

    def counted(*args, **kwargs):
        calls.append(sorted(args[1]))
        return check(*args, **kwargs)

    for module in (train, train_experts):
        monkeypatch.setattr(module, "check_experts", counted)
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: tmp_path / "cache")
    monkeypatch.setattr(ray, "is_initialized", lambda: True)

    def stop(*a):  # the first stage: the experts are in place by then
        raise SystemExit(0)

    monkeypatch.setattr(train, "run_stage", stop)
    out = tmp_path / "runs"
    run = ["--stage", "expression", "--parent", "pretrained:tiny_synthtalk_eg", "--out", str(out)]
    with pytest.raises(SystemExit):
        train.main(
            [*run, "--experts", "pretrained:tiny_synthtalk_loss_experts", "--data", f"synthtalk:{out}"]
        )
    assert calls == [["face_analyser"]]
    assert (out / "experts" / "synthtalk_face_expert.safetensors").is_file()

    calls.clear()
    capsys.readouterr()  # the first run's note before Ray (--perceptual auto without VGG19 weights)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: pytest.fail("built the frame cache first"))
    monkeypatch.setattr(train, "start_ray", lambda *a, **k: pytest.fail("started Ray first"))
    other = tmp_path / "other"
    assert train.main([*run[:-1], str(other), "--data", f"folder:{tmp_path}", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: loss experts ['face_analyser'] (read by the losses of expression")
    assert f"not found in {other / 'experts'}" in err and calls == [["face_analyser"]]


def test_frame_caches_with_and_without_extras_decode_the_split_once(tmp_path, monkeypatch):
    """The stages with extra people and those without share one decode of the split: whichever cache
    is built second copies the split's rows from the first (same arrays as a decode from scratch)."""
    import edtalk.data.video as video
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE, render_extra_clips
    from edtalk.experts.testing import make_fixture_dataset

    root = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=10, size=64)
    clips = read_clips("synthtalk", root, "train")
    people = render_extra_clips(root, 1, 2, index_base=TRAIN_EXTRA_INDEX_BASE)
    scratch_plain = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "a", progress=False))
    scratch_mixed = load_frame_cache(
        build_frame_cache(clips, 32, tmp_path / "b", progress=False, extra=lambda: people, extra_tag="1x2")
    )

    def no_decoding(path, *args, **kwargs):  # pytest.fail: a clip's own exceptions only leave it out
        pytest.fail(f"decoded {path} again")

    monkeypatch.setattr(video, "read_video", no_decoding)
    reused_mixed = load_frame_cache(
        build_frame_cache(clips, 32, tmp_path / "a", progress=False, extra=lambda: people, extra_tag="1x2")
    )
    reused_plain = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "b", progress=False))
    for reused, scratch in ((reused_mixed, scratch_mixed), (reused_plain, scratch_plain)):
        for name in ("frames", "landmarks", "mels", "wavs", "start", "length", "identity", "emotion"):
            np.testing.assert_array_equal(getattr(reused, name), getattr(scratch, name))
        assert reused.clip_ids == scratch.clip_ids and reused.identities == scratch.identities
    with pytest.raises(pytest.fail.Exception, match="decoded"):  # another size is decoded, not sliced
        build_frame_cache(clips, 16, tmp_path / "a", progress=False)


def test_an_unreadable_training_clip_is_left_out_of_the_frame_cache_not_fatal(tmp_path, monkeypatch, capsys):
    """A corrupt video (or audio, or sidecar) among thousands ended the cache build, and the run, at
    that clip. It is now left out, named on stderr and in meta.json; the reused decode keeps the list."""
    import edtalk.data.video as video
    from edtalk.data.errors import DatasetLayoutError
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE, render_extra_clips
    from edtalk.experts.testing import make_fixture_dataset

    root = make_fixture_dataset(tmp_path / "st", n_clips=2, n_frames=6, size=32)
    clips = read_clips("synthtalk", root, "train")
    bad = clips[1]
    Path(bad.video).write_bytes(b"not a video at all")
    cache = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "a", progress=False))
    assert cache.clip_ids == [c.id for c in clips if c.id != bad.id]
    assert [c for c, _ in cache.skipped] == [bad.id] and Path(bad.video).name in cache.skipped[0][1]
    assert f"1 of {len(clips)} training clips cannot be used" in capsys.readouterr().err
    assert int(cache.start[-1] + cache.length[-1]) == len(cache.frames)
    assert set(cache.identities) == {c.identity for c in clips if c.id != bad.id}

    people = render_extra_clips(root, 1, 2, index_base=TRAIN_EXTRA_INDEX_BASE)
    monkeypatch.setattr(video, "read_video", lambda path, *a, **k: pytest.fail(f"decoded {path} again"))
    mixed = load_frame_cache(
        build_frame_cache(clips, 32, tmp_path / "a", progress=False, extra=lambda: people, extra_tag="1x2")
    )
    assert mixed.clip_ids[: cache.n_clips] == cache.clip_ids and mixed.skipped == cache.skipped
    np.testing.assert_array_equal(mixed.frames[: len(cache.frames)], cache.frames)
    monkeypatch.undo()

    for clip in clips:
        Path(clip.video).write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match="none of the clips to train on can be used"):
        build_frame_cache(clips, 16, tmp_path / "a", progress=False)


def test_a_frame_cache_the_disk_cannot_hold_is_refused_before_decoding(tmp_path, monkeypatch):
    """A MEAD-sized split at 256 px is about half a terabyte: a full disk was found hours into decoding,
    as a traceback. The estimate from a sample of headers stops it first; a disk that fills anyway
    (ENOSPC) is one DataError too, and no partial cache stays behind."""
    import errno
    import shutil
    from collections import namedtuple

    import edtalk.data.training as training
    from edtalk.data.errors import DataError
    from edtalk.data.readers import read_clips
    from edtalk.experts.testing import make_fixture_dataset

    root = make_fixture_dataset(tmp_path / "st", n_clips=2, n_frames=6, size=32)
    clips = read_clips("synthtalk", root, "train")
    row = 32 * 32 * 3 + training.ROW_BYTES_BESIDES_FRAME
    assert training.estimated_cache_bytes(clips, 32) == len(clips) * 6 * row
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    monkeypatch.setattr(training, "decode_clips", lambda *a: pytest.fail("decoded although the disk is full"))
    need = f"{len(clips) * 6 * row / 1e6:.1f} MB"  # 0.2 MB: frames, landmarks, mel windows, audio
    with pytest.raises(
        DataError, match=rf"cache of {len(clips)} clips at 32 px needs about {need} .* 0.0 MB free"
    ):
        training.build_frame_cache(clips, 32, tmp_path / "c", progress=False)
    monkeypatch.undo()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(training.NpyRowWriter, "append", full)
    with pytest.raises(DataError, match="the disk filled up while the training frame cache was written"):
        training.build_frame_cache(clips, 32, tmp_path / "c", progress=False)
    assert [p.name for p in (tmp_path / "c").iterdir()] == []


def test_cli_switches_fresh_mouth_pose_banks_either_way_and_keeps_the_preset_default_otherwise():
    from edtalk.train import build_parser, cli_overrides
    from edtalk.train_chain import stage_config_for

    def fresh(preset: str, *flags: str) -> bool:
        args = build_parser().parse_args(["--stages", "mouth_pose", "--preset", preset, *flags])
        overrides = cli_overrides(args, "mouth_pose", {})
        return stage_config_for("mouth_pose", overrides, preset).fresh_mouth_pose_banks

    assert fresh("paper") and not fresh("tiny")
    assert fresh("tiny", "--fresh-mouth-pose-banks") and not fresh("paper", "--no-fresh-mouth-pose-banks")


@pytest.mark.filterwarnings("ignore:.*meta parameter")
def test_the_expression_export_reads_the_per_emotion_codes_on_the_workers_device(tmp_path, monkeypatch):
    """At paper size E costs 0.7 s a frame on a CPU core (21 min for the export's 1792 frames); a GPU
    worker must not run them there. ("meta" stands in for the worker's GPU.)"""
    from types import SimpleNamespace

    from edtalk import emotion_table
    from edtalk import worker as worker_module
    from edtalk.model import EDTalk, load_checkpoint
    from edtalk.stages import get_stage
    from edtalk.train_chain import stage_config_for

    cfg = ModelConfig.preset("tiny")
    seen = []

    def recording(model, cache):
        seen.append(next(model.parameters()).device)
        return {"happy": [0.0] * cfg.n_expression}

    monkeypatch.setattr(emotion_table, "emotion_weight_table", recording)
    worker = worker_module.StageWorker.__new__(worker_module.StageWorker)
    worker.__dict__.update(
        model_cfg=cfg,
        stage=get_stage("expression"),
        stage_cfg=stage_config_for("expression", {}),
        checkpoint_stage_config=None,
        parent_meta={},
        run={"parent": ""},
        nets=SimpleNamespace(perceptual=None),
        disc=None,
        sampler=SimpleNamespace(cache=None),
        device=torch.device("meta"),
    )
    path = worker.export(tmp_path / "final.pt", step=1, state=EDTalk(cfg).state_dict())
    assert seen == [torch.device("meta")]
    assert load_checkpoint(path)["meta"]["emotion_weights"] == {"happy": [0.0] * cfg.n_expression}


def test_the_chains_closing_check_runs_on_the_device_asked_for(training_fixture):
    """``self_reconstruction_check`` loads the final checkpoint onto the driver's device: the CPU
    here; a CUDA device on a machine without one is refused, not silently run on the CPU."""
    from edtalk.data.training import load_frame_cache
    from edtalk.driving_inputs import InferenceError
    from edtalk.model import EDTalk, save_checkpoint
    from edtalk.train_sanity import self_reconstruction_check

    fx = training_fixture
    ckpt = save_checkpoint(fx["root"] / "check.pt", EDTalk(fx["model"]).state_dict(), fx["model"])
    check = self_reconstruction_check(ckpt, fx["cache"], n_clips=2, frames_per_clip=3, device="cpu")
    assert check["n_clips"] == 2 and np.isfinite(check["model_l1"])
    cache = load_frame_cache(fx["cache"])
    static = []  # the baseline by hand: each clip's first frame against 3 of its later frames
    for c in np.linspace(0, cache.n_clips - 1, 2).round().astype(int):
        first, length = int(cache.start[c]), int(cache.length[c])
        rows = cache.frames[first + np.linspace(1, length - 1, 3).round().astype(int)].astype(float)
        static.append(np.abs(rows - cache.frames[first].astype(float)).mean() / 127.5)
    assert check["static_l1"] == pytest.approx(np.mean(static), rel=1e-5)
    if not torch.cuda.is_available():
        with pytest.raises(InferenceError, match="no CUDA GPU"):
            self_reconstruction_check(ckpt, fx["cache"], device="cuda")


def test_a_workers_bad_input_error_reaches_the_driver_as_itself():
    """A DataError raised in a Ray Train worker came back as "DataError.__init__() missing 1 required
    positional argument: 'problem'" (it did not unpickle); it now pickles and _fit re-raises it."""
    import pickle

    from ray.train import WorkerGroupError

    from edtalk.data.errors import DataError, VideoReadError
    from edtalk.train_run import _fit

    err = pickle.loads(pickle.dumps(VideoReadError("a/b.mp4", "truncated")))
    assert type(err) is VideoReadError and (err.path, err.problem, str(err)) == (
        Path("a/b.mp4"),
        "truncated",
        "a/b.mp4: truncated",
    )

    class Trainer:
        def __init__(self, failure):
            self.failure = failure

        def fit(self):
            raise WorkerGroupError("training failed", {0: self.failure})

    with pytest.raises(DataError, match="a/b.mp4: truncated"):
        _fit(Trainer(err))
    with pytest.raises(WorkerGroupError):  # anything else stays Ray's error
        _fit(Trainer(RuntimeError("boom")))


def test_a_clip_changed_on_disk_is_decoded_again_not_trained_from_its_old_frames(tmp_path, capsys):
    """The cache is found by clip ids: a dataset re-cropped or regenerated in place was trained on from
    its old frames, and a clip left out as unreadable stayed out once mended, unless the user deleted
    the cache folder. Changed files (size, mtime) now decode the split again; copies of rows from
    another cache of the same clips are taken only when that cache is current too."""
    import os

    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.data.video import read_video, write_video
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE, render_extra_clips
    from edtalk.experts.testing import make_fixture_dataset

    root = make_fixture_dataset(tmp_path / "st", n_clips=2, n_frames=6, size=32)
    clips = read_clips("synthtalk", root, "train")
    first = build_frame_cache(clips, 32, tmp_path / "c", progress=False)
    old = np.array(load_frame_cache(first).frames)
    assert build_frame_cache(clips, 32, tmp_path / "c", progress=False) == first  # unchanged: reused
    assert "changed on disk" not in capsys.readouterr().err

    video = Path(clips[0].video)
    write_video(video, 255 - read_video(video).frames, fps=25)  # re-cropped in place: same id, new frames
    os.utime(video, ns=(1, 1))  # even with an old mtime, the size or time differs
    people = render_extra_clips(root, 1, 2, index_base=TRAIN_EXTRA_INDEX_BASE)
    mixed = load_frame_cache(
        build_frame_cache(clips, 32, tmp_path / "c", progress=False, extra=lambda: people, extra_tag="1x2")
    )  # would have copied the plain cache's stale rows
    assert not np.array_equal(mixed.frames[: len(old)], old)
    again = build_frame_cache(clips, 32, tmp_path / "c", progress=False)
    err = capsys.readouterr().err
    assert again == first and f"1 of {len(clips)} training clips changed on disk" in err
    new = load_frame_cache(again)
    assert not np.array_equal(new.frames, old)
    np.testing.assert_array_equal(new.frames, mixed.frames[: len(new.frames)])

    good = Path(clips[1].video).read_bytes()
    Path(clips[1].video).write_bytes(b"not a video")
    assert load_frame_cache(build_frame_cache(clips, 32, tmp_path / "d", progress=False)).skipped
    Path(clips[1].video).write_bytes(good)  # mended
    mended = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "d", progress=False))
    assert mended.clip_ids == [c.id for c in clips] and not mended.skipped
    assert not list((tmp_path / "d").glob(".tmp-*"))  # the stale folder is gone


# --- a training worker that dies mid-stage ------------------------------------------------------------


def _died(rank: int):
    """A rank's failure as Ray Train reports a worker whose process ended (its health check)."""
    from ray.exceptions import ActorDiedError
    from ray.train.v2._internal.exceptions import WorkerHealthCheckFailedError

    return WorkerHealthCheckFailedError(f"A health check failed (rank {rank}).", failure=ActorDiedError())


def test_a_dead_worker_is_named_and_the_other_ranks_errors_are_left_out():
    """A worker killed mid-stage ended edtalk.train with Ray's WorkerGroupError traceback."""
    import pickle

    from ray.exceptions import ActorDiedError, OutOfMemoryError
    from ray.train import WorkerGroupError
    from ray.train.v2._internal.exceptions import WorkerHealthCheckFailedError

    from edtalk.train_failures import WorkerDied, dead_worker_ranks
    from edtalk.train_run import _fit

    failures = {1: _died(1), 0: RuntimeError("gloo: Connection closed by peer")}
    assert dead_worker_ranks(failures) == {1: "The actor died unexpectedly before finishing this task."}
    assert dead_worker_ranks({0: RuntimeError("a bug")}) == {}
    assert dead_worker_ranks({0: ActorDiedError()}) == {}  # a rank's own call to a dead actor: raised
    by_ray = WorkerHealthCheckFailedError("A health check failed.", failure=OutOfMemoryError("task killed"))
    assert "memory monitor" in dead_worker_ranks({2: by_ray})[2]  # Ray's memory monitor ended it

    class Fails:
        def __init__(self, failures):
            self.failures = failures

        def fit(self):
            raise WorkerGroupError("Training failed due to worker errors", self.failures)

    with pytest.raises(WorkerDied, match="training worker rank 1 died") as raised:
        _fit(Fails(failures))
    again = pickle.loads(pickle.dumps(raised.value))  # as a sweep's trial actor sends it to the driver
    assert (again.ranks, str(again)) == (raised.value.ranks, str(raised.value))
    with pytest.raises(WorkerGroupError):  # a worker's own error stays Ray's, with its traceback
        _fit(Fails({0: RuntimeError("a bug")}))


def test_a_dead_worker_ends_the_command_with_its_line_and_status_1(tmp_path, monkeypatch, capsys):
    from edtalk import train
    from edtalk.train_failures import WorkerDied

    died = WorkerDied({1: "gone"}, "eg_pretrain: training worker rank 1 died; run ... --resume")
    monkeypatch.setattr(train, "_train", lambda args: (_ for _ in ()).throw(died))
    monkeypatch.setattr(train, "LOG_MONITOR_LAG_S", 0.0)  # no Ray lines on their way here
    assert train.main(["--stage", "eg_pretrain", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "[train] error: eg_pretrain: training worker rank 1 died" in err
    assert "--max-failures N has Ray Train restart the workers itself" in err
    assert train.main(["--stage", "eg_pretrain", "--out", str(tmp_path), "--max-failures", "2"]) == 1
    assert "--max-failures N" not in capsys.readouterr().err  # given, and spent


def test_max_failures_reaches_ray_trains_failure_config_and_may_change_on_resume(tmp_path):
    from edtalk.config import ConfigError, TrainConfig
    from edtalk.train import build_parser
    from edtalk.train_resume import _changed
    from edtalk.train_run import stage_run_config

    assert stage_run_config(tmp_path, "eg_pretrain").failure_config.max_failures == 0
    assert stage_run_config(tmp_path, "eg_pretrain", 3).failure_config.max_failures == 3
    assert build_parser().parse_args(["--stage", "eg_pretrain", "--max-failures", "2"]).max_failures == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--stage", "eg_pretrain", "--max-failures", "-1"])
    with pytest.raises(ConfigError, match="max_failures must be >= 0"):
        TrainConfig(max_failures=-1)
    old, new = TrainConfig().to_dict(), TrainConfig(max_failures=2).to_dict()
    old.pop("max_failures")  # a run checkpointed before the setting existed
    assert _changed(old, new) == [] and _changed(TrainConfig().to_dict(), new) == []


def test_bars_a_stopped_stage_left_open_are_taken_down(monkeypatch):
    """A killed worker never closes its bar; Ray's patched print redrew it after the error line (and
    after "interrupted" on Ctrl-C), and a late state re-created it."""
    from ray.experimental import tqdm_ray

    from edtalk.train_failures import drop_worker_bars

    monkeypatch.setattr(tqdm_ray, "_manager", None)
    drop_worker_bars()  # no bar was ever drawn in this process: nothing to do
    manager = tqdm_ray._BarManager()
    monkeypatch.setattr(tqdm_ray, "_manager", manager)
    manager.process_state_update(bar_state(manager.ip, 4242, "u1"))
    (group,) = manager.bar_groups.values()
    (drawn,) = group.bars_by_uuid.values()
    drop_worker_bars()
    assert drawn.bar.leave is False  # cleared from the screen, not left as a last line
    manager.process_state_update(bar_state(manager.ip, 4242, "u1", x=4))  # on its way when the stage ended
    assert [len(g.bars_by_uuid) for g in manager.bar_groups.values()] == [0]


def bar_state(ip: str, pid: int, uuid: str, x: int = 3) -> dict:
    """A worker's tqdm_ray bar state as it reaches the driver."""
    return {"x": x, "pos": 0, "desc": "eg_pretrain", "total": 40, "unit": "it", "closed": False} | {
        "ip": ip,
        "pid": pid,
        "uuid": uuid,
    }


def test_after_a_restart_the_bar_of_the_gone_worker_is_taken_down_and_the_others_kept(monkeypatch):
    """--max-failures: the first attempt's rank 0 never closed its bar, which stayed on the screen
    and was redrawn after every later line of the command, the next stages' included."""
    from edtalk.train_failures import drop_bars_of_gone_workers

    manager, gone = bars_of_a_gone_and_a_live_worker(monkeypatch)
    drop_bars_of_gone_workers()
    manager.process_state_update(bar_state(manager.ip, gone, "old", x=5))  # late: ignored
    manager.process_state_update(bar_state(manager.ip, os.getpid(), "next"))  # a next stage's bar
    bars = {k[1]: sorted(g.bars_by_uuid) for k, g in manager.bar_groups.items()}
    assert bars == {gone: [], os.getpid(): ["live", "next"]}
    manager.process_state_update(bar_state(manager.ip, gone, "reused"))  # a later worker, same pid
    assert sorted(manager.bar_groups[(manager.ip, gone)].bars_by_uuid) == ["reused"]


def bars_of_a_gone_and_a_live_worker(monkeypatch):
    """A tqdm_ray bar manager (this process's, for the test) drawing bar "old" of a worker process that
    has ended and bar "live" of this one; the manager and the gone worker's pid."""
    import subprocess
    import sys

    from ray.experimental import tqdm_ray

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    manager = tqdm_ray._BarManager()
    monkeypatch.setattr(tqdm_ray, "_manager", manager)
    manager.process_state_update(bar_state(manager.ip, gone.pid, "old"))
    manager.process_state_update(bar_state(manager.ip, os.getpid(), "live"))
    return manager, gone.pid


def test_a_restart_is_told_apart_from_a_calls_first_start(tmp_path):
    from edtalk.train_failures import is_restart, worker_group_starts

    assert worker_group_starts(tmp_path, "call-1") == 0
    assert not is_restart(tmp_path, "call-1")  # the first worker group of this call
    assert worker_group_starts(tmp_path, "call-1") == 1  # the driver: no restart, bars left alone
    assert is_restart(tmp_path, "call-1")  # Ray Train started it again
    assert worker_group_starts(tmp_path, "call-1") == 2
    assert not is_restart(tmp_path, "call-2")  # a --resume call starts its own
    assert worker_group_starts(tmp_path, "call-1") == 0
