"""Loading reference checkpoints into our backbone modules: one place for the shared steps."""

from __future__ import annotations

from pathlib import Path

from torch import nn


def unwrap_state_dict(sd: dict) -> dict:
    """The bare state dict: unwraps {"state_dict": ...} and drops DataParallel's ``module.`` prefix."""
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_exact(net: nn.Module, state: dict, path: str | Path, what: str) -> None:
    """Load ``state`` into ``net``; only BatchNorm's ``num_batches_tracked`` counters may be absent.

    Any other missing or unexpected key means ``path`` is not a ``what`` checkpoint: a clear error.
    """
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise RuntimeError(
            f"{path}: not {what} checkpoint (missing {missing[:5]}, unexpected {result.unexpected_keys[:5]})"
        )
