"""The sweep scripts used as a researcher would, mistakes included: folders the sweep cannot write or
that Ray deletes, a resume with another number of trials at once, both driving modes exported to one
results folder, a summary of failed trials, and metrics skipped for missing weight files."""

import json
from types import SimpleNamespace

import pyarrow.fs
import pytest

from sweeps import bank_size
from sweeps.cli import build_parser, smoke_defaults
from sweeps.export import export_results


@pytest.mark.parametrize("flag", ["--storage", "--out"])
def test_a_folder_the_sweep_cannot_write_is_refused_before_ray_starts(flag, tmp_path, sweep_inputs, capsys):
    """A --storage under a file was a NotADirectoryError traceback once Ray had started and the parent
    run was prepared (with --smoke-test: trained); an --out the same failed every trial's export after
    the whole sweep had run."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("")
    folders = {"--storage": str(tmp_path / "storage"), "--out": str(tmp_path / "out")}
    folders[flag] = str(a_file / "sub")
    argv = [*sweep_inputs, *(x for item in folders.items() for x in item)]
    assert bank_size.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag} {a_file / 'sub'}: cannot write there ({a_file} is a file)"), err


def test_out_and_storage_in_a_ray_job_working_dir_copy_are_refused(
    tmp_path, sweep_inputs, monkeypatch, capsys, ray_would_start
):
    """`ray job submit --working-dir .` runs the job in Ray's temporary copy of the repository: the
    default --out and --storage (results, ray_results) landed there, unseen by other nodes and deleted
    by Ray, and the sweep said `wrote <that copy>/results/...`."""
    job = tmp_path / "_ray_pkg_0123"
    job.mkdir()
    monkeypatch.chdir(job)
    monkeypatch.setenv(
        "RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": {"working_dir": "gcs://x.zip"}})
    )
    assert bank_size.main(sweep_inputs) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {job / 'results'}: this folder lies in {job}, the copy of the"), err
    assert bank_size.main([*sweep_inputs, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --storage {job / 'ray_results'}: this folder lies in")
    outside = ["--out", str(tmp_path / "out"), "--storage", str(tmp_path / "storage")]
    with pytest.raises(ray_would_start):
        bank_size.main([*sweep_inputs, *outside])
    # a job without --working-dir runs where `ray start` ran: relative paths are the user's own folders
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": {}}))
    with pytest.raises(ray_would_start):
        bank_size.main(sweep_inputs)


@pytest.mark.parametrize(
    "flag, value, saved_before, message",
    [
        ("--max-concurrent-trials", "8", None, "max_concurrent_trials None -> 8"),
        ("--max-failures", "2", "max_failures", "max_failures 0 -> 2"),
    ],
)
def test_resume_refuses_settings_tune_restores_from_the_start(tmp_path, flag, value, saved_before, message):
    """Tune's restore keeps the saved TuneConfig and RunConfig: `--resume --max-concurrent-trials 8` on
    a grown cluster silently ran the trials as many at once as the first start, and `--resume
    --max-failures 2` would retry as often as the start said. A sweep saved before a setting existed
    (``saved_before``) resumes as started with Tune's default (--max-failures: 0)."""
    from eval.run_checks import UsageError
    from sweeps.resume import SETTINGS_FILE, resume_plan, sweep_settings

    def args(*argv):
        return smoke_defaults(build_parser("sweep", "a sweep").parse_args(["--root", "d", *argv]))

    variants = bank_size.variants({"mouth": [5, 10]})
    sweep = tmp_path / "bank_size"
    sweep.mkdir()
    (sweep / "tuner.pkl").write_bytes(b"")  # what Tuner.can_restore looks for
    saved = sweep_settings(args(), variants)
    saved.pop(saved_before, None)
    (sweep / SETTINGS_FILE).write_text(json.dumps(saved))
    assert resume_plan(args("--resume"), str(sweep), sweep_settings(args("--resume"), variants)) is True
    other = args("--resume", flag, value)
    with pytest.raises(UsageError, match=rf"these differ: {message}\. Rerun"):
        resume_plan(other, str(sweep), sweep_settings(other, variants))


def test_resume_with_storage_pointing_at_the_sweep_itself_is_refused(tmp_path, capsys):
    """`--resume --storage ray_results/bank_size` (the sweep's own folder) found no sweep at
    ray_results/bank_size/bank_size and, with a note, started a new full sweep inside the old one."""
    from eval.run_checks import UsageError
    from sweeps.resume import resume_plan

    args = smoke_defaults(build_parser("sweep", "a sweep").parse_args(["--resume"]))
    sweep = tmp_path / "ray_results" / "bank_size"
    sweep.mkdir(parents=True)
    (sweep / "tuner.pkl").write_bytes(b"")
    with pytest.raises(UsageError, match=rf"--storage {tmp_path / 'ray_results'} --name bank_size$"):
        resume_plan(args, str(sweep / "bank_size"), {})
    assert resume_plan(args, str(tmp_path / "other" / "bank_size"), {}) is False  # nothing there: a note
    assert "no sweep to restore" in capsys.readouterr().err


def _trial(write, tmp_path, variant, driving, psnr, error=None):
    """A Tune Result of a trial of ``variant`` driven by ``driving``, its results file in its folder."""
    folder = tmp_path / "storage" / f"{variant.name}_{driving}"
    src = write(folder / "results" / "synthtalk" / "edtalk_a" / "synthtalk.json", psnr)
    return SimpleNamespace(
        error=error,
        config={"variant": variant.to_dict(), "driving": driving, "seed": 0},
        metrics={"psnr": psnr, "results_file": src.relative_to(folder).as_posix(), "training": "[]"},
        path=str(folder),
        filesystem=pyarrow.fs.LocalFileSystem(),
    )


def test_an_audio_and_a_video_sweep_exported_to_one_folder_keep_both(tmp_path, write_trial_results):
    """Both modes were exported to <out>/<dataset>/edtalk_<variant>/<protocol>.json: the second sweep
    silently replaced the first one's rows, though the report gives each mode a table of its own."""
    from eval.report.inputs import load_results
    from eval.report.tables import build_tables

    v = bank_size.variant("mouth", 5)
    audio, _ = export_results(
        [_trial(write_trial_results, tmp_path, v, "audio", 20.0)], "bank_size", tmp_path / "out"
    )
    video, _ = export_results(
        [_trial(write_trial_results, tmp_path, v, "video", 25.0)], "bank_size", tmp_path / "out"
    )
    assert (
        audio[0].parent.name == "edtalk_bank_mouth_5" and video[0].parent.name == "edtalk_bank_mouth_5_video"
    )
    assert json.loads(audio[0].read_text())["driving"] == "audio"
    tables = [t for t in build_tables(load_results(tmp_path / "out")) if t.number == "6" and t.driving]
    assert sorted((t.driving, t.rows[0].cells[0].text) for t in tables) == [
        ("audio", "20.00"),
        ("video", "25.00"),
    ]


def test_the_summary_names_each_failed_trial(
    tmp_path, write_trial_results, sweep_inputs, monkeypatch, capsys
):
    """A failed trial was printed as `trial error: <its exception>`, which names no variant: which bank
    size failed had to be dug out of Tune's folders."""
    from sweeps import parent_run, tuner

    grid = [
        _trial(write_trial_results, tmp_path, bank_size.variant("mouth", 5), "audio", 20.0),
        _trial(
            write_trial_results,
            tmp_path,
            bank_size.variant("mouth", 10),
            "audio",
            20.0,
            error=RuntimeError("CUDA out of memory"),
        ),
    ]
    monkeypatch.setattr(tuner, "init_ray", lambda address: None)
    monkeypatch.setattr(tuner, "check_trial_fits", lambda args: None)
    monkeypatch.setattr(parent_run, "prepare_parent", lambda args, variants: None)
    monkeypatch.setattr(tuner, "trainable_with_resources", lambda: None)
    monkeypatch.setattr(tuner, "new_tuner", lambda *a: SimpleNamespace(fit=lambda: grid))
    monkeypatch.setattr(bank_size, "variants", lambda sizes: [bank_size.variant("mouth", n) for n in (5, 10)])
    argv = [*sweep_inputs, "--storage", str(tmp_path / "ray_results"), "--out", str(tmp_path / "out")]
    assert bank_size.main(argv) == 1
    out, err = capsys.readouterr()
    assert "2 trials, 1 failed, 1 results files" in out
    assert f"bank_mouth_10 seed 0 ({grid[1].path}): CUDA out of memory" in err, err
    assert "interrupted" not in err


def test_a_sweep_stopped_before_every_trial_ended_says_so_and_exits_130(
    tmp_path, write_trial_results, sweep_inputs, monkeypatch, capsys
):
    """Tune ends a sweep on Ctrl-C and its fit() returns as if the sweep were done: the sweep printed
    its summary and exited 0, and a rerun without --resume started it over (finished trials and all).
    Tune's SIGINT handler, which it leaves bound to the ended sweep, is put back (a later Ctrl-C did
    nothing)."""
    import signal

    from sweeps import parent_run, tuner

    grid = [_trial(write_trial_results, tmp_path, bank_size.variant("mouth", 5), "audio", 20.0)]
    monkeypatch.setattr(tuner, "init_ray", lambda address: None)
    monkeypatch.setattr(tuner, "check_trial_fits", lambda args: None)
    monkeypatch.setattr(parent_run, "prepare_parent", lambda args, variants: None)
    monkeypatch.setattr(tuner, "trainable_with_resources", lambda: None)

    def fit_like_tune():
        signal.signal(signal.SIGINT, lambda *a: None)  # Tune's, left after the sweep
        return grid

    monkeypatch.setattr(tuner, "new_tuner", lambda *a: SimpleNamespace(fit=fit_like_tune))
    sizes = (5, 10, 20)
    monkeypatch.setattr(bank_size, "variants", lambda _: [bank_size.variant("mouth", n) for n in sizes])
    argv = [*sweep_inputs, "--storage", str(tmp_path / "ray_results"), "--out", str(tmp_path / "out")]
    before = signal.getsignal(signal.SIGINT)
    try:
        assert bank_size.main(argv) == 130
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGINT, before)
    out, err = capsys.readouterr()
    assert "1 trials, 0 failed, 1 results files" in out  # the finished one is still exported
    assert "interrupted: 2 of 3 trials did not finish; run the same command with --resume" in err


def test_a_sweep_stopped_outside_its_trials_says_so_and_exits_130(
    tmp_path, sweep_inputs, monkeypatch, capsys
):
    """Ctrl-C (or SIGTERM) while the parent chain trained or the results were exported, outside Tune's
    own handling, ended in a traceback ('training the parent chain failed (exit 130)' for the first)."""
    from edtalk import train as edtrain
    from sweeps import parent_run, tuner

    monkeypatch.setattr(tuner, "init_ray", lambda address: None)
    monkeypatch.setattr(tuner, "check_trial_fits", lambda args: None)
    monkeypatch.setattr(parent_run, "check_parent", lambda args, variants: None)
    monkeypatch.setattr(parent_run, "parent_chain", lambda args, variants: (["eg_pretrain"], ["eg_pretrain"]))
    monkeypatch.setattr(edtrain, "main", lambda argv: 130)  # the parent chain's training, interrupted
    argv = [*sweep_inputs, "--storage", str(tmp_path / "ray_results"), "--out", str(tmp_path / "out")]
    assert bank_size.main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted: run the same command to go on (the parent run's finished stages" in err
    assert "Traceback" not in err and "failed (exit 130)" not in err


def test_metrics_skipped_for_missing_weights_are_named_before_anything_is_trained(
    tmp_path, sweep_inputs, monkeypatch, capsys, ray_would_start
):
    """Without --metrics each trial skipped the metrics whose judges or weight files were missing and
    said so only in its own log, after training: Table 6 came out with PSNR/SSIM/L1 only. The note now
    comes once Ray has started and the trial's size is checked (a note never before an error)."""
    from sweeps import parent_run, tuner

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(tuner, "init_ray", lambda address: None)
    monkeypatch.setattr(tuner, "check_trial_fits", lambda args: None)

    def parent_run_would_start(args, variants):
        raise ray_would_start

    monkeypatch.setattr(parent_run, "prepare_parent", parent_run_would_start)
    argv = [*sweep_inputs[:-2], "--storage", str(tmp_path / "s"), "--out", str(tmp_path / "o")]
    with pytest.raises(ray_would_start):
        bank_size.main(argv)
    err = capsys.readouterr().err
    assert "note: without --metrics, every trial scores the metrics whose weight files this machine" in err
    assert "fid (no synthtalk_face_judge)" in err, err
    assert "lse_c (no synthtalk_sync_judge)" in err  # each missing file named once
    assert "python -m eval.zoo install" in err and "python -m eval.weights status" in err
    # the trials train mouth_pose or expression (L_per) with the substitute: said once, as edtalk.train does
    assert "note: the trials' --perceptual auto: the VGG19 weights vgg19 are not installed" in err


def test_the_folder_protocol_note_never_comes_before_a_later_check_s_error(
    tmp_path, sweep_inputs, monkeypatch, capsys
):
    """check_inputs printed the folder dataset's protocol note, then the parent check refused the run."""
    import eval.run_checks as run_checks

    monkeypatch.setattr(run_checks, "choose_protocol", lambda d, p: ("synthtalk", "a note"))
    argv = [*sweep_inputs[:2], "--parent", str(tmp_path / "nope"), "--metrics", "psnr"]
    assert bank_size.main([*argv, "--storage", str(tmp_path / "s"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "note: a note" not in err and "the parent run lacks stage(s)" in err


def test_a_sweep_with_no_scorable_metric_is_refused(tmp_path, sweep_inputs, monkeypatch, capsys):
    """metrics_to_score chose "" and every trial then asked its own node."""
    from sweeps import trial, tuner

    monkeypatch.setattr(tuner, "init_ray", lambda address: None)
    monkeypatch.setattr(tuner, "check_trial_fits", lambda args: None)
    monkeypatch.setattr(trial, "split_metrics", lambda protocol: ([], ["psnr (broken)"]))
    argv = [*sweep_inputs[:-2], "--storage", str(tmp_path / "s"), "--out", str(tmp_path / "o")]
    assert bank_size.main(argv) == 2
    assert "error: no metric of protocol synthtalk can be scored on this machine (psnr (broken))" in (
        capsys.readouterr().err
    )


def test_without_metrics_every_trial_scores_what_the_sweeps_start_chose_also_when_resumed(
    tmp_path, sweep_inputs, monkeypatch
):
    """Each trial chose its metrics from the weight files of the node it ran on, when it was scored:
    judges installed between a sweep's start and its --resume, or present on some nodes only, gave the
    rows of one table different metrics. The driver now chooses once, into the saved search space."""
    from ray import tune

    from sweeps import checks, parent_run, trial, tuner

    for name, value in [
        ("init_ray", lambda address: None),
        ("check_trial_fits", lambda args: None),
        ("trainable_with_resources", lambda: None),
        ("concurrent_trials", lambda workers, chosen=None, cluster=False: 1),
    ]:
        monkeypatch.setattr(tuner, name, value)
    monkeypatch.setattr(parent_run, "prepare_parent", lambda args, variants: None)
    monkeypatch.setattr(trial, "split_metrics", lambda protocol: (["psnr", "ssim"], ["fid (no judge)"]))
    captured = {}

    class FakeTuner:
        def __init__(self, trainable, **kw):
            captured.update(kw)

        def fit(self):
            return []

        can_restore = staticmethod(lambda path: False)
        restore = staticmethod(lambda *a, **kw: FakeTuner(None))

    monkeypatch.setattr(tune, "Tuner", FakeTuner)
    monkeypatch.setattr(tuner, "unfinished_trials", lambda grid, expected: 0, raising=False)  # no trials
    argv = [*sweep_inputs[:-2], "--storage", str(tmp_path / "s"), "--out", str(tmp_path / "o")]
    assert bank_size.main(argv) == 0
    assert captured["param_space"]["metrics"] == "psnr,ssim"
    assert bank_size.main([*argv, "--metrics", "l1"]) == 0
    assert captured["param_space"]["metrics"] == "l1"

    # resumed: Tune restores the saved search space; the machine's weight files are not asked again
    monkeypatch.setattr(checks, "metrics_to_score", lambda protocol: pytest.fail("chose the metrics again"))
    monkeypatch.setattr(tuner, "resume_plan", lambda args, path, settings: True)
    captured.clear()
    assert bank_size.main([*argv, "--resume"]) == 0
    assert captured == {}  # restored, not built anew
