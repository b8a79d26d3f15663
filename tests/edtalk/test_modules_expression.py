"""The expression predictor (E_S, E_T, MLP^e_A) and Eq. 7 modality masking."""

import pytest
import torch

from edtalk.config import ModelConfig
from edtalk.model import EDTalk
from edtalk.modules.expression_predictor import ExpressionPredictor, MissingWeightsError, encode_text

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
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError) as err:
        EDTalk(CFG.replace(semantic_encoder="hubert"))
    msg = str(err.value)
    assert "hubert-large-ll60k" in msg and "https://huggingface.co/facebook/hubert-large-ll60k" in msg
    assert str(tmp_path / "hubert-large-ll60k") in msg
    with pytest.raises(MissingWeightsError, match="tae898/emoberta-base"):
        encode_text(["I am happy"], "emoberta")


@pytest.mark.slow
def test_minilm_text_encoder_runs_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = encode_text(["What a wonderful day!", "This is terrible news."], "minilm")
    assert emb.shape == (2, 384) and not torch.allclose(emb[0], emb[1])
    pred = ExpressionPredictor(CFG).eval()
    assert pred(audio=torch.randn(1, 80, 30), texts=["I am so happy"]).shape == (1, CFG.n_expression)
