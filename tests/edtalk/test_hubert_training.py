"""audio_expression with the paper's E_S, HuBERT (Sec. 3.3): the frame cache holds each frame's 16 kHz
audio, the sampler hands the T frames' waveform to the stage, a step fine-tunes HuBERT's transformer and
leaves its CNN feature encoder as it was, and ``python -m edtalk.train --semantic-encoder hubert``
checks the weights before any work.

No real HuBERT weights: a tiny random ``HubertModel`` (width 32, two layers, a two-layer conv stack
with HuBERT-large's stride of 320 samples, so a window of T = 5 frames gives its 9 frames) is saved
with ``save_pretrained`` where the weights manager looks for ``hubert_large_ll60k``
(``$EDTALK_BENCH_WEIGHTS/hubert-large-ll60k``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from edtalk.config import ModelConfig

HUBERT_FOLDER = "hubert-large-ll60k"  # the weights manager's folder name of hubert_large_ll60k
TINY = ModelConfig.preset("tiny")
N_FRAMES = 12  # frames per fixture clip
AUDIO_FRAMES = 9.5  # the clips' audio covers 9.5 frames: rows 9 (second half) to 11 are zero-padded


def _save_tiny_hubert(folder) -> None:
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    small = HubertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(8, 8),
        conv_kernel=(10, 64),
        conv_stride=(5, 64),  # 320 samples per HuBERT frame, as HuBERT-large
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",  # as HuBERT-large
        do_stable_layer_norm=True,
        mask_time_prob=0.05,  # the checkpoint's training extras, which E_S turns off
        layerdrop=0.1,
    )
    HubertModel(small).save_pretrained(folder)


@pytest.fixture(scope="module")
def hubert_weights(tmp_path_factory):
    """A weights folder holding the tiny HuBERT as ``hubert_large_ll60k``."""
    wdir = tmp_path_factory.mktemp("weights")
    _save_tiny_hubert(wdir / HUBERT_FOLDER)
    return wdir


@pytest.fixture
def tiny_hubert(hubert_weights, monkeypatch):
    """The weights manager points at the tiny HuBERT for one test."""
    from edtalk import weights

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(hubert_weights))
    yield hubert_weights
    weights._UNVERIFIED.pop("hubert_large_ll60k", None)  # no official hash: not to leak into other tests


def _level(clip: int, sample: np.ndarray) -> np.ndarray:
    """The int16 value of ``sample`` in clip ``clip``'s audio: says which clip and sample it is."""
    return (8000 * clip + sample + 1).astype(np.int16)


@pytest.fixture(scope="module")
def audio_cache(tmp_path_factory):
    """(cache folder, frame cache, clips, 16-bit audio of each clip): the synthtalk fixture's train
    clips cached at the tiny preset's 64 px, each clip's audio rewritten so that every sample says
    which clip and sample it is, and cut short of the video (``AUDIO_FRAMES`` frames)."""
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.experts.testing import make_fixture_dataset

    root = tmp_path_factory.mktemp("audio")
    data = make_fixture_dataset(root / "st", n_clips=1, n_frames=N_FRAMES, size=32)
    clips = read_clips("synthtalk", data, "train")
    pcm = []
    for c, clip in enumerate(clips):
        pcm.append(_level(c, np.arange(int(AUDIO_FRAMES * 640))))
        sf.write(str(clip.audio), pcm[-1], 16000, subtype="PCM_16")  # int16: exact samples
    folder = build_frame_cache(clips, TINY.image_size, root / "cache", progress=False)
    return folder, load_frame_cache(folder), clips, pcm


def test_the_cache_holds_each_frames_16khz_audio_zero_padded_past_its_end(audio_cache):
    """Row i of a 25 fps clip holds samples [i * 640, (i + 1) * 640) of its audio, exactly (16-bit PCM);
    rows past the audio's end are zeros; the rows agree with a direct read of the clip's audio."""
    from edtalk.data.audio import load_audio

    _, cache, clips, pcm = audio_cache
    assert (
        cache.wavs is not None
        and cache.wavs.dtype == np.int16
        and cache.wavs.shape == (len(cache.frames), 640)
    )
    assert list(cache.clip_ids) == [c.id for c in clips]
    for c, clip in enumerate(clips):
        rows = np.asarray(cache.wavs[cache.start[c] : cache.start[c] + cache.length[c]])
        assert len(rows) == N_FRAMES
        want = np.zeros(N_FRAMES * 640, np.int16)
        want[: len(pcm[c])] = pcm[c]
        np.testing.assert_array_equal(rows.reshape(-1), want)
        assert not rows[10:].any() and rows[9, :320].all() and not rows[9, 320:].any()
        direct = load_audio(clip.audio)  # what the mel windows are computed from
        np.testing.assert_array_equal(rows.reshape(-1)[: len(direct)] / 32768.0, direct)


def test_emotion_clips_give_the_waveform_of_exactly_the_sampled_frames(audio_cache):
    """For T frames from frame s of a clip, "wavs" is samples [s * 640, (s + T) * 640) of that clip's
    audio (zeros where it ran out), float32 in [-1, 1], and the frames are the cache's rows s .. s+T-1."""
    from edtalk.data.sampler import StageSampler, to_tensor

    cache = audio_cache[1]
    t = 5
    batch = StageSampler(cache, seed=3).emotion_clips(16, t)
    wavs = batch["wavs"]
    assert wavs.dtype == torch.float32 and wavs.shape == (16, t * 640) and wavs.abs().max() <= 1.0
    starts = set()
    for b in range(16):
        pcm = np.round(wavs[b].numpy() * 32768).astype(np.int64)
        first = pcm[pcm > 0][0] - 1  # 8000 * clip + the sample index of the first non-padded sample
        clip, sample = divmod(int(first), 8000)
        s = sample // 640
        starts.add(s)
        samples = np.arange(s * 640, (s + t) * 640)
        want = np.where(samples < AUDIO_FRAMES * 640, _level(clip, samples), 0)
        np.testing.assert_array_equal(pcm, want)
        rows = cache.start[clip] + np.arange(s, s + t)
        torch.testing.assert_close(batch["frames"][b], to_tensor(cache.frames[rows]), rtol=0, atol=0)
    assert len(starts) > 1  # windows from several places of the clips


def test_a_cache_without_audio_gives_no_waveforms_and_hubert_names_the_rebuild(tiny_hubert):
    """An in-memory cache of the older kind (no ``wavs``) samples as before, and the stage with HuBERT
    refuses its batches with the reason, instead of a shape error inside HuBERT."""
    from edtalk.data.sampler import StageSampler
    from edtalk.data.training import FrameCache
    from edtalk.model import EDTalk
    from edtalk.stages.audio_expression import forward

    n = 6
    cache = FrameCache(
        frames=np.zeros((n, 64, 64, 3), np.uint8),
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        mels=np.zeros((n, 80, 16), np.float16),
        start=np.array([0]),
        length=np.array([n]),
        identity=np.array([0]),
        emotion=np.array([0]),
        clip_ids=["c0"],
        identities=["p0"],
        transcripts=[""],
    )
    batch = StageSampler(cache).emotion_clips(2, 5)
    assert "wavs" not in batch and batch["mels"].shape == (2, 5, 1, 80, 16)
    batch["text_features"] = torch.zeros(2, 384)
    with pytest.raises(ValueError, match="needs 16 kHz waveform batches.*delete it"):
        forward(EDTalk(TINY.replace(semantic_encoder="hubert")), batch, None)


def test_the_predictor_takes_the_loaded_hubert_width_and_freezes_only_its_cnn(tiny_hubert):
    """MLP^e_A's audio input is the loaded HuBERT's hidden size (32 here, 1024 for HuBERT-large);
    the CNN feature encoder is frozen and marked so in every stage, the feature projection and the
    transformer train; SpecAugment and LayerDrop are off (a 5-frame window is 9 HuBERT frames, shorter
    than SpecAugment's 10-frame spans)."""
    from edtalk.model import EDTalk
    from edtalk.modules import ALWAYS_FROZEN
    from edtalk.stages import apply_freezing, get_stage

    model = EDTalk(TINY.replace(semantic_encoder="hubert"))
    pred = model.expression_predictor
    hubert = pred.semantics.model
    assert pred.audio_input == "wav" and pred.semantics.width == 32 and pred.audio_mask.shape == (32,)
    assert pred.mlp[0].in_features == 32 + 384
    trainable = {id(p) for p in apply_freezing(get_stage("audio_expression"), model)}
    cnn = list(hubert.feature_extractor.parameters())
    assert cnn and all(getattr(p, ALWAYS_FROZEN, False) and id(p) not in trainable for p in cnn)
    for part in (hubert.feature_projection, hubert.encoder):
        assert all(p.requires_grad and id(p) in trainable for p in part.parameters())
    assert not hubert.config.apply_spec_augment and hubert.config.layerdrop == 0.0
    assert not hubert.masked_spec_embed.requires_grad and id(hubert.masked_spec_embed) not in trainable
    assert hubert.encoder.config is hubert.config  # what the layers read at run time
    pred.train()
    wav = torch.randn(3, 5 * 640) * 0.1
    assert pred(audio=wav, text_features=torch.zeros(3, 384)).shape == (3, TINY.n_expression)


def test_hubert_reads_each_waveform_normalised_as_it_was_pretrained(tiny_hubert):
    """HuBERT-large was pretrained on waveforms normalised to zero mean and unit variance (fairseq's
    hubert_large_ll60k task, ``normalize: True``); fed raw, a quiet and a loud take of one sentence
    gave different E_S(a)."""
    from edtalk.model import EDTalk

    semantics = EDTalk(TINY.replace(semantic_encoder="hubert")).expression_predictor.semantics.eval()
    wav = torch.randn(2, 5 * 640) * 0.05 + 0.01
    with torch.no_grad():
        direct = semantics.model(torch.nn.functional.layer_norm(wav, (5 * 640,))).last_hidden_state.mean(1)
        torch.testing.assert_close(semantics(wav), direct)
        torch.testing.assert_close(semantics(8 * wav - 0.2), semantics(wav), atol=1e-4, rtol=1e-4)


def test_inference_feeds_hubert_the_k_frame_waveforms_it_was_trained_on(tiny_hubert):
    """EDTalk-A's W^e from audio: HuBERT read the whole clip at once (its attention growing with the
    square of the length, and a context audio_expression never trained it on); it now reads the
    waveform of each K frames, cut as the frame cache cuts it, one W^e per group, averaged."""
    from edtalk.data.cache_decode import wav_rows
    from edtalk.driving import predicted_expression
    from edtalk.model import EDTalk

    torch.manual_seed(0)
    model = EDTalk(TINY.replace(semantic_encoder="hubert")).eval()
    model.checkpoint_meta = {"run": {"stage_config": {"window": 4}}}
    wav = (np.random.default_rng(0).standard_normal(int(0.53 * 16000)) * 0.1).astype(np.float32)
    windows = torch.zeros(13, 1, 80, 16)  # 13 frames of 25 fps cover 0.53 s: 3 groups of 4
    got = predicted_expression(model, windows, wav, text=None)
    rows = torch.from_numpy(wav_rows(wav, 12, 25.0).astype(np.float32) / 32768.0)
    with torch.no_grad():
        expected = model.expression_predictor(audio=rows.reshape(3, 4 * 640)).mean(0, keepdim=True)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(rows.reshape(-1), torch.from_numpy(wav[: 12 * 640]), atol=1 / 32768, rtol=0)


def test_a_real_audio_expression_step_fine_tunes_the_transformer_not_the_cnn(
    tiny_hubert, audio_cache, single_process_group, tmp_path
):
    """One DeepSpeed step of audio_expression with HuBERT as E_S on the frame cache: HuBERT reads the
    batch's 16 kHz waveform, its transformer layers and MLP^e_A change, its CNN feature encoder does
    not (before: the stage refused HuBERT)."""
    from edtalk.config import TrainConfig
    from edtalk.train_chain import stage_config_for
    from edtalk.worker import StageWorker

    cache_dir = audio_cache[0]
    cfg = TINY.replace(semantic_encoder="hubert", text_encoder="none")  # E_T off: no MiniLM load
    train_cfg = TrainConfig(data="synthtalk:unused", workers=1, out=str(tmp_path / "out"))
    stage = stage_config_for("audio_expression", {"max_steps": 1, "batch_size": 4})
    worker = StageWorker(
        {
            "model": cfg.to_dict(),
            "stage": stage.to_dict(),
            "train": train_cfg.to_dict(),
            "run": {"stage_dir": str(tmp_path / "out"), "parent": "", "cache": str(cache_dir)},
        }
    )
    seen = []
    semantics = worker.model.expression_predictor.semantics  # E_S's input: the batch's waveforms, raw
    semantics.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    before = {k: v.detach().clone() for k, v in worker.model.named_parameters()}
    terms = worker.step()
    assert math.isfinite(terms["exp"])
    assert seen and seen[0].shape == (4, stage.window * 640) and seen[0].abs().max() <= 1.0
    assert seen[0].abs().sum() > 0  # the cache's audio, not silence
    after = dict(worker.model.named_parameters())
    prefix = "expression_predictor.semantics.model."
    changed = {k for k, v in after.items() if not torch.equal(v.detach(), before[k])}
    cnn = {k for k in before if k.startswith(prefix + "feature_extractor.")}
    layers = {k for k in before if k.startswith(prefix + "encoder.layers.")}
    assert cnn and not cnn & changed
    assert layers and len(layers & changed) > 0.9 * len(layers)
    assert {k for k in layers if "feed_forward" in k or "q_proj.weight" in k} <= changed
    assert {k for k in before if k.startswith("expression_predictor.mlp.")} <= changed
    assert not {k for k in changed if not k.startswith("expression_predictor.")}  # ELN, E, G kept


def test_semantic_encoder_fields_may_differ_until_the_predictor_was_trained():
    """E_S's kind and size shape only the predictor, as E_T's width does: a parent trained with the mel
    E_S starts audio_expression with HuBERT; one that already trained it is refused, naming the flag."""
    from edtalk.config import PREDICTOR_ONLY_FIELDS
    from edtalk.train_chain import parent_config_problem

    assert {"semantic_encoder", "semantic_width", "semantic_layers"} <= set(PREDICTOR_ONLY_FIELDS)
    theirs, ours = TINY.to_dict(), TINY.replace(semantic_encoder="hubert").to_dict()
    assert parent_config_problem(theirs, ours, ["eg_pretrain", "audio_pose"]) is None
    problem = parent_config_problem(theirs, ours, ["eg_pretrain", "audio_expression"])
    assert "semantic_encoder 'mel' -> 'hubert'" in problem and "--semantic-encoder" in problem


def _saved_parent(path, cfg, stages_done):
    from edtalk.model import EDTalk, save_checkpoint

    return save_checkpoint(path, EDTalk(cfg).state_dict(), cfg, extra={"stages_done": stages_done})


def test_train_names_missing_hubert_weights_before_any_work(tmp_path, monkeypatch, capsys):
    """--semantic-encoder hubert without the weights: the weights manager's error (which folder, from
    where, where to put it) before the frame cache is built."""
    from edtalk import train

    def no_work(*a, **k):
        raise AssertionError("the run did work before naming the missing weights")

    wdir = tmp_path / "weights"
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(wdir))
    monkeypatch.setattr(train, "prepare_cache", no_work)
    parent = _saved_parent(tmp_path / "p.pt", TINY, ["eg_pretrain", "audio_pose"])
    argv = ["--stage", "audio_expression", "--data", "synthtalk:nowhere", "--out", str(tmp_path / "o")]
    assert train.main([*argv, "--parent", str(parent), "--semantic-encoder", "hubert"]) == 2
    err = capsys.readouterr().err
    assert "hubert-large-ll60k" in err and "hubert_large_ll60k" in err
    assert "https://huggingface.co/facebook/hubert-large-ll60k" in err
    assert f"hf download facebook/hubert-large-ll60k --local-dir {wdir / HUBERT_FOLDER}" in err


def test_train_accepts_hubert_and_builds_it_for_audio_expression_only(tiny_hubert, tmp_path, monkeypatch):
    """--semantic-encoder hubert: audio_expression runs with HuBERT as E_S; the stages before it keep the
    preset's (HuBERT in them would only weigh down their workers and checkpoints)."""
    import ray

    from edtalk import train

    seen = {}
    parent = _saved_parent(tmp_path / "p.pt", TINY, ["eg_pretrain", "mouth_pose", "expression", "audio_lip"])
    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: tmp_path)
    monkeypatch.setattr(train, "ensure_experts", lambda *a, **k: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(
        train,
        "run_stage",
        lambda stage_cfg, train_cfg, model_cfg, cache: seen.update({stage_cfg.name: model_cfg}),
    )

    def stop(*a):
        raise SystemExit(0)

    monkeypatch.setattr(train, "self_reconstruction_check", stop)
    argv = ["--stages", "audio_pose,audio_expression", "--out", str(tmp_path), "--parent", str(parent)]
    with pytest.raises(SystemExit):
        train.main([*argv, "--semantic-encoder", "hubert"])
    assert seen["audio_expression"] == TINY.replace(semantic_encoder="hubert")
    assert seen["audio_pose"] == TINY
    help_text = train.build_parser().format_help()
    assert "--semantic-encoder {mel,hubert}" in help_text and "CNN feature encoder" in help_text
    with pytest.raises(SystemExit):
        train.build_parser().parse_args(["--stage", "audio_expression", "--semantic-encoder", "wav2vec"])


def test_a_cache_of_the_older_version_is_decoded_again_and_named(tmp_path, capsys):
    """A version-1 cache (no wavs.npy) is not reused: the clips are decoded again into a cache with
    audio, and a note says why and that the old folder can go."""
    import json
    import shutil

    from edtalk.data.readers import read_clips
    from edtalk.data.training import CACHE_VERSION, build_frame_cache, load_frame_cache
    from edtalk.experts.testing import make_fixture_dataset

    clips = read_clips(
        "synthtalk", make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=6, size=32), "train"
    )
    built = build_frame_cache(clips, 32, tmp_path / "cache", progress=False)
    old = tmp_path / "cache" / "0123456789ab"  # another key: the version is part of it
    shutil.move(built, old)
    (old / "wavs.npy").unlink()
    meta = json.loads((old / "meta.json").read_text())
    (old / "meta.json").write_text(json.dumps({**meta, "version": 1}))
    assert load_frame_cache(old).wavs is None
    capsys.readouterr()
    rebuilt = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "cache", progress=False))
    assert rebuilt.wavs is not None and rebuilt.wavs.shape == (len(rebuilt.frames), 640)
    err = capsys.readouterr().err
    assert f"{old}: frame cache of an older version (1; this code writes version {CACHE_VERSION}" in err
    assert "delete the old folder" in err
