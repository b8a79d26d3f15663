"""The training-efficiency figure says which machine its wall times come from."""

from eval.report.plots import machine_caption

EPYC = {"cpu": "AMD EPYC", "cpus": 2, "platform": "Linux"}


def test_machine_caption_names_one_machine_counts_several_and_skips_unrecorded():
    assert machine_caption([{"stage": "expression"}, {"stage": "mouth_pose", "machine": None}]) == ""
    assert machine_caption([{"machine": EPYC}, {"machine": EPYC}, {}]) == " on AMD EPYC, 2 CPUs"
    gpu = {**EPYC, "gpus": ["NVIDIA H200"]}
    assert machine_caption([{"machine": EPYC}, {"machine": gpu}]) == " (on 2 machines)"
