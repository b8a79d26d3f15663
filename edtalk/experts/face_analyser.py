"""FaceAnalyser: one small CNN that reads a face image and predicts every synthtalk factor.

Heads (from one shared trunk on the face box, except where said):
  * ``landmarks``  68 iBUG points, as fractions of the image side (x, y in [0, 1]);
  * ``pose``       yaw, pitch, roll in degrees;
  * ``mouth``      mouth_open, mouth_width, mouth_round (synthtalk factor units);
  * ``expression`` the 14 synthtalk action amounts (``EXPRESSION_KEYS``: brow raise/lower,
                   lid raise, cheek raise, lip corner pull, ...), identity-independent by design;
  * ``emotion``    8 logits in ``edtalk.data.clip.EMOTIONS`` order, computed by a small MLP from
                   the predicted ``expression`` only (a bottleneck that keeps identity cues out
                   of the emotion decision: with few training identities a direct head overfits);
                   with ``align_size`` > 0 (the default) ``expression`` and ``emotion`` come from
                   a second, *aligned* branch: the face is warped by a similarity transform that
                   puts the predicted eye centres at fixed places (``align_faces``), at about
                   the native resolution, so that the small brow / lid / lip-corner / wrinkle
                   cues of an expression sit at the same pixels whatever the head pose;
  * ``identity``   a unit-norm embedding (``embed_dim``), trained with a normalised-softmax
                   (cosine classifier) loss over the training split's identities, so that the
                   cosine of two embeddings measures identity similarity on unseen identities.

``forward`` takes whole frames of any square size (``predict`` takes uint8 frames): it cuts the
face box ``crop`` and area-resizes it to ``input_size`` for the trunk; the aligned branch samples
the frame itself. ``analyse`` is the same on a ready face box (training). Regression heads
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

# synthtalk's per-clip facial action amounts (sidecar "expression"), in the generator's order
from edtalk.data.synthtalk.expression import EXPRESSION_KEYS

N_LANDMARKS = 68
N_EMOTIONS = 8


@dataclass(frozen=True)
class FaceAnalyserConfig:
    input_size: int = 64  # the face box is area-resized to input_size x input_size
    crop: tuple[float, ...] = (0.0, 1.0, 0.0, 1.0)  # face box: top, bottom, left, right (fractions)
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
    align_size: int = 64  # side of the eye-aligned face of the expression branch (0: no branch)
    align_width: int = 16  # channels of the expression branch's first conv block

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FaceAnalyserConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"FaceAnalyserConfig: unknown keys {unknown}; known: {sorted(known)}")
        data = {"align_size": 0, **data}  # files written before the aligned branch existed
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


# canonical eye centres of the aligned face, in affine_grid units ([-1, 1], x right, y down):
# 0.6 apart (eye distance ~0.3 of the side, about the native resolution of a 128 px synthtalk
# frame at align_size 64), brows above, chin near the bottom edge
ALIGN_EYE_GAP = 0.6
ALIGN_EYE_Y = -0.25


def eye_centres(landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 68, 2) iBUG landmarks -> image-left and image-right eye centres (N, 2)."""
    return landmarks[:, 36:42].mean(1), landmarks[:, 42:48].mean(1)


def align_faces(x: torch.Tensor, landmarks: torch.Tensor, size: int, jitter: torch.Tensor | None = None):
    """Warp face boxes so that the eye centres land on fixed places (similarity transform).

    x: (N, C, H, W) images; landmarks (N, 68, 2) in [0, 1] units of those images; ``jitter``
    optional (N, 4) = (dx, dy, log-scale, angle) added to the transform (training). Returns
    (N, C, size, size), bilinear, differentiable in ``x``."""
    left, right = eye_centres(landmarks.detach() * 2 - 1)  # affine_grid units
    d = right - left
    mid = (left + right) / 2
    k = d.norm(dim=1).clamp_min(1e-3) / ALIGN_EYE_GAP
    angle = torch.atan2(d[:, 1], d[:, 0])
    if jitter is not None:
        mid = mid + jitter[:, :2]
        k = k * jitter[:, 2].exp()
        angle = angle + jitter[:, 3]
    cos, sin = k * angle.cos(), k * angle.sin()
    theta = torch.stack(  # output q -> input mid + k R (q - (0, ALIGN_EYE_Y))
        [
            torch.stack([cos, -sin, mid[:, 0] + sin * ALIGN_EYE_Y], 1),
            torch.stack([sin, cos, mid[:, 1] - cos * ALIGN_EYE_Y], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta.to(x.dtype), [x.shape[0], x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _trunk(w: int) -> nn.Sequential:
    return nn.Sequential(  # channels w, 2w, 2w, 4w, 4w, 8w; spatial /16
        _block(3, w, 2),
        _block(w, 2 * w, 2),
        _block(2 * w, 2 * w, 1),
        _block(2 * w, 4 * w, 2),
        _block(4 * w, 4 * w, 1),
        _block(4 * w, 8 * w, 2),
    )


class FaceAnalyser(nn.Module):
    """Shared conv trunk on the face box (input_size -> input_size/16, ~9 MMAC at 64 px) with the
    landmark, pose, mouth and identity heads; with ``align_size`` a second trunk of the same shape
    (~9 MMAC at 64 px) on the eye-aligned face feeds the expression and emotion heads."""

    def __init__(self, cfg: FaceAnalyserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.trunk = _trunk(w)
        spatial = cfg.input_size // 16
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(8 * w * spatial * spatial, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout)
        )
        self.landmark_head = nn.Linear(cfg.hidden, 2 * N_LANDMARKS)
        self.pose_head = nn.Linear(cfg.hidden, 3)
        self.mouth_head = nn.Linear(cfg.hidden, 3)
        if cfg.align_size:  # the expression branch on the eye-aligned face
            a = cfg.align_width
            self.align_trunk = _trunk(a)
            spatial = cfg.align_size // 16
            self.align_fc = nn.Sequential(
                nn.Flatten(),
                nn.Linear(8 * a * spatial * spatial, cfg.hidden),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
            )
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
        """x: float (N, 3, S, S) in [-1, 1], whole frames of any size (differentiable: the
        training stages' L_mot calls this on generated frames). The face box ``cfg.crop`` is cut
        and area-resized to ``input_size`` for the trunk; the aligned branch samples the frame
        itself, at its own resolution, around the predicted eyes. Returns raw head outputs:
        landmarks (N, 68, 2) in [0, 1] units of the box, standardised pose/mouth, expression
        amounts, emotion logits, unit identity embedding, trunk features ``hidden``,
        identity-class cosine logits (scaled)."""
        h, w = x.shape[-2:]
        top, bottom, left, right = self.cfg.crop
        rows = slice(int(round(top * h)), int(round(bottom * h)))
        box = x[..., rows, int(round(left * w)) : int(round(right * w))]
        return self.analyse(box, frame=x)

    def analyse(
        self, box: torch.Tensor, aligned: torch.Tensor | None = None, frame: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """The heads on a face box (N, 3, s, s) in [-1, 1] (see ``to_input``). The aligned branch
        reads ``aligned`` when given (training: aligned on the true landmarks), else it aligns
        ``frame`` (the whole frames ``box`` was cut from) or, without one, ``box`` itself."""
        if box.shape[-1] != self.cfg.input_size or box.shape[-2] != self.cfg.input_size:
            box = F.interpolate(box, size=(self.cfg.input_size,) * 2, mode="area")
        h = self.fc(self.trunk(box))
        emb = F.normalize(self.embed_head(h), dim=1)
        landmarks = self.landmark_head(h).view(-1, N_LANDMARKS, 2) + 0.5
        if self.cfg.align_size:
            if aligned is None:
                source, points = box, landmarks
                if frame is not None:  # box units -> frame units ([0, 1])
                    source, points = frame, box_to_frame(landmarks, 1.0, self.cfg.crop)
                aligned = align_faces(source, points, self.cfg.align_size)
            expression = self.expression_head(self.align_fc(self.align_trunk(aligned)))
        else:
            expression = self.expression_head(h)
        return {
            "landmarks": landmarks,
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
            x = to_input(frames[start : start + batch_size], native)  # whole frames
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
