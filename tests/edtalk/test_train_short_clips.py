"""Clips with audio shorter than an audio stage's T consecutive frames: the driver names them before
Ray (the stage's draws leave them out, ``StageSampler``), and refuses a split where none is long enough."""

from __future__ import annotations

import json

import pytest


def _meta(folder, lengths: dict[str, int], no_audio=()):
    """A frame cache's meta.json (only what the driver reads) of clips ``lengths`` (id -> frames)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"clip_ids": list(lengths), "length": list(lengths.values()), "no_audio": list(no_audio)}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_clips_too_short_for_an_audio_stage_are_named_and_a_split_with_none_long_enough_refused(
    tmp_path, capsys
):
    """Before: a 3-frame clip with audio trained audio_pose's 10-frame runs as its last frame repeated
    seven times, without a word."""
    from edtalk.train import silent_split

    cache = _meta(tmp_path / "cache", {"blip": 3, "talk": 12, "hum": 8, "still": 2}, no_audio=["still"])
    assert silent_split(cache, {"audio_lip": 5, "audio_pose": 10}) is None
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "note: 1 of 3 training clips with audio are shorter than the 5 consecutive frames that "
        "audio_lip's samples take (first: blip): audio_lip leaves them out",
        "note: 2 of 3 training clips with audio are shorter than the 10 consecutive frames that "
        "audio_pose's samples take (first: blip, hum): audio_pose leaves them out",
    ]
    assert silent_split(cache, {"audio_lip": 2}) is None  # none short: no note
    assert capsys.readouterr().err == ""
    problem = silent_split(cache, {"audio_pose": 13})
    assert problem == (
        f"none of the 3 training clips with audio has the 13 consecutive frames that audio_pose's samples "
        f"take (the longest has 12; cache {cache}): give clips of at least 13 frames, or train without "
        "audio_pose (--stages)"
    )


def test_the_cli_refuses_a_split_too_short_for_audio_lip_before_ray(tmp_path, monkeypatch, capsys):
    from edtalk import train

    cache = _meta(tmp_path / "cache", {"a": 3, "b": 4})
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: cache)
    monkeypatch.setattr(train, "ensure_experts", lambda *a, **k: pytest.fail("got the experts first"))
    monkeypatch.setattr(train, "start_ray", lambda *a, **k: pytest.fail("started Ray first"))
    run = ["--stages", "expression,audio_lip", "--parent", "pretrained:tiny_synthtalk_eg", "--workers", "1"]
    run += ["--experts", "pretrained:tiny_synthtalk_loss_experts", "--out", str(tmp_path / "runs")]
    assert train.main(run) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: none of the 2 training clips with audio has the 5 consecutive frames that ")
    assert "audio_lip's samples take (the longest has 4;" in err and err.count("\n") == 1
