"""eval.zoo installs its two judges one after the other: a pair left half-replaced (an interruption
between the two installs, or `train --only`) is two verified judges whose scores carry a protocol hash
of their own, never pooled with the old pair's or the new pair's."""

import torch

from edtalk import weights as W
from edtalk.experts.face_analyser import FaceAnalyser, FaceAnalyserConfig
from edtalk.experts.store import JUDGE_NAMES, install_judge, save_expert
from edtalk.experts.sync_net import SyncNetConfig, SyncNetJudge
from eval.protocols import get_protocol

FACE, SYNC = JUDGE_NAMES["face_analyser"], JUDGE_NAMES["sync_net"]


def _trained_pair(folder, seed):
    """A face and a sync judge as one `eval.zoo train` leaves them in its --out folder."""
    torch.manual_seed(seed)
    face = save_expert(FaceAnalyser(FaceAnalyserConfig()), "face_analyser", "judge", ["st002"], folder)
    sync = save_expert(SyncNetJudge(SyncNetConfig()), "sync_net", "judge", ["st002"], folder)
    return {FACE: face, SYNC: sync}


def test_a_half_replaced_judge_pair_scores_under_a_protocol_hash_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "w"))
    old, new = _trained_pair(tmp_path / "old", 0), _trained_pair(tmp_path / "new", 1)
    for name, path in old.items():
        install_judge(name, path)
    hashes = {"old": get_protocol("synthtalk").hash()}
    install_judge(FACE, new[FACE])  # cut short here: the sync judge is still the old one
    for name in (FACE, SYNC):
        W.resolve(name)  # each judge of the mixed pair is verified against its own recorded sha256
    assert W.sha256_of(W.target_path(SYNC)) == W.sha256_of(old[SYNC])
    hashes["mixed"] = get_protocol("synthtalk").hash()
    install_judge(SYNC, new[SYNC])
    hashes["new"] = get_protocol("synthtalk").hash()
    assert len(set(hashes.values())) == 3, hashes  # report tables group results by this hash
