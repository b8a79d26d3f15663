"""Mouth-swapped training images for the mouth-pose stage (paper Sec. 3.2, I^{m_a}_{p_b}).

As in the official ``get_IA_MB``: a similarity transform (rotation, uniform scale, translation) fitted
to three anchor points — the two eye centres (iBUG 36-41, 42-47) and the inner-mouth centre (60-67) —
warps the *donor* image onto the *recipient*; the donor's mouth region (bounding box of landmarks
48-67 after warping, enlarged by a margin) is then pasted onto the recipient. Unlike the official
hard box (and its hard-coded 224x224 warp), the paste uses a feathered mask so no seam edge
teaches the encoder a shortcut, and the warp keeps the recipient's size.
"""

from __future__ import annotations

import cv2
import numpy as np

LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
INNER_MOUTH = slice(60, 68)
MOUTH = slice(48, 68)


def anchor_points(landmarks: np.ndarray) -> np.ndarray:
    """(3, 2) float32: left-eye centre, right-eye centre, inner-mouth centre of 68 iBUG landmarks."""
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.shape != (68, 2):
        raise ValueError(f"expected 68x2 landmarks, got {lm.shape}")
    return np.stack([lm[LEFT_EYE].mean(0), lm[RIGHT_EYE].mean(0), lm[INNER_MOUTH].mean(0)])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 float64 least-squares similarity (Umeyama 1991, no reflection; what skimage's
    ``SimilarityTransform.estimate`` computes) mapping points ``src`` onto ``dst``. Also the face
    alignment of the ``eat`` protocol's crops (eval/backbones/align.py)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ fix @ vt
    var = (s0**2).sum() / len(src)
    scale = (sig * np.diag(fix)).sum() / max(var, 1e-12)
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def mouth_mask(landmarks: np.ndarray, size: tuple[int, int], margin: float = 0.08, feather: float = 0.04):
    """Feathered (H, W) float32 mask in [0, 1] over the mouth box of ``landmarks``.

    ``margin`` (box enlargement) and ``feather`` (Gaussian sigma) are fractions of the image width;
    the official 5 px at 256 px is 0.02, a wider margin also covers the cheeks the lips move.
    """
    h, w = size
    mouth = np.asarray(landmarks, np.float32)[MOUTH]
    pad = margin * w
    x0, y0 = np.floor(mouth.min(0) - pad).astype(int)
    x1, y1 = np.ceil(mouth.max(0) + pad).astype(int)
    mask = np.zeros((h, w), np.float32)
    mask[max(y0, 0) : max(min(y1, h), 0), max(x0, 0) : max(min(x1, w), 0)] = 1.0
    sigma = max(feather * w, 0.5)
    k = int(2 * round(3 * sigma) + 1)
    return cv2.GaussianBlur(mask, (k, k), sigma)


def swap_mouth(
    recipient: np.ndarray, recipient_landmarks: np.ndarray, donor: np.ndarray, donor_landmarks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """I^{m_donor}_{p_recipient}: the recipient's face and pose with the donor's mouth.

    Returns (image uint8 (H, W, 3), mask float32 (H, W)) where mask is the blend weight of the donor.
    """
    if recipient.shape != donor.shape:
        raise ValueError(f"recipient {recipient.shape} and donor {donor.shape} must have one shape")
    h, w = recipient.shape[:2]
    m = similarity_transform(anchor_points(donor_landmarks), anchor_points(recipient_landmarks))
    m = m.astype(np.float32)
    warped = cv2.warpAffine(donor, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    donor_mouth = np.asarray(donor_landmarks, np.float32)[MOUTH]
    warped_mouth = donor_mouth @ m[:, :2].T + m[:, 2]
    # the mask covers both mouths, so neither the recipient's nor the donor's lips are cut
    donor_box = np.asarray(recipient_landmarks, np.float32).copy()
    donor_box[MOUTH] = warped_mouth
    mask = np.maximum(mouth_mask(donor_box, (h, w)), mouth_mask(recipient_landmarks, (h, w)))
    out = warped.astype(np.float32) * mask[..., None] + recipient.astype(np.float32) * (1 - mask[..., None])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask
