"""The machine record that goes beside every speed (checkpoints, training summaries, results files)."""

import json
import subprocess
import sys

from edtalk.provenance import code_state, describe_machine, git_info, machine


def test_machine_record_names_cpu_and_count_without_importing_torch():
    # a fresh interpreter: provenance must stay importable (and cheap) where torch is not loaded
    code = (
        "import sys, json; from edtalk.provenance import machine; m = machine(); "
        "print(json.dumps([m, 'torch' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    record, torch_loaded = json.loads(out)
    assert record["cpu"] and record["cpu"] != "unknown" and record["cpus"] >= 1 and record["platform"]
    assert "gpus" not in record and not torch_loaded


def test_machine_lists_gpus_only_when_cuda_is_seen():
    import torch

    assert ("gpus" in machine()) == torch.cuda.is_available()


def test_describe_machine_counts_gpus_by_name():
    assert describe_machine(None) == "" and describe_machine({}) == ""
    assert describe_machine({"cpu": "AMD EPYC", "cpus": 2}) == "AMD EPYC, 2 CPUs"
    gpus = ["NVIDIA H200", "NVIDIA H200", "NVIDIA A100"]
    text = describe_machine({"cpu": "Xeon", "cpus": 16, "gpus": gpus})
    assert text == "Xeon, 16 CPUs, 1x NVIDIA A100, 2x NVIDIA H200"


def _git(repo, *args):
    """``git args`` in ``repo`` (as a user with no git configuration of their own could); its output."""
    me = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    return subprocess.run(
        ["git", *me, *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_checkout_with_changes_or_new_files_is_dirty_and_its_ignored_outputs_are_not(tmp_path):
    """What a saved result may be reused under (code_state) and what a results file records (git_info).
    Every test replaced code_state, so neither ever saying "dirty" passed; and untracked files never
    counted, so a new module not yet committed (a metric, a backbone) left results looking clean."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("/runs/\n")
    (repo / "model.py").write_text("A = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    head = _git(repo, "rev-parse", "HEAD")

    (repo / "runs").mkdir()
    (repo / "runs" / "final.pt").write_bytes(b"an output .gitignore ignores")
    assert code_state(repo) == head and git_info(repo) == {"commit": head, "dirty": False}
    (repo / "metric.py").write_text("B = 2\n")  # new, not committed
    assert code_state(repo) == f"{head}+dirty" and git_info(repo)["dirty"] is True
    (repo / "metric.py").unlink()
    (repo / "model.py").write_text("A = 2\n")
    assert code_state(repo) == f"{head}+dirty" and git_info(repo)["dirty"] is True


def test_outside_a_checkout_the_code_state_is_unknown(tmp_path, monkeypatch):
    """A copy of the code without its .git (an archive): git cannot tell, so nothing is called clean."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # git looks no higher than tmp_path
    (tmp_path / "copy").mkdir()
    assert code_state(tmp_path / "copy") == "unknown"
    assert git_info(tmp_path / "copy") == {"commit": None, "dirty": None}
