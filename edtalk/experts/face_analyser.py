"""FaceAnalyser: one small CNN that reads a face image and predicts every synthtalk factor.

Heads (all from one shared trunk):
  * ``landmarks``  68 iBUG points, as fractions of the image side (x, y in [0, 1]);
  * ``pose``       yaw, pitch, roll in degrees;
  * ``mouth``      mouth_open, mouth_width, mouth_round (synthtalk factor units);
  * ``expression`` the 14 synthtalk action amounts (``EXPRESSION_KEYS``: brow raise/lower,
                   lid raise, cheek raise, lip corner pull, ...), identity-independent by design;
  * ``emotion``    8 logits in ``edtalk.data.clip.EMOTIONS`` order, computed by a small MLP from
                   the predicted ``expression`` only (a bottleneck that keeps identity cues out
                   of the emotion decision: with few training identities a direct head overfits);
  * ``identity``   a unit-norm embedding (``embed_dim``), trained with a normalised-softmax
                   (cosine classifier) loss over the training split's identities, so that the
                   cosine of two embeddings measures identity similarity on unseen identities.

Images of any square size are area-resized to ``input_size`` inside ``forward``; regression heads
work on standardised targets and ``predict`` maps them back to natural units with the statistics
stored in the config (so a saved file is self-describing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_LANDMARKS = 68
N_EMOTIONS = 8
EXPRESSION_KEYS = (  # synthtalk's per-clip facial action amounts (sidecar "expression"), in this order
    "brow_inner_raise",
    "brow_outer_raise",
    "brow_lower",
    "brow_squeeze",
    "upper_lid_raise",
    "lower_lid_raise",
    "cheek_raise",
    "lip_corner_pull",
    "lip_stretch",
    "upper_lip_raise",
    "lip_press",
    "jaw_drop",
    "nose_wrinkle",
    "asymmetry",
)


@dataclass(frozen=True)
class FaceAnalyserConfig:
    input_size: int = 64  # the face box is area-resized to input_size x input_size
    crop: tuple[float, ...] = (0.1, 0.875, 0.125, 0.875)  # face box: top, bottom, left, right (fractions)
    dropout: float = 0.3  # before the heads (regularises against the few training identities)
    width: int = 16  # channels of the first conv block (x2, x4, x8 in later stages)
    hidden: int = 256  # trunk feature size
    embed_dim: int = 64  # identity embedding size
    n_identities: int = 6  # identity classes of the training split (cosine classifier)
    identity_scale: float = 16.0  # logit scale s of the normalised softmax
    pose_mean: tuple[float, ...] = (0.0, 0.0, 0.0)  # target standardisation (set from data)
    pose_std: tuple[float, ...] = (1.0, 1.0, 1.0)
    mouth_mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    mouth_std: tuple[float, ...] = (1.0, 1.0, 1.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FaceAnalyserConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"FaceAnalyserConfig: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def to_input(frames: torch.Tensor | np.ndarray, size: int, crop=(0.0, 1.0, 0.0, 1.0)) -> torch.Tensor:
    """uint8 (N, H, W, 3) RGB -> float (N, 3, size, size) in [-1, 1]: the ``crop`` box (fractions
    top, bottom, left, right of the frame), area-resized."""
    x = torch.as_tensor(frames)
    h, w = x.shape[1], x.shape[2]
    top, bottom, left, right = crop
    x = x[:, int(round(top * h)) : int(round(bottom * h)), int(round(left * w)) : int(round(right * w))]
    x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.contiguous()


def frame_to_box(points: np.ndarray | torch.Tensor, size: int, crop) -> np.ndarray | torch.Tensor:
    """Pixel coordinates in a ``size`` frame -> [0, 1] coordinates of the crop box."""
    top, bottom, left, right = crop
    x = (points[..., 0] / size - left) / (right - left)
    y = (points[..., 1] / size - top) / (bottom - top)
    return np.stack([x, y], -1) if isinstance(points, np.ndarray) else torch.stack([x, y], -1)


def box_to_frame(points: torch.Tensor, size: int, crop) -> torch.Tensor:
    """[0, 1] crop-box coordinates -> pixel coordinates in a ``size`` frame."""
    top, bottom, left, right = crop
    x = (left + points[..., 0] * (right - left)) * size
    y = (top + points[..., 1] * (bottom - top)) * size
    return torch.stack([x, y], -1)


class FaceAnalyser(nn.Module):
    """Shared conv trunk (input_size -> input_size/16, ~9 MMAC at 64 px) and five heads."""

    def __init__(self, cfg: FaceAnalyserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.trunk = nn.Sequential(  # channels w, 2w, 2w, 4w, 4w, 8w; spatial /16
            _block(3, w, 2),
            _block(w, 2 * w, 2),
            _block(2 * w, 2 * w, 1),
            _block(2 * w, 4 * w, 2),
            _block(4 * w, 4 * w, 1),
            _block(4 * w, 8 * w, 2),
        )
        spatial = cfg.input_size // 16
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(8 * w * spatial * spatial, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout)
        )
        self.landmark_head = nn.Linear(cfg.hidden, 2 * N_LANDMARKS)
        self.pose_head = nn.Linear(cfg.hidden, 3)
        self.mouth_head = nn.Linear(cfg.hidden, 3)
        self.expression_head = nn.Linear(cfg.hidden, len(EXPRESSION_KEYS))
        self.emotion_head = nn.Sequential(  # expression amounts -> emotion logits
            nn.Linear(len(EXPRESSION_KEYS), 64), nn.ReLU(), nn.Linear(64, N_EMOTIONS)
        )
        self.embed_head = nn.Linear(cfg.hidden, cfg.embed_dim)
        self.identity_weight = nn.Parameter(torch.randn(cfg.n_identities, cfg.embed_dim) * 0.1)
        for name, v in (("pose", "pose"), ("mouth", "mouth")):
            self.register_buffer(f"{name}_mean", torch.tensor(getattr(cfg, f"{v}_mean"), dtype=torch.float32))
            self.register_buffer(f"{name}_std", torch.tensor(getattr(cfg, f"{v}_std"), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: float (N, 3, s, s) in [-1, 1], the face box (see ``to_input``). Returns raw head
        outputs: landmarks (N, 68, 2) in [0, 1] units of the box, standardised pose/mouth,
        expression amounts, emotion logits, unit
        identity embedding, trunk features ``hidden``, identity-class cosine logits (scaled)."""
        if x.shape[-1] != self.cfg.input_size:
            x = F.interpolate(x, size=(self.cfg.input_size,) * 2, mode="area")
        h = self.fc(self.trunk(x))
        emb = F.normalize(self.embed_head(h), dim=1)
        expression = self.expression_head(h)
        return {
            "landmarks": (self.landmark_head(h).view(-1, N_LANDMARKS, 2) + 0.5),
            "pose_z": self.pose_head(h),
            "mouth_z": self.mouth_head(h),
            "expression": expression,
            "emotion": self.emotion_head(expression),
            "identity": emb,
            "hidden": h,
            "identity_logits": self.cfg.identity_scale * emb @ F.normalize(self.identity_weight, dim=1).T,
        }

    @torch.no_grad()
    def predict(self, frames: np.ndarray | torch.Tensor, batch_size: int = 256) -> dict[str, np.ndarray]:
        """uint8 (T, H, W, 3) RGB frames of any square size -> numpy, natural units:
        landmarks (T,68,2) pixels at the input's size, pose (T,3) degrees, mouth (T,3),
        emotion logits (T,8), identity (T,D) unit vectors, hidden (T,hidden) trunk features."""
        self.eval()
        frames = torch.as_tensor(np.asarray(frames))
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"FaceAnalyser.predict needs (T, H, W, 3) frames, got {tuple(frames.shape)}")
        native = frames.shape[2]
        device = next(self.parameters()).device
        parts: dict[str, list] = {
            k: [] for k in ("landmarks", "pose", "mouth", "expression", "emotion", "identity", "hidden")
        }
        for start in range(0, len(frames), batch_size):
            x = to_input(frames[start : start + batch_size], self.cfg.input_size, self.cfg.crop)
            out = self(x.to(device))
            parts["landmarks"].append(box_to_frame(out["landmarks"], native, self.cfg.crop))
            parts["pose"].append(out["pose_z"] * self.pose_std + self.pose_mean)
            parts["mouth"].append(out["mouth_z"] * self.mouth_std + self.mouth_mean)
            parts["emotion"].append(out["emotion"])
            parts["expression"].append(out["expression"])
            parts["identity"].append(out["identity"])
            parts["hidden"].append(out["hidden"])
        return {k: torch.cat(v).float().cpu().numpy() for k, v in parts.items()}


def face_loss(
    model: FaceAnalyser, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    """Sum of the head losses on one batch. ``batch`` holds landmarks (N,68,2) in [0,1] box units,
    pose/mouth in natural units, emotion (N,) and identity (N,) class indices."""
    pose_z = (batch["pose"] - model.pose_mean) / model.pose_std
    mouth_z = (batch["mouth"] - model.mouth_mean) / model.mouth_std
    parts = {
        "landmarks": 20.0 * F.smooth_l1_loss(out["landmarks"], batch["landmarks"], beta=0.01),
        "pose": F.smooth_l1_loss(out["pose_z"], pose_z, beta=0.1),
        "mouth": F.smooth_l1_loss(out["mouth_z"], mouth_z, beta=0.1),
        "expression": 2.0 * F.smooth_l1_loss(out["expression"], batch["expression"], beta=0.05),
        "emotion": F.cross_entropy(out["emotion"], batch["emotion"], label_smoothing=0.05),
        # the emotion MLP also learns from (noisy) true amounts, so it maps amounts, not features
        "emotion_gt": F.cross_entropy(
            model.emotion_head(batch["expression"] + 0.05 * torch.randn_like(batch["expression"])),
            batch["emotion"],
        ),
        "identity": 0.5 * F.cross_entropy(out["identity_logits"], batch["identity"]),
    }
    total = sum(parts.values())
    return total, {k: float(v.detach()) for k, v in parts.items()}
