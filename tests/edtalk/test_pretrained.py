"""edtalk.pretrained: the shipped stage-1 init is the file its registry describes, and nothing else."""

import json
import shutil
from pathlib import Path

import pytest
import torch

import edtalk.pretrained as pretrained
from edtalk.config import ModelConfig
from edtalk.data.synthtalk.card import GENERATOR_VERSION
from edtalk.model import EDTalk, load_checkpoint
from edtalk.pretrained import PRETRAINED, PretrainedError, resolve


def test_shipped_init_matches_its_record_and_loads_strictly_into_its_preset():
    entry = PRETRAINED.get("tiny_synthtalk_eg")
    path = resolve("pretrained:tiny_synthtalk_eg")  # verifies the sha256
    ckpt = load_checkpoint(path)
    assert ckpt["config"] == ModelConfig.preset(entry.preset), "tiny preset changed: run `make pretrain`"
    EDTalk(ckpt["config"]).load_state_dict(ckpt["state_dict"], strict=True)
    meta = ckpt["meta"]
    assert meta["stage"] == entry.stage and meta["step"] == entry.steps
    # trained on the synthtalk the demo generates; a new generator version needs a new init
    assert meta["dataset"] == {
        "name": "synthtalk",
        "generator_version": GENERATOR_VERSION,
        "preset": "tiny",
        "seed": 0,
        "split": "train",
        "extra_identities": 64,  # its last 4000 steps also saw 64 rendered people of no split
        "extra_frames": 8,
    }
    assert "/" not in str(meta.get("stage_config", "")), "no machine paths in a shipped file"


def test_shipped_init_reconstructs_fresh_synthtalk_frames():
    """The shipped stage-1 init is run, not only hashed: G(E(I)) of 8 frames of a newly drawn synthtalk
    clip is within L1 0.025 of them (measured 0.0148). A G that lost its flow skip draws them at 0.041."""
    import numpy as np

    from edtalk.data.synthtalk import make_clip, sample_identity
    from edtalk.driving import load_generator

    model, cfg = load_generator(resolve("pretrained:tiny_synthtalk_eg"))
    clip = make_clip(
        sample_identity(np.random.default_rng(11)),
        "happy",
        2,
        np.random.default_rng(5),
        size=cfg.image_size,
        min_duration=0.4,
        max_duration=0.6,
    )
    x = torch.from_numpy(clip.frames[:8]).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        f, skips = model.encode(x)
        y = model.generate(model.compose(f, model.navigate(f, cfg.bank_names)), skips)
    assert x.shape[0] == 8
    assert (y - x).abs().mean() < 0.025


def test_plain_paths_pass_through_and_unknown_names_are_named():
    assert resolve("runs/eg_pretrain/final.pt") == "runs/eg_pretrain/final.pt"
    assert resolve("") == ""
    with pytest.raises(KeyError, match="tiny_synthtalk_eg"):
        resolve("pretrained:tiny_synthtalk")


def test_an_altered_or_missing_file_is_refused(tmp_path, monkeypatch):
    entry = PRETRAINED.get("tiny_synthtalk_eg")
    copy = tmp_path / entry.filename
    shutil.copy(entry.path, copy)
    monkeypatch.setattr(pretrained, "HERE", tmp_path)
    with open(copy, "ab") as f:
        f.write(b"\0")
    with pytest.raises(PretrainedError, match="sha256 .* differs"):
        resolve("pretrained:tiny_synthtalk_eg")
    copy.unlink()
    with pytest.raises(PretrainedError, match="missing from this checkout"):
        resolve("pretrained:tiny_synthtalk_eg")


def test_train_cli_names_a_bad_init(capsys):
    from edtalk.train import main

    assert main(["--stage", "eg_pretrain", "--preset", "tiny", "--parent", "pretrained:nope"]) == 2
    assert "unknown shipped stage-1 init 'nope'" in capsys.readouterr().err


def test_export_refuses_a_checkpoint_of_another_stage(tmp_path):
    from edtalk.model import save_checkpoint
    from edtalk.pretrained.__main__ import export

    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "final.pt", EDTalk(cfg).state_dict(), cfg, {"stage": "mouth_pose"})
    with pytest.raises(PretrainedError, match="mouth_pose"):
        export(ckpt, "tiny_synthtalk_eg", tmp_path)
    assert torch.load(ckpt, weights_only=True)["meta"]["stage"] == "mouth_pose"


def test_shipped_loss_experts_match_their_record_and_come_from_the_train_split():
    from edtalk.experts.names import EXPERT_NAMES, expert_file
    from edtalk.experts.store import load_expert, read_metadata

    folder = resolve("pretrained:tiny_synthtalk_loss_experts", expert_set=True)  # verifies the manifest
    train_ids = [f"st{i:03d}" for i in range(12)]  # synthtalk tiny's train split
    for file in map(expert_file, EXPERT_NAMES):
        load_expert(f"{folder}/{file}", expect_split="train")  # each file against the manifest
        assert read_metadata(f"{folder}/{file}")["identities"] == train_ids


def test_an_init_and_an_expert_set_are_not_mixed_up(capsys):
    with pytest.raises(PretrainedError, match="not a loss-expert set"):
        resolve("pretrained:tiny_synthtalk_eg", expert_set=True)
    with pytest.raises(PretrainedError, match="not a stage-1 init"):
        resolve("pretrained:tiny_synthtalk_loss_experts")
    with pytest.raises(PretrainedError, match="is a judge set .*, not a loss-expert set"):
        resolve("pretrained:tiny_synthtalk_judges", expert_set=True)  # judges never train
    from edtalk.train import main

    args = ["--stage", "expression", "--preset", "tiny", "--experts", "pretrained:tiny_synthtalk_eg"]
    assert main(args) == 2
    assert "not a loss-expert set" in capsys.readouterr().err


@pytest.fixture
def expert_copy(tmp_path, monkeypatch):
    """A copy of the shipped expert set under a patched ``HERE`` (the real files are never touched)."""
    entry = PRETRAINED.get("tiny_synthtalk_loss_experts")
    shutil.copytree(entry.path, tmp_path / entry.filename)
    monkeypatch.setattr(pretrained, "HERE", tmp_path)
    return tmp_path / entry.filename


def _listed(capsys, name: str) -> str:
    """The lines ``python -m edtalk.pretrained list`` prints about ``name``."""
    from edtalk.pretrained.__main__ import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    return out[out.index(name) :]


def test_an_expert_set_with_an_altered_or_missing_file_is_not_ok(expert_copy, capsys):
    spec = "pretrained:tiny_synthtalk_loss_experts"
    assert resolve(spec, expert_set=True) == str(expert_copy)  # the intact copy passes
    assert "[ok]" in _listed(capsys, "tiny_synthtalk_loss_experts")
    face = expert_copy / "synthtalk_face_expert.safetensors"
    original = face.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF  # one flipped byte; manifest.json unchanged
    face.write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match=r"synthtalk_face_expert.safetensors: sha256 .* differs") as err:
        resolve(spec, expert_set=True)
    assert "git checkout -- " in str(err.value)
    listed = _listed(capsys, "tiny_synthtalk_loss_experts")
    assert "[ALTERED: synthtalk_face_expert.safetensors]" in listed and "git checkout -- " in listed
    face.write_bytes(original)  # restored
    (expert_copy / "synthtalk_sync_expert.safetensors").unlink()
    with pytest.raises(PretrainedError, match=r"synthtalk_sync_expert.safetensors: listed in the manifest"):
        resolve(spec, expert_set=True)
    assert "[missing synthtalk_sync_expert.safetensors]" in _listed(capsys, "tiny_synthtalk_loss_experts")


def test_list_check_exits_1_when_a_shipped_entry_is_altered_or_missing(expert_copy, capsys):
    """`list` exits 0 whatever it finds (`make pretrain` runs it right after a rebuild, when ALTERED is
    expected); a script asking `list --check` gets exit 1 and one error line naming the entry."""
    from edtalk.pretrained.__main__ import main

    init, judges = PRETRAINED.get("tiny_synthtalk_eg"), PRETRAINED.get("tiny_synthtalk_judges")
    shipped = Path(pretrained.__file__).parent  # entry.path is under the patched HERE
    shutil.copy(shipped / init.filename, expert_copy.parent / init.filename)
    shutil.copytree(shipped / judges.filename, expert_copy.parent / judges.filename)
    assert main(["list", "--check"]) == 0  # both intact
    assert capsys.readouterr().err == ""
    face = expert_copy / "synthtalk_face_expert.safetensors"
    face.write_bytes(face.read_bytes() + b"\0")
    assert main(["list"]) == 0
    assert main(["list", "--check"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: 1 of 3 shipped entries not intact: tiny_synthtalk_loss_experts "
        "[ALTERED: synthtalk_face_expert.safetensors] (what to do is printed under each)"
    ]
    (expert_copy.parent / init.filename).unlink()
    assert main(["list", "--check"]) == 1
    assert "2 of 3 shipped entries not intact: tiny_synthtalk_eg [missing]" in capsys.readouterr().err


def test_export_checks_data_is_a_synthtalk_root_up_front(tmp_path, capsys):
    from edtalk.pretrained.__main__ import main

    a_file = tmp_path / "card.json"
    a_file.write_text("{}")
    no_card = tmp_path / "empty"
    no_card.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "card.json").write_text('{"name": "voxceleb"}')
    for data, why in [(a_file, "it is a file"), (no_card, "no card.json"), (other, "not a synthtalk card")]:
        assert main(["export", "--ckpt", str(tmp_path / "final.pt"), "--data", str(data)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err
        assert why in err and "synthtalk dataset root" in err
        assert "python -m edtalk.data.synthtalk --out DIR --preset tiny --seed 0" in err


def test_export_out_writes_elsewhere_and_leaves_the_shipped_init(tmp_path, monkeypatch, capsys):
    from edtalk.model import save_checkpoint
    from edtalk.pretrained.__main__ import main

    monkeypatch.setattr(pretrained, "HERE", tmp_path / "shipped")  # a default --out would land here
    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "final.pt", EDTalk(cfg).state_dict(), cfg, {"stage": "eg_pretrain"})
    data = tmp_path / "data"
    data.mkdir()
    card = {"name": "synthtalk", "generator_version": GENERATOR_VERSION, "preset": "tiny", "seed": 0}
    (data / "card.json").write_text(json.dumps(card))
    out = tmp_path / "exported" / "eg.pt"
    assert main(["export", "--ckpt", str(ckpt), "--data", str(data), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert load_checkpoint(out)["meta"]["dataset"] == card | {"split": "train"}
    assert main(["export", "--ckpt", str(ckpt), "--data", str(data), "--out", str(out.parent)]) == 0
    assert (out.parent / "tiny_synthtalk_eg.pt").is_file()  # a folder gets the init's file name
    assert not (tmp_path / "shipped").exists()


def test_a_misspelt_name_is_offered_only_entries_of_the_kind_asked_for():
    """A typo of a judge set's name suggested the stage-1 init and the loss-expert set as well; a name
    of another kind is still named as such."""
    from edtalk.pretrained import EXPERT_SET, JUDGE_SET, resolve_kind

    with pytest.raises(KeyError) as typo:
        resolve_kind("pretrained:tiny_synthtalk_judgs", JUDGE_SET)
    assert str(typo.value) == (
        "unknown shipped judge set 'tiny_synthtalk_judgs'. Did you mean 'tiny_synthtalk_judges'? "
        "Known: tiny_synthtalk_judges"
    )
    with pytest.raises(
        KeyError, match="^unknown shipped stage-1 init 'tiny_synthtalk'. Did you mean 'tiny_synthtalk_eg'"
    ):
        resolve("pretrained:tiny_synthtalk")
    with pytest.raises(PretrainedError, match="is a judge set .*, not a loss-expert set"):
        resolve_kind("pretrained:tiny_synthtalk_judges", EXPERT_SET)
