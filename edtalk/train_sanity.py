"""The check after a training run (not a benchmark metric): ``self_reconstruction_check``, video-driven
self-reconstruction of training clips by the last stage's final.pt against the static source frame.
"""

from __future__ import annotations

from pathlib import Path


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

    from edtalk.data.sampler import to_tensor
    from edtalk.data.training import load_frame_cache
    from edtalk.driving import load_generator, model_device

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
