"""The sweeps' variants match the paper's Tables 3 and 6 and map onto real config fields and
loss terms; exported trial results land in the report's Tables 3 and 6."""

import json
from types import SimpleNamespace

import pyarrow.fs
import pytest

from baselines.reported import reported_rows
from edtalk.config import STAGE_NAMES, ModelConfig
from eval.report.inputs import load_results
from eval.report.tables import build_tables
from sweeps import ablations, bank_size
from sweeps.cli import build_parser, smoke_defaults
from sweeps.export import export_results
from sweeps.variant import Variant


@pytest.fixture
def dataset_without_ray(tmp_path, monkeypatch):
    """A one-clip synthtalk fixture for sweeps that must stop before Ray starts (it fails the test)."""
    from edtalk.experts.testing import make_fixture_dataset
    from sweeps import tuner

    monkeypatch.setattr(tuner, "init_ray", lambda address: pytest.fail("Ray started"))
    return make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=4, size=32)


def test_bank_size_variants_follow_table6():
    vs = bank_size.variants({"mouth": [5, 10, 20, 40], "expression": [5, 10, 20, 40]})
    assert len(vs) == 8
    mouth = {v.value: v for v in vs if v.param == "mouth"}
    expr = {v.value: v for v in vs if v.param == "expression"}
    assert mouth[40].model == {"n_mouth": 40, "n_expression": 10} and mouth[40].stages == (
        "mouth_pose",
        "expression",
    )
    assert expr[5].model == {"n_expression": 5, "n_mouth": 20} and expr[5].stages == ("expression",)
    assert mouth[10].name == "bank_mouth_10"
    for v in vs:  # every point is a valid tiny and paper model (orthogonal banks fit the latent)
        ModelConfig.preset("tiny", **v.model)
        ModelConfig.preset("paper", **v.model)


def test_ablation_variants_follow_table3_and_real_fields():
    from edtalk.stages import STAGES

    # the variants' results join the paper's Table 3 rows (method edtalk_ablation_<id>), in its order
    assert [f"edtalk_{v.name}" for v in ablations.VARIANTS.values()] == [
        r.method for r in reported_rows("table3")
    ]
    for v in ablations.VARIANTS.values():
        ModelConfig.preset("tiny", **v.model)  # unknown fields or values raise
        assert set(v.stages) <= set(STAGE_NAMES)
        for stage, weights in v.loss_weights.items():
            assert stage in v.stages
            assert set(weights) <= set(STAGES.get(stage).weights), (v.name, stage)
    assert ablations.VARIANTS["wo_bank"].model == {"use_bank": False}
    assert ablations.VARIANTS["wo_l_m_sync"].audio_only() and not ablations.VARIANTS["full"].audio_only()


def test_tunes_status_table_names_each_trials_variant():
    """Tune's table shows the end of a grid value (the variant's dict), so every row read the end of
    its list of fresh tensors ("..._lip.to_mouth.')}"); the name now ends the dict."""
    from ray.tune.experimental.output import _get_trial_info

    variants = bank_size.variants({"mouth": [5, 40], "expression": [10]}) + list(ablations.VARIANTS.values())
    cells = []
    for v in variants:
        trial = SimpleNamespace(config={"variant": v.to_dict(), "seed": 0}, last_result={}, status="RUNNING")
        cells.append(_get_trial_info(trial, ["variant", "seed"], [])[2])
        assert cells[-1].endswith(f"{v.name[-12:]}'}}"), cells[-1]
    assert len(set(cells)) == len(variants)
    assert Variant.from_dict(variants[0].to_dict()) == variants[0]


def test_cli_smoke_defaults():
    args = smoke_defaults(build_parser("x", "y").parse_args(["--smoke-test"]))
    assert args.preset == "tiny" and args.steps == 2 and args.max_clips == 2
    # a flag given beside --smoke-test wins (was: --preset silently replaced by tiny, a typo unseen)
    args = smoke_defaults(build_parser("x", "y").parse_args(["--smoke-test", "--preset", "paper"]))
    assert args.preset == "paper" and args.steps == 2
    args = smoke_defaults(build_parser("x", "y").parse_args(["--scheduler", "asha", "--num-samples", "3"]))
    assert args.scheduler == "asha" and args.num_samples == 3 and args.steps == 200
    with pytest.raises(SystemExit):
        build_parser("x", "y").parse_args(["--scheduler", "pbt"])


RESULTS_FILE = "results/synthtalk/edtalk_a/synthtalk.json"  # in a trial's folder, as trial() reports it


def _trial_results_file(write, tmp_path, name, psnr):
    """A trial folder's results file (``write_trial_results``) and its per-clip rows."""
    src = write(tmp_path / "storage" / "sweep" / name / RESULTS_FILE, psnr)
    src.with_name("synthtalk.clips.jsonl").write_text('{"clip": "a", "values": {"psnr": 1.0}}\n')
    return src


def _finished_trial(write, tmp_path, variant, psnr, seed=0, folder=None):
    """A Tune Result of a finished trial whose results file lies in its folder in the storage."""
    folder = folder or variant.name
    _trial_results_file(write, tmp_path, folder, psnr)
    training = json.dumps([{"stage": "expression", "wall_s": 1.5, "steps": 2}])
    return SimpleNamespace(
        error=None,
        config={"variant": variant.to_dict(), "driving": "audio", "seed": seed},
        metrics={"psnr": psnr, "results_file": RESULTS_FILE, "training": training},
        path=str(tmp_path / "storage" / "sweep" / folder),
        filesystem=pyarrow.fs.LocalFileSystem(),
    )


def test_export_results_feeds_table6(tmp_path, write_trial_results):
    grid = [
        _finished_trial(write_trial_results, tmp_path, bank_size.variant(bank, n), psnr)
        for bank, n, psnr in (("mouth", 5, 20.0), ("mouth", 10, 21.0), ("expression", 5, 19.0))
    ]
    grid.append(SimpleNamespace(error=RuntimeError("boom"), config={}, metrics={}))  # skipped
    written, errors = export_results(grid, "bank_size", tmp_path / "results")
    assert errors == []
    assert [p.parent.name for p in written] == [
        "edtalk_bank_mouth_5",
        "edtalk_bank_mouth_10",
        "edtalk_bank_expression_5",
    ]
    data = json.loads(written[0].read_text())
    assert data["sweep"] == {"name": "bank_size", "param": "mouth", "value": 5, "seed": 0}
    assert data["driving"] == "audio" and data["method"] == "edtalk_bank_mouth_5"
    assert data["provenance"]["training"][0]["wall_s"] == 1.5
    assert written[0].with_name("synthtalk.clips.jsonl").is_file()
    t6 = next(
        t for t in build_tables(load_results(tmp_path / "results")) if t.number == "6" and t.protocol_hash
    )
    assert t6.protocol == "synthtalk" and [r.label for r in t6.rows] == ["5", "10"]
    assert t6.rows[0].cells[0].text == "20.00" and t6.rows[1].cells[0].rank == 1


def test_help_shows_each_default_once_and_never_none():
    text = build_parser("sweep", "a sweep").format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: the sweep's name)" in text and "(default: fifo)" in text
    flat = " ".join(text.split())  # argparse wraps lines
    for option in ("--max-clips", "--steps", "--metrics", "--address", "--name"):
        entry = flat.split(f"{option} {option[2:].upper().replace('-', '_')} ", 1)[1].split(" --", 1)[0]
        assert entry.count("(default:") == 1, (option, entry)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "nope"], "unknown dataset reader 'nope'"),
        (["--split", "nope"], "no split list for 'nope'"),
        (["--protocol", "nope"], "unknown protocol 'nope'"),
        (["--metrics", "psnr,bogus"], "metric 'bogus' is not in protocol 'synthtalk'"),
        (["--metrics", "acc_emo"], "synthtalk_face_judge"),  # the judge is not installed here
    ],
)
def test_bad_inputs_are_refused_before_ray_starts(
    tmp_path, dataset_without_ray, monkeypatch, capsys, argv, message
):
    """Each of these used to surface only inside every trial, after its training (an unknown protocol,
    metric or split), or as a traceback (dataset reader); a bad --preset is refused at parse time
    (tests/edtalk/test_cli.py)."""
    data = dataset_without_ray
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    rc = bank_size.main(["--root", str(data), "--parent", str(tmp_path / "runs"), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err


def _args(*argv):
    """A sweep's parsed command line (``--root d`` and ``argv``)."""
    return smoke_defaults(build_parser("sweep", "a sweep").parse_args(["--root", "d", *argv]))


def _settings(*argv):
    """The settings a bank-size sweep over mouth banks 5 and 10 with this command line saves."""
    from sweeps.resume import sweep_settings

    return sweep_settings(_args(*argv), bank_size.variants({"mouth": [5, 10]}))


def _earlier_sweep(folder):
    """Make ``folder`` hold a sweep Tune can restore (Tuner.can_restore looks for tuner.pkl)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tuner.pkl").write_bytes(b"")
    return folder


def test_resume_refuses_settings_other_than_the_sweeps_first_start(tmp_path):
    """Tune's restore keeps the saved search space, so `--resume --steps 400` on a sweep started with
    200 steps would silently train 200: refused, naming the setting."""
    from eval.run import UsageError
    from sweeps.resume import SETTINGS_FILE, check_resume

    check_resume(tmp_path, _settings())  # a sweep started before the settings file existed: no check
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(_settings("--steps", "200")))
    check_resume(tmp_path, _settings("--steps", "200"))
    with pytest.raises(UsageError, match=r"these differ: steps 200 -> 400\. Rerun with the original"):
        check_resume(tmp_path, _settings("--steps", "400"))
    smoke = r"max_clips None -> 3; parent '.*runs' -> '.*sweep_smoke_parent'; steps 200 -> 2"
    with pytest.raises(UsageError, match=smoke):
        check_resume(tmp_path, _settings("--smoke-test", "--max-clips", "3"))


@pytest.mark.parametrize(
    "started_with, message",
    [(["--scheduler", "asha"], "scheduler 'asha' -> 'fifo'"), (["--num-samples", "3"], "num_samples 3 -> 1")],
)
def test_resuming_a_sweep_with_other_settings_is_refused(tmp_path, started_with, message):
    """What ``--resume`` runs through (``resume_plan``) refuses a sweep started with another scheduler
    or number of samples: Tune keeps the saved ones while the user believes the new ones run. Only
    ``check_resume`` itself was tested, and skipping it, or leaving the scheduler out of the saved
    settings, passed."""
    from eval.run import UsageError
    from sweeps.resume import SETTINGS_FILE, resume_plan

    sweep = _earlier_sweep(tmp_path / "bank_size")
    (sweep / SETTINGS_FILE).write_text(json.dumps(_settings(*started_with)))
    with pytest.raises(UsageError, match=rf"these differ: {message}\. Rerun"):
        resume_plan(_args("--resume"), str(sweep), _settings("--resume"))


def test_a_setting_the_command_line_no_longer_has_is_a_difference(tmp_path):
    """A setting saved when the sweep started (by a version that had it) and absent now is compared
    too, as None: only the command line's own settings were compared, and that passed."""
    from eval.run import UsageError
    from sweeps.resume import SETTINGS_FILE, check_resume

    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"steps": 200, "scheduler": "asha"}))
    with pytest.raises(UsageError, match="these differ: scheduler 'asha' -> None"):
        check_resume(tmp_path, {"steps": 200})


def test_a_corrupt_settings_file_is_one_error_line_naming_it(
    tmp_path, dataset_without_ray, capsys, monkeypatch
):
    """A truncated or hand-edited edtalk_sweep.json gave a JSONDecodeError traceback from --resume:
    now one ``error:`` line that names the file and what to do, before Ray starts (and no note of the
    metrics a trial would skip before it: on a machine without the judges that note came first)."""
    from sweeps.resume import SETTINGS_FILE

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "no_judges"))

    settings_file = _earlier_sweep(tmp_path / "storage" / "bank_size") / SETTINGS_FILE
    parent = _parent_run(tmp_path / "runs")
    argv = [
        "--root",
        str(dataset_without_ray),
        "--parent",
        str(parent),
        "--storage",
        str(tmp_path / "storage"),
    ]
    for text in ('{"steps": 2', "[]"):
        settings_file.write_text(text)
        assert bank_size.main([*argv, "--resume"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {settings_file}: unreadable (") and err.count("\n") == 1, err
        assert "delete it to resume without that check" in err and "--name NEW" in err


def test_a_new_sweep_over_an_earlier_one_says_so(tmp_path, monkeypatch, capsys):
    """Without --resume, Tune starts a new experiment in the same folder and a later --resume
    continues that one; the earlier sweep's runner is told, before anything is trained."""
    from edtalk.experts.testing import make_fixture_dataset
    from sweeps import tuner

    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=4, size=32)
    _parent_run(tmp_path / "runs")
    _earlier_sweep(tmp_path / "storage" / "bank_size")

    class Stop(Exception):
        pass

    def stop(address):
        raise Stop

    monkeypatch.setattr(tuner, "init_ray", stop)
    argv = ["--root", str(data), "--parent", str(tmp_path / "runs"), "--storage", str(tmp_path / "storage")]
    with pytest.raises(Stop):
        bank_size.main(argv)
    err = capsys.readouterr().err
    assert "holds an earlier sweep; this run starts a new one there" in err
    assert "to continue the earlier one instead, rerun with --resume" in err
    with pytest.raises(Stop):
        bank_size.main([*argv, "--name", "other"])
    assert "earlier sweep" not in capsys.readouterr().err


def test_a_sweep_under_ray_job_submit_checks_and_joins_ray_address(tmp_path, monkeypatch):
    """``ray job submit`` gives the entrypoint $RAY_ADDRESS, not --address: the sweep checks that cluster
    and starts Ray on it (resolved once, in run_sweep, for the checks, the fit check and Ray)."""
    import eval.run_checks
    from edtalk.experts.testing import make_fixture_dataset
    from sweeps import tuner

    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=4, size=32)
    _parent_run(tmp_path / "runs")
    seen = []

    class Stop(Exception):
        pass

    def stop(address):
        seen.append(("init_ray", address))
        raise Stop

    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.7:6379")
    monkeypatch.setattr(eval.run_checks, "check_address", lambda address: seen.append(("check", address)))
    monkeypatch.setattr(tuner, "init_ray", stop)
    argv = ["--root", str(data), "--parent", str(tmp_path / "runs"), "--storage", str(tmp_path / "storage")]
    with pytest.raises(Stop):
        bank_size.main(argv)
    assert seen == [("check", "10.0.0.7:6379"), ("init_ray", "10.0.0.7:6379")]


def test_storage_may_be_a_folder_under_home_or_object_storage(tmp_path, monkeypatch):
    """docs/cluster.md's `--storage s3://bucket/ray_results` became a local folder named
    '<cwd>/s3:/bucket/ray_results', and '~/ray_results' a folder named '~' in the working directory."""
    from sweeps.resume import SETTINGS_FILE, check_resume
    from sweeps.storage import joined, read_text, save_text, storage_root

    monkeypatch.setenv("HOME", str(tmp_path))
    assert storage_root("~/ray_results") == str(tmp_path / "ray_results")
    assert storage_root("s3://bucket/ray_results/") == "s3://bucket/ray_results"
    assert joined("s3://bucket/ray_results", "bank_size") == "s3://bucket/ray_results/bank_size"
    experiment = joined(f"file://{tmp_path}/store", "bank_size")  # a URI pyarrow writes here, as to s3
    assert read_text(joined(experiment, SETTINGS_FILE)) is None
    save_text(joined(experiment, SETTINGS_FILE), json.dumps({"steps": 200}))
    assert json.loads((tmp_path / "store" / "bank_size" / SETTINGS_FILE).read_text()) == {"steps": 200}
    check_resume(experiment, {"steps": 200})
    with pytest.raises(Exception, match="steps 200 -> 400"):
        check_resume(experiment, {"steps": 400})


def _parent_run(runs, preset="tiny"):
    """A parent run folder with the stage checkpoints the bank-size trials start from (an untrained
    model of ``preset``: check_parent reads only its config)."""
    from edtalk.config import ModelConfig
    from edtalk.model import save_checkpoint

    cfg = ModelConfig.preset(preset)
    for stage in ("eg_pretrain", "mouth_pose"):
        save_checkpoint(runs / stage / "final.pt", {}, cfg, {"stage": stage})
    return runs


def test_a_parent_of_another_preset_is_refused_before_ray_starts(tmp_path, dataset_without_ray, capsys):
    """--preset paper on a tiny parent trained the tiny model with the paper schedule and built a
    256 px frame cache nobody used, recording 'paper'."""
    data = dataset_without_ray
    argv = ["--root", str(data), "--parent", str(_parent_run(tmp_path / "runs")), "--preset", "paper"]
    assert bank_size.main(argv) == 2
    err = capsys.readouterr().err
    assert "eg_pretrain/final.pt: the parent model is 64 px with latent" in err
    assert "--preset paper is 256 px" in err


# --- 1. trial outputs live in the trial's folder in --storage, and the export reads them there -------


def test_trial_writes_its_runs_and_results_under_its_storage_folder(
    tmp_path, write_trial_results, monkeypatch
):
    """Ray 2.60's get_trial_dir() is a staging folder under the node's /tmp/ray session: the trial
    trained and scored there, and reported that absolute path, which the export then read."""
    from ray import tune

    from sweeps import storage, trial

    folder = tmp_path / "storage" / "sweep" / "trial_0"
    monkeypatch.setattr(storage, "trial_folder", lambda: (pyarrow.fs.LocalFileSystem(), str(folder)))
    monkeypatch.setattr(tune, "get_context", lambda: pytest.fail("trial asked for Ray's local trial dir"))
    seen = {}

    def fake_train(variant, cfg, trial_dir):
        seen["train"] = trial_dir
        return {"expression": str(trial_dir / "runs" / "expression" / "final.pt")}, []

    def fake_score(cfg, checkpoints, trial_dir):
        seen["score"] = trial_dir
        return _trial_results_file(write_trial_results, tmp_path, "trial_0", 20.0)

    monkeypatch.setattr(trial, "train_variant", fake_train)
    monkeypatch.setattr(trial, "score_variant", fake_score)
    monkeypatch.setattr(tune, "report", lambda metrics: seen.update(report=metrics))
    trial.trial({"variant": bank_size.variant("mouth", 5).to_dict(), "driving": "audio"})
    assert seen["train"] == seen["score"] == folder
    assert seen["report"]["results_file"] == RESULTS_FILE and seen["report"]["psnr"] == 20.0


def test_export_reads_storage_and_one_bad_trial_does_not_stop_the_others(tmp_path, write_trial_results):
    """A results file missing from one trial's folder (storage moved, a node's disk lost) stopped the
    whole export with exit 2 and wrote nothing; now that trial is reported and the others exported."""
    grid = [
        _finished_trial(write_trial_results, tmp_path, bank_size.variant("mouth", n), 20.0 + n)
        for n in (5, 10, 20)
    ]
    (tmp_path / "storage" / "sweep" / "bank_mouth_10" / RESULTS_FILE).unlink()
    written, errors = export_results(grid, "bank_size", tmp_path / "out")
    assert [p.parent.name for p in written] == ["edtalk_bank_mouth_5", "edtalk_bank_mouth_20"]
    assert len(errors) == 1 and "bank_mouth_10" in errors[0] and "not exported" in errors[0]


# --- 2. one driving mode per sweep, recorded; Table 3's audio rows have an audio-driven Full Model ----


def test_audio_driven_trials_train_through_audio_lip_and_score_edtalk_a(tmp_path, monkeypatch):
    """Table 3 and Table 6 are audio-driven in the paper; wo_l_m_rec/wo_l_m_sync were the only rows
    scored audio-driven, ranked against a video-driven Full Model."""
    from eval import run as evrun
    from sweeps.trial import score_variant

    v = ablations.VARIANTS
    assert v["full"].trained_stages("audio") == ("mouth_pose", "expression", "audio_lip")
    assert v["wo_l_m_sync"].trained_stages("audio") == v["full"].trained_stages("audio")
    assert v["wo_eem"].trained_stages("audio") == ("expression", "audio_lip")
    assert v["only_lip"].trained_stages("audio") == ("mouth_pose", "audio_lip")  # no expression bank
    assert v["full"].trained_stages("video") == ("mouth_pose", "expression")
    assert bank_size.variant("expression", 5).trained_stages("audio") == ("expression", "audio_lip")
    methods = []

    def fake_run(args):  # writes where eval.run writes: <protocol>.<split>.json off the test split
        from eval.results import results_path

        methods.append(args.method)
        assert args.device == "cpu"  # eval.run's default is auto: a trial's GPU may be training another trial
        out = results_path(args.out, args.dataset, args.method, args.protocol, args.split)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("{}")
        return 0

    monkeypatch.setattr(evrun, "run", fake_run)
    cfg = {"dataset": "synthtalk", "root": "d", "split": "test", "protocol": "synthtalk", "metrics": "psnr"}
    for driving in ("audio", "video"):
        score_variant({**cfg, "driving": driving}, {"audio_lip": "final.pt"}, tmp_path)
    # a sweep that chooses a setting scores a held-out split: its results file is found too
    judged = score_variant({**cfg, "split": "judge", "driving": "audio"}, {"audio_lip": "final.pt"}, tmp_path)
    assert judged.name == "synthtalk.judge.json"
    assert methods == ["edtalk_a", "edtalk_v", "edtalk_a"]


def test_video_driving_leaves_out_the_audio_only_ablations(tmp_path, dataset_without_ray, capsys):
    data = dataset_without_ray
    argv = ["--root", str(data), "--parent", str(_parent_run(tmp_path / "runs")), "--driving", "video"]
    assert ablations.main([*argv, "--variants", "full,wo_l_m_rec"]) == 2
    assert "wo_l_m_rec" in capsys.readouterr().err
    args = smoke_defaults(build_parser("x", "y").parse_args(["--driving", "video"]))
    args.variants, args.smoke_test = None, False
    assert "wo_l_m_rec" not in ablations.chosen_names(args, None)


# --- 4. ASHA needs psnr ---------------------------------------------------------------------------------


def test_asha_without_psnr_is_refused_before_ray_starts(tmp_path, dataset_without_ray, capsys):
    """Tune's strict metric check raised inside Tuner.fit(): a traceback, nothing exported."""
    data = dataset_without_ray
    argv = ["--root", str(data), "--parent", str(_parent_run(tmp_path / "runs")), "--scheduler", "asha"]
    assert bank_size.main([*argv, "--metrics", "ssim"]) == 2
    assert "--scheduler asha ranks trials by psnr" in capsys.readouterr().err
    assert "stops no trial early" in " ".join(build_parser("x", "y").format_help().split())


# --- 5. --num-samples: a seed per sample, each exported ------------------------------------------------


def test_num_samples_gives_each_repeat_its_seed_and_its_own_results_file(
    tmp_path, write_trial_results, monkeypatch
):
    """Three samples of one grid point trained with seed 0 and were exported to one file (the last)."""
    from ray import tune

    from sweeps import tuner

    captured = {}
    monkeypatch.setattr(tune, "Tuner", lambda trainable, **kw: captured.update(kw))
    monkeypatch.setattr(tuner, "concurrent_trials", lambda workers, chosen=None, cluster=False: 1)
    args = smoke_defaults(build_parser("x", "y").parse_args(["--num-samples", "3", "--root", "d"]))
    tuner.new_tuner(args, bank_size.variants({"mouth": [5]}), None, "bank_size", str(tmp_path))
    assert captured["param_space"]["seed"] == tune.grid_search([0, 1, 2])
    v = bank_size.variant("mouth", 5)
    grid = [
        _finished_trial(write_trial_results, tmp_path, v, 17.0 + seed, seed, folder=f"t{seed}")
        for seed in range(3)
    ]
    written, errors = export_results(grid, "bank_size", tmp_path / "out")
    assert not errors
    assert [p.parent.name for p in written] == [f"edtalk_bank_mouth_5_seed{k}" for k in range(3)]
    assert [json.loads(p.read_text())["sweep"]["seed"] for p in written] == [0, 1, 2]


def _failed(trial):
    """``trial`` as Tune returns it when it raised after reporting its results (its config kept)."""
    return SimpleNamespace(**{**vars(trial), "error": RuntimeError("died after reporting")})


def test_a_trial_that_errored_after_reporting_its_results_is_not_exported(tmp_path, write_trial_results):
    """Such a trial's results would reach Tables 3 and 6; the errored trial of the export test had
    no metrics, so it was left out anyway, and dropping the error check passed."""
    grid = [
        _finished_trial(write_trial_results, tmp_path, bank_size.variant("mouth", n), 20.0) for n in (5, 10)
    ]
    written, errors = export_results([grid[0], _failed(grid[1])], "bank_size", tmp_path / "out")
    assert [p.parent.name for p in written] == ["edtalk_bank_mouth_5"] and errors == []


def test_every_export_of_a_multi_seed_sweep_names_its_folders_alike(tmp_path, write_trial_results):
    """Seeds 0-2 where only seed 0 finished: the seed suffix was decided from the finished trials, so
    this export wrote edtalk_bank_mouth_5 and the rerun's edtalk_bank_mouth_5_seed0 beside it (the
    report then showed the cell twice). The sweep's seeds decide it, whichever trials finished."""
    v = bank_size.variant("mouth", 5)
    grid = [
        _finished_trial(write_trial_results, tmp_path, v, 17.0 + seed, seed, folder=f"t{seed}")
        for seed in range(3)
    ]
    first, _ = export_results([grid[0], *map(_failed, grid[1:])], "bank_size", tmp_path / "out")
    rerun, _ = export_results(grid, "bank_size", tmp_path / "out")
    assert first == rerun[:1] and first[0].parent.name == "edtalk_bank_mouth_5_seed0"
    single, _ = export_results(grid[:1], "bank_size", tmp_path / "one_seed")
    assert single[0].parent.name == "edtalk_bank_mouth_5"  # a one-seed sweep: no suffix, as before


# --- 6. command-line cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("variants", ["", "full,full", "full,nope"])
def test_ablation_variants_empty_repeated_or_unknown_are_refused(variants, tmp_path, monkeypatch, capsys):
    """``--variants ""`` ran all ten variants; ``full,full`` two identical trials, one export."""
    from sweeps import tuner

    monkeypatch.setattr(tuner, "init_ray", lambda address: pytest.fail("Ray started"))
    with pytest.raises(SystemExit) as e:
        ablations.main(
            ["--variants", variants, "--storage", str(tmp_path / "s"), "--out", str(tmp_path / "o")]
        )
    assert e.value.code == 2 and "give each variant once" in capsys.readouterr().err


def test_missing_parent_is_refused_before_ray_starts(tmp_path, dataset_without_ray, capsys):
    data = dataset_without_ray
    assert bank_size.main(["--root", str(data), "--parent", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "the parent run lacks stage(s) ['eg_pretrain', 'mouth_pose']" in err
    assert err.rstrip().endswith("or pass --parent with a run that has them")


def test_a_mistyped_smoke_parent_is_refused_and_an_existing_one_is_trained(
    tmp_path, dataset_without_ray, monkeypatch, capsys
):
    """--smoke-test trained a whole parent chain into any --parent, a typo included (the README promises
    a typo costs seconds); now only into its default runs/sweep_smoke_parent or a folder that exists."""
    from sweeps import parent_run, tuner

    monkeypatch.setattr(tuner, "init_ray", lambda address: pytest.fail("Ray started"))
    argv = ["--smoke-test", "--root", str(dataset_without_ray), "--storage", str(tmp_path / "s")]
    assert bank_size.main([*argv, "--parent", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "the parent run lacks stage(s) ['eg_pretrain', 'mouth_pose'] (--smoke-test trains one only" in err
    assert not (tmp_path / "nope").exists()
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)  # the default runs/sweep_smoke_parent is resolved here
    for parent in (["--parent", str(tmp_path / "mine")], []):
        with pytest.raises(pytest.fail.Exception, match="Ray started"):  # past the parent check
            bank_size.main([*argv, *parent])
    assert parent_run._may_train_parent(tmp_path / "runs" / "sweep_smoke_parent", "tiny")


def test_a_paper_smoke_test_has_a_parent_folder_of_its_own(tmp_path, monkeypatch):
    """Both presets' smoke tests trained their chain into runs/sweep_smoke_parent, so after the README's
    tiny smoke test the documented `--smoke-test --preset paper` was refused: a parent of another size."""
    from sweeps import parent_run

    monkeypatch.chdir(tmp_path)
    tiny, paper = _args("--smoke-test"), _args("--smoke-test", "--preset", "paper")
    assert tiny.parent == str(tmp_path / "runs" / "sweep_smoke_parent")
    assert paper.parent == str(tmp_path / "runs" / "sweep_smoke_parent_paper")
    assert parent_run._may_train_parent(tmp_path / "runs" / "sweep_smoke_parent_paper", "paper")
    assert not parent_run._may_train_parent(tmp_path / "runs" / "sweep_smoke_parent_paper", "tiny")


def test_resume_with_nothing_to_restore_says_so(tmp_path, capsys):
    from sweeps.resume import resume_plan

    assert resume_plan(_args("--resume"), str(tmp_path / "bank_size"), {}) is False
    assert "--resume: no sweep to restore at" in capsys.readouterr().err


def test_concurrent_trials_can_be_set_for_a_cluster_that_grows(monkeypatch, capsys):
    """Read once when the sweep starts, an autoscaling cluster with no GPU worker yet (a CPU-less head)
    ran its trials one at a time for the whole sweep; --max-concurrent-trials sets the number."""
    import ray

    from sweeps.cli import build_parser
    from sweeps.tuner import concurrent_trials

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 0.0})
    assert concurrent_trials(2, cluster=True) == 1
    assert "holds 0 GPUs and 0 CPUs now: 1 trial(s) at once" in capsys.readouterr().err
    assert concurrent_trials(2, 8, cluster=True) == 8 and capsys.readouterr().err == ""
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 96.0, "GPU": 16.0})
    assert concurrent_trials(2) == 8
    args = build_parser("x", "y").parse_args(["--max-concurrent-trials", "8"])
    assert args.max_concurrent_trials == 8


def test_a_restarted_trial_trains_only_the_stages_it_had_not_finished(tmp_path, monkeypatch):
    """Tune restarts a trial that a killed sweep left running (``--resume``: resume_errored); the
    trial trained every stage again from its parent. A finished stage is now reused and the one in
    flight continues from its last checkpoint (``resume``)."""
    import edtalk.model
    import edtalk.train_cache
    import edtalk.train_run
    from sweeps import trial

    monkeypatch.setattr(trial, "parent_checkpoint", lambda parent, stage: parent)
    monkeypatch.setattr(trial, "graft_parent", lambda parent, *a: (parent, None))
    monkeypatch.setattr(edtalk.model, "load_checkpoint", lambda path: {"config": ModelConfig.preset("tiny")})
    monkeypatch.setattr(edtalk.train_cache, "prepare_cache", lambda *a: tmp_path / "cache")
    runs: list[tuple[str, bool]] = []

    def fake_run_stage(stage_cfg, train_cfg, model_cfg, cache, stop_at=None):
        runs.append((stage_cfg.name, train_cfg.resume))
        stage_dir = tmp_path / "trial" / "runs" / stage_cfg.name
        stage_dir.mkdir(parents=True, exist_ok=True)
        if stage_cfg.name == stop_at:
            raise KeyboardInterrupt  # the sweep was killed during this stage
        (stage_dir / "final.pt").write_bytes(b"")
        (stage_dir / "summary.json").write_text(json.dumps({"seconds": 12.5, "machine": "m"}))
        return stage_dir / "final.pt"

    cfg = {"dataset": "synthtalk", "root": str(tmp_path), "preset": "tiny", "parent": str(tmp_path / "p.pt")}
    cfg |= {"workers": 1, "steps": 3, "driving": "audio"}
    variant = ablations.VARIANTS["full"]  # mouth_pose, expression, audio_lip
    monkeypatch.setattr(edtalk.train_run, "run_stage", lambda *a: fake_run_stage(*a, stop_at="expression"))
    with pytest.raises(KeyboardInterrupt):
        trial.train_variant(variant, cfg, tmp_path / "trial")
    monkeypatch.setattr(edtalk.train_run, "run_stage", fake_run_stage)
    done, records = trial.train_variant(variant, cfg, tmp_path / "trial")
    assert runs == [("mouth_pose", False), ("expression", False), ("expression", True), ("audio_lip", False)]
    assert list(done) == ["mouth_pose", "expression", "audio_lip"]
    assert records[0] == {"stage": "mouth_pose", "steps": 3, "wall_s": 12.5, "machine": "m", "reused": True}


def test_a_restarted_trial_trains_again_a_finished_stage_whose_parent_weights_changed(
    tmp_path, monkeypatch, capsys
):
    """A trial's finished stages were reused whatever their parent: after the parent run was trained
    again, a sweep's --resume kept stages grown from the old weights. They are compared as
    edtalk.train --resume compares them (the parent weights each final.pt records), down the chain."""
    import torch

    import edtalk.train_cache
    import edtalk.train_run
    from edtalk.model import save_checkpoint
    from edtalk.train_resume import parent_weights
    from sweeps import trial

    tiny = ModelConfig.preset("tiny")
    parent = tmp_path / "p.pt"
    monkeypatch.setattr(trial, "parent_checkpoint", lambda parent, stage: parent)
    monkeypatch.setattr(trial, "graft_parent", lambda parent, *a: (parent, None))
    monkeypatch.setattr(edtalk.train_cache, "prepare_cache", lambda *a: tmp_path / "cache")
    runs: list[str] = []

    def fake_run_stage(stage_cfg, train_cfg, model_cfg, cache):
        runs.append(stage_cfg.name)
        stage_dir = tmp_path / "trial" / "runs" / stage_cfg.name
        stage_dir.mkdir(parents=True, exist_ok=True)
        state = {"w": torch.tensor([float(len(runs))])}  # each training gives new weights
        run = {"parent_weights": parent_weights(train_cfg.parent)}
        save_checkpoint(stage_dir / "final.pt", state, tiny, extra={"run": run})
        (stage_dir / "summary.json").write_text(json.dumps({"seconds": 1.0, "machine": "m"}))
        return stage_dir / "final.pt"

    monkeypatch.setattr(edtalk.train_run, "run_stage", fake_run_stage)
    cfg = {"dataset": "synthtalk", "root": str(tmp_path), "preset": "tiny", "parent": str(parent)}
    cfg |= {"workers": 1, "steps": 3, "driving": "audio"}
    variant = ablations.VARIANTS["full"]  # mouth_pose, expression, audio_lip
    save_checkpoint(parent, {"w": torch.zeros(2)}, tiny)
    trial.train_variant(variant, cfg, tmp_path / "trial")
    save_checkpoint(parent, {"w": torch.zeros(2)}, tiny)  # written again, the same weights
    trial.train_variant(variant, cfg, tmp_path / "trial")
    assert runs == ["mouth_pose", "expression", "audio_lip"]  # all three reused
    save_checkpoint(parent, {"w": torch.ones(2)}, tiny)  # the parent run trained again
    trial.train_variant(variant, cfg, tmp_path / "trial")
    assert runs == ["mouth_pose", "expression", "audio_lip"] * 2
    assert "mouth_pose: deleting the earlier run" in capsys.readouterr().out


@pytest.mark.parametrize("smoke", [False, True])
def test_bank_size_main_sweeps_table6s_sizes_and_the_smoke_test_two_of_them(monkeypatch, smoke):
    """The test above hands `variants` its own sizes: `main`'s search space was checked by nothing (a
    mutation review changed 40 to 30 unnoticed). The sizes are the paper's Table 6 rows, read from the
    packaged transcription."""
    import csv
    from pathlib import Path

    table6 = Path(bank_size.__file__).parents[1] / "baselines" / "data" / "table6_bank_size_mead.csv"
    paper = [int(row["n_bases"]) for row in csv.DictReader(table6.open())]
    swept = {}
    monkeypatch.setattr(bank_size, "run_sweep", lambda args, points, sweep: swept.update(points=points) or 0)
    assert bank_size.main(["--smoke-test"] if smoke else []) == 0
    sizes = {bank: [v.value for v in swept["points"] if v.param == bank] for bank in ("mouth", "expression")}
    expected = paper[:2] if smoke else paper
    assert sizes == {"mouth": expected, "expression": expected}
