"""eval.scoring's per-clip rows without Ray or real metrics: a metric's bad-input error against a crash,
the shortest clip a protocol scores, a chunk whose worker died, and NaN in a results file (gaps a
mutation review of the pipeline found: each of these could change and no test noticed)."""

import json
import math
from types import SimpleNamespace

import numpy as np

from edtalk.data.errors import DataError
from eval.results import _json_number
from eval.scoring import Job, aggregate, lost_scoring, save_row, score_clip


class Context:
    """A clip's frames as ``score_clip`` reads them: ``n_gt`` and ``n_pred`` grey 8x8 frames at 25 fps."""

    def __init__(self, n_gt: int, n_pred: int) -> None:
        self.n = {"gt": n_gt, "pred": n_pred}

    def frames(self, side: str) -> np.ndarray:
        return np.zeros((self.n[side], 8, 8, 3), np.uint8)

    def fps(self, side: str) -> float:
        return 25.0

    def new_gt_features(self) -> dict:
        return {}


class Metric:
    """A metric whose ``clip_state`` returns 1.0 or raises ``error``."""

    version = "1"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def clip_state(self, ctx):
        if self.error is not None:
            raise self.error
        return 1.0

    def empty_state(self):
        return 0.0

    def merge(self, a, b):
        return a + b

    def clip_value(self, state):
        return state


PROTOCOL = SimpleNamespace(max_length_diff=2, min_frames=6, metrics=())


def job(clip_id: str = "c1") -> Job:
    return Job(clip=SimpleNamespace(id=clip_id, video=f"/gt/{clip_id}.mp4"), pred=None, inputs=[], todo=["m"])


def score(metric: Metric, n_gt: int = 8, n_pred: int = 8) -> dict:
    return score_clip(
        lambda clip, pred, feats: Context(n_gt, n_pred), job(), PROTOCOL, {"m": metric}, {"m": "k"}
    )


def test_a_metrics_bad_input_error_is_the_clips_failure_and_is_cached_a_crash_is_retried(tmp_path):
    """A DataError (the clip's audio unreadable, say) is the input's fault: its message is the failure,
    kept in the cache like a result. Taken as a crash it would carry a traceback, be left out of the
    cache and be scored again on every run."""
    bad_input = score(Metric(DataError("/gt/c1.wav", "no audio stream")))["metrics"]["m"]
    assert bad_input["failure"] == "/gt/c1.wav: no audio stream" and "traceback" not in bad_input
    crash = score(Metric(ZeroDivisionError("bug")))["metrics"]["m"]
    assert crash["failure"] == "crashed: ZeroDivisionError: bug" and "ZeroDivisionError" in crash["traceback"]

    saved = {}
    cache = SimpleNamespace(
        load=lambda clip_id: None,
        entries=lambda row, inputs: {},
        save=lambda clip_id, row: saved.update({clip_id: row}),
    )
    for row in ({"inputs": [], "metrics": {"m": bad_input}}, {"inputs": [], "metrics": {"m": crash}}):
        save_row(cache, "c1", row, {})
        assert ("m" in saved["c1"]["metrics"]) is (row["metrics"]["m"] is bad_input)


def test_a_clip_of_exactly_the_protocols_shortest_length_is_scored():
    assert score(Metric(), n_gt=6, n_pred=6)["failure"] is None
    assert score(Metric(), n_gt=6, n_pred=5)["failure"] == "too short: 5 frames (at least 6 needed)"


def test_a_chunk_whose_worker_died_fails_each_of_its_clips_and_the_results_count_them():
    """``lost_scoring`` is what the run records when a chunk's worker died twice: one failed row per clip
    of the chunk (the Ray tests pass their own). A clip left without a row would stop ``aggregate`` with
    a KeyError after all the other clips were scored."""
    jobs = [job(f"c{i}") for i in range(3)]
    lost = lost_scoring(jobs, "the worker died twice")
    assert [clip_id for clip_id, _ in lost["rows"]] == ["c0", "c1", "c2"] and lost["unverified"] == {}
    result = aggregate(jobs, dict(lost["rows"]), {"m": Metric()}, ["m"])
    assert [(f["clip"], f["metric"], f["reason"]) for f in result.failures] == [
        (f"c{i}", None, "the worker died twice") for i in range(3)
    ]
    assert result.n_scored == {"m": 0} and all(
        r["failures"] == {"*": "the worker died twice"} for r in result.clip_rows
    )


def test_nan_is_written_as_null_so_strict_json_readers_can_read_the_results():
    assert _json_number(float("nan")) is None and _json_number(np.float32("nan")) is None
    assert _json_number(np.float64(2.5)) == 2.5 and math.isinf(_json_number(float("inf")))
    assert json.loads(json.dumps({"v": _json_number(np.float64("nan"))})) == {"v": None}
