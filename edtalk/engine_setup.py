"""Setting up a training worker's DeepSpeed engine: DeepSpeed's accelerator for the worker's own device,
the stage's config dict (ZeRO stage, bf16, torch's Adam with the official trainers' betas, also those
of D's Adam) and the buffers its bf16 leaves in float32.

Heavy imports (torch, deepspeed) are inside functions, so the driver imports this module without
loading DeepSpeed.
"""

from __future__ import annotations

import os
from typing import Any

# Adam betas of the official LIA/EDTalk trainers (StyleGAN2 lazy-regularisation ratios 4/5 for G and
# 16/17 for D, applied although no R1/path-length term is used): beta1 = 0, beta2 = 0.99^ratio. The
# official trainers also multiply the learning rate by that ratio (2e-3 -> 1.6e-3 for G, 1.88e-3 for D);
# StageConfig.lr keeps the paper's stated 2e-3 (Sec. 4.1) unscaled.
G_BETAS = (0.0, 0.99 ** (4 / 5))
D_BETAS = (0.0, 0.99 ** (16 / 17))


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


def deepspeed_config(stage_cfg, train_cfg) -> dict[str, Any]:
    """The DeepSpeed config dict of one stage (ZeRO stage, bf16, torch's Adam on every device).

    Plain Adam without weight decay, as the official trainers' torch.optim.Adam: DeepSpeed's "Adam"
    is AdamW unless ``adam_w_mode`` is off (torch's AdamW has a default decay of 0.01). ``torch_adam``
    on GPUs too: DeepSpeed's FusedAdam is compiled at the first ``deepspeed.initialize`` (nothing is
    prebuilt, DS_BUILD_OPS=0), which needs nvcc and a CUDA toolkit of exactly torch's version on
    every node, and takes minutes where it works."""
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": stage_cfg.batch_size,
        "gradient_accumulation_steps": 1,
        "optimizer": {
            "type": "Adam",
            "params": {
                "lr": stage_cfg.lr,
                "betas": [stage_cfg.beta1, G_BETAS[1]],
                "eps": 1e-8,
                "weight_decay": 0.0,
                "adam_w_mode": False,
                "torch_adam": True,
            },
        },
        "zero_optimization": {"stage": train_cfg.zero_stage},
        # not in the official trainers (they step unclipped): a guard on the global gradient norm that
        # only acts on a diverging step, kept because the tiny preset trains at high learning rates
        "gradient_clipping": 10.0,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if train_cfg.bf16:
        cfg["bf16"] = {"enabled": True}
        # gradients are averaged over the workers in fp32 (DeepSpeed's default under bf16 is bf16,
        # whose 8-bit mantissa rounds away small gradients summed with large ones); the model is
        # small enough (64 M parameters at `paper`) that the doubled traffic does not matter
        cfg["communication_data_type"] = "fp32"
    return cfg


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
