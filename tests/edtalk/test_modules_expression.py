"""The expression predictor (E_S, E_T, MLP^e_A) and Eq. 7 modality masking."""

import pytest
import torch

from edtalk.config import ModelConfig
from edtalk.model import EDTalk
from edtalk.modules.expression_predictor import ExpressionPredictor, encode_text
from edtalk.weights import MissingWeightsError

CFG = ModelConfig.preset("tiny")


def test_eq7_mask_rates_and_single_modality_inference():
    torch.manual_seed(0)
    pred = ExpressionPredictor(CFG)
    a = torch.randn(4000, pred.audio_mask.numel())
    t = torch.randn(4000, pred.text_mask.numel())
    ma, mt = pred._mask_modalities(a, t)
    audio_masked = (ma == pred.audio_mask).all(1).float().mean()
    text_masked = (mt == pred.text_mask).all(1).float().mean()
    both_masked = ((ma == pred.audio_mask).all(1) & (mt == pred.text_mask).all(1)).any()
    assert abs(audio_masked - 0.25) < 0.03 and abs(text_masked - 0.25) < 0.03 and not both_masked
    pred.eval()
    mel = torch.randn(2, 80, 40)
    assert pred(audio=mel).shape == (2, CFG.n_expression)  # audio only
    assert pred(text_features=torch.randn(2, 384)).shape == (2, CFG.n_expression)  # text only
    with pytest.raises(ValueError, match="needs audio, a transcript, or both"):
        pred()


def test_hubert_and_emoberta_missing_weights_name_folder_url_and_target(tmp_path, monkeypatch):
    """The error is the weights manager's MissingWeightsError (the expression predictor had its own
    class, which callers catching edtalk.weights.MissingWeightsError missed)."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError) as err:
        EDTalk(CFG.replace(semantic_encoder="hubert"))
    msg = str(err.value)
    assert "hubert-large-ll60k" in msg and "https://huggingface.co/facebook/hubert-large-ll60k" in msg
    assert str(tmp_path / "hubert-large-ll60k") in msg
    assert f"hf download facebook/hubert-large-ll60k --local-dir {tmp_path / 'hubert-large-ll60k'}" in msg
    with pytest.raises(MissingWeightsError, match="tae898/emoberta-base"):
        encode_text(["I am happy"], "emoberta")


@pytest.mark.slow
def test_minilm_text_encoder_runs_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = encode_text(["What a wonderful day!", "This is terrible news."], "minilm")
    assert emb.shape == (2, 384) and not torch.allclose(emb[0], emb[1])
    pred = ExpressionPredictor(CFG).eval()
    assert pred(audio=torch.randn(1, 80, 30), texts=["I am so happy"]).shape == (1, CFG.n_expression)


def test_hubert_keeps_its_cnn_frozen_in_training_and_mel_batches_are_refused(tmp_path, monkeypatch):
    """The paper freezes HuBERT's CNN feature encoder and fine-tunes its transformer (Sec. 3.3):
    apply_freezing switched the CNN back on under the stage's prefix; and the stage fed HuBERT the
    frame cache's mel windows (a conv1d shape error deep inside). HuBERT loads from the folder the
    weights manager resolves."""
    from transformers import HubertConfig, HubertModel

    from edtalk.stages import apply_freezing, get_stage
    from edtalk.stages.audio_expression import forward as audio_expression_forward

    small = HubertConfig(
        hidden_size=1024,  # the width MLP^e_A expects of HuBERT-large
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(8, 8),
        conv_stride=(5, 2),
        conv_kernel=(10, 3),
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
    )
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path))
    folder = tmp_path / "hubert-large-ll60k"  # where `hf download ... --local-dir` puts it
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"loaded by the stub below")
    loaded = []
    monkeypatch.setattr(
        HubertModel,
        "from_pretrained",
        classmethod(lambda cls, path: loaded.append(path) or HubertModel(small)),
    )
    model = EDTalk(CFG.replace(semantic_encoder="hubert"))
    assert loaded == [folder]
    trainable = {id(p) for p in apply_freezing(get_stage("audio_expression"), model)}
    hubert = model.expression_predictor.semantics.model
    assert not any(p.requires_grad or id(p) in trainable for p in hubert.feature_extractor.parameters())
    assert all(p.requires_grad for p in hubert.encoder.parameters())
    batch = {
        "frames": torch.zeros(1, 2, 3, 64, 64),
        "mels": torch.zeros(1, 2, 1, 80, 16),
        "text_features": None,
    }
    with pytest.raises(ValueError, match="needs 16 kHz waveform batches"):
        audio_expression_forward(model, batch, None)
