"""One rank's training of one stage: what each Ray Train worker runs (``train_loop_per_worker``).

``StageWorker`` is a rank's state (model from the parent's ``final.pt``, the DeepSpeed engine around
the stage's trainable modules, D and its Adam, the frame sampler, the loss networks) and one
optimiser step; ``train_loop_per_worker`` steps it, logs, reports checkpoints to Ray and has rank 0
export ``final.pt``. DeepSpeed's accelerator and config dict are in ``edtalk.engine_setup``, the
worker's devices and collectives over the ranks in ``edtalk.worker_devices``, the expression stage's
per-emotion W^e table in ``edtalk.emotion_table``. The driver side is ``edtalk.train`` and its
``train_*`` modules (configs, frame cache, experts, resume checks); the TorchTrainer and the overview
of a stage's life are in ``edtalk.train_run``. Heavy imports are inside functions, so
the driver imports this module without loading DeepSpeed.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path

from edtalk.engine_setup import (
    D_BETAS,
    G_BETAS,
    buffers_follow_parameters,
    deepspeed_config,
    match_deepspeed_accelerator,
    skip_inference_shm_kernel,
)
from edtalk.experts.names import expert_file
from edtalk.train_failures import is_restart
from edtalk.worker_devices import (
    all_reduce_grads,
    broadcast_buffers_from_rank0,
    check_shared_folder,
    hide_gpus_unless_booked,
    mean_over_ranks,
    peak_memory,
    worker_gpu,
)

ENGINE_TAG = "engine"
# each rank's sampler and torch RNG states in a checkpoint folder (ranks write their own; Ray merges them)
RNG_FILE = "rng_rank{rank}.pt"


def _load_parent(model, parent: str) -> dict:
    """Load a parent final.pt into ``model`` (strict); returns its meta. A parent that differs only in
    the expression predictor's shape and has not trained it (``train_chain.parent_config_problem``)
    gives everything else; the predictor keeps its fresh initialisation."""
    from edtalk.model import load_checkpoint
    from edtalk.train_chain import parent_config_problem

    ckpt = load_checkpoint(parent)
    state = ckpt["state_dict"]
    if ckpt["config"] != model.cfg:
        done = ckpt["meta"].get("stages_done", [])
        if problem := parent_config_problem(ckpt["config"].to_dict(), model.cfg.to_dict(), done):
            raise ValueError(f"{parent}: {problem}")
        fresh = {k: v for k, v in model.state_dict().items() if k.startswith(PREDICTOR_PREFIX)}
        state = {**{k: v for k, v in state.items() if not k.startswith(PREDICTOR_PREFIX)}, **fresh}
    model.load_state_dict(state, strict=True)
    return ckpt["meta"]


PREDICTOR_PREFIX = "expression_predictor."


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
            net, _ = load_expert(experts_dir / expert_file(kind), expect_split="train", device=str(device))
            net.requires_grad_(False)
            setattr(nets, kind, net)
    return nets


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
        from edtalk.data.sampler import StageSampler
        from edtalk.data.training import load_frame_cache
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
        on_cpu = not self.run.get("use_gpu", torch.cuda.is_available())
        self.device = torch.device("cpu") if on_cpu else worker_gpu(local_rank)
        if not on_cpu:
            torch.cuda.set_device(self.device)
        torch.manual_seed(self.train_cfg.seed + rank)

        model = EDTalk(self.model_cfg)
        self.parent_meta = _load_parent(model, self.run["parent"]) if self.run["parent"] else {}
        self.checkpoint_stage_config: dict | None = None  # the stage config of a resumed checkpoint
        start_fresh(self.stage, self.stage_cfg, model, seed=self.train_cfg.seed)
        self.stage = configured_stage(self.stage, self.stage_cfg, model)
        params = apply_freezing(self.stage, model)
        model.to(self.device)
        check_shared_folder(self.run["cache"])
        self.sampler = StageSampler(
            load_frame_cache(self.run["cache"]), seed=self.train_cfg.seed * 1000 + rank
        )
        self._text_cache: dict = {}
        self.model = model
        module = StageModule(model, self.stage, self.stage_cfg)
        if self.stage.data_init:  # data-initialise ActNorm (audio_pose); DeepSpeed then broadcasts rank 0's
            module.train()
            with torch.no_grad():
                module(self.next_batch())
        if not dist.is_initialized():
            deepspeed.init_distributed(dist_backend="gloo" if on_cpu else "nccl")
        ds_cfg = deepspeed_config(self.stage_cfg, self.train_cfg)
        self.engine, _, _, _ = deepspeed.initialize(model=module, model_parameters=params, config=ds_cfg)
        broadcast_buffers_from_rank0(self.engine.module, world)  # rank 0's buffers with its parameters
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
        import torch

        from edtalk.losses import adversarial_discriminator

        batch = self.next_batch()
        out = self.engine(batch)
        if self.disc is not None:
            self.disc.requires_grad_(False)  # G's adversarial term must not train D
        terms = self.stage.losses(out, batch, self.nets)
        loss = sum(self.weights[k] * v for k, v in terms.items() if self.weights[k] != 0)  # 0: ablated
        # the loss and its terms in one read to the host (on a GPU, one wait for the forward), here
        # rather than after the step, whose kernels a later read would wait for too
        scalars = [t.detach().reshape(()) for t in (loss, *terms.values())]
        loss_value, *term_values = torch.stack(scalars).tolist()
        values = dict(zip(terms, term_values, strict=True))
        if not math.isfinite(loss_value):  # stop before a NaN reaches the weights (and checkpoints)
            listed = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            raise FloatingPointError(
                f"stage {self.stage.name}: the loss is {loss_value} ({listed}); the weights "
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
            all_reduce_grads(self.disc, self.world)
            self.d_opt.step()
            values["d"] = float(d_loss.detach())
        return {**values, "loss": loss_value}

    def rng_state(self) -> dict:
        """This rank's random state: the sampler's numpy generator and torch's (CPU, and the GPU's)."""
        import torch

        state = {"sampler": self.sampler.rng.bit_generator.state, "torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_rng_state(self, state: dict) -> None:
        """Continue from ``rng_state()``'s draws (a GPU state is kept only when saved on a GPU)."""
        import torch

        self.sampler.rng.bit_generator.state = state["sampler"]
        torch.set_rng_state(state["torch"].cpu())
        if self.device.type == "cuda" and "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"].cpu(), self.device)

    def apply_optimiser_settings(self) -> None:
        """Set the run config's lr and betas on G's and D's Adam (loading a checkpoint restores its own).

        The optimiser state dict carries param_groups, so without this a resume with another
        --lr/--beta1, which the driver announces and run.json records, would train on the old ones.
        DeepSpeed's ZeRO and bf16 wrappers forward ``param_groups`` to the torch optimiser; the run
        has no LR scheduler (constant lr, as the official trainers), so nothing else holds an lr.
        """
        for group in self.engine.optimizer.param_groups:
            group["lr"], group["betas"] = self.stage_cfg.lr, (self.stage_cfg.beta1, G_BETAS[1])
        if self.d_opt is not None:
            for group in self.d_opt.param_groups:
                group["lr"], group["betas"] = self.stage_cfg.d_lr, D_BETAS

    def save(self, folder: str | Path, step: int) -> None:
        """Collective: this rank's DeepSpeed shard and RNG state; rank 0 also the trainer state and run
        record."""
        import torch

        self.engine.save_checkpoint(str(folder), tag=ENGINE_TAG)
        torch.save(self.rng_state(), Path(folder) / RNG_FILE.format(rank=self.rank))
        if self.rank == 0:
            state = {"step": step, "stage": self.stage_cfg.to_dict(), "train": self.train_cfg.to_dict()}
            if self.disc is not None:
                state["discriminator"] = self.disc.state_dict()
                state["d_optimizer"] = self.d_opt.state_dict()
            torch.save(state, Path(folder) / "trainer_state.pt")
            (Path(folder) / "run.json").write_text(json.dumps(self.run, indent=1, default=str))

    def load(self, folder: str | Path) -> int:
        """Restore from a checkpoint folder written by ``save``; returns its step.

        The run config's lr/betas then replace the checkpoint's, and each rank's sampler and torch RNG
        continue where they were, so the resumed run draws the batches an uninterrupted one would.
        A checkpoint from before the RNG states were saved (or a rank the old run did not have)
        restarts that rank's draws from its seed, as before; rank 0 says so in one line.
        """
        import torch

        from edtalk.data.errors import DataError
        from edtalk.modules.navigation import OrientationUnknownError

        folder = Path(folder)
        try:
            self.engine.load_checkpoint(str(folder), tag=ENGINE_TAG)
            # on the CPU: load_state_dict moves each state to its parameter's device, and keeps Adam's
            # step counters on the CPU (on the GPU every later step would sync the host per parameter)
            state = torch.load(folder / "trainer_state.pt", map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, KeyError, EOFError) as err:  # cut off mid-save, or files missing
            raise DataError(
                folder,
                f"this checkpoint cannot be loaded ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                "it was probably cut off while being saved: drop --resume to train the stage afresh",
            ) from None
        except OrientationUnknownError as err:
            raise DataError(folder, str(err)) from None
        if self.disc is not None:
            self.disc.load_state_dict(state["discriminator"])
            self.d_opt.load_state_dict(state["d_optimizer"])
        self.checkpoint_stage_config = state.get("stage")
        self.apply_optimiser_settings()
        rng = folder / RNG_FILE.format(rank=self.rank)
        if rng.is_file():
            self.set_rng_state(torch.load(rng, map_location="cpu", weights_only=True))
        if self.rank == 0:
            missing = [r for r in range(self.world) if not (folder / RNG_FILE.format(rank=r)).is_file()]
            if missing:
                ranks = ", ".join(map(str, missing))
                print(
                    f"[train] {self.stage.name}: the checkpoint at step {int(state['step'])} holds no "
                    f"sampler/RNG state for rank(s) {ranks} (an older checkpoint, or fewer workers); their "
                    "batches restart from the seed",
                    flush=True,
                )
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
        from edtalk.data.held_out import training_record
        from edtalk.model import EDTalk, save_checkpoint

        state = self.full_state() if state is None else state
        pm = self.parent_meta
        # a run that continues the same stage (the shipped init, then more eg_pretrain steps) counts on
        continued = (
            pm.get("stage_steps_total", pm.get("step", 0)) if pm.get("stage") == self.stage.name else 0
        )
        run = self.run
        if step > self.stage_cfg.max_steps and self.checkpoint_stage_config:
            # --resume at or past --max-steps trained nothing: its steps were trained under the
            # checkpoint's stage config (its max_steps), which the record keeps; the rerun's is noted
            run = {
                **run,
                "stage_config": self.checkpoint_stage_config,
                "exported_again_by": {"stage_config": self.stage_cfg.to_dict()},
            }
        meta = {
            "stage": self.stage.name,
            "step": step,
            "stage_steps_total": continued + step,
            "parent": self.run["parent"],
            "run": run,
            "perceptual": getattr(self.nets.perceptual, "label", None) or pm.get("perceptual"),
            "stages_done": [*pm.get("stages_done", []), self.stage.name],
            "trained_on": [*training_record(pm), *([run["trained_on"]] if "trained_on" in run else [])],
            "emotion_weights": pm.get("emotion_weights", {}),
        }
        if self.disc is not None:
            meta["discriminator"] = {k: v.detach().cpu() for k, v in self.disc.state_dict().items()}
        elif "discriminator" in pm:
            meta["discriminator"] = pm["discriminator"]
        if self.stage.on_export is not None:  # the stage's own meta (expression: the emotion table)
            # on the worker's device: E at paper size costs 0.7 s a frame on one CPU core (measured), 24 min
            # for the emotion table's 2048 frames (8 emotions x 32 clips x 8)
            trained = EDTalk(self.model_cfg).to(self.device)
            trained.load_state_dict(state)
            meta.update(self.stage.on_export(trained, self.sampler.cache))
        return save_checkpoint(path, state, self.model_cfg, extra=meta)


def quiet_ray_train_reports() -> None:
    """Ray Train logs each ``ray.train.report`` of each rank at INFO (the whole metrics dict and the
    checkpoint's path, one long line) through a logger named by its file's path, outside
    ``ray.train``, where the stage's ``LoggingConfig`` (``edtalk.train_run.stage_run_config``) does not
    reach: WARNING for it in this worker."""
    import logging

    from ray.train.v2._internal.execution import context

    logging.getLogger(context.__file__).setLevel(logging.WARNING)


def train_loop_per_worker(config: dict) -> None:
    """One Ray Train worker of one stage. ``config``: {"model", "stage", "train", "run"} dicts."""
    import ray.train
    import torch
    import torch.distributed as dist

    quiet_ray_train_reports()
    hide_gpus_unless_booked(config.get("run", {}))
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    # this node's cores shared by this stage's workers on it (not by every node's)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // max(ctx.get_local_world_size(), 1)))
    worker = StageWorker(config, rank, world, ctx.get_local_rank())
    cfg = worker.stage_cfg

    start = 0
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            start = worker.load(d)

    writer = bar = None
    stage_dir = Path(worker.run["stage_dir"])
    if rank == 0 and "run_token" in worker.run and is_restart(stage_dir, worker.run["run_token"]):
        print(f"[train] {cfg.name}: Ray Train restarted the workers, from step {start}", flush=True)
    if rank == 0:
        from ray.experimental.tqdm_ray import tqdm
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(stage_dir / "tensorboard"), purge_step=start + 1)
        desc = f"{cfg.name} (resumed at {start})" if start else cfg.name
        # $TQDM_MININTERVAL: set by edtalk.cli.run_main when the driver's output goes to a log file
        interval = float(os.environ["TQDM_MININTERVAL"]) if os.environ.get("TQDM_MININTERVAL") else None
        bar = tqdm(total=cfg.max_steps, desc=desc, flush_interval_s=interval)
        bar.update(start)

    # sums of the loss terms and the number of steps in them: since the last TensorBoard point
    # (a window that starts at a resumed step is shorter than log_every) and since the last report
    t0, step = time.time(), start
    running, running_n, since_report, since_n = {}, 0, {}, 0
    for step in range(start + 1, cfg.max_steps + 1):
        for k, v in worker.step().items():
            running[k] = running.get(k, 0.0) + v
            since_report[k] = since_report.get(k, 0.0) + v
        running_n += 1
        since_n += 1
        if bar is not None:
            bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.max_steps:  # every rank: the mean is collective
            means = mean_over_ranks({k: v / running_n for k, v in running.items()}, world, worker.device)
            if writer is not None:
                for k, v in means.items():
                    writer.add_scalar(f"{cfg.name}/{k}", v, step)
                writer.add_scalar(f"{cfg.name}/it_per_s", (step - start) / (time.time() - t0), step)
            running, running_n = {}, 0
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            # means since the last report, over all ranks (Ray keeps rank 0's metrics only)
            metrics = mean_over_ranks({k: v / since_n for k, v in since_report.items()}, world, worker.device)
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
