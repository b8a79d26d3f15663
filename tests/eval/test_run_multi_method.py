"""``python -m eval.run --method gt,static,...``: several methods in one call, each scored into what a call
of it alone writes, every method checked before any is scored, a method whose generation stops leaving
the others scored, and one summary line per method."""

import hashlib
import json
import pickle
from pathlib import Path

import pytest

from edtalk.data.video import write_video
from eval.results import clips_path, read_results
from eval.run import build_parser, main
from tests.eval.test_run import frames_of, make_synthtalk

FAST = ["--protocol", "synthtalk", "--metrics", "psnr,ssim,l1", "--workers", "0", "--quiet"]
# differ between two calls of the same scores: when and how long, and where they were written
VOLATILE = {"created", "timing"}


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "st"
    return root, make_synthtalk(root)


def score(root: Path, out: Path, method: str, *extra: str) -> int:
    return main(
        ["--dataset", "synthtalk", "--root", str(root), "--method", method, "--out", str(out), *FAST, *extra]
    )


def comparable(results_file: Path) -> dict:
    """A results file without what two calls of the same scores differ in (timings, its date, --out)."""
    data = {k: v for k, v in read_results(results_file).items() if k not in VOLATILE}
    data["config"] = {k: v for k, v in data["config"].items() if k != "out"}
    rows = [json.loads(line) for line in clips_path(results_file).read_text().splitlines()]
    return {"results": data, "rows": rows}


def written(out: Path, method: str) -> dict:
    """What a method left under ``out``: its cached rows (metrics) and videos (sha256), by file name."""
    run_dir = out / "synthtalk" / method
    cache = {p.name: pickle.loads(p.read_bytes())["metrics"] for p in run_dir.glob("cache/*/*.pkl")}
    videos = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.glob("videos/*")}
    return {"cache": cache, "videos": videos}


def test_two_methods_in_one_call_write_what_two_calls_write(data, tmp_path, capsys):
    root, ids = data
    assert score(root, tmp_path / "single", "gt") == 0
    assert score(root, tmp_path / "single", "static") == 0
    capsys.readouterr()
    assert score(root, tmp_path / "multi", "gt,static") == 0
    out = capsys.readouterr().out
    for method in ("gt", "static"):
        one = tmp_path / "single" / "synthtalk" / method / "synthtalk.json"
        both = tmp_path / "multi" / "synthtalk" / method / "synthtalk.json"
        assert comparable(both) == comparable(one), method
        assert written(tmp_path / "multi", method) == written(tmp_path / "single", method), method
        assert read_results(both)["config"]["method"] == method  # as a call of it alone records
    assert len(written(tmp_path / "multi", "static")["videos"]) == 2 * len(ids) + 1  # + stamps, provenance
    # a header per method, then one line each at the end
    assert out.index("=== method gt (1 of 2)") < out.index("=== method static (2 of 2)")
    summary = out.split("=== 2 methods\n")[1].splitlines()
    assert summary[0].split()[:3] == ["gt", "exit", "0,"] and summary[1].split()[:3] == [
        "static",
        "exit",
        "0,",
    ]
    assert summary[1].endswith(str(tmp_path / "multi/synthtalk/static/synthtalk.json"))


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ("gt,static,stattic", "unknown method 'stattic'. Did you mean 'static'?"),
        ("gt,static,gt", "--method gt,static,gt: gt named more than once; name each method once"),
        ("gt,,static", "--method gt,,static: an empty method name in the list"),
        ("gt,static,", "--method gt,static,: an empty method name in the list"),
        ("gt,static,edtalk_v", "--method edtalk_v needs --ckpt CHECKPOINT"),
    ],
)
def test_a_mistake_in_any_method_stops_the_call_before_any_is_scored(
    data, tmp_path, capsys, methods, message
):
    root, _ = data
    assert score(root, tmp_path / "res", methods) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not (tmp_path / "res").exists()  # nothing scored, nothing written


def test_a_missing_checkpoint_of_the_second_generating_method_is_found_first(data, tmp_path, capsys):
    root, _ = data
    missing = tmp_path / "no.pt"
    assert score(root, tmp_path / "res", "gt,edtalk_a", "--ckpt", str(missing)) == 2
    assert str(missing) in capsys.readouterr().err and not (tmp_path / "res").exists()


def folder_of(folder: Path, ids: list[str], name: str | None = None) -> Path:
    """A folder of output videos for ``ids`` (named ``name`` by its provenance.json when given)."""
    for i, cid in enumerate(ids):
        write_video(folder / f"{cid}.mp4", frames_of(i + 1), fps=25)
    if name:
        (folder / "provenance.json").write_text(json.dumps({"method": name}))
    return folder


def test_folder_methods_in_the_list_are_checked_first(data, tmp_path, capsys):
    """Another folder's results of the same name (check_same_method), two folders of one name in the
    list, and a folder with videos of none of the --limit clips: each found before gt is scored."""
    root, ids = data
    out = tmp_path / "res"
    theirs = folder_of(tmp_path / "a" / "videos", ids)
    assert score(root, out, f"folder:{theirs}") == 0
    mine = folder_of(tmp_path / "b" / "videos", ids)
    late = folder_of(tmp_path / "late", ids[1:], name="late")
    for methods, message in (
        (f"gt,static,folder:{mine}", "holds the scores of another folder"),
        (f"gt,folder:{tmp_path / 'c'},folder:{mine}", "does not exist"),
        (f"gt,static,folder:{late}", "none of the 1 clips this run scores (--limit 1"),
    ):
        assert score(root, out, methods, "--limit", "1") == 2, methods
        assert message in capsys.readouterr().err.strip().splitlines()[-1], methods
        assert [p.name for p in (out / "synthtalk").iterdir()] == ["folder-videos"]
    assert score(root, tmp_path / "two", f"folder:{theirs},folder:{mine}") == 2
    assert "would write one results file and cache" in capsys.readouterr().err
    assert not (tmp_path / "two").exists()


def test_a_folder_method_and_a_generating_one_in_one_call(data, tmp_path):
    root, ids = data
    mine = folder_of(tmp_path / "mine", ids[:2], name="mine")  # no video for ids[2]: that clip fails
    assert score(root, tmp_path / "res", f"folder:{mine},static") == 1  # the worst of 1 and 0
    assert {f["clip"] for f in read_results(tmp_path / "res/synthtalk/mine/synthtalk.json")["failures"]} == {
        ids[2]
    }
    assert read_results(tmp_path / "res/synthtalk/static/synthtalk.json")["failures"] == []


def test_a_method_whose_generation_stops_leaves_the_others_scored(data, tmp_path, monkeypatch, capsys):
    """A weight file of the method's network that fails its hash check (the same for every clip: it
    stops that method's generation, ``generate_chunk``) ends that method only: the next one is scored
    and the exit code is 2. (A method whose every clip fails is exit 1, as alone: the test above.)"""
    from baselines import METHODS, load_all
    from edtalk.weights import WeightsMismatchError

    load_all()

    def broken(self, clip, out_path):
        raise WeightsMismatchError("static.pth: sha256 mismatch")

    monkeypatch.setattr(METHODS.get("static"), "generate", broken)
    root, _ = data
    assert score(root, tmp_path / "res", "static,gt") == 2
    captured = capsys.readouterr()
    assert "error: method static: static.pth: sha256 mismatch" in captured.err
    assert read_results(tmp_path / "res/synthtalk/gt/synthtalk.json")["failures"] == []
    assert not (tmp_path / "res/synthtalk/static/synthtalk.json").exists()
    summary = captured.out.split("=== 2 methods\n")[1].splitlines()
    assert (
        summary[0].split()[:2] == ["static", "exit"]
        and "generation stopped: WeightsMismatchError" in summary[0]
    )
    assert summary[1].split()[:3] == ["gt", "exit", "0,"]


def test_an_error_of_the_call_stops_it_and_names_the_methods_left(data, tmp_path, monkeypatch, capsys):
    """A missing weight file met while scoring is every method's: the call stops (exit 2) with it,
    and the summary says which methods were not scored."""
    from edtalk.weights import MissingWeightsError
    from eval.metrics import METRICS, load_all

    load_all()

    def clip_state(self, ctx):
        raise MissingWeightsError("weight file 'fake_net' is missing")

    monkeypatch.setattr(METRICS.get("psnr"), "clip_state", clip_state)
    root, _ = data
    assert score(root, tmp_path / "res", "gt,static") == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == "error: weight file 'fake_net' is missing"
    summary = captured.out.split("=== 2 methods\n")[1].splitlines()
    assert [line.split()[0] for line in summary] == ["gt", "static"]
    why = "(MissingWeightsError: weight file 'fake_net' is missing)"
    assert f"stopped while scoring {why}: the clips it scored so far are cached" in summary[0]
    assert f"not scored: the call stopped first {why}" in summary[1]


def test_ctrl_c_names_the_method_it_stopped_and_those_not_started(data, tmp_path, monkeypatch, capsys):
    """The summary said "not scored: the call stopped first (see the error)" for every method on
    Ctrl-C, the one being scored included, and there was no error to see."""
    from eval.metrics import METRICS, load_all

    load_all()
    calls = []

    def clip_state(self, ctx):
        calls.append(1)
        if len(calls) > 3:  # gt's three clips scored, then Ctrl-C in static's first
            raise KeyboardInterrupt
        return original(self, ctx)

    original = METRICS.get("psnr").clip_state
    monkeypatch.setattr(METRICS.get("psnr"), "clip_state", clip_state)
    root, _ = data
    assert score(root, tmp_path / "res", "gt,static") == 130
    summary = capsys.readouterr().out.split("=== 2 methods\n")[1].splitlines()
    assert summary[0].split()[:3] == ["gt", "exit", "0,"]
    assert summary[1].split(None, 1) == [
        "static",
        "stopped while scoring (interrupted): the clips it scored so far are cached",
    ]


def test_workers_that_cannot_start_stop_the_call_with_one_line(data, tmp_path, monkeypatch, capsys):
    """Ray failing to start the chunks' workers is the call's error, not the method's: it was a
    traceback with exit 1 (and, met in generation, blamed on the method, and the next one tried)."""
    import eval.run
    from eval.chunk_runner import WorkersDidNotStart

    def no_workers(shared, r):
        raise WorkersDidNotStart("Ray could not start a worker for the clips (4 tries): ActorDiedError: x")

    monkeypatch.setattr(eval.run, "generate_videos", no_workers)
    root, _ = data
    assert score(root, tmp_path / "res", "gt,static") == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1].startswith("error: Ray could not start a worker")
    summary = captured.out.split("=== 2 methods\n")[1].splitlines()
    assert summary[0].split(None, 1)[1].startswith("not scored: the call stopped first (WorkersDidNotStart:")
    assert summary[1].split(None, 1)[1].startswith("not scored: the call stopped first (WorkersDidNotStart:")


def test_names_separated_by_spaces_are_refused_with_the_list_form(data, tmp_path, capsys):
    root, _ = data
    assert score(root, tmp_path / "res", "gt static") == 2
    err = capsys.readouterr().err
    assert "'gt static' is not a method name; separate several methods with commas" in err
    assert not (tmp_path / "res").exists()
    assert not (tmp_path / "res/synthtalk/static").exists()


def test_one_method_prints_no_header_or_summary(data, tmp_path, capsys):
    root, _ = data
    assert score(root, tmp_path / "res", "gt") == 0
    out = capsys.readouterr().out
    assert "=== method" not in out and "=== 1 methods" not in out


def test_a_folder_whose_name_holds_a_comma_is_one_method(data, tmp_path):
    root, ids = data
    odd = folder_of(tmp_path / "eat,v2", ids)
    assert score(root, tmp_path / "res", f"folder:{odd}") == 0
    assert read_results(tmp_path / "res/synthtalk/folder-eat,v2/synthtalk.json")["failures"] == []


def test_the_help_of_method_shows_the_list_form():
    text = " ".join(build_parser().format_help().split())
    assert "several as a comma list (e.g. gt,static,edtalk_v" in text
    assert "--method gt,static,edtalk_v,edtalk_a" in text  # the example


@pytest.mark.ray
@pytest.mark.slow
def test_ray_starts_once_for_all_methods(data, tmp_path, monkeypatch):
    import ray

    import edtalk.ray_setup

    starts = []
    real = edtalk.ray_setup.start_ray

    def counted(*args, **kwargs):
        starts.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(edtalk.ray_setup, "start_ray", counted)
    root, _ = data
    on_ray = [a for a in FAST if a not in ("--workers", "0")] + ["--workers", "1"]
    argv = ["--dataset", "synthtalk", "--root", str(root), "--out", str(tmp_path / "ray"), *on_ray]
    try:
        assert main([*argv, "--method", "gt,static"]) == 0
    finally:
        ray.shutdown()
    assert len(starts) == 1
    assert score(root, tmp_path / "local", "gt,static") == 0
    for method in ("gt", "static"):
        a = read_results(tmp_path / "ray/synthtalk" / method / "synthtalk.json")["metrics"]
        b = read_results(tmp_path / "local/synthtalk" / method / "synthtalk.json")["metrics"]
        assert {m: e["value"] for m, e in a.items()} == pytest.approx({m: e["value"] for m, e in b.items()})
