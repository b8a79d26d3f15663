"""Rasteriser: pose the 3D template, project it, and paint a shaded face with anti-aliased polygons.

``render_frame(identity, factors, expression, size)`` returns a uint8 (size, size, 3) RGB image and
the 68 projected landmarks (pixel coordinates, pixel centres at integers). Painting happens on a
canvas ``supersample_for(size)`` times larger with ``cv2.LINE_AA`` and sub-pixel (``shift``) coordinates, then
is area-downsampled. Painter's order: background, hair behind the head, shoulders, neck, ears, the
head layer (skin, blush, wrinkles, nose, eyes, brows, mouth; Lambert-shaded on a head ellipsoid and
composited through the anti-aliased face mask), then the hair cap in front.

Pose conventions: yaw > 0 turns the nose to the image right, pitch > 0 tips the nose down, roll > 0
rotates the head clockwise in the image (degrees). ``tx``/``ty`` move the head by a fraction of the
image size, ``scale`` multiplies the head size.
"""

from __future__ import annotations

import cv2
import numpy as np

from edtalk.data.synthtalk.template import BODY_PARTS, face_geometry

SHIFT = 4  # fixed-point bits for sub-pixel polygon vertices
# Framing (generator 1.1): the face fills the frame the way it does in the preprocessed real sets
# (EDTalk crops MEAD/HDTF to the face track's box grown by 10 %): brows to chin span about 0.6 of the
# side (0.54-0.68 measured on the landmark files), centred. Generator 1.0 drew the head at 1/1.45 of
# this size with hair and shoulders around it, which left the tiny 64 px model a mouth of ~7 x 4 px
# and head motion of 1-3 px.
FRAMING = 1.45  # head size relative to generator 1.0's framing
PIXELS_PER_UNIT = 0.2 * FRAMING  # template unit -> fraction of the image side (before pose scale)
HEAD_CENTRE = (0.5, 0.41)  # image position (fraction of size) of the template origin
PIVOT = np.array([0.0, 0.4, 0.0])  # rotation centre of the head, template units
CAMERA_DISTANCE = 7.0
LIGHT = np.array([-0.45, -0.55, 0.75]) / np.linalg.norm([-0.45, -0.55, 0.75])
MOUTH_INTERIOR = (62, 18, 24)
EYE_WHITE = (236, 232, 226)

_BACKGROUNDS: dict[tuple, np.ndarray] = {}


def supersample_for(size: int) -> int:
    return 4 if size <= 64 else 3 if size <= 96 else 2


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) Rx(pitch) Ry(yaw), angles in degrees (conventions in the module docstring)."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(points: np.ndarray, rot: np.ndarray, factors: dict, size: int) -> np.ndarray:
    """Pose (rotation about PIVOT) and perspective-project (N, 3) template points to pixels (N, 2)."""
    posed = (points - PIVOT) @ rot.T + PIVOT
    persp = CAMERA_DISTANCE / (CAMERA_DISTANCE - posed[:, 2:3])
    unit = size * PIXELS_PER_UNIT * factors.get("scale", 1.0)
    centre = (
        np.array([HEAD_CENTRE[0] + factors.get("tx", 0.0), HEAD_CENTRE[1] + factors.get("ty", 0.0)]) * size
    )
    return centre + unit * posed[:, :2] * persp - 0.5


class _Canvas:
    """Drawing helpers on a supersampled uint8 RGB image (vertices given in output-pixel units)."""

    def __init__(self, image: np.ndarray, ss: int, unit: float) -> None:
        self.image, self.ss, self.unit = image, ss, unit  # unit: big-canvas pixels per template unit

    def fix(self, pts: np.ndarray) -> np.ndarray:
        big = pts * self.ss + (self.ss - 1) / 2
        return np.round(big * (1 << SHIFT)).astype(np.int32)

    def fill(self, pts, colour, image=None) -> None:
        target = self.image if image is None else image
        cv2.fillPoly(target, [self.fix(pts)], _c(colour), cv2.LINE_AA, SHIFT)

    def line(self, pts, colour, width_units: float, closed: bool = False, image=None) -> None:
        thickness = max(1, int(round(width_units * self.unit)))
        target = self.image if image is None else image
        cv2.polylines(target, [self.fix(pts)], closed, _c(colour), thickness, cv2.LINE_AA, SHIFT)

    def mask(self, pts) -> np.ndarray:
        m = np.zeros(self.image.shape[:2], np.uint8)
        cv2.fillPoly(m, [self.fix(pts)], 255, cv2.LINE_AA, SHIFT)
        return m

    def bbox(self, pts, pad: int = 3) -> tuple[slice, slice]:
        big = pts * self.ss + (self.ss - 1) / 2
        h, w = self.image.shape[:2]
        x0, y0 = np.floor(big.min(0)).astype(int) - pad
        x1, y1 = np.ceil(big.max(0)).astype(int) + pad
        return slice(max(y0, 0), min(max(y1, 0), h)), slice(max(x0, 0), min(max(x1, 0), w))


def _c(colour) -> tuple[int, int, int]:
    return tuple(int(round(min(max(float(v), 0.0), 255.0))) for v in colour)


def _darker(colour, amount: float) -> np.ndarray:
    """``colour`` darkened by ``amount`` (0..1), so creases read on light and deep skin alike."""
    return np.asarray(colour, float) * (1 - 0.7 * amount)


def _mix(a, b, t: float) -> np.ndarray:
    return np.asarray(a, float) * (1 - t) + np.asarray(b, float) * t


def _background(colour, big: int) -> np.ndarray:
    key = (tuple(colour), big)
    if key not in _BACKGROUNDS:
        if len(_BACKGROUNDS) > 64:
            _BACKGROUNDS.clear()
        yy, xx = np.mgrid[0:big, 0:big].astype(np.float32) / big
        light = 1.12 - 0.3 * yy - 0.25 * ((xx - 0.4) ** 2 + (yy - 0.35) ** 2)
        _BACKGROUNDS[key] = np.clip(np.asarray(colour, np.float32) * light[..., None], 0, 255).astype(
            np.uint8
        )
    return _BACKGROUNDS[key]


def _composite(dst: np.ndarray, layer: np.ndarray, mask: np.ndarray, region) -> None:
    """dst = dst * (1 - mask) + layer * mask inside ``region`` (mask uint8 0..255)."""
    a = mask[region].astype(np.float32) * (1 / 255)
    dst[region] = cv2.blendLinear(layer[region], dst[region], a, 1 - a)


def _clipped(cv: _Canvas, clip_poly: np.ndarray, draw) -> None:
    """Run ``draw(scratch)`` on a scratch copy of the canvas region; paste it back inside ``clip_poly``."""
    region = cv.bbox(clip_poly)
    scratch = _scratch("clip", cv.image)
    scratch[region] = cv.image[region]
    draw(scratch)
    _composite(cv.image, scratch, cv.mask(clip_poly), region)


_SCRATCH: dict[str, np.ndarray] = {}


def _scratch(name: str, like: np.ndarray) -> np.ndarray:
    """A reusable buffer of ``like``'s shape (one per name and process), to avoid re-allocating."""
    buf = _SCRATCH.get(name)
    if buf is None or buf.shape != like.shape:
        buf = _SCRATCH[name] = np.empty_like(like)
    return buf


def _shade(layer: np.ndarray, region, p2: dict, rot: np.ndarray, ss: int) -> None:
    """Multiply the head layer by Lambert shading of a head ellipsoid (light from the upper left).

    The shading is smooth, so it is computed on a grid ``ss`` times coarser and upsampled.
    """
    ys, xs = region
    face = p2["face"]
    cx, cy = face[:, 0].mean(), (face[:, 1].min() + face[:, 1].max()) / 2
    ax = (face[:, 0].max() - face[:, 0].min()) / 2 * 1.05
    ay = (face[:, 1].max() - face[:, 1].min()) / 2 * 1.05
    h, w = ys.stop - ys.start, xs.stop - xs.start
    if h <= 0 or w <= 0:
        return
    gy = (np.arange(0, h, ss, dtype=np.float32) + ys.start - (ss - 1) / 2) / ss
    gx = (np.arange(0, w, ss, dtype=np.float32) + xs.start - (ss - 1) / 2) / ss
    dx, dy = gx[None, :] - cx, gy[:, None] - cy
    cr, sr = rot[0, 0], rot[1, 0]
    u = (dx * cr + dy * sr) / ax
    v = (-dx * sr + dy * cr) / ay
    nz = np.sqrt(np.clip(1 - u * u - v * v, 0.0, 1.0))
    lh = rot.T @ LIGHT
    shade = 0.55 + 0.52 * np.clip(u * lh[0] + v * lh[1] + nz * lh[2], 0.0, 1.0)
    shade = cv2.resize(shade.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    sub = layer[region]
    layer[region] = cv2.multiply(sub, cv2.merge([shade, shade, shade]), dtype=cv2.CV_8U)


def _blush(layer: np.ndarray, centres: np.ndarray, radius: float, colour, strength: float, ss: int) -> None:
    if strength <= 0.01:
        return
    h, w = layer.shape[:2]
    r = radius * ss
    for cx, cy in centres * ss + (ss - 1) / 2:
        x0, x1 = int(max(cx - 2 * r, 0)), int(min(cx + 2 * r, w))
        y0, y1 = int(max(cy - 2 * r, 0)), int(min(cy + 2 * r, h))
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        g = strength * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))[..., None]
        sub = layer[y0:y1, x0:x1].astype(np.float32)
        layer[y0:y1, x0:x1] = (sub * (1 - g) + np.asarray(colour, np.float32) * g).astype(np.uint8)


def _eye(cv: _Canvas, p2: dict, side: str, idn: dict, skin) -> None:
    up, low = p2[f"eye_{side}_upper_lid"], p2[f"eye_{side}_lower_lid"]
    opening = np.concatenate([up, low[::-1][1:-1]])
    iris_col = np.asarray(idn["iris"], float)

    def draw(img):
        cv.fill(opening, EYE_WHITE, image=img)
        cv.line(up, _mix(EYE_WHITE, (120, 110, 110), 0.5), 0.03, image=img)  # lid shadow on the white
        cv.fill(p2[f"eye_{side}_iris"], iris_col * 0.55, image=img)
        inner = p2[f"eye_{side}_iris"]
        centre = inner.mean(0)
        cv.fill(centre + (inner - centre) * 0.8, iris_col, image=img)
        cv.fill(p2[f"eye_{side}_pupil"], (14, 12, 12), image=img)
        g = p2[f"eye_{side}_glint"][0]
        rad = (inner[:, 0].max() - inner[:, 0].min()) * 0.12
        a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
        cv.fill(g + rad * np.stack([np.cos(a), np.sin(a)], 1), (250, 250, 250), image=img)

    if np.ptp(opening[:, 1]) > 0.3:
        _clipped(cv, opening, draw)
    cv.line(p2[f"eye_{side}_crease"][1:-1], _darker(skin, 0.45), 0.018)
    cv.line(up, (30, 22, 22), 0.03)  # lash line
    corner = up[0] if side == "l" else up[-1]
    tip = corner + (corner - up[3 if side == "l" else -4]) * 0.35
    cv.line(np.stack([corner, tip]), (30, 22, 22), 0.025)
    cv.line(low, _darker(skin, 0.35), 0.015)


def _brow(cv: _Canvas, centre: np.ndarray, thickness_px: np.ndarray, colour) -> None:
    top = centre - np.stack([np.zeros_like(thickness_px), thickness_px * 0.5], 1)
    bottom = centre + np.stack([np.zeros_like(thickness_px), thickness_px * 0.5], 1)
    cv.fill(np.concatenate([top, bottom[::-1]]), colour)


def _mouth(cv: _Canvas, p2: dict, idn: dict, skin) -> None:
    uo, lo = p2["mouth_upper_outer"], p2["mouth_lower_outer"]
    ui, li = p2["mouth_upper_inner"], p2["mouth_lower_inner"]
    lips = np.asarray(idn["lips"], float)
    interior = np.concatenate([ui, li[::-1][1:-1]])
    gap_px = float((li[:, 1] - ui[:, 1]).max())
    if gap_px > 0.4:

        def draw(img):
            cv.fill(interior, MOUTH_INTERIOR, image=img)
            tooth_h = min(0.45 * gap_px, 0.07 * cv.unit / cv.ss)
            teeth = np.concatenate([ui[2:-2], ui[2:-2][::-1] + [0, tooth_h]])
            cv.fill(teeth, (238, 234, 222), image=img)
            if gap_px > 3:
                mid = li.mean(0)
                tongue_w = (li[:, 0].max() - li[:, 0].min()) * 0.32
                a = np.linspace(np.pi, 2 * np.pi, 12)
                tongue = np.stack(
                    [mid[0] + tongue_w * np.cos(a), li[:, 1].max() + 0.28 * gap_px * np.sin(a)], 1
                )
                cv.fill(tongue, (150, 60, 68), image=img)

        _clipped(cv, interior, draw)
    cv.fill(np.concatenate([uo, ui[::-1]]), lips * 0.88)
    cv.fill(np.concatenate([lo, li[::-1]]), lips)
    mid = len(lo) // 2
    hi = lo[mid - 3 : mid + 4].copy()
    hi[:, 1] = lo[mid - 3 : mid + 4, 1] * 0.45 + li[len(li) // 2, 1] * 0.55
    cv.line(hi, _mix(lips, (255, 235, 230), 0.25), 0.02)
    cv.line(ui, _mix(lips, (40, 10, 15), 0.55), 0.015)


def _nose(cv: _Canvas, p2: dict, skin, light_side: str) -> None:
    dark = _mix(skin, (40, 20, 20), 0.5)
    shadow_side = "r" if light_side == "l" else "l"
    cv.line(p2[f"nose_side_{shadow_side}"], _darker(skin, 0.2), 0.05)
    for s in ("l", "r"):
        cv.line(p2[f"nose_ala_{s}"], _darker(skin, 0.22), 0.02)
        cv.fill(p2[f"nose_nostril_{s}"], dark)
    tip = p2["nose_tip"][0]
    a = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    r = 0.045 * cv.unit / cv.ss
    cv.fill(
        tip + [-r * 0.4, -r * 0.5] + r * np.stack([np.cos(a), np.sin(a)], 1),
        _mix(skin, (255, 250, 245), 0.18),
    )


def _wrinkles(cv: _Canvas, p2: dict, ex: dict, skin) -> None:
    lm = p2["landmarks"]
    raise_amt = max(0.0, 0.5 * (ex["brow_inner_raise"] + ex["brow_outer_raise"]))
    if raise_amt > 0.15:
        brow_y = min(lm[17:27, 1].min(), lm[17:27, 1].max())
        eye_dx = lm[45, 0] - lm[36, 0]
        cx = lm[27, 0]
        for k in range(3):
            y = brow_y - (0.16 + 0.11 * k) * eye_dx * 0.8
            xs = np.linspace(-0.33, 0.33, 9) * eye_dx
            pts = np.stack([cx + xs, y + 0.06 * eye_dx * (xs / eye_dx) ** 2 * 4], 1)
            cv.line(pts, _darker(skin, 0.3 * min(raise_amt, 1.0)), 0.015)
    frown = max(0.0, ex["brow_squeeze"]) * (0.5 + 0.5 * max(ex["brow_lower"], 0))
    if frown > 0.15:
        for s in (-1, 1):
            a, b = lm[21] if s < 0 else lm[22], lm[27]
            top = a + (b - a) * 0.3
            pts = np.stack(
                [top, top + (lm[27] - lm[21 if s < 0 else 22]) * 0.1 + [0, 0.08 * cv.unit / cv.ss]]
            )
            cv.line(pts, _darker(skin, 0.4 * min(frown, 1.0)), 0.02)
    if ex["nose_wrinkle"] > 0.15:
        b = p2["nose_bridge"]
        for k in range(2):
            y = b[1, 1] + (b[2, 1] - b[1, 1]) * (0.3 + 0.4 * k)
            w = (lm[35, 0] - lm[31, 0]) * 0.35
            pts = np.stack([[b[1, 0] - w, y + 1], [b[1, 0], y], [b[1, 0] + w, y + 1]])
            cv.line(pts, _darker(skin, 0.45 * min(ex["nose_wrinkle"], 1.0)), 0.015)
    fold = 0.6 * max(ex["cheek_raise"], 0) + 0.3 * max(ex["lip_corner_pull"], 0) + 0.4 * ex["nose_wrinkle"]
    for s, ala, corner in ((-1, 31, 48), (1, 35, 54)) if fold >= 0.15 else ():
        start = lm[ala] + [s * 0.03 * cv.unit / cv.ss, -0.01 * cv.unit / cv.ss]
        end = lm[corner] + [s * 0.05 * cv.unit / cv.ss, 0.03 * cv.unit / cv.ss]
        mid = (start + end) / 2 + [s * 0.05 * cv.unit / cv.ss, 0]
        t = np.linspace(0, 1, 7)[:, None]
        pts = (1 - t) ** 2 * start + 2 * t * (1 - t) * mid + t**2 * end
        cv.line(pts, _darker(skin, 0.28 * min(fold, 1.2)), 0.018)


def _hair(cv: _Canvas, p2: dict, idn: dict) -> None:
    hair = np.asarray(idn["hair"], float)
    cv.fill(p2["hair_cap"], hair)
    cv.line(p2["hair_highlight"], _mix(hair, (255, 250, 240), 0.14), 0.05)
    cap = p2["hair_cap"]  # 27 outer points (left to right), then 25 hairline points (right to left)
    t = np.linspace(0, 1, 6)[:, None]
    for k in (7, 11, 15, 19):
        a, b = cap[k], cap[27 + 25 - k]
        mid = (a + b) / 2 + [0, -0.02 * cv.unit / cv.ss]
        cv.line((1 - t) ** 2 * a + 2 * t * (1 - t) * mid + t**2 * b, hair * 0.82, 0.012)


def render_frame(
    identity: dict, factors: dict, expression: dict, size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Render one frame: (uint8 (size, size, 3) RGB image, (68, 2) float landmarks in pixels).

    ``factors`` needs yaw, pitch, roll, tx, ty, scale, mouth_open, mouth_width, mouth_round and may
    carry ``blink`` (0 open .. 1 closed); ``expression`` comes from ``expression_params``.
    """
    ss = supersample_for(size)
    big = size * ss
    mouth = (factors.get("mouth_open", 0.0), factors.get("mouth_width", 0.0), factors.get("mouth_round", 0.0))
    geo = face_geometry(identity, expression, mouth, factors.get("blink", 0.0))
    rot = rotation(factors.get("yaw", 0.0), factors.get("pitch", 0.0), factors.get("roll", 0.0))
    names = list(geo)
    lengths = [len(geo[n]) for n in names]
    flat = np.concatenate([geo[n] for n in names])
    head_2d = project(flat, rot, factors, size)
    body_2d = project(flat, np.eye(3), factors, size)
    p2, start = {}, 0
    for name, n in zip(names, lengths, strict=True):
        p2[name] = (body_2d if name in BODY_PARTS else head_2d)[start : start + n]
        start += n
    unit = big * PIXELS_PER_UNIT * factors.get("scale", 1.0)
    image = _background(identity["background"], big).copy()
    cv = _Canvas(image, ss, unit)
    skin = np.asarray(identity["skin"], float)
    hair = np.asarray(identity["hair"], float)
    if "hair_back" in p2:
        cv.fill(p2["hair_back"], hair * 0.85)
    cv.fill(p2["neck"], skin * 0.8)
    jaw = p2["landmarks"][3:14]
    cv.fill(np.concatenate([jaw, jaw[::-1] + [0, 0.2 * unit / ss]]), skin * 0.58)  # chin shadow
    cv.fill(p2["shoulders"], identity["shirt"])
    for ear in ("ear_l", "ear_r"):
        cv.fill(p2[ear], skin * 0.86)
        cv.line(p2[ear][2:-2] * 0.85 + p2[ear].mean(0) * 0.15, skin * 0.7, 0.02)
    head = _scratch("head", image)
    head[...] = _c(skin)
    hv = _Canvas(head, ss, unit)
    _blush(
        head,
        p2["cheeks"],
        0.2 * unit / ss,
        (214, 96, 96),
        0.1 + 0.3 * max(expression["cheek_raise"], 0.0),
        ss,
    )
    _wrinkles(hv, p2, expression, skin)
    _nose(hv, p2, skin, "l")
    for side in ("l", "r"):
        _eye(hv, p2, side, identity, skin)
    brow_t = identity["brow_thickness"] * unit / ss * (0.55 + 0.45 * np.linspace(0, 1, 13) ** 0.5)
    _brow(hv, p2["brow_l"], brow_t, identity["brow_colour"])
    _brow(hv, p2["brow_r"], brow_t[::-1], identity["brow_colour"])
    _mouth(hv, p2, identity, skin)
    region = cv.bbox(p2["face"])
    _shade(head, region, p2, rot, ss)
    _composite(image, head, cv.mask(p2["face"]), region)
    _hair(cv, p2, identity)
    out = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return out, p2["landmarks"].astype(np.float64)
