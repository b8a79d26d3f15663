"""Count options refuse 0, negatives and non-numbers, and --preset an unknown preset, at parse time,
before any model or data is loaded."""

import argparse
from pathlib import Path

import pytest

from edtalk.cli import mp4_path, positive_int


def test_positive_int_accepts_counts_and_names_bad_values():
    assert positive_int("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 1, got 0"):
        positive_int("0")
    with pytest.raises(argparse.ArgumentTypeError, match="'two' is not a whole number"):
        positive_int("two")


INFER_VIDEO = ["video", "--ckpt", "c", "--identity", "i", "--mouth", "m", "--out", "o.mp4"]
EDIT_BASE = ["edit-base", "--ckpt", "c", "--identity", "i", "--out", "o.mp4", "--bank", "pose"]
TRAIN = ["--stage", "eg_pretrain"]


@pytest.mark.parametrize(
    "module, argv, message",
    [
        ("edtalk.infer", [*INFER_VIDEO, "--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        ("edtalk.infer", [*EDIT_BASE, "--index", "1", "--steps", "-2"], "--steps: must be at least 1"),
        (
            "edtalk.infer",
            [*EDIT_BASE, "--index", "0", "--range", "nan", "1"],
            "--range: must be a finite number",
        ),
        ("edtalk.train", [*TRAIN, "--workers", "0"], "--workers: must be at least 1"),
        ("edtalk.train", [*TRAIN, "--max-steps", "eg_pretrain=0"], "--max-steps: must be at least 1"),
        ("edtalk.train", [*TRAIN, "--extra-identities", "-5"], "--extra-identities: must be at least 0"),
        ("edtalk.train", [*TRAIN, "--lr", "0"], "--lr: must be a finite number above 0, got 0"),
        ("edtalk.train", [*TRAIN, "--lr", "nan"], "--lr: must be a finite number, got nan"),
        ("edtalk.train", [*TRAIN, "--loss-weight", "fea=-1"], "'fea=-1': expected TERM=W"),
        ("edtalk.train", [*TRAIN, "--expert-steps", "5"], "'5': expected FACE,SYNC"),
        # numpy's samplers refuse a negative seed: it failed in every Ray worker, after the frame cache
        ("edtalk.train", [*TRAIN, "--seed", "-1"], "--seed: must be at least 0, got -1"),
        ("eval.capacity", ["--data", "d", "--seed", "-1"], "--seed: must be at least 0, got -1"),
        ("edtalk.experts.cli", ["train", "--data", "d", "--seed", "-1"], "--seed: must be at least 0"),
        ("eval.run", ["--dataset", "synthtalk", "--limit", "0"], "--limit: must be at least 1, got 0"),
        ("eval.run", ["--dataset", "synthtalk", "--workers", "-1"], "--workers: must be at least 0, got -1"),
        ("eval.run", ["--dataset", "synthtalk", "--chunk", "0"], "--chunk: must be at least 1"),
        ("sweeps.bank_size", ["--max-clips", "-2"], "--max-clips: must be at least 1, got -2"),
        ("eval.report.__main__", ["results", "--max-clips", "-3"], "--max-clips: must be at least 0, got -3"),
        (
            "edtalk.experts.cli",
            ["train", "--data", "d", "--face-steps", "0"],
            "--face-steps: must be at least 1",
        ),
        ("edtalk.data.check", ["--dataset", "folder", "--limit", "-1"], "--limit: must be at least 1"),
        ("edtalk.data.synthtalk.__main__", ["--workers", "0"], "--workers: must be at least 1, got 0"),
        ("edtalk.train", [*TRAIN, "--preset", "tny"], "--preset: unknown model preset 'tny'; did you mean"),
        ("edtalk.model", ["summary", "--preset", "huge"], "--preset: unknown model preset 'huge'"),
        ("eval.capacity", ["--data", "d", "--preset", "x"], "--preset: unknown model preset"),  # traceback
        # --smoke-test replaced any --preset with tiny, so a typo ran a real sweep
        ("sweeps.bank_size", ["--smoke-test", "--preset", "huge"], "--preset: unknown model preset 'huge'"),
        ("benchmarks.stage_step", ["--preset", "x"], "--preset: unknown model preset"),
    ],
)
def test_count_and_rate_options_refuse_out_of_range_values_before_any_work(module, argv, message, capsys):
    """Caught at parse time, exit 2 naming the option. Before: a negative --limit sliced off the last
    clips ("no clips in split"), --face-steps 0 reached the LR scheduler, a negative --max-clips hid the
    report's videos or launched Tune, --lr nan failed inside Ray, --range nan drew noise."""
    import importlib

    cli = importlib.import_module(module)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--text", "  "], "--text is empty"),
        (["--text", "so happy", "--emotion", "happy"], "--emotion and --text/--expression-from-audio"),
        (["--expression-from-audio", "--expression", "e.mp4"], "--expression and --text/--expression-from"),
    ],
)
def test_audio_driving_takes_one_expression_source(extra, message, capsys):
    """drive_audio prefers an expression video, then an emotion, then the predictor: a --text given
    beside --emotion was silently unused, and an empty one was embedded as is."""
    from edtalk.infer import main

    argv = ["audio", "--ckpt", "c", "--identity", "i", "--audio", "a.wav", "--out", "o.mp4", *extra]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_infer_output_must_be_an_mp4(capsys):
    from edtalk.infer import build_parser

    assert mp4_path("out/Clip.MP4") == "out/Clip.MP4"
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["video", "--ckpt", "c", "--identity", "i", "--mouth", "m", "--out", "o.txt"]
        )
    assert "'o.txt': the output is an mp4 video" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module",
    [
        "edtalk.infer",
        "edtalk.train",
        "eval.run",
        "eval.proof",
        "edtalk.data.check",
        "edtalk.data.crop",
        "edtalk.data.synthtalk.__main__",
        "eval.zoo",
        "edtalk.experts.cli",
    ],
)
def test_help_comes_without_loading_torch(module):
    """``--help`` and usage errors answer at once: the model code loads only after the arguments parse."""
    import subprocess
    import sys

    code = (
        f"import sys, {module} as cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch loaded:', 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage:" in out and out.splitlines()[-1] == "torch loaded: False"


def test_a_diagnostic_reuses_its_saved_result_only_for_the_same_committed_inputs(tmp_path, monkeypatch):
    """run_inputs hashes the checkpoint, the data card and the settings; print_and_save prints a
    result saved from the same inputs again, and recomputes for other inputs, a dirty checkout or
    --recompute."""
    from edtalk import provenance
    from edtalk.cli import print_and_save, run_inputs

    ckpt, data, out = tmp_path / "c.pt", tmp_path / "data", tmp_path / "result.json"
    ckpt.write_bytes(b"weights")
    data.mkdir()
    monkeypatch.setattr(provenance, "code_state", lambda: "0123abc")
    stamp = run_inputs(ckpt, data, every=8)
    assert set(stamp["sha256"]) == {"checkpoint"} and stamp["settings"] == {"data": str(data), "every": "8"}
    (data / "card.json").write_text("{}")
    assert set(run_inputs(ckpt, data)["sha256"]) == {"checkpoint", "data card"}
    with pytest.raises(FileNotFoundError, match="nope.pt: checkpoint not found"):
        run_inputs(tmp_path / "nope.pt", data)

    runs = []

    def compute():
        runs.append(1)
        return {"run": len(runs)}

    def save():
        return print_and_save(compute, str, out, lambda: run_inputs(ckpt, data, every=8), recompute)

    recompute = False
    assert save() == 0 and save() == 0 and len(runs) == 1  # the second printed the saved result
    recompute = True
    assert save() == 0 and len(runs) == 2
    recompute = False
    ckpt.write_bytes(b"retrained")
    assert save() == 0 and len(runs) == 3
    monkeypatch.setattr(provenance, "code_state", lambda: "0123abc+dirty")
    assert save() == 0 and save() == 0 and len(runs) == 5


def test_a_diagnostics_saved_result_records_the_device_auto_meant(tmp_path, monkeypatch):
    """--device auto was stored as "auto": a proof computed on the CPU was served again as up to date
    once the machine had a GPU (where auto now runs). A device this machine lacks is a ConfigError."""
    import torch

    from edtalk.cli import run_inputs
    from edtalk.config import ConfigError

    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"weights")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    on_cpu = run_inputs(ckpt, tmp_path, device="auto")
    assert (
        on_cpu["settings"]["device"]
        == "cpu"
        == run_inputs(ckpt, tmp_path, device="cpu")["settings"]["device"]
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert run_inputs(ckpt, tmp_path, device="auto")["settings"] != on_cpu["settings"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        run_inputs(ckpt, tmp_path, device="cuda")


def test_every_cli_reads_device_names_the_same_way(monkeypatch):
    """``parse_device`` is --device for inference, diagnostics and eval.run: auto picks this machine's
    GPU or CPU; a misspelt name or a GPU this machine lacks is a sentence, not a torch traceback; on a
    cluster (``here=False``) a CUDA device is the workers' to have, and auto is refused."""
    import torch

    from edtalk.cli import parse_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert parse_device("auto") == "cpu" and parse_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="this machine has no CUDA GPU"):
        parse_device("cuda:1")
    assert parse_device("cuda:1", here=False) == "cuda:1"
    with pytest.raises(ValueError, match="not at the cluster's workers"):
        parse_device("auto", here=False)
    with pytest.raises(ValueError, match="'gpu0': not a torch device"):
        parse_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert parse_device("auto") == "cuda" and parse_device("cuda:1") == "cuda:1"


def test_a_missing_checkpoint_says_what_writes_one_and_a_folder_what_it_holds(tmp_path):
    """'checkpoint not found' named the file but not where one comes from; a folder given to a
    diagnostic (run_inputs) was 'not found' too."""
    from edtalk.cli import run_inputs

    with pytest.raises(FileNotFoundError, match=r"nope.pt: checkpoint not found .*`python -m edtalk.train` "):
        run_inputs(tmp_path / "nope.pt", tmp_path)
    (tmp_path / "final.pt").write_bytes(b"x")
    with pytest.raises(
        FileNotFoundError,
        match=r": is a folder; give the checkpoint file \(.pt\) in it \(it holds final.pt\)",
    ):
        run_inputs(tmp_path, tmp_path)


def test_a_saved_result_that_is_not_reused_gets_a_note_saying_why(tmp_path, monkeypatch, capsys):
    """eval.proof / eval.probe recomputed without a word when the checkout had uncommitted changes
    (or other inputs): one note line now names the reason; a reused or absent result gets none."""
    from edtalk import provenance
    from edtalk.cli import print_and_save, run_inputs

    ckpt, data, out = tmp_path / "c.pt", tmp_path / "data", tmp_path / "result.json"
    ckpt.write_bytes(b"weights")
    data.mkdir()
    monkeypatch.setattr(provenance, "code_state", lambda: "0123abc")

    def save(every=8):
        return print_and_save(lambda: {"x": 1}, str, out, lambda: run_inputs(ckpt, data, every=every))

    assert save() == 0 and "note:" not in capsys.readouterr().err  # nothing saved yet
    assert save() == 0 and "note:" not in capsys.readouterr().err  # reused
    monkeypatch.setattr(provenance, "code_state", lambda: "0123abc+dirty")
    assert save() == 0
    (note,) = capsys.readouterr().err.splitlines()
    assert note.startswith(f"note: {out} is not reused (the checkout has changes that are not committed")
    monkeypatch.setattr(provenance, "code_state", lambda: "4567def")
    ckpt.write_bytes(b"retrained")
    assert save(every=4) == 0
    (note,) = capsys.readouterr().err.splitlines()
    assert "other inputs: commit, every 8 -> 4, checkpoint changed" in note


def test_outputs_the_docs_write_inside_the_checkout_are_ignored_and_tracked_results_are_not():
    """docs/cluster.md writes runs_paper_check/ and benchmarks/results/stage_step_paper_gpu.json in
    the checkout; untracked, they made it "dirty" and every saved proof or probe was recomputed."""
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    written = ["runs_paper_check/audio_lip/final.pt", "benchmarks/results/stage_step_paper_gpu.json"]
    written += ["doctor.json", "identity.png", "driver.mp4", "out.mp4", "edit.mp4"]
    ignored = subprocess.run(["git", "check-ignore", *written], cwd=repo, capture_output=True, text=True)
    assert ignored.stdout.split() == written
    tracked = subprocess.run(
        ["git", "ls-files", "-ci", "--exclude-standard", "benchmarks/results"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert tracked.stdout == ""


def test_a_command_line_writes_its_lines_to_a_pipe_as_they_come():
    """To a pipe or a log file Python held stdout until exit: `eval.run ... | tee log` showed a long
    run's lines only when it ended (and lost them when it was killed)."""
    import os
    import select
    import subprocess
    import sys

    waits = (
        "import time\nfrom edtalk.cli import run_main\n"
        "run_main(lambda: print('first line') or time.sleep(60))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as on most machines
    proc = subprocess.Popen([sys.executable, "-c", waits], stdout=subprocess.PIPE, text=True, env=env)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and proc.stdout.readline() == "first line\n"
        assert proc.poll() is None  # it arrived while the command still ran
    finally:
        proc.kill()
        proc.wait()


def test_every_command_line_entry_goes_through_run_main():
    """Each ``python -m``/script entry of the suite (an ``if __name__ == "__main__"`` block or a
    ``__main__.py``) calls ``edtalk.cli.run_main``, so none holds its output back from a pipe."""
    import ast

    root = Path(__file__).resolve().parents[2]
    entries, missing = 0, []
    for package in ("edtalk", "eval", "sweeps", "benchmarks", "baselines"):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            blocks = [
                node.body
                for node in tree.body
                if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)
            ]
            if path.name == "__main__.py":
                blocks.append(tree.body)
            for body in blocks:
                entries += 1
                calls = {
                    ast.unparse(n.func) for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Call)
                }
                if "run_main" not in calls:
                    missing.append(str(path.relative_to(root)))
    assert entries >= 20 and missing == []


def test_sigterm_stops_a_command_as_ctrl_c_does_and_leaves_forked_children_alone(sigterm_after_first_line):
    """A scheduler's SIGTERM (Slurm's time limit, `kill PID`) ended a command with no word of what it
    had done or how to resume; run_main makes it the command's Ctrl-C path (exit 130). A forked child
    that inherits the handler still dies of SIGTERM."""
    prelude = """
        import os, signal, time
        ready, started = os.pipe()
        child = os.fork()
        if child == 0:
            os.write(started, b'.')
            time.sleep(60)
            os._exit(0)
        os.read(ready, 1)  # a signal before the child is set up would be lost
        os.kill(child, signal.SIGTERM)
        died = os.waitpid(child, 0)[1] == signal.SIGTERM
    """
    body = """
        print('child', died, flush=True)
        time.sleep(60)
    """
    first, status, rest = sigterm_after_first_line(body, prelude)
    assert first == "child True\n"  # the forked child died of SIGTERM
    assert status == 130 and rest == "interrupted\n"


def test_run_main_shuts_ray_down_itself_and_a_ctrl_c_then_only_ends_that(monkeypatch, capsys):
    """Ray's atexit hook shut Ray down after main() returned: a Ctrl-C then printed an ignored-
    KeyboardInterrupt traceback after the results were written. run_main stops Ray itself, and a
    Ctrl-C during that keeps main()'s exit status."""
    import signal
    import sys
    from types import SimpleNamespace

    from edtalk import cli

    calls = []

    def shutdown():
        calls.append("shutdown")
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "ray", SimpleNamespace(is_initialized=lambda: True, shutdown=shutdown))
    monkeypatch.setenv("TQDM_MININTERVAL", "0.1")  # run_main leaves the bars of this test process as they are
    monkeypatch.setattr("time.sleep", lambda s: None)
    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as ended:
            cli.run_main(lambda: 0)
        assert ended.value.code == 0 and calls == ["shutdown"]

        def fails():
            raise ConnectionError("the head is gone")

        monkeypatch.setattr(sys.modules["ray"], "shutdown", fails)
        with pytest.raises(SystemExit) as ended:
            cli.run_main(lambda: 0)  # a failure to stop Ray after the work: a note, exit status kept
        assert (
            ended.value.code == 0
            and "note: stopping Ray: ConnectionError: the head is gone" in capsys.readouterr().err
        )
    finally:
        signal.signal(signal.SIGTERM, before)


def test_progress_bars_to_a_log_file_are_redrawn_every_30_s_not_ten_times_a_second():
    """A cluster job's log (stderr not a terminal) filled with tqdm's redraws: 850 KB of the demo's.
    Whether tqdm was imported before run_main (its defaults read then) or after; a user's own
    $TQDM_MININTERVAL is kept."""
    import os
    import subprocess
    import sys

    loop = "    return [time.sleep(0.02) for _ in tqdm.tqdm(range(100), desc='work')] and 0\n"
    imported_first = (
        "import time, tqdm\nfrom edtalk.cli import run_main\ndef work():\n" + loop + "run_main(work)"
    )
    imported_after = "import time\nfrom edtalk.cli import run_main\ndef work():\n    import tqdm\n" + loop
    imported_after += "run_main(work)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}

    def redraws(script: str, **extra: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env={**env, **extra}
        )
        assert run.returncode == 0, run.stderr
        return run.stderr.count("work:")

    assert 2 <= redraws(imported_first) <= 3  # the start and the end (about 2 s apart)
    assert 2 <= redraws(imported_after) <= 3
    assert redraws(imported_first, TQDM_MININTERVAL="0") > 20


def test_a_command_with_stderr_closed_still_runs():
    """`cmd 2>&-` leaves sys.stderr None: run_main's check for a terminal raised before main() ran."""
    import subprocess
    import sys

    script = "from edtalk.cli import run_main; run_main(lambda: print('main ran') or 0)"
    closed = subprocess.run(
        f'{sys.executable} -c "{script}" 2>&-', shell=True, capture_output=True, text=True
    )
    assert closed.returncode == 0 and closed.stdout == "main ran\n"


@pytest.mark.parametrize(
    "module, choices",
    [
        ("eval.zoo", "{train,install,evaluate,check}"),
        ("edtalk.model", "{summary}"),
        ("edtalk.pretrained.__main__", "{list,export}"),
        ("eval.weights", "{status,fetch,import}"),
        ("edtalk.experts.cli", "{train}"),
        ("edtalk.data.crop", "{image,video,dataset}"),
    ],
)
def test_a_missing_subcommand_names_the_choices(module, choices, capsys):
    """It said 'the following arguments are required: command' (argparse's variable name)."""
    import importlib

    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main([])
    assert exc.value.code == 2
    assert f"the following arguments are required: {choices}" in capsys.readouterr().err
