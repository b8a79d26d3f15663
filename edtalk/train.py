r"""Distributed training of the EDTalk stages on Ray Train + DeepSpeed.

    python -m edtalk.train --stage mouth_pose --preset tiny --data synthtalk:data/synthtalk \
        --workers 2 --out runs/
    python -m edtalk.train --stages all --workers 2 --out runs/          # the whole chain, in order

Each stage is one ``ray.train.torch.TorchTrainer`` (``ScalingConfig(num_workers=N, use_gpu=auto)``,
``RunConfig(storage_path=<out>, name=<stage>)``). Its workers run ``train_loop_per_worker(config)``:
rebuild the typed configs from the dict, load the parent stage's ``final.pt``, freeze everything but
the stage's modules (``edtalk.stages``), wrap the stage module in a DeepSpeed engine
(``deepspeed.initialize`` with a config dict: ZeRO 0-3, optional bf16; on CPU the gloo backend and
``torch_adam``; on GPU the same code runs NCCL/CUDA), and train for ``max_steps``.

The discriminator D (adversarial stages) is a plain ``torch.optim.Adam`` beside the engine whose
gradients are all-reduced (averaged) over the workers by hand: it is small, needs no sharding, and
keeping it out of the engine keeps the engine's ZeRO partitioning to the stage's trainable modules.

Every ``checkpoint_every`` steps and at the end, each worker writes its DeepSpeed shard and rank 0
the trainer state (step, D and its optimiser, configs) into a checkpoint folder reported with
``ray.train.report(metrics, checkpoint=...)``; Ray keeps the best (lowest ``loss``) and the latest
(``CheckpointConfig(num_to_keep=2)``). A rerun with ``--resume`` continues from the latest one (Ray
Train V2 restores it for a run with the same storage path and name). Without ``--resume`` a stage
starts fresh (its old folder is cleared). When a stage finishes, rank 0 exports the full model so
far as ``<out>/<stage>/final.pt`` (``edtalk.model.save_checkpoint``), with the run config (model,
stage, train), parent path, git hash, library versions, the discriminator and, from the expression
stage on, the per-emotion mean W^e ("emotion_weights", used by ``infer --emotion``).

TensorBoard scalars go to ``<out>/<stage>/tensorboard`` (rank 0); rank 0 shows a progress bar on
the driver (``ray.experimental.tqdm_ray``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from edtalk.cli import positive_int
from edtalk.provenance import git_hash
from edtalk.ray_setup import local_runtime_env

ENV_DEFAULTS = {
    "RAY_AUTH_MODE": "disabled",
    "DS_ACCELERATOR": "cpu",
    "DS_BUILD_OPS": "0",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_TRAIN_V2_ENABLED": "1",
}
CHECKPOINT_METRIC = "loss"
# Adam betas of the official LIA/EDTalk trainers (StyleGAN2 lazy-regularisation ratios 4/5 for G and
# 16/17 for D, applied although no R1/path-length term is used): beta1 = 0, beta2 = 0.99^ratio.
G_BETAS = (0.0, 0.99 ** (4 / 5))
D_BETAS = (0.0, 0.99 ** (16 / 17))
ENGINE_TAG = "engine"


def match_deepspeed_accelerator() -> None:
    """Before DeepSpeed is imported in a worker: its accelerator is the worker's own device.

    DS_ACCELERATOR=cpu on a CUDA worker would run DeepSpeed's CPU accelerator beside NCCL; a
    cluster's workers need not share the driver's hardware, so each worker decides for itself.
    A value the user set that fits the device is kept.
    """
    import torch

    if torch.cuda.is_available():
        if os.environ.get("DS_ACCELERATOR") == "cpu":
            os.environ["DS_ACCELERATOR"] = "cuda"
    else:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")


def skip_inference_shm_kernel() -> None:
    """On the CPU accelerator, stop DeepSpeed from JIT-compiling a kernel that training never runs.

    DeepSpeed's torch backend builds its shared-memory all-reduce op when it starts (about 40 s on 2
    cores, on the first run on a machine; then cached in ~/.cache/torch_extensions). Only
    ``deepspeed.comm.inference_all_reduce`` (tensor-parallel inference) uses it; training's gradient
    all-reduce goes through torch.distributed (gloo). DeepSpeed builds an op only if its table of
    compatible ops says so; that table is one module-level dict whose edits persist
    (deepspeed/ops/__init__.py).
    """
    if os.environ.get("DS_ACCELERATOR") != "cpu":
        return
    import deepspeed.ops
    from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder

    deepspeed.ops.__compatible_ops__[ShareMemCommBuilder.NAME] = False


def resolve_use_gpu(train_cfg) -> bool:
    """``TrainConfig.use_gpu``, or when it is None (auto): whether the Ray cluster has GPUs.

    Asked of the cluster, not of this process: a driver or Tune trial on a CPU-only head node (or
    one that Ray gave no GPU) must still place its workers on the cluster's GPUs.
    """
    if train_cfg.use_gpu is not None:
        return bool(train_cfg.use_gpu)
    import ray

    if ray.is_initialized():
        return ray.cluster_resources().get("GPU", 0) > 0
    import torch

    return torch.cuda.is_available()


def set_env_defaults() -> None:
    """Environment the CLI needs (kept if the user set it). DS_ACCELERATOR=cpu only without CUDA."""
    for key, value in ENV_DEFAULTS.items():
        if key == "DS_ACCELERATOR":
            import torch

            if torch.cuda.is_available():
                continue
        os.environ.setdefault(key, value)


# --- provenance ------------------------------------------------------------------------------------
def library_versions() -> dict[str, str]:
    import deepspeed
    import numpy
    import ray
    import torch

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "ray": ray.__version__,
        "deepspeed": deepspeed.__version__,
        "numpy": numpy.__version__,
    }


# --- DeepSpeed ---------------------------------------------------------------------------------------
def deepspeed_config(stage_cfg, train_cfg, on_cpu: bool) -> dict[str, Any]:
    """The DeepSpeed config dict of one stage (ZeRO stage, bf16, Adam; torch Adam on CPU)."""
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": stage_cfg.batch_size,
        "gradient_accumulation_steps": 1,
        "optimizer": {
            "type": "Adam",
            "params": {"lr": stage_cfg.lr, "betas": [stage_cfg.beta1, G_BETAS[1]], "eps": 1e-8},
        },
        "zero_optimization": {"stage": train_cfg.zero_stage},
        "gradient_clipping": 10.0,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if on_cpu:
        cfg["optimizer"]["params"]["torch_adam"] = True
    if train_cfg.bf16:
        cfg["bf16"] = {"enabled": True}
    return cfg


# --- the per-worker loop ---------------------------------------------------------------------------
def _load_parent(model, parent: str) -> dict:
    """Load a parent final.pt into ``model`` (strict); returns its meta."""
    from edtalk.model import load_checkpoint

    ckpt = load_checkpoint(parent)
    if ckpt["config"] != model.cfg:
        raise ValueError(f"{parent}: parent model config differs from this run's model config")
    model.load_state_dict(ckpt["state_dict"], strict=True)
    return ckpt["meta"]


def _loss_networks(stage, train_cfg, model_cfg, device):
    from edtalk.perceptual import build_perceptual
    from edtalk.stages import LossNetworks

    nets = LossNetworks()
    if stage.adversarial:
        nets.perceptual = build_perceptual(train_cfg.perceptual).to(device)
    experts_dir = Path(train_cfg.experts)
    if stage.experts:
        from edtalk.experts import load_expert

        for kind in stage.experts:
            path = experts_dir / EXPERT_FILES[kind]
            net, _ = load_expert(path, expect_split="train", device=str(device))
            net.requires_grad_(False)
            setattr(nets, "face_expert" if kind == "face" else "sync_expert", net)
    return nets


EXPERT_FILES = {"face": "synthtalk_face_expert.safetensors", "sync": "synthtalk_sync_expert.safetensors"}
# face, sync steps of loss experts trained when missing: enough to carry a signal (150 / 40 did not)
EXPERT_STEPS = (2000, 600)


def _all_reduce_grads(module, world: int) -> None:
    import torch.distributed as dist

    if world <= 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def _text_features(batch: dict, model, cache: dict) -> None:
    """Adds E_T(transcript) (frozen, cached per sentence) to an audio_expression batch."""
    import torch

    from edtalk.modules.expression_predictor import encode_text

    texts = batch.pop("transcripts")
    missing = sorted({t for t in texts if t not in cache})
    if missing:
        for t, e in zip(missing, encode_text(missing, model.cfg.text_encoder), strict=True):
            cache[t] = e
    batch["text_features"] = torch.stack([cache[t] for t in texts])


def _eln_weights(model, frames):
    """W^e = ELN(E(frames)) for uint8 frames (n, H, W, 3), as float on the CPU."""
    from edtalk.data.training import to_tensor
    from edtalk.infer import model_device

    f, _ = model.encode(to_tensor(frames).to(model_device(model)))
    return model.navigate(f, ("expression",))["expression"].float().cpu()


def emotion_weights(
    model, cache, frames_per_clip: int = 8, clips_per_emotion: int = 32
) -> dict[str, list[float]]:
    """Per-emotion mean W^e: ELN on ``frames_per_clip`` evenly spaced frames of at most
    ``clips_per_emotion`` clips of each emotion, evenly spread over the cache (E in batches of 64 frames).

    The cap keeps the export of a stage that trained on many rendered people (1824 clips at the demo's
    ``--extra-identities 64``) from encoding every clip: E costs about 5 ms a frame on one core.
    """
    import numpy as np
    import torch

    from edtalk.data.clip import EMOTIONS

    table = {}
    model.eval()
    with torch.no_grad():
        for e in sorted(set(cache.emotion[cache.emotion >= 0].tolist())):
            clips = np.flatnonzero(cache.emotion == e)
            clips = clips[
                np.linspace(0, len(clips) - 1, min(len(clips), clips_per_emotion)).round().astype(int)
            ]
            span = np.linspace(0, 1, frames_per_clip)[None] * (cache.length[clips, None] - 1)
            idx = (cache.start[clips, None] + span.round().astype(int)).ravel()
            w = torch.cat(
                [
                    _eln_weights(model, cache.frames[chunk])
                    for chunk in np.array_split(idx, -(-len(idx) // 64))
                ]
            )
            table[EMOTIONS[e]] = w.view(len(clips), frames_per_clip, -1).mean(1).mean(0).tolist()
    return table


def buffers_follow_parameters(module) -> None:
    """Cast ``module``'s floating-point buffers to its parameters' dtype, in place.

    DeepSpeed --bf16 casts parameters only; BatchNorm's running statistics (the audio encoder) and
    the flow's constant buffers stay float32, and CPU batch_norm refuses bf16 weights with float32
    running statistics. Integer and boolean buffers keep their dtype."""
    dtype = next(module.parameters()).dtype
    for owner in module.modules():
        for name, buf in list(owner.named_buffers(recurse=False)):
            if buf is not None and buf.is_floating_point() and buf.dtype != dtype:
                setattr(owner, name, buf.to(dtype))


def _as_saved(tensor):
    """A state-dict entry as checkpoints hold it: floating point as float32 on CPU, others unchanged."""
    return (tensor.float() if tensor.is_floating_point() else tensor).cpu()


class StageWorker:
    """One rank's training state for one stage: model, DeepSpeed engine, D, sampler, loss networks.

    Used by ``train_loop_per_worker`` under Ray and directly by tests (world size 1, gloo).
    """

    def __init__(self, config: dict, rank: int = 0, world: int = 1, local_rank: int = 0) -> None:
        match_deepspeed_accelerator()
        skip_inference_shm_kernel()
        import deepspeed
        import torch
        import torch.distributed as dist

        from edtalk.config import ModelConfig, StageConfig, TrainConfig
        from edtalk.data.training import StageSampler, load_frame_cache
        from edtalk.model import EDTalk
        from edtalk.modules.discriminator import Discriminator
        from edtalk.stages import StageModule, apply_freezing, configured_stage, get_stage, start_fresh

        self.model_cfg = ModelConfig.from_dict(config["model"])
        self.stage_cfg = StageConfig.from_dict(config["stage"])
        self.train_cfg = TrainConfig.from_dict(config["train"])
        self.run = config["run"]
        self.stage = get_stage(self.stage_cfg.name)
        self.weights = self.stage.loss_weights(self.stage_cfg)
        self.rank, self.world = rank, world
        on_cpu = not torch.cuda.is_available()
        self.device = torch.device("cpu") if on_cpu else torch.device("cuda", local_rank)
        if not on_cpu:
            torch.cuda.set_device(self.device)
        torch.manual_seed(self.train_cfg.seed + rank)

        model = EDTalk(self.model_cfg)
        self.parent_meta = _load_parent(model, self.run["parent"]) if self.run["parent"] else {}
        start_fresh(self.stage, self.stage_cfg, model, seed=self.train_cfg.seed)
        self.stage = configured_stage(self.stage, self.stage_cfg, model)
        params = apply_freezing(self.stage, model)
        model.to(self.device)
        self.sampler = StageSampler(
            load_frame_cache(self.run["cache"]), seed=self.train_cfg.seed * 1000 + rank
        )
        self._text_cache: dict = {}
        self.model = model
        module = StageModule(model, self.stage, self.stage_cfg)
        if self.stage.name == "audio_pose":  # data-initialise ActNorm; DeepSpeed then broadcasts rank 0's
            module.train()
            with torch.no_grad():
                module(self.next_batch())
        if not dist.is_initialized():
            deepspeed.init_distributed(dist_backend="gloo" if on_cpu else "nccl")
        ds_cfg = deepspeed_config(self.stage_cfg, self.train_cfg, on_cpu)
        self.engine, _, _, _ = deepspeed.initialize(model=module, model_parameters=params, config=ds_cfg)
        buffers_follow_parameters(self.engine.module)
        self.engine.train()

        self.disc = self.d_opt = None
        if self.stage.trains_discriminator(self.stage_cfg):
            self.disc = Discriminator(self.model_cfg).to(self.device)
            if "discriminator" in self.parent_meta:
                self.disc.load_state_dict(self.parent_meta["discriminator"])
            if world > 1:  # the same D on every rank
                for p in self.disc.parameters():
                    dist.broadcast(p.data, src=0)
            self.d_opt = torch.optim.Adam(self.disc.parameters(), lr=self.stage_cfg.d_lr, betas=D_BETAS)
        self.nets = _loss_networks(self.stage, self.train_cfg, self.model_cfg, self.device)
        self.nets.discriminator = self.disc

    def next_batch(self) -> dict:
        import torch

        b = self.stage.sample(self.sampler, self.stage_cfg)
        if "transcripts" in b:
            _text_features(b, self.model, self._text_cache)
        return {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in b.items()}

    def step(self) -> dict[str, float]:
        """One optimiser step of the stage's modules (and of D); returns the loss terms."""
        from edtalk.losses import adversarial_discriminator

        batch = self.next_batch()
        out = self.engine(batch)
        if self.disc is not None:
            self.disc.requires_grad_(False)  # G's adversarial term must not train D
        terms = self.stage.losses(out, batch, self.nets)
        loss = sum(self.weights[k] * v for k, v in terms.items() if self.weights[k] != 0)  # 0: ablated
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):  # stop before a NaN reaches the weights (and checkpoints)
            values = ", ".join(f"{k} {float(v.detach()):.4g}" for k, v in terms.items())
            raise FloatingPointError(
                f"stage {self.stage.name}: the loss is {loss_value} ({values}); the weights "
                "before this step are unchanged. Resume from the last checkpoint with a lower --lr, "
                "or without --bf16."
            )
        self.engine.backward(loss)
        self.engine.step()
        if self.disc is not None:  # D step: real vs detached fake, non-saturating (Eq. 3)
            self.disc.requires_grad_(True)
            fake, real = self.stage.fake_real(out, batch)
            d_loss = adversarial_discriminator(self.disc(real.float()), self.disc(fake.detach().float()))
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            _all_reduce_grads(self.disc, self.world)
            self.d_opt.step()
            terms["d"] = d_loss.detach()
        return {**{k: float(v.detach()) for k, v in terms.items()}, "loss": loss_value}

    def save(self, folder: str | Path, step: int) -> None:
        """Collective: this rank's DeepSpeed shard; rank 0 also the trainer state and run record."""
        import torch

        self.engine.save_checkpoint(str(folder), tag=ENGINE_TAG)
        if self.rank == 0:
            state = {"step": step, "stage": self.stage_cfg.to_dict(), "train": self.train_cfg.to_dict()}
            if self.disc is not None:
                state["discriminator"] = self.disc.state_dict()
                state["d_optimizer"] = self.d_opt.state_dict()
            torch.save(state, Path(folder) / "trainer_state.pt")
            (Path(folder) / "run.json").write_text(json.dumps(self.run, indent=1, default=str))

    def load(self, folder: str | Path) -> int:
        """Restore from a checkpoint folder written by ``save``; returns its step."""
        import torch

        self.engine.load_checkpoint(str(folder), tag=ENGINE_TAG)
        state = torch.load(Path(folder) / "trainer_state.pt", map_location=self.device, weights_only=True)
        if self.disc is not None:
            self.disc.load_state_dict(state["discriminator"])
            self.d_opt.load_state_dict(state["d_optimizer"])
        return int(state["step"])

    def full_state(self) -> dict:
        """The whole EDTalk state dict (gathered under ZeRO-3), float32 on CPU."""
        import deepspeed

        full = self.engine.module.model
        params = list(full.parameters())
        if self.train_cfg.zero_stage == 3:
            with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                return {k: _as_saved(v.detach().clone()) for k, v in full.state_dict().items()}
        return {k: _as_saved(v.detach()) for k, v in full.state_dict().items()}

    def export(self, path: str | Path, step: int, state: dict | None = None) -> Path:
        """Write the full model so far as a single edtalk.model checkpoint (rank 0 only). Under ZeRO-3
        pass ``state`` from ``full_state()`` called on every rank (gathering is collective)."""
        from edtalk.model import EDTalk, save_checkpoint

        state = self.full_state() if state is None else state
        pm = self.parent_meta
        # a run that continues the same stage (the shipped init, then more eg_pretrain steps) counts on
        continued = (
            pm.get("stage_steps_total", pm.get("step", 0)) if pm.get("stage") == self.stage.name else 0
        )
        meta = {
            "stage": self.stage.name,
            "step": step,
            "stage_steps_total": continued + step,
            "parent": self.run["parent"],
            "run": self.run,
            "perceptual": getattr(self.nets.perceptual, "label", None) or pm.get("perceptual"),
            "stages_done": [*pm.get("stages_done", []), self.stage.name],
            "emotion_weights": pm.get("emotion_weights", {}),
        }
        if self.disc is not None:
            meta["discriminator"] = {k: v.detach().cpu() for k, v in self.disc.state_dict().items()}
        elif "discriminator" in pm:
            meta["discriminator"] = pm["discriminator"]
        if self.stage.name == "expression" and "expression" in self.model_cfg.bank_names:
            # on the worker's device: E at paper size costs 0.7 s a frame on one CPU core (measured), 21 min
            # for these 1792 frames (7 emotions x 32 clips x 8)
            export = EDTalk(self.model_cfg).to(self.device)
            export.load_state_dict(state)
            meta["emotion_weights"] = emotion_weights(export, self.sampler.cache)
        return save_checkpoint(path, state, self.model_cfg, extra=meta)


def peak_memory(device) -> dict[str, float]:
    """{"peak_gpu_mem_gib": the most CUDA memory this worker's tensors held so far} on a GPU; {} on CPU."""
    import torch

    if getattr(device, "type", str(device)) != "cuda":
        return {}
    return {"peak_gpu_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30}


def train_loop_per_worker(config: dict) -> None:
    """One Ray Train worker of one stage. ``config``: {"model", "stage", "train", "run"} dicts."""
    import ray.train
    import torch
    import torch.distributed as dist

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // max(world, 1)))
    worker = StageWorker(config, rank, world, ctx.get_local_rank())
    cfg = worker.stage_cfg

    start = 0
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            start = worker.load(d)

    writer = bar = None
    stage_dir = Path(worker.run["stage_dir"])
    if rank == 0:
        from ray.experimental.tqdm_ray import tqdm
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(stage_dir / "tensorboard"), purge_step=start + 1)
        bar = tqdm(total=cfg.max_steps, desc=f"{cfg.name} (resumed at {start})" if start else cfg.name)
        bar.update(start)

    t0, running, since_report, since_n, step = time.time(), {}, {}, 0, start
    for step in range(start + 1, cfg.max_steps + 1):
        for k, v in worker.step().items():
            running[k] = running.get(k, 0.0) + v
            since_report[k] = since_report.get(k, 0.0) + v
        since_n += 1
        if bar is not None:
            bar.update(1)
        if writer is not None and (step % cfg.log_every == 0 or step == cfg.max_steps):
            n = step % cfg.log_every or cfg.log_every
            for k, v in running.items():
                writer.add_scalar(f"{cfg.name}/{k}", v / n, step)
            writer.add_scalar(f"{cfg.name}/it_per_s", (step - start) / (time.time() - t0), step)
        if step % cfg.log_every == 0:
            running = {}
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            metrics = {k: v / since_n for k, v in since_report.items()}  # means since the last report
            metrics.update(step=step, resumed_from=start, it_per_s=(step - start) / (time.time() - t0))
            metrics.update(peak_memory(worker.device))
            since_report, since_n = {}, 0
            with tempfile.TemporaryDirectory() as tmp:
                worker.save(tmp, step)
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
    # gathering is collective under ZeRO-3, so every rank takes part there; otherwise rank 0 alone
    state = worker.full_state() if rank == 0 or worker.train_cfg.zero_stage == 3 else None
    if rank == 0:
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.close()
        worker.export(stage_dir / "final.pt", step, state=state)
    if world > 1:
        dist.barrier()


def self_reconstruction_check(
    final_pt: str | Path,
    cache_path: str | Path,
    n_clips: int = 8,
    frames_per_clip: int = 8,
    device: str = "auto",
) -> dict[str, float]:
    """Training sanity check (not a benchmark metric): video-driven self-reconstruction of training
    clips — source = each clip's first frame, every sampled frame drives mouth, pose and expression —
    against the static baseline that repeats the source frame. Mean L1 in [-1, 1] units; a model
    that reconstructs has ``model_l1 < static_l1``. Runs in the driver, on its GPU when it has one
    ("auto"; at ``paper`` size the CPU takes minutes)."""
    import numpy as np
    import torch

    from edtalk.data.training import load_frame_cache, to_tensor
    from edtalk.infer import load_generator, model_device

    model, _ = load_generator(final_pt, device)
    dev = model_device(model)
    cache = load_frame_cache(cache_path)
    clips = np.linspace(0, cache.n_clips - 1, min(n_clips, cache.n_clips)).round().astype(int)
    model_err, static_err = [], []
    with torch.no_grad():
        for c in clips:
            first, length = int(cache.start[c]), int(cache.length[c])
            idx = first + np.linspace(1, length - 1, frames_per_clip).round().astype(int)
            real = to_tensor(cache.frames[idx]).to(dev)
            source = to_tensor(cache.frames[first : first + 1]).to(dev)
            names = model.cfg.bank_names
            fake = model(
                source, real, real if "pose" in names else None, real if "expression" in names else None
            )
            model_err.append((fake - real).abs().mean().item())
            static_err.append((source - real).abs().mean().item())
    return {
        "model_l1": float(np.mean(model_err)),
        "static_l1": float(np.mean(static_err)),
        "n_clips": len(clips),
        "frames_per_clip": frames_per_clip,
    }


# --- the driver ----------------------------------------------------------------------------------
def parse_data(spec: str) -> tuple[str, Path]:
    reader, _, root = spec.partition(":")
    return reader, Path(root).expanduser()


def prepare_cache(train_cfg, model_cfg, with_extras: bool = False) -> Path:
    """Decode the training split once (driver side) into the shared frame cache; ``with_extras``
    appends ``train_cfg.extra_identities`` rendered people (for the frames-only stages)."""
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache

    reader, root = parse_data(train_cfg.data)
    clips = read_clips(reader, root, train_cfg.split)
    n, k = train_cfg.extra_identities, train_cfg.extra_frames
    if not (n and with_extras):
        return build_frame_cache(clips, model_cfg.image_size, train_cfg.cache).resolve()
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE, render_extra_clips

    def extra() -> list:
        return render_extra_clips(root, n, k, progress=True, index_base=TRAIN_EXTRA_INDEX_BASE)

    tag = f"synthtalk-training-extra:{n}x{k}"
    return build_frame_cache(
        clips, model_cfg.image_size, train_cfg.cache, extra=extra, extra_tag=tag
    ).resolve()


def ensure_experts(
    train_cfg, needed: set[str], face_steps: int, sync_steps: int, source: str | None = None
) -> None:
    """Make the loss experts ``needed`` present in ``train_cfg.experts``: copied from ``source`` (a
    shipped set, ``edtalk.pretrained``) when given, else trained on the TRAIN split (never the judge
    split) if their files are missing."""
    missing = {k for k in needed if not (Path(train_cfg.experts) / EXPERT_FILES[k]).is_file()}
    if not missing:
        return
    if source:
        from edtalk.experts.store import copy_experts

        print(f"[train] loss experts {sorted(missing)} from {source} -> {train_cfg.experts}", flush=True)
        copy_experts(source, train_cfg.experts, [EXPERT_FILES[k] for k in sorted(missing)])
        return
    from edtalk.experts.train import TrainSettings, train_experts

    reader, root = parse_data(train_cfg.data)
    if reader != "synthtalk":
        raise FileNotFoundError(
            f"loss experts {sorted(missing)} not found in {train_cfg.experts}; they can only be trained on "
            f"synthtalk (got data {train_cfg.data!r}); pass --experts DIR with "
            f"{', '.join(EXPERT_FILES[k] for k in sorted(missing))}"
        )
    settings = TrainSettings(face_steps=face_steps, sync_steps=sync_steps)
    print(
        f"[train] training loss experts {sorted(missing)} on the train split -> {train_cfg.experts}",
        flush=True,
    )
    train_experts(root, "train", train_cfg.experts, settings, only=tuple(sorted(missing)))


def stage_config_for(name: str, overrides: dict[str, Any], preset: str = "tiny"):
    """The stage's StageConfig for a model preset (its demo schedule at tiny), then ``overrides``."""
    from edtalk.config import StageConfig
    from edtalk.stages import get_stage

    base = {"name": name, **get_stage(name).config_defaults(preset)}
    weights = {**base.get("loss_weights", {}), **(overrides.get("loss_weights") or {})}
    base.update({k: v for k, v in overrides.items() if v is not None})
    base["loss_weights"] = weights
    return StageConfig.from_dict(base)


def _missing_parent(name: str, parent: str, from_flag: bool) -> str:
    """The message for a stage whose parent checkpoint is not there."""
    from edtalk.stages import get_stage

    if from_flag:
        return f"--parent {parent}: no such checkpoint (stage {name} would start from it)"
    up = get_stage(name).parent
    return (
        f"stage {name} continues from {up}, but {parent} does not exist: train {up} first "
        "(or pass --parent CKPT / --stages all)"
    )


def unmet_parent(names: list[str], parent: str, out: Path) -> str | None:
    """Why the run cannot start, checked before the frame cache and loss experts are built: a stage
    whose parent checkpoint neither exists nor is trained earlier in this run (``None`` when all are met).
    ``parent`` is ``--parent``, which only the first stage uses."""
    from edtalk.stages import get_stage

    for i, name in enumerate(names):
        if i == 0 and parent:
            if not Path(parent).is_file():
                return _missing_parent(name, parent, from_flag=True)
            continue
        up = get_stage(name).parent
        ckpt = out / up / "final.pt" if up else None
        if ckpt is not None and up not in names[:i] and not ckpt.is_file():
            return _missing_parent(name, str(ckpt), from_flag=False)
    return None


# settings a resumed run may change without a word: how long it runs and how often it logs/saves
_RESUME_FREE = {"max_steps", "checkpoint_every", "log_every", "resume", "out", "cache", "experts", "address"}


def _changed(old: dict, new: dict) -> list[str]:
    """``key old -> new`` for every key whose value differs (keys in _RESUME_FREE left out)."""
    return [
        f"{k} {old.get(k)!r} -> {new.get(k)!r}"
        for k in sorted(set(old) | set(new))
        if k not in _RESUME_FREE and old.get(k) != new.get(k)
    ]


def resume_check(stage_dir: Path, run: dict) -> list[str]:
    """Compare a ``--resume`` run with the configs its latest checkpoint was written under.

    Raises ConfigError when the model config or the DeepSpeed ZeRO stage differ (the saved weights or
    optimizer shards would not fit); returns the other changed settings (lr, batch size, loss weights,
    workers...), which the caller prints so that a changed run is never resumed silently.
    """
    from edtalk.config import ConfigError, ModelConfig

    saved = sorted(stage_dir.glob("checkpoint_*/run.json"))  # Ray names them by time: the last is newest
    if not saved:
        return []
    old = json.loads(saved[-1].read_text())
    run = json.loads(json.dumps(run, default=str))  # compare as saved (tuples become lists)
    # through ModelConfig: a field added since the checkpoint was written reads as its default
    saved_model = json.loads(json.dumps(ModelConfig.from_dict(old.get("model_config", {})).to_dict()))
    model = _changed(saved_model, run["model_config"])
    train = _changed(old.get("train_config", {}), run["train_config"])
    zero = [c for c in train if c.startswith("deepspeed ")]
    if model or zero:
        raise ConfigError(
            f"--resume: {saved[-1].parent} was written with another "
            f"{'model config' if model else 'ZeRO stage'} ({'; '.join(model + zero)}); resume with the "
            "same settings, or drop --resume to train the stage afresh"
        )
    return _changed(old.get("stage_config", {}), run["stage_config"]) + train


def run_stage(stage_cfg, train_cfg, model_cfg, cache: Path) -> Path:
    """Train one stage as a Ray TorchTrainer; returns the path of its final.pt."""
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from edtalk.stages import get_stage

    stage = get_stage(stage_cfg.name)
    out = Path(train_cfg.out).resolve()
    stage_dir = out / stage.name
    parent = train_cfg.parent or (str(out / stage.parent / "final.pt") if stage.parent else "")
    if parent and not Path(parent).is_file():
        raise FileNotFoundError(_missing_parent(stage.name, parent, from_flag=bool(train_cfg.parent)))
    if stage_dir.exists() and not train_cfg.resume:
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    use_gpu = resolve_use_gpu(train_cfg)
    run = {
        "stage_dir": str(stage_dir),
        "parent": str(Path(parent).resolve()) if parent else "",
        "cache": str(cache),
        "git": git_hash(),
        "versions": {k: str(v) for k, v in library_versions().items()},
        "model_config": model_cfg.to_dict(),
        "stage_config": stage_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "perceptual": _perceptual_label(train_cfg.perceptual) if stage.adversarial else None,
    }
    if train_cfg.resume and (changes := resume_check(stage_dir, run)):
        print(f"[train] {stage.name}: resuming with changed settings: {'; '.join(changes)}", flush=True)
    train_cfg = replace(train_cfg, perceptual=run["perceptual"] or train_cfg.perceptual)
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "model": model_cfg.to_dict(),
            "stage": stage_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "run": run,
        },
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=train_cfg.workers, use_gpu=use_gpu),
        run_config=RunConfig(
            storage_path=str(out),
            name=stage.name,
            checkpoint_config=CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=CHECKPOINT_METRIC, checkpoint_score_order="min"
            ),
        ),
    )
    t0 = time.time()
    result = trainer.fit()
    final = stage_dir / "final.pt"
    if result.error is not None:
        raise RuntimeError(f"stage {stage.name} failed: {result.error}")
    if not final.is_file():
        raise RuntimeError(f"stage {stage.name} finished without writing {final}")
    from edtalk.model import load_checkpoint
    from edtalk.provenance import describe_machine

    # the machine of the rank-0 worker, which wrote final.pt: the one the it/s were measured on
    worked_on = load_checkpoint(final)["meta"].get("provenance", {}).get("machine")
    summary = {
        "stage": stage.name,
        "seconds": round(time.time() - t0, 1),
        "metrics": result.metrics,
        "checkpoint": str(result.checkpoint.path) if result.checkpoint else None,
        "final": str(final),
        "machine": worked_on,
    }
    (stage_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    metrics = result.metrics or {}
    memory = (
        f", peak GPU memory {metrics['peak_gpu_mem_gib']:.2f} GiB" if "peak_gpu_mem_gib" in metrics else ""
    )
    print(
        f"[train] {stage.name}: done in {summary['seconds']} s, "
        f"it/s {metrics.get('it_per_s', float('nan')):.2f}{memory} "
        f"on {describe_machine(worked_on) or 'an unrecorded machine'}, final {final}",
        flush=True,
    )
    return final


def _perceptual_label(name: str) -> str:
    from edtalk.perceptual import build_perceptual

    return build_perceptual(name).label


def parse_max_steps(value: str) -> dict[str, int]:
    """``--max-steps``: "N" -> {"*": N} (every stage); "STAGE=N,..." -> {STAGE: N, ...}."""
    from edtalk.stages import get_stage

    if "=" not in value:
        return {"*": positive_int(value)}
    steps = {}
    for item in value.split(","):
        name, _, n = item.strip().partition("=")
        try:
            get_stage(name)
        except KeyError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        steps[name] = positive_int(n)
    return steps


def build_parser() -> argparse.ArgumentParser:
    from edtalk.config import STAGE_NAMES

    p = argparse.ArgumentParser(
        prog="python -m edtalk.train",
        description="Train EDTalk's stages on Ray Train + DeepSpeed (one TorchTrainer per stage). Each "
        "stage continues from its parent's <out>/<parent>/final.pt and writes <out>/<stage>/final.pt.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", choices=STAGE_NAMES, help="train one stage")
    which.add_argument(
        "--stages", help="'all' (the chain in order) or a comma list, e.g. mouth_pose,expression"
    )
    p.add_argument("--preset", default="tiny", help="model preset: tiny (CPU) or paper (GPU) (default tiny)")
    p.add_argument(
        "--data",
        default="synthtalk:data/synthtalk",
        help="<reader>:<root> (default synthtalk:data/synthtalk)",
    )
    p.add_argument("--split", default="train", help="identity split to train on (default train)")
    p.add_argument("--workers", type=positive_int, default=2, help="Ray Train workers (default 2)")
    p.add_argument("--out", default="runs", help="output root (default runs/)")
    p.add_argument(
        "--deepspeed",
        default="zero0",
        choices=("zero0", "zero1", "zero2", "zero3"),
        help="DeepSpeed ZeRO stage (default zero0)",
    )
    p.add_argument("--bf16", action="store_true", help="bf16 mixed precision (DeepSpeed)")
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "gpu", "cpu"),
        help="where the workers run: one GPU each, CPU, or auto = GPUs when the Ray cluster has any "
        "(default auto)",
    )
    p.add_argument(
        "--max-steps",
        type=parse_max_steps,
        default={},
        help="steps of every stage (N), or of some stages (STAGE=N[,STAGE=N...], e.g. eg_pretrain=300); "
        "stages not named keep their default (at tiny: the demo schedule)",
    )
    p.add_argument("--batch-size", type=positive_int, help="samples per worker per step (default: per stage)")
    p.add_argument("--lr", type=float, help="learning rate of the trainable modules (default: per stage)")
    p.add_argument(
        "--also-train",
        action="append",
        default=[],
        metavar="PREFIX",
        help="also train the EDTalk parameters under PREFIX in the named stage(s), e.g. 'generator' to "
        "fine-tune the decoder in the expression stage (the official authors' advice); repeatable",
    )
    p.add_argument(
        "--eg-expression-bank",
        action="store_true",
        help="eg_pretrain: the expression head and bank join the mouth and pose ones as LIA's motion bank "
        "(36 directions instead of 26), so that G learns to draw along the directions the expression "
        "stage later steers",
    )
    p.add_argument(
        "--fresh-mouth-pose-banks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mouth_pose: start MLN, PLN, B^m and B^p from a fresh initialisation, as the official trainer "
        "starts new banks after LIA's stage 1 (default: on at paper, off at tiny, where the demo's "
        "300 steps cannot re-learn the mouth; see edtalk.stages)",
    )
    p.add_argument(
        "--beta1",
        type=float,
        help="Adam beta1 of the trainable modules (default: 0 as in the official trainers; the tiny "
        "preset's eg_pretrain uses 0.9, see edtalk.stages.EG_PRETRAIN_DEMO)",
    )
    p.add_argument("--checkpoint-every", type=positive_int, help="steps between Ray checkpoints (default 50)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint; in a chain, skip stages whose final.pt exists",
    )
    p.add_argument(
        "--parent",
        default="",
        help="checkpoint the first stage starts from: a final.pt, or pretrained:NAME for a shipped "
        "stage-1 init (python -m edtalk.pretrained list; the demo uses pretrained:tiny_synthtalk_eg)",
    )
    p.add_argument(
        "--loss-weight",
        action="append",
        default=[],
        metavar="TERM=W",
        help="override a loss weight, e.g. fea=0 (repeatable; see edtalk.stages)",
    )
    p.add_argument(
        "--ablation",
        action="append",
        default=[],
        choices=("no_fea", "no_self", "no_m_rec", "no_m_sync"),
        help="Table 3 loss ablations (set that term's weight to 0 in its stage)",
    )
    p.add_argument("--perceptual", default="auto", help="vgg19 | substitute:pyramid_l1_ssim | auto (default)")
    p.add_argument(
        "--experts",
        default="",
        help="loss-expert folder (default <out>/experts; trained if missing), or pretrained:NAME for a "
        "shipped set, copied into <out>/experts (the demo uses pretrained:tiny_synthtalk_loss_experts)",
    )
    p.add_argument(
        "--expert-steps",
        default=",".join(map(str, EXPERT_STEPS)),
        help="face,sync expert steps when they must be trained (2000,600: about 7 minutes on 2 cores; "
        "far fewer leave experts that carry no signal: 150 face steps read every clip as one emotion)",
    )
    p.add_argument(
        "--extra-identities",
        type=int,
        default=0,
        help="synthtalk only: the frames-only stages (eg_pretrain, mouth_pose, expression) also train on "
        "N rendered people of no split (still frames of every emotion x level, no audio; a range of "
        "identities apart from the judges' extras); the audio stages keep to the split (make "
        "pretrain uses it for stage 1, make demo for the whole chain)",
    )
    p.add_argument(
        "--extra-frames",
        type=positive_int,
        default=8,
        help="stills per emotion x level of each extra person (8)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--address", default="", help="Ray cluster address (default: a local Ray on 127.0.0.1)")
    return p


def cli_overrides(args: argparse.Namespace, stage: str, weight_overrides: dict) -> dict[str, Any]:
    """The StageConfig fields the command line sets for ``stage`` (None: the stage's default)."""
    return {
        "max_steps": args.max_steps.get(stage, args.max_steps.get("*")),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "beta1": args.beta1,
        "checkpoint_every": args.checkpoint_every,
        "loss_weights": weight_overrides.get(stage, {}),
        "also_train": tuple(args.also_train) or None,
        "eg_expression_bank": args.eg_expression_bank or None,
        "fresh_mouth_pose_banks": args.fresh_mouth_pose_banks,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # first, so --help and usage errors need no torch import
    set_env_defaults()
    from edtalk.config import ConfigError
    from edtalk.data.errors import DataError

    try:
        return _train(args)
    except (ConfigError, DataError, FileNotFoundError) as err:  # a bad value, dataset or missing file
        print(f"error: {err}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    """The run ``main`` parsed: checks, frame cache, loss experts, then one TorchTrainer per stage."""
    from edtalk.config import STAGE_NAMES, ModelConfig, TrainConfig
    from edtalk.stages import ABLATIONS, get_stage

    names = (
        [args.stage]
        if args.stage
        else (
            list(STAGE_NAMES)
            if args.stages == "all"
            else [s.strip() for s in args.stages.split(",") if s.strip()]
        )
    )
    for n in names:
        get_stage(n)  # did-you-mean error for a typo
    if unused := sorted(set(args.max_steps) - {"*", *names}):
        print(f"error: --max-steps names {', '.join(unused)}, which this run does not train", file=sys.stderr)
        return 2
    if args.extra_identities and not any(get_stage(n).frames_only for n in names):
        print(
            "error: --extra-identities adds still frames without audio, which only the frames-only "
            f"stages ({', '.join(n for n in STAGE_NAMES if get_stage(n).frames_only)}) train on; "
            f"{','.join(names)} are audio stages",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out).resolve()
    from edtalk.pretrained import PREFIX, PretrainedError, resolve

    try:
        parent = resolve(args.parent)
    except (PretrainedError, KeyError) as err:
        print(f"error: --parent {args.parent}: {err}", file=sys.stderr)
        return 2
    expert_source = None  # a shipped expert set is copied into <out>/experts, which the run then uses
    try:
        if args.experts.startswith(PREFIX):
            expert_source, args.experts = resolve(args.experts, expert_set=True), ""
    except (PretrainedError, KeyError) as err:
        print(f"error: --experts {args.experts}: {err}", file=sys.stderr)
        return 2
    if problem := unmet_parent(names, parent, out):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    train_cfg = TrainConfig(
        data=args.data,
        split=args.split,
        preset=args.preset,
        out=str(out),
        workers=args.workers,
        deepspeed=args.deepspeed,
        bf16=args.bf16,
        use_gpu={"auto": None, "gpu": True, "cpu": False}[args.device],
        seed=args.seed,
        perceptual=args.perceptual,
        experts=str(Path(args.experts).resolve()) if args.experts else str(out / "experts"),
        parent=parent,
        resume=args.resume,
        cache=str(out / "cache"),
        address=args.address,
        extra_identities=args.extra_identities,
        extra_frames=args.extra_frames,
    )
    model_cfg = ModelConfig.preset(args.preset)
    weight_overrides: dict[str, dict[str, float]] = {}
    for item in args.loss_weight:
        term, _, value = item.partition("=")
        for n in names:
            if term in get_stage(n).weights:
                weight_overrides.setdefault(n, {})[term] = float(value)
    for ab in args.ablation:
        stage_name, term = ABLATIONS[ab]
        weight_overrides.setdefault(stage_name, {})[term] = 0.0

    import ray

    t0 = time.time()
    cache = prepare_cache(train_cfg, model_cfg)  # the split alone: audio stages, the final check
    extras_cache = None  # the split plus the rendered people, built on first use
    needed = {e for n in names for e in get_stage(n).experts}
    face_steps, sync_steps = (int(x) for x in args.expert_steps.split(","))
    ensure_experts(train_cfg, needed, face_steps, sync_steps, source=expert_source)
    if not ray.is_initialized():
        if args.address:
            ray.init(address=args.address)
        else:
            ray.init(
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                log_to_driver=True,
                runtime_env=local_runtime_env(),
            )
    finals = {}
    for i, n in enumerate(names):
        final = out / n / "final.pt"
        if args.resume and len(names) > 1 and final.is_file():
            print(f"[train] {n}: {final} exists, skipping (--resume)", flush=True)
            continue
        overrides = cli_overrides(args, n, weight_overrides)
        stage_cfg = stage_config_for(n, preset=args.preset, overrides=overrides)
        cfg_i = train_cfg if i == 0 else replace(train_cfg, parent="")  # --parent applies to the first stage
        cache_i = cache
        if train_cfg.extra_identities and get_stage(n).frames_only:
            extras_cache = extras_cache or prepare_cache(train_cfg, model_cfg, with_extras=True)
            cache_i = extras_cache
        elif train_cfg.extra_identities:  # an audio stage: the run config says it saw no extras
            cfg_i = replace(cfg_i, extra_identities=0)
        finals[n] = run_stage(stage_cfg, cfg_i, model_cfg, cache_i)
    last = out / names[-1] / "final.pt"
    check = self_reconstruction_check(last, cache)
    (out / names[-1] / "self_reconstruction.json").write_text(json.dumps(check, indent=1))
    print(f"[train] {', '.join(names)} finished in {time.time() - t0:.1f} s; final: {last}", flush=True)
    print(
        f"[train] self-reconstruction on {check['n_clips']} training clips: L1 {check['model_l1']:.4f} "
        f"vs static source frame {check['static_l1']:.4f} "
        f"({'reconstructs' if check['model_l1'] < check['static_l1'] else 'NOT better than static'})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
