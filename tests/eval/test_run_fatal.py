"""A configuration error met mid-chunk (``eval.scoring.fatal_errors``) stops ``eval.run`` after
caching the rows the chunk scored before it."""

import pickle

import numpy as np
import pytest

from edtalk.data.video import write_video
from edtalk.weights import MissingWeightsError
from eval.cache import ClipCache
from eval.run import main
from eval.scoring import fatal_errors

MISSING = "weight file 'fake_net' (fake_net.pth) is missing: put it in /somewhere"


def test_a_missing_weight_on_the_third_clip_keeps_the_first_two_rows(tmp_path, monkeypatch, capsys):
    """score_chunk re-raised the error and the chunk's scored rows were lost: a rerun scored them again."""
    from eval.metrics import METRICS, load_all

    load_all()
    real = METRICS.get("psnr").clip_state

    def clip_state(self, ctx):
        if ctx.clip.id == "c":
            raise MissingWeightsError(MISSING)
        return real(self, ctx)

    monkeypatch.setattr(METRICS.get("psnr"), "clip_state", clip_state)
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i, name in enumerate(("a", "b", "c")):
        clip = np.full((8, 64, 64, 3), 40 * i, np.uint8)
        write_video(gt / f"{name}.mp4", clip, fps=25)
        write_video(pred / f"{name}.mp4", clip, fps=25)
    out = tmp_path / "res"
    args = ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--protocol"]
    args += ["canonical", "--metrics", "psnr,l1", "--workers", "0", "--chunk", "3", "--quiet"]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {MISSING}"
    cached = {p.stem: ClipCache(p.parent).load(p.stem) for p in (out / "folder/paired/cache").glob("*/*.pkl")}
    assert sorted(cached) == ["a", "b"]
    assert sorted(cached["a"]["metrics"]) == sorted(cached["b"]["metrics"]) == ["l1", "psnr"]
    assert not (out / "folder/paired/canonical.json").exists()


@pytest.mark.parametrize("error", fatal_errors())
def test_a_fatal_error_reaches_the_driver_from_a_ray_task_with_its_message(error):
    """score_chunk returns it (Ray pickles the result): the driver's message is the worker's."""
    assert str(pickle.loads(pickle.dumps(error(MISSING)))) == MISSING
