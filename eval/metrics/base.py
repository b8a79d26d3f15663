"""The contract every metric follows: a functional core, a mergeable state, a small stateful shell.

A metric scores one clip into a *state* (a dict of numbers and numpy arrays, picklable), states of
many clips are *merged* (associatively; ``empty_state()`` is the identity), and the merged state is
*computed* into ``{"value", "n", "spread", ...}``. Ray workers each score a shard of clips and the
driver merges their states, so a sharded run equals a single pass (FID merges feature sums and
outer products exactly).

    metric = METRICS.get("psnr")(pooling="frames")
    state = metric.empty_state()
    for ctx in contexts:                      # eval.context.ClipContext, one per clip
        s = metric.clip_state(ctx)            # may raise ClipFailure(reason)
        rows.append({"clip": ctx.clip.id, "value": metric.clip_value(s)})
        state = metric.merge(state, s)
    result = metric.compute(state)            # {"value": 21.3, "n": 1234, "spread": 2.1}

A metric that cannot apply to some clips (Acc_emo on a dataset without emotion labels, the
disentanglement metrics without synthtalk's ground truth) says so in ``not_applicable(clip)``: the
runner skips it for those clips and reports it as n/a with the reason, not as a failure. A clip that
should be scorable but is not (a bad label, no face) still raises ``ClipFailure``.

Settings: each metric declares a frozen dataclass ``Settings``; ``Metric(**settings)`` rejects
unknown keys with the list of known ones. The protocol (eval/protocols.py) fixes the settings.

Most metrics are a mean over items (frames or videos); ``MeanState`` is their shared state:
count, mean and sum of squared deviations (Chan et al.'s parallel update), plus a count of
infinite items (PSNR of identical frames), so merging is exact up to float rounding.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from edtalk.data.clip import Clip
    from eval.context import ClipContext


class ClipFailure(Exception):
    """Raised by ``clip_state`` for a clip that cannot be scored (no face, too short, length
    mismatch). The runner records ``reason`` for the clip and goes on with the others."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclasses.dataclass(frozen=True)
class NoSettings:
    """Settings of a metric that has none."""


class Metric:
    """Base class of all metrics. Subclasses set the class variables and implement
    ``empty_state``, ``clip_state``, ``merge`` and ``compute`` (or inherit them from
    ``MeanMetric``)."""

    id: ClassVar[str]  # registry id = results-JSON key (``psnr``, ``lse_c``)
    label: ClassVar[str]  # display label in tables (``PSNR``, ``Sync_conf``)
    higher_is_better: ClassVar[bool]
    version: ClassVar[str] = "1"  # bump when the maths or defaults change (invalidates caches)
    weights: ClassVar[tuple[str, ...]] = ()  # every weight name any setting may need
    Settings: ClassVar[type] = NoSettings  # frozen dataclass of the protocol's knobs

    def __init__(self, **settings: Any) -> None:
        known = {f.name for f in dataclasses.fields(self.Settings)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(
                f"metric {self.id!r}: unknown setting(s) {unknown}; known: {sorted(known) or 'none'}"
            )
        self.settings = self.Settings(**settings)
        self._state: dict | None = None

    # -- what the runner and protocol hashing need --------------------------------------------
    def weights_needed(self) -> tuple[str, ...]:
        """Weight names (eval.weights / edtalk.weights) needed with the current settings."""
        return self.weights

    def describe(self) -> dict:
        """JSON-able identity of this metric for protocol hashes and result rows."""
        return {
            "id": self.id,
            "version": self.version,
            "settings": dataclasses.asdict(self.settings),
            "weights": list(self.weights_needed()),
        }

    def not_applicable(self, clip: Clip) -> str | None:
        """Why this metric does not apply to ``clip`` at all, from the clip record alone (e.g. "the
        dataset has no emotion labels"), or None when it applies. ``eval.run`` asks before scoring
        and shows such clips as not applicable, not as failures; ``clip_state`` of such a clip
        still raises ``ClipFailure``."""
        return None

    # -- the mergeable-state API (override) ---------------------------------------------------
    def empty_state(self) -> dict:
        raise NotImplementedError

    def clip_state(self, ctx: ClipContext) -> dict:
        """The state of one clip. Raises ``ClipFailure`` when the clip cannot be scored."""
        raise NotImplementedError

    def merge(self, a: dict, b: dict) -> dict:
        """Associative merge; ``empty_state()`` is its identity."""
        raise NotImplementedError

    def compute(self, state: dict) -> dict:
        """``{"value": float, "n": int, "spread": float | None}`` (plus metric-specific extras)."""
        raise NotImplementedError

    def clip_value(self, state: dict) -> float | None:
        """Display value of a single clip's state for the per-clip JSONL rows (None if the
        metric only exists at set level, like FID)."""
        return self.compute(state)["value"]

    # -- stateful shell ------------------------------------------------------------------------
    def reset(self) -> None:
        self._state = self.empty_state()

    def update(self, ctx: ClipContext) -> dict:
        """Score one clip and fold it into the running state; returns the clip's own state."""
        if self._state is None:
            self.reset()
        s = self.clip_state(ctx)
        self._state = self.merge(self._state, s)
        return s

    def value(self) -> dict:
        if self._state is None:
            self.reset()
        return self.compute(self._state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings})"


# ---------------------------------------------------------------------------------------------
# MeanState: mean over pooled items (frames or videos) with exact-enough merges.
# ---------------------------------------------------------------------------------------------


def mean_state(values: Any) -> dict:
    """State of a collection of item values: count, mean, M2 of the finite ones, count of +inf.

    NaN items are not allowed here (a metric skips undefined items before calling this)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.isnan(v).any():
        raise ValueError("mean_state got NaN values; skip undefined items first")
    n_inf = int(np.isposinf(v).sum())
    if np.isneginf(v).any():
        raise ValueError("mean_state got -inf values")
    f = v[np.isfinite(v)]
    n = int(f.size)
    mean = float(f.mean()) if n else 0.0
    m2 = float(((f - mean) ** 2).sum()) if n else 0.0
    return {"n": n, "mean": mean, "m2": m2, "n_inf": n_inf}


def empty_mean_state() -> dict:
    return {"n": 0, "mean": 0.0, "m2": 0.0, "n_inf": 0}


def merge_mean_states(a: dict, b: dict) -> dict:
    """Chan et al.'s parallel combination of (n, mean, M2); infinite counts add."""
    na, nb = a["n"], b["n"]
    n = na + nb
    if n == 0:
        mean, m2 = 0.0, 0.0
    else:
        delta = b["mean"] - a["mean"]
        mean = a["mean"] + delta * nb / n
        m2 = a["m2"] + b["m2"] + delta * delta * na * nb / n
    return {"n": n, "mean": mean, "m2": m2, "n_inf": a["n_inf"] + b["n_inf"]}


def compute_mean_state(s: dict, exclude_inf: bool = False) -> dict:
    """Mean over items and its spread (sample standard deviation, ddof=1).

    With any +inf item the mean is +inf (as ``np.mean`` of the item list would be) unless
    ``exclude_inf``, which averages only the finite items. ``n`` counts all items used."""
    n_fin, n_inf = s["n"], s["n_inf"]
    if n_inf and not exclude_inf:
        return {"value": math.inf, "n": n_fin + n_inf, "spread": None, "n_inf": n_inf}
    if n_fin == 0:
        return {"value": None, "n": 0, "spread": None, "n_inf": n_inf}
    spread = math.sqrt(s["m2"] / (n_fin - 1)) if n_fin > 1 else None
    return {"value": s["mean"], "n": n_fin, "spread": spread, "n_inf": n_inf}


class MeanMetric(Metric):
    """A metric whose value is the mean of per-item values (items = frames or videos).

    Subclasses implement ``item_values(ctx) -> 1-D array`` (one value per frame, or a single
    per-video value). ``mean_over`` tells which: with "videos" the clip's item values are first
    averaged into one value per clip."""

    def mean_over(self) -> str:  # "frames" | "videos"
        return "videos"

    def item_values(self, ctx: ClipContext) -> np.ndarray:
        raise NotImplementedError

    def empty_state(self) -> dict:
        return empty_mean_state()

    def clip_state(self, ctx: ClipContext) -> dict:
        values = np.asarray(self.item_values(ctx), dtype=np.float64).reshape(-1)
        if values.size == 0:
            raise ClipFailure(f"{self.id}: no scorable frames")
        if self.mean_over() == "videos":
            values = np.array([values.mean()])  # +inf stays +inf
        return mean_state(values)

    def merge(self, a: dict, b: dict) -> dict:
        return merge_mean_states(a, b)

    def compute(self, state: dict) -> dict:
        return compute_mean_state(state)
