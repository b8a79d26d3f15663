"""Emotion-FAN (Meng et al., ICIP 2019), 8-class MEAD model of EAT's evaluation: Acc_emo's classifier.

Network (parameter names follow the released checkpoint ``self_relation-attention_61_84.3655``
of ``evaluation_eat/code/emotionfan_basiccode``, stored with DataParallel's ``module.`` prefix):
a ResNet-18 trunk (``conv1`` ... ``layer4``, global average pool -> f_i, 512-D), ``alpha``
(Linear 512->1 + sigmoid), ``beta`` (Linear 1024->1 + sigmoid), ``pred_fc1`` (512->8, the
self-attention-only head, unused) and ``pred_fc2`` (1024->8). Relation-attention pooling and the
eval-code quirk are in ``eval/metrics/functional/acc_emo.py``.

Input (EAT's pipeline): per frame a dlib face chip, ``dlib.get_face_chip(frame, shape, size=224,
padding=0.25)`` from a 5-point shape, then ``Resize(224)`` + ``ToTensor()`` (RGB in [0, 1], no
mean/std). Frames without a face are left out; a clip without any face fails. Differences from
EAT, documented: faces come from dlib's HOG detector (the ``dlib68`` backbone's detector, first
detection, no upsampling) instead of the mmod CNN detector, and chips are not JPEG-saved and
re-read.

Class order: the checkpoint's indices are EAT's ``cate2label['MEAD']`` = 0 happy, 1 angry,
2 disgusted, 3 fear, 4 sad, 5 neutral, 6 surprised, 7 contempt; ``video_scores`` returns them
reordered to ``edtalk.data.clip.EMOTIONS`` (alphabetical).

Weights: ``emotion_fan_mead8`` from the weights manager. The file ships only inside the
evaluation_eat ``code.zip`` (Google Drive); users import it with
``python -m eval.weights import emotion_fan_mead8 PATH``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from edtalk.data.clip import EMOTIONS
from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.backbones.checkpoints import load_exact
from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure
from eval.metrics.functional.acc_emo import relation_attention_pool, self_attention_pool

OFFICIAL_CLASSES = ("happy", "angry", "disgusted", "fear", "sad", "neutral", "surprised", "contempt")
"""Emotion-FAN MEAD class index -> emotion (EAT ``cate2label['MEAD']``)."""
TO_EMOTIONS = np.array([OFFICIAL_CLASSES.index(e) for e in EMOTIONS])
"""``scores_official[TO_EMOTIONS]`` is in ``EMOTIONS`` order."""

CHIP_SIZE = 224
CHIP_PADDING = 0.25


class EmotionFAN(nn.Module):
    """ResNet-18 + self/relation frame attention, 8 classes (official index order)."""

    def __init__(self, num_classes: int = 8) -> None:
        super().__init__()
        import torchvision

        trunk = torchvision.models.resnet18(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            trunk.layer1,
            trunk.layer2,
            trunk.layer3,
            trunk.layer4,
        )
        self.alpha = nn.Sequential(nn.Linear(512, 1), nn.Sigmoid())
        self.beta = nn.Sequential(nn.Linear(1024, 1), nn.Sigmoid())
        self.pred_fc1 = nn.Linear(512, num_classes)
        self.pred_fc2 = nn.Linear(1024, num_classes)

    def frame_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, 3, 224, 224) RGB in [0, 1] -> f (N, 512), alpha (N, 1)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        f = x.mean(dim=(2, 3))
        return f, self.alpha(f)

    def video_logits(
        self, f: torch.Tensor, alpha: torch.Tensor, aggregation: str = "eval_code"
    ) -> torch.Tensor:
        """Relation-attention logits (8,) of one video from its frames' f and alpha."""
        f_v = self_attention_pool(f, alpha)
        beta = self.beta(torch.cat([f, f_v.expand_as(f)], dim=1))
        return self.pred_fc2(relation_attention_pool(f, f_v, alpha, beta, aggregation))


def _load_checkpoint(path) -> dict:
    """The training checkpoint ({'state_dict': ..., 'epoch', 'accuracy', ...}) or a bare state
    dict, loaded with weights_only (numpy scalars in the metadata are allow-listed)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - retry with the numpy scalar types old checkpoints pickle
        safe = [np.dtype, type(np.dtype(np.float64)), np._core.multiarray.scalar]
        try:
            with torch.serialization.safe_globals(safe):
                ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001
            raise RuntimeError(
                f"{path}: cannot load as an Emotion-FAN checkpoint with weights_only=True ({err})"
            ) from None
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    out = {}
    for key, value in sd.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        if key in ("fc.weight", "fc.bias"):  # the FER+ pre-training head, skipped by EAT's loader
            continue
        out[key] = value
    return out


@BACKBONES.register("emotion_fan")
def load_emotion_fan(device: str = "cpu", weights: str | None = None) -> EmotionFAN:
    """Emotion-FAN (MEAD, 8 classes) with ``emotion_fan_mead8`` from the weights manager."""
    path = weights or resolve("emotion_fan_mead8")
    net = EmotionFAN()
    load_exact(net, _load_checkpoint(path), path, "an 8-class Emotion-FAN")
    return net.eval().to(device)


def face_chips(
    frames: np.ndarray, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> tuple[np.ndarray, np.ndarray]:
    """(chips uint8 (M, size, size, 3) RGB, frame indices (M,)) for frames with a face."""
    import dlib

    from edtalk.data.face_landmarks import dlib_models, face_detector, gray

    detector = face_detector()
    shaper = _five_point(dlib, dlib_models())
    chips, kept = [], []
    for t, frame in enumerate(frames):
        rgb = np.ascontiguousarray(frame)
        rects = detector(gray(rgb), 0)
        if len(rects) == 0:
            continue
        chips.append(np.asarray(dlib.get_face_chip(rgb, shaper(rgb, rects[0]), size=size, padding=padding)))
        kept.append(t)
    if not chips:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.int64)
    return np.stack(chips), np.asarray(kept, np.int64)


_FIVE = {}


def _five_point(dlib, frm):
    if "p" not in _FIVE:
        _FIVE["p"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    return _FIVE["p"]


@torch.no_grad()
def video_scores(
    model: EmotionFAN, chips: np.ndarray, device: str = "cpu", aggregation: str = "eval_code", batch: int = 32
) -> np.ndarray:
    """Softmax class probabilities (8,) of one video in ``EMOTIONS`` order from its face chips."""
    feats, alphas = [], []
    for i in range(0, len(chips), batch):
        x = torch.from_numpy(np.ascontiguousarray(chips[i : i + batch])).to(device)
        x = x.permute(0, 3, 1, 2).float() / 255.0  # ToTensor
        if x.shape[-2:] != (CHIP_SIZE, CHIP_SIZE):  # Resize(224) (chips are 224 already)
            x = torch.nn.functional.interpolate(
                x, size=(CHIP_SIZE, CHIP_SIZE), mode="bilinear", antialias=True
            )
        f, a = model.frame_features(x)
        feats.append(f)
        alphas.append(a)
    logits = model.video_logits(torch.cat(feats), torch.cat(alphas), aggregation)
    probs = torch.softmax(logits.double(), dim=0).cpu().numpy()
    return probs[TO_EMOTIONS]


@FEATURES.register("emotion_fan_video")
def emotion_fan_video_feature(ctx: ClipContext, side: str, aggregation: str = "eval_code") -> dict:
    """{"scores": (8,) EMOTIONS-order probabilities, "n_faces": frames used} of one side."""
    chips, kept = face_chips(ctx.frames(side))
    if len(kept) == 0:
        raise ClipFailure(f"clip {ctx.clip.id}: no face found by dlib in the {side} video (Emotion-FAN)")
    model = get_backbone("emotion_fan", device=ctx.device)
    return {"scores": video_scores(model, chips, ctx.device, aggregation), "n_faces": int(len(kept))}
