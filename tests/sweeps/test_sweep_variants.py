"""The sweeps' variants match the paper's Tables 3 and 6 and map onto real config fields and
loss terms; exported trial results land in the report's Tables 3 and 6."""

import json
from types import SimpleNamespace

import pytest

from baselines.reported import ABLATION_IDS
from edtalk.config import STAGE_NAMES, ModelConfig
from eval.report.inputs import load_results
from eval.report.tables import build_tables
from sweeps import ablations, bank_size
from sweeps.common import build_parser, export_results, smoke_defaults


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

    assert list(ablations.VARIANTS) == list(ABLATION_IDS.values())
    for v in ablations.VARIANTS.values():
        ModelConfig.preset("tiny", **v.model)  # unknown fields or values raise
        assert set(v.stages) <= set(STAGE_NAMES)
        for stage, weights in v.loss_weights.items():
            assert stage in v.stages
            assert set(weights) <= set(STAGES.get(stage).weights), (v.name, stage)
    assert ablations.VARIANTS["wo_bank"].model == {"use_bank": False}
    assert ablations.VARIANTS["wo_l_m_sync"].driven == "audio"


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


def _trial_results_file(tmp_path, name, psnr):
    src = tmp_path / "trials" / name / "results" / "synthtalk" / "edtalk_v" / "synthtalk.json"
    src.parent.mkdir(parents=True)
    metric = {"value": psnr, "n": 3, "spread": 0.5, "higher_is_better": True, "label": "PSNR"}
    data = {
        "schema": "edtalk-bench/results/1",
        "dataset": "synthtalk",
        "method": "edtalk_v",
        "split": "test",
        "protocol": {"name": "synthtalk", "hash": "abcd" * 4, "settings": {}},
        "metrics": {"psnr": metric},
        "versions": {},
        "git": {},
        "config": {},
        "unverified": False,
        "failures": [],
        "provenance": {},
    }
    src.write_text(json.dumps(data))
    src.with_name("synthtalk.clips.jsonl").write_text('{"clip": "a", "values": {"psnr": 1.0}}\n')
    return src


def test_export_results_feeds_table6(tmp_path):
    grid = []
    for bank, n, psnr in (("mouth", 5, 20.0), ("mouth", 10, 21.0), ("expression", 5, 19.0)):
        v = bank_size.variant(bank, n)
        src = _trial_results_file(tmp_path, v.name, psnr)
        training = json.dumps([{"stage": "expression", "wall_s": 1.5, "steps": 2}])
        grid.append(
            SimpleNamespace(
                error=None,
                config={"variant": v.to_dict()},
                metrics={"psnr": psnr, "results_file": str(src), "training": training},
            )
        )
    grid.append(SimpleNamespace(error=RuntimeError("boom"), config={}, metrics={}))  # skipped
    written = export_results(grid, "bank_size", tmp_path / "results")
    assert [p.parent.name for p in written] == [
        "edtalk_bank_mouth_5",
        "edtalk_bank_mouth_10",
        "edtalk_bank_expression_5",
    ]
    data = json.loads(written[0].read_text())
    assert data["sweep"] == {"name": "bank_size", "param": "mouth", "value": 5}
    assert data["provenance"]["training"][0]["wall_s"] == 1.5
    assert written[0].with_name("synthtalk.clips.jsonl").is_file()
    t6 = next(t for t in build_tables(load_results(tmp_path / "results")) if t.number == "6")
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
def test_bad_inputs_are_refused_before_ray_starts(tmp_path, monkeypatch, capsys, argv, message):
    """Each of these used to surface only inside every trial, after its training (an unknown protocol,
    metric or split), or as a traceback (dataset reader); a bad --preset is refused at parse time
    (tests/edtalk/test_cli.py)."""
    from edtalk.experts.testing import make_fixture_dataset
    from sweeps import common

    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=4, size=32)
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(common, "init_ray", lambda address: pytest.fail("Ray started"))
    rc = bank_size.main(["--root", str(data), "--parent", str(tmp_path / "runs"), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err


def test_resume_refuses_settings_other_than_the_sweeps_first_start(tmp_path):
    """Tune's restore keeps the saved search space, so `--resume --steps 400` on a sweep started with
    200 steps would silently train 200: refused, naming the setting."""
    from eval.run import UsageError
    from sweeps.common import SETTINGS_FILE, check_resume, sweep_settings

    def settings(*argv):
        args = smoke_defaults(build_parser("sweep", "a sweep").parse_args(["--root", "d", *argv]))
        return sweep_settings(args, bank_size.variants({"mouth": [5, 10]}))

    check_resume(tmp_path, settings())  # a sweep started before the settings file existed: no check
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(settings("--steps", "200")))
    check_resume(tmp_path, settings("--steps", "200"))
    with pytest.raises(UsageError, match=r"these differ: steps 200 -> 400\. Rerun with the original"):
        check_resume(tmp_path, settings("--steps", "400"))
    smoke = r"max_clips None -> 3; parent '.*runs' -> '.*sweep_smoke_parent'; steps 200 -> 2"
    with pytest.raises(UsageError, match=smoke):
        check_resume(tmp_path, settings("--smoke-test", "--max-clips", "3"))


def test_a_new_sweep_over_an_earlier_one_says_so(tmp_path, monkeypatch, capsys):
    """Without --resume, Tune starts a new experiment in the same folder and a later --resume
    continues that one; the earlier sweep's runner is told, before anything is trained."""
    from edtalk.experts.testing import make_fixture_dataset
    from sweeps import common

    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=4, size=32)
    (tmp_path / "storage" / "bank_size").mkdir(parents=True)
    (tmp_path / "storage" / "bank_size" / "tuner.pkl").write_bytes(b"")  # what Tuner.can_restore looks for

    class Stop(Exception):
        pass

    def stop(address):
        raise Stop

    monkeypatch.setattr(common, "init_ray", stop)
    argv = ["--root", str(data), "--parent", str(tmp_path / "runs"), "--storage", str(tmp_path / "storage")]
    with pytest.raises(Stop):
        bank_size.main(argv)
    assert "holds an earlier sweep; this run starts a new one there" in capsys.readouterr().err
    with pytest.raises(Stop):
        bank_size.main([*argv, "--name", "other"])
    assert "earlier sweep" not in capsys.readouterr().err


def test_storage_may_be_a_folder_under_home_or_object_storage(tmp_path, monkeypatch):
    """docs/cluster.md's `--storage s3://bucket/ray_results` became a local folder named
    '<cwd>/s3:/bucket/ray_results', and '~/ray_results' a folder named '~' in the working directory."""
    from sweeps.common import SETTINGS_FILE, check_resume
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
