"""Fixture results files in the eval.run / sweeps schema, so the report is tested on its own."""

import json
from pathlib import Path

import numpy as np
import pytest

LABELS = {
    "psnr": ("PSNR", True),
    "ssim": ("SSIM", True),
    "m_lmd": ("M-LMD", False),
    "f_lmd": ("F-LMD", False),
    "fid": ("FID", False),
    "lse_c": ("Sync_conf", True),
    "lse_d": ("Sync_dist", False),
    "acc_emo": ("Acc_emo", True),
    "lpips": ("LPIPS", False),
    "l1": ("L1", False),
    "akd": ("AKD", False),
    "aed": ("AED", False),
}


def write_result(
    root: Path,
    dataset: str,
    method: str,
    protocol: str,
    values: dict,
    *,
    phash: str = "0123456789abcdef",
    unverified: bool = False,
    sweep: dict | None = None,
    clips: list[dict] | None = None,
    failures: list | None = None,
    extra: dict | None = None,
):
    folder = root / dataset / method
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {
        k: {"value": v, "n": 8, "spread": 0.1, "higher_is_better": LABELS[k][1], "label": LABELS[k][0]}
        for k, v in values.items()
    }
    data = {
        "schema": "edtalk-bench/results/1",
        "metrics": metrics,
        "protocol": {"name": protocol, "hash": phash, "settings": {}},
        "dataset": dataset,
        "method": method,
        "split": "test",
        "versions": {"eval": "0"},
        "git": {"commit": "deadbeef", "dirty": False},
        "config": {},
        "unverified": unverified,
        "failures": failures or [],
        "provenance": {},
    }
    if sweep:
        data["sweep"] = sweep
    data.update(extra or {})
    (folder / f"{protocol}.json").write_text(json.dumps(data, indent=1))
    if clips is not None:
        (folder / f"{protocol}.clips.jsonl").write_text("".join(json.dumps(c) + "\n" for c in clips))
    return folder / f"{protocol}.json"


def write_tiny_video(path: Path, colour: tuple[int, int, int]) -> None:
    """A 6-frame solid-colour H.264 clip (PyAV), so the HTML grid has real <video> sources."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        frame = np.zeros((64, 64, 3), np.uint8) + np.array(colour, np.uint8)
        for _ in range(6):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def build_fixture_results(root: Path, with_videos: bool = False) -> Path:
    """A results tree touching every table: paper datasets, protocols, sweeps, clips, failures."""
    t1 = dict(psnr=21.0, ssim=0.70, m_lmd=1.6, f_lmd=1.3, fid=18.0, lse_c=7.9, acc_emo=66.0)
    write_result(root, "mead", "edtalk_a", "eat", t1)
    write_result(root, "hdtf", "edtalk_a", "eat", {k: v for k, v in t1.items() if k != "acc_emo"})
    write_result(
        root,
        "mead",
        "wav2lip",
        "eat",
        dict(t1, psnr=19.5, lse_c=9.1, acc_emo=12.5),
        unverified=True,
        failures=[{"clip": "M003#angry#level_1#001", "reason": "no face"}],
    )
    write_result(root, "mead", "edtalk_a", "canonical", dict(t1, fid=9.0), phash="fedcba9876543210")
    write_result(
        root,
        "hdtf",
        "edtalk_v",
        "canonical",
        dict(psnr=27.1, ssim=0.86, lpips=0.12, l1=0.03, akd=1.7, aed=0.016),
        phash="fedcba9876543210",
    )
    write_result(root, "lrw", "edtalk_a", "eat", dict(psnr=23.0, ssim=0.78, m_lmd=1.7, f_lmd=1.4, lse_c=6.9))
    for param, n, base in (
        ("mouth", 5, 20.0),
        ("mouth", 10, 21.0),
        ("expression", 5, 20.5),
        ("expression", 10, 21.5),
    ):
        write_result(
            root,
            "synthtalk",
            f"edtalk_bank_{param}_{n}",
            "synthtalk",
            dict(psnr=base, ssim=0.7, m_lmd=2.0 - n / 100, f_lmd=1.5, lse_c=5.0 + n / 10, acc_emo=40.0 + n),
            phash="5555aaaa5555aaaa",
            sweep={"name": "bank_size", "param": param, "value": n},
            extra={"provenance": {"training": [{"stage": "expression", "wall_s": 10.0 + n, "steps": 2}]}},
        )
    for variant, psnr in (("full", 22.0), ("wo_bank", 18.0), ("wo_l_fea", 20.0)):
        write_result(
            root,
            "synthtalk",
            f"edtalk_ablation_{variant}",
            "synthtalk",
            dict(t1, psnr=psnr),
            phash="5555aaaa5555aaaa",
            sweep={"name": "ablations", "param": "variant", "value": variant},
        )
    clip_ids = ["st020#happy#level_1#000", "st021#sad#level_2#001", "st022#angry#level_3#002"]
    for method, shift in (("edtalk_a", 0.0), ("wav2lip", -2.0)):
        clips = []
        for i, cid in enumerate(clip_ids):
            row = {
                "clip": cid,
                "method": method,
                "values": {"psnr": 20.0 + shift + i, "ssim": 0.6 + 0.05 * i, "lse_c": 6.0 + i},
            }
            if with_videos:
                if method == "edtalk_a":  # named in the row; wav2lip: eval.run's <method>/videos/ layout
                    row["video"] = str(root.parent / "videos" / method / f"{cid}.mp4")
                row["gt_video"] = str(root.parent / "data" / "clips" / f"{cid}.mp4")
            clips.append(row)
        write_result(
            root,
            "synthtalk",
            method,
            "synthtalk",
            dict(psnr=20.0 + shift, ssim=0.65, m_lmd=1.0, f_lmd=1.1, fid=30.0, lse_c=7.0, acc_emo=50.0),
            phash="5555aaaa5555aaaa",
            clips=clips,
        )
    if with_videos:
        for i, cid in enumerate(clip_ids):
            write_tiny_video(root.parent / "data" / "clips" / f"{cid}.mp4", (40 * i, 200, 80))
            write_tiny_video(root.parent / "videos" / "edtalk_a" / f"{cid}.mp4", (200, 40 * i, 80))
            write_tiny_video(root / "synthtalk" / "wav2lip" / "videos" / f"{cid}.mp4", (80, 40 * i, 200))
    return root


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return build_fixture_results(tmp_path / "results")


@pytest.fixture
def make_result():
    """``write_result`` as a fixture (test files cannot import conftest in importlib mode)."""
    return write_result


@pytest.fixture
def results_with_videos():
    """Builds fixture results whose per-clip rows name real (tiny) GT and method videos."""
    return lambda root: build_fixture_results(root, with_videos=True)
