"""The machine record that goes beside every speed (checkpoints, training summaries, results files)."""

import json
import subprocess
import sys

from edtalk.provenance import describe_machine, machine


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
