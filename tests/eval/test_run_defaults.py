"""``python -m eval.run``'s defaults a new user meets: the protocol chosen from the dataset, --workers
against the machine's CPUs, every missing weight file in one error, and --device auto."""

import argparse

import numpy as np
import pytest

import edtalk.ray_setup as ray_setup
import eval.run as run_module
from edtalk.data.video import write_video
from eval.run import main
from eval.run_checks import UsageError

QUIET = ["--workers", "0", "--quiet"]


def clip_frames(i: int, t: int = 8, size: int = 64) -> np.ndarray:
    """A small moving pattern, different per clip."""
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack(
        [np.stack([(xx * 3 + k * 9 + i * 40) % 256, yy * 2 % 256, (xx + yy) % 256], -1) for k in range(t)]
    )


def folder_pair(tmp_path, n: int = 2) -> list[str]:
    """``gt/`` and ``pred/`` holding the same ``n`` clips; the ``--gt``/``--pred`` arguments."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i in range(n):
        frames = clip_frames(i).astype(np.uint8)
        write_video(gt / f"c{i}.mp4", frames, fps=25)
        write_video(pred / f"c{i}.mp4", frames, fps=25)
    return ["--dataset", "folder", "--gt", str(gt), "--pred", str(pred)]


class RayWouldStart(Exception):
    """Raised by the stand-in ``run_chunks``: the run got past every check."""


@pytest.fixture
def no_scoring(monkeypatch):
    """``run_chunks`` replaced: records the arguments it was given and stops the run there."""
    seen = []

    def stop(fn, chunks, args, *rest):
        seen.append(argparse.Namespace(**vars(args)))
        raise RayWouldStart

    monkeypatch.setattr(run_module, "run_chunks", stop)
    return seen


# -- 1. the protocol follows the dataset ----------------------------------------------------------------


def test_real_face_datasets_default_to_eat_and_refuse_the_synthtalk_judges(tmp_path, capsys):
    """`--dataset mead` without --protocol was scored by the synthtalk judges (trained on rendered
    cartoon faces) and filed in the paper's Table 1 as [synthtalk]."""
    argv = ["--dataset", "hdtf", "--root", str(tmp_path), "--method", "gt", "--out", str(tmp_path / "r")]
    assert main([*argv, "--metrics", "l1", *QUIET]) == 2  # l1 is synthtalk's and canonical's, not eat's
    assert "error: metric 'l1' is not in protocol 'eat'" in capsys.readouterr().err
    for dataset in ("mead", "hdtf", "lrw", "voxceleb2"):
        argv[1] = dataset
        assert main([*argv, "--protocol", "synthtalk", *QUIET]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(
            f"error: --protocol synthtalk with --dataset {dataset}:"
        )
        assert "trained on synthtalk's rendered faces" in err and "use --protocol eat" in err
    assert not (tmp_path / "r").exists()


def test_choose_protocol_is_the_one_rule():
    from eval.run_checks import choose_protocol

    assert choose_protocol("synthtalk", None) == ("synthtalk", None)
    assert choose_protocol("mead", None) == ("eat", None)
    assert choose_protocol("voxceleb2", "canonical") == ("canonical", None)
    assert choose_protocol("folder", "synthtalk") == ("synthtalk", None)  # asked for: no note
    name, note = choose_protocol("folder", None)
    assert name == "synthtalk" and "--protocol eat" in note and "canonical" in note
    with pytest.raises(UsageError, match="--protocol synthtalk with --dataset lrw"):
        choose_protocol("lrw", "synthtalk")


def test_a_mistyped_dataset_name_is_not_taken_for_real_faces():
    """Any name but synthtalk and folder counted as real faces: a sweep's `--dataset synthtlk --protocol
    synthtalk` was told the judges do not score real faces, not that the reader is unknown."""
    from eval.run_checks import choose_protocol

    assert choose_protocol("synthtlk", "synthtalk") == ("synthtalk", None)  # the reader check names it


def test_a_folder_is_scored_by_the_synthtalk_judges_with_a_note(tmp_path, capsys):
    pair, out = folder_pair(tmp_path), tmp_path / "res"
    assert main([*pair, "--out", str(out), "--metrics", "psnr", *QUIET]) == 0
    assert (out / "folder/paired/synthtalk.json").is_file()
    err = capsys.readouterr().err
    assert err.count("note: --dataset folder is scored under the synthtalk protocol") == 1
    assert "real faces give --protocol eat" in err
    assert main([*pair, "--out", str(out), "--protocol", "canonical", "--metrics", "psnr", *QUIET]) == 0
    assert "synthtalk protocol" not in capsys.readouterr().err


def test_sweeps_choose_the_protocol_as_eval_run_does(tmp_path, monkeypatch, capsys):
    import edtalk.data.readers as readers
    from sweeps import bank_size, checks
    from sweeps.cli import build_parser, smoke_defaults

    monkeypatch.setattr(readers, "read_clips", lambda name, root, split: ["a clip"])
    args = smoke_defaults(build_parser("sweep", "a sweep").parse_args(["--dataset", "mead", "--root", "d"]))
    checks.check_inputs(args)
    assert args.protocol == "eat"
    argv = ["--dataset", "hdtf", "--root", str(tmp_path), "--protocol", "synthtalk"]
    assert bank_size.main([*argv, "--parent", str(tmp_path / "runs")]) == 2
    assert "error: --protocol synthtalk with --dataset hdtf:" in capsys.readouterr().err


# -- 2. --workers against this machine's CPUs -----------------------------------------------------------


def test_more_local_workers_than_cpus_are_refused(tmp_path, monkeypatch, capsys, no_scoring):
    """`--workers 8` on a 2-core machine ran 8 Ray workers on 2 cores; edtalk.train refused it."""
    monkeypatch.setattr(ray_setup, "local_resources", lambda: {"CPU": 2.0, "GPU": 0.0})
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = [*folder_pair(tmp_path), "--out", str(tmp_path / "r"), "--metrics", "psnr", "--quiet"]
    assert main([*argv, "--workers", "8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --workers 8 needs 8 CPUs (one per worker), and Ray has 2 on this machine")
    assert "use --workers 2" in err and err.count("\n") == 1
    with pytest.raises(RayWouldStart):  # as many as the CPUs: on to Ray
        main([*argv, "--workers", "2"])
    assert no_scoring[-1].workers == 2


def test_default_workers_are_at_most_the_cpus(tmp_path, monkeypatch, no_scoring):
    monkeypatch.setattr(ray_setup, "local_resources", lambda: {"CPU": 1.0, "GPU": 0.0})
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(RayWouldStart):
        main([*folder_pair(tmp_path), "--out", str(tmp_path / "r"), "--metrics", "psnr", "--quiet"])
    assert no_scoring[-1].workers == 1


def test_a_cluster_or_a_running_ray_is_not_held_to_this_machines_cpus(monkeypatch):
    from eval.run_checks import check_workers

    monkeypatch.setattr(ray_setup, "local_resources", lambda: pytest.fail("asked this machine's CPUs"))
    args = argparse.Namespace(workers=8, address="ray://head:10001")
    check_workers(args)
    assert args.workers == 8
    args = argparse.Namespace(workers=None, address="auto")
    check_workers(args)
    assert args.workers == 2
    args = argparse.Namespace(workers=0, address=None)
    check_workers(args)
    assert args.workers == 0
    import sys
    import types

    # a Ray this process already runs (a benchmark, a notebook) has its own size
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(is_initialized=lambda: True))
    args = argparse.Namespace(workers=8, address=None)
    check_workers(args)
    assert args.workers == 8


# -- 3. every missing weight file in one error ----------------------------------------------------------


def test_every_missing_weight_file_is_named_in_one_error(tmp_path, monkeypatch, capsys):
    """`--protocol canonical` stopped on LPIPS's alexnet; once fetched, the next run on the next file."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    argv = [*folder_pair(tmp_path), "--out", str(tmp_path / "r"), "--protocol", "canonical", *QUIET]
    assert main([*argv, "--metrics", "psnr,lpips,fid,lse_c"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4 weight files that protocol canonical's metrics need are missing" in err
    listed = "torchvision_alexnet (lpips), pytorch_fid_inception (fid), syncnet_v2 (lse_c), syncnet_sfd_face "
    listed += "(lse_c)"
    assert listed in err and str(tmp_path / "weights") in err
    assert "`python -m eval.weights fetch NAME` for each of torchvision_alexnet, pytorch_fid_inception" in err
    assert "python -m eval.weights status" in err
    assert not (tmp_path / "r").exists()


def test_both_missing_judges_are_named_in_one_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    argv = [*folder_pair(tmp_path), "--out", str(tmp_path / "r"), "--protocol", "synthtalk", *QUIET]
    assert main([*argv, "--metrics", "fid,lse_c"]) == 2
    err = capsys.readouterr().err
    assert "synthtalk_face_judge (" in err and "synthtalk_sync_judge (" in err
    assert "python -m eval.zoo install" in err


def test_one_missing_weight_file_keeps_its_full_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    argv = [*folder_pair(tmp_path), "--out", str(tmp_path / "r"), "--protocol", "canonical", *QUIET]
    assert main([*argv, "--metrics", "psnr,lpips"]) == 2
    err = capsys.readouterr().err
    assert "(torchvision_alexnet) is missing: expected at" in err and "Official URL: https://" in err


# -- 4. --device auto, as edtalk.infer and eval.proof --------------------------------------------------


def test_device_defaults_to_auto_here_and_to_cpu_on_a_cluster(tmp_path, monkeypatch, method_devices):
    """On a GPU machine `eval.run --method edtalk_v` generated on the CPU (--device cpu by default)."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = [*folder_pair(tmp_path), "--method", "edtalk_v", "--out", str(tmp_path / "r"), "--metrics", "psnr"]
    assert main([*argv, *QUIET]) == 2  # no --ckpt: stops before any work
    monkeypatch.setattr(run_module, "check_address", lambda address: None)  # a cluster that answers
    assert main([*argv, "--address", "ray://head:10001", "--quiet"]) == 2
    assert method_devices == ["cuda", "cpu"]  # the cluster's GPUs are not this machine's to judge
