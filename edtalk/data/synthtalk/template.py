"""The 3D face template: 68 iBUG landmarks with depth, plus the dense contours the renderer fills.

Coordinates (template units, the face half-width at the cheekbones is about 1): x to the image
right, y down, z towards the camera. ``face_geometry`` bends a neutral face by an identity, an
expression, the mouth factors (open, width, round) and a blink, and returns named (N, 3) point
arrays. The 68 landmarks are samples of the dense contours, in the iBUG order:
jaw 0-16, brows 17-21 / 22-26, nose bridge 27-30, nose base 31-35, eyes 36-41 / 42-47,
outer lips 48-59, inner lips 60-67. ``BODY_PARTS`` are posed without head rotation (neck, torso).
"""

from __future__ import annotations

import numpy as np

BODY_PARTS = ("shoulders", "neck")
JAW_TOP = -0.28  # y where the jaw line (landmarks 0 and 16) starts, near ear level


def _pts(x, y, z) -> np.ndarray:
    """Stack broadcastable x, y, z into (..., 3) points."""
    x, y, z = np.asarray(x, float), np.asarray(y, float), np.asarray(z, float)
    out = np.empty(np.broadcast_shapes(x.shape, y.shape, z.shape) + (3,))
    out[..., 0], out[..., 1], out[..., 2] = x, y, z
    return out


def _bump(p: np.ndarray, peak: float) -> np.ndarray:
    """A 0 -> 1 -> 0 arch over p in [0, 1] whose top sits at ``peak``."""
    k = np.log(0.5) / np.log(peak)
    return np.sin(np.pi * np.clip(p, 0, 1) ** k)


def _jaw_and_forehead(idn: dict, jaw_open: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, np.pi, 49)  # every 3rd sample is a landmark (0..16)
    c, s = np.cos(t), np.sin(t)
    width = idn["face_width"]
    chin = 1.15 * idn["face_length"] + 0.7 * jaw_open
    x = -width * np.sign(c) * np.abs(c) ** idn["jaw_square"] * (1 - idn["chin_taper"] * s**6)
    y = JAW_TOP + (chin - JAW_TOP) * s**0.9
    jaw = _pts(x, y, 0.2 + 0.75 * s**1.5)
    u = np.linspace(np.pi, 0.0, 33)[1:-1]  # forehead from right (landmark 16) over the top to the left
    forehead = _pts(
        -width * 0.985 * np.cos(u),
        JAW_TOP - idn["forehead_height"] * np.sin(u) ** 0.85,
        0.3 + 0.45 * np.sin(u),
    )
    return jaw, forehead


def _eye(idn: dict, ex: dict, side: int, blink: float) -> dict[str, np.ndarray]:
    """One eye, ``side`` -1 = image left (landmarks 36-41), +1 = image right (42-47)."""
    cx, cy, w = side * idn["eye_spacing"], idn["eye_y"], idn["eye_size"]
    height = 2 * w * idn["eye_height"]
    h_up, h_low = 0.62 * height, 0.38 * height
    tilt = idn["eye_tilt"]
    p = np.linspace(0.0, 1.0, 13)  # left corner -> right corner; landmarks at p = 0, 1/3, 2/3, 1
    x = cx - w + 2 * w * p
    outer_is_left = side < 0
    y_left, y_right = (cy - tilt, cy + 0.3 * tilt) if outer_is_left else (cy + 0.3 * tilt, cy - tilt)
    yc = y_left + (y_right - y_left) * p
    up_peak, low_peak = (0.56, 0.45) if outer_is_left else (0.44, 0.55)
    widen = 1 + 0.45 * ex["upper_lid_raise"] + 0.15 * max(ex["asymmetry"], 0) * (side < 0)
    squint = 1 - 0.5 * ex["lower_lid_raise"] - 0.25 * ex["cheek_raise"]
    y_low = yc + h_low * max(squint, 0.15) * _bump(p, low_peak)
    y_open = yc - h_up * max(widen, 0.25) * _bump(p, up_peak)
    y_up = y_open * (1 - blink) + y_low * blink
    z = 0.62 + 0.1 * np.sin(np.pi * p)
    crease = yc - (h_up * max(widen, 0.25) + 0.035 + 0.02 * max(ex["upper_lid_raise"], 0)) * _bump(p, up_peak)
    iris_r = idn["iris_ratio"] * w
    icy = cy - 0.12 * h_up
    a = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    return {
        "upper_lid": _pts(x, y_up, z),
        "lower_lid": _pts(x, y_low, z),
        "crease": _pts(x, crease, z + 0.01),
        "iris": _pts(cx + iris_r * np.cos(a), icy + iris_r * np.sin(a), 0.7),
        "pupil": _pts(cx + 0.42 * iris_r * np.cos(a), icy + 0.42 * iris_r * np.sin(a), 0.71),
        "glint": _pts(cx - 0.3 * iris_r, icy - 0.35 * iris_r, 0.72)[None],
    }


def _brow(idn: dict, ex: dict, side: int) -> np.ndarray:
    """Brow centre line from its image-left end to its image-right end (5 landmarks at p=0..1)."""
    p = np.linspace(0.0, 1.0, 13)  # landmarks at every 3rd sample
    inner = p if side < 0 else 1 - p  # 1 at the inner (nose-side) end
    w = idn["eye_size"]
    x_out, x_in = side * (idn["eye_spacing"] + 1.15 * w), side * (idn["eye_spacing"] - 1.05 * w)
    x = x_out + (x_in - x_out) * inner
    y = idn["eye_y"] - 2 * w * idn["eye_height"] * 0.62 - idn["brow_gap"]
    y = y - idn["brow_arch"] * _bump(1 - inner, 0.6)
    y = y - 0.13 * ex["brow_inner_raise"] * inner**1.5 - 0.11 * ex["brow_outer_raise"] * (1 - inner) ** 1.5
    y = y + 0.07 * ex["brow_lower"] + 0.025 * ex["brow_squeeze"] * inner**2
    x = x - side * 0.05 * ex["brow_squeeze"] * inner**2
    if side > 0:
        y = y - 0.07 * ex["asymmetry"] * (0.4 + 0.6 * (1 - inner))
    return _pts(x, y, 0.72 + 0.08 * np.sin(np.pi * inner / 2))


def _mouth(idn: dict, ex: dict, mouth: tuple[float, float, float]) -> dict[str, np.ndarray]:
    m_open, m_width, m_round = mouth
    opening = float(np.clip(m_open + 0.6 * ex["jaw_drop"], 0.0, 1.2))
    gap = 0.3 * opening
    half_w = idn["mouth_width"] * (
        1 + 0.16 * m_width - 0.3 * m_round + 0.16 * ex["lip_stretch"] + 0.1 * max(ex["lip_corner_pull"], 0)
    )
    press = ex["lip_press"]
    my = idn["mouth_y"]

    def lift(u):  # corner rise (smile) / drop (frown), plus contempt's one-sided pull
        return (0.1 * ex["lip_corner_pull"] + 0.09 * ex["asymmetry"] * (u > 0)) * np.abs(u) ** 2.2

    def xs(u):
        return u * half_w * (1 + 0.12 * ex["asymmetry"] * (u > 0))

    u_in = 0.86 - 0.12 * m_round
    shape = 0.35 + 0.25 * m_round

    def gap_at(u):
        return gap * np.clip(1 - (u / u_in) ** 2, 0, 1) ** shape

    raise_up = 0.06 * ex["upper_lip_raise"]
    u = np.linspace(-1.0, 1.0, 25)  # outer: landmarks at every 4th sample
    t_up = idn["upper_lip"] * (1 + 0.3 * m_round) * (1 - 0.5 * press)
    t_low = idn["lower_lip"] * (1 + 0.2 * m_round) * (1 - 0.5 * press)
    up_thick = t_up * (1 - np.abs(u) ** 2.2) ** 0.7 * (1 - 0.3 * np.exp(-((u / 0.13) ** 2)))
    low_thick = t_low * (1 - np.abs(u) ** 2.5) ** 0.6
    seam = my - lift(u)
    z_out = 0.9 - 0.42 * u**2 + 0.1 * m_round
    upper_outer = _pts(xs(u), seam - 0.3 * gap_at(u) - raise_up * (1 - u**2) - up_thick, z_out)
    lower_outer = _pts(xs(u), seam + 0.7 * gap_at(u) + low_thick, z_out)
    v = np.linspace(-u_in, u_in, 17)  # inner: landmarks at every 4th sample
    seam_in = my - lift(v)
    z_in = 0.88 - 0.42 * v**2 + 0.1 * m_round
    upper_inner = _pts(xs(v), seam_in - 0.3 * gap_at(v) - raise_up * (1 - v**2), z_in)
    lower_inner = _pts(xs(v), seam_in + 0.7 * gap_at(v), z_in)
    return {
        "upper_outer": upper_outer,
        "lower_outer": lower_outer,
        "upper_inner": upper_inner,
        "lower_inner": lower_inner,
        "gap": np.array([[gap, 0.7 * gap, 0.0]]),  # not a point: opening size (x) and jaw drop (y)
    }


def _nose(idn: dict, ex: dict) -> dict[str, np.ndarray]:
    tip_y, nw, depth = idn["nose_length"], idn["nose_width"], idn["nose_depth"]
    top_y = idn["eye_y"] + 0.02
    lift = 0.03 * ex["nose_wrinkle"]
    b = np.linspace(0, 1, 4)
    bridge = _pts(0.0, top_y + (tip_y - top_y) * b, 0.74 + depth * b**1.5)
    base_x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * nw
    base_y = tip_y + np.array([0.03, 0.07, 0.085, 0.07, 0.03]) - lift
    base = _pts(base_x, base_y, 0.78 + depth * np.array([0.15, 0.5, 0.7, 0.5, 0.15]))
    a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    nostrils = [
        _pts(s * nw * 0.46 + 0.035 * np.cos(a), tip_y + 0.055 - lift + 0.014 * np.sin(a), 0.8 + 0.5 * depth)
        for s in (-1, 1)
    ]
    arc = np.linspace(-0.6 * np.pi, 0.75 * np.pi, 9)
    alae = [
        _pts(
            s * (nw * 0.88 + 0.06 * np.sin(arc)), tip_y - 0.03 - lift - 0.06 * np.cos(arc), 0.78 + 0.2 * depth
        )
        for s in (-1, 1)
    ]
    sides = [
        _pts(s * np.array([0.05, 0.07, 0.09]), [top_y + 0.1, (top_y + tip_y) / 2, tip_y - 0.06], 0.8)
        for s in (-1, 1)
    ]
    return {
        "bridge": bridge,
        "base": base,
        "nostril_l": nostrils[0],
        "nostril_r": nostrils[1],
        "ala_l": alae[0],
        "ala_r": alae[1],
        "side_l": sides[0],
        "side_r": sides[1],
        "tip": _pts(0.0, tip_y - 0.02, 0.78 + depth)[None],
    }


def _hair(idn: dict) -> dict[str, np.ndarray]:
    style, width = idn["hair_style"], idn["face_width"]
    th = np.linspace(0.0, np.pi, 25)
    top = JAW_TOP - idn["forehead_height"] - 0.32
    volume = 1.35 if style == "volume" else 1.0
    cy = -0.45
    outer = _pts(-width * 1.07 * volume * np.cos(th), cy - (cy - top) * volume * np.sin(th), 0.0)
    side_x = width * 1.05 * volume
    outer = np.concatenate(
        [
            _pts(-side_x, 0.0 if style != "receding" else -0.2, 0.0)[None],
            outer,
            _pts(side_x, 0.0 if style != "receding" else -0.2, 0.0)[None],
        ]
    )
    hairline_h = {"short": 1.0, "fringe": 0.55, "long": 0.95, "volume": 1.0, "receding": 1.3}[style]
    hl = np.linspace(np.pi, 0.0, 25)  # right temple over to left temple
    hy = -0.22 - hairline_h * np.sin(hl) ** 0.7
    if style == "fringe":
        hy = hy + 0.05 * (np.arange(25) % 2)
    hairline = _pts(-width * 0.97 * np.cos(hl), hy, 0.25 + 0.55 * np.sin(hl))
    parts = {
        "cap": np.concatenate([outer, hairline]),
        "highlight": outer[8:15] * [0.75, 1.0, 1.0] + [-0.15, 0.16 + 0.1 * volume, 0.3],
    }
    if style == "long":
        back = _pts(
            [-1.15 * width, -1.3 * width, -1.25 * width, 1.25 * width, 1.3 * width, 1.15 * width],
            [-0.6, 0.8, 2.2, 2.2, 0.8, -0.6],
            -0.5,
        )
        parts["back"] = back
    if style == "volume":
        a = np.linspace(np.pi * 0.9, np.pi * 2.1, 40)
        r = 1.0 + 0.05 * np.sin(9 * a)
        parts["back"] = _pts(1.45 * width * r * np.cos(a), -0.5 + 1.75 * r * np.sin(a) * -1, -0.5)
    return parts


def _ears(idn: dict) -> dict[str, np.ndarray]:
    a = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 12)
    w = idn["face_width"]
    return {
        f"ear_{n}": _pts(s * (w * 0.93 + 0.16 * np.cos(a)), -0.12 + 0.25 * np.sin(a) + 0.03 * np.cos(a), -0.1)
        for n, s in (("l", -1), ("r", 1))
    }


def _body() -> dict[str, np.ndarray]:
    neck = _pts([-0.5, 0.5, 0.55, -0.55], [0.2, 0.2, 2.1, 2.1], -0.3)
    a = np.linspace(np.pi, 0, 9)  # round neckline, left to right
    collar = _pts(0.62 * np.cos(a) * -1, 1.6 + 0.35 * np.sin(a), -0.3)
    outline = _pts(
        [0.62, 1.9, 2.6, 2.9, -2.9, -2.6, -1.9, -0.62], [1.6, 1.85, 2.3, 4.0, 4.0, 2.3, 1.85, 1.6], -0.4
    )
    return {"neck": neck, "shoulders": np.concatenate([collar, outline[1:-1]])}


_STATIC_CACHE: dict[str, dict[str, np.ndarray]] = {}


def _static_parts(identity: dict, expression: dict) -> dict[str, np.ndarray]:
    """Parts that do not move within a clip (brows, nose, hair, ears, body, cheeks), cached."""
    key = repr((sorted(identity.items()), sorted(expression.items())))
    parts = _STATIC_CACHE.get(key)
    if parts is None:
        parts = {}
        parts["brow_l"], parts["brow_r"] = _brow(identity, expression, -1), _brow(identity, expression, 1)
        parts.update({f"nose_{k}": v for k, v in _nose(identity, expression).items()})
        parts.update({f"hair_{k}": v for k, v in _hair(identity).items()})
        parts.update(_ears(identity))
        parts.update(_body())
        cheek_y = identity["nose_length"] - 0.02 - 0.07 * expression["cheek_raise"]
        parts["cheeks"] = _pts([-0.55, 0.55], cheek_y, 0.7)
        if len(_STATIC_CACHE) > 32:
            _STATIC_CACHE.clear()
        _STATIC_CACHE[key] = parts
    return parts


def face_geometry(
    identity: dict,
    expression: dict,
    mouth: tuple[float, float, float] = (0.0, 0.0, 0.0),
    blink: float = 0.0,
) -> dict[str, np.ndarray]:
    """All named 3D point sets of one face; ``landmarks`` is the (68, 3) iBUG set."""
    static = _static_parts(identity, expression)
    parts: dict[str, np.ndarray] = {}
    mouth_parts = _mouth(identity, expression, mouth)
    jaw, forehead = _jaw_and_forehead(identity, float(mouth_parts["gap"][0, 1]))
    parts["face"] = np.concatenate([jaw, forehead])
    eyes = {side: _eye(identity, expression, side, blink) for side in (-1, 1)}
    for side, name in ((-1, "l"), (1, "r")):
        for key, pts in eyes[side].items():
            parts[f"eye_{name}_{key}"] = pts
    parts.update(static)
    parts.update({f"mouth_{k}": v for k, v in mouth_parts.items() if k != "gap"})
    nose = {"bridge": static["nose_bridge"], "base": static["nose_base"]}
    parts["landmarks"] = _landmarks(jaw, {-1: static["brow_l"], 1: static["brow_r"]}, nose, eyes, mouth_parts)
    return parts


def _landmarks(jaw, brows, nose, eyes, mouth) -> np.ndarray:
    eye_pts = []
    for side in (-1, 1):
        up, low = eyes[side]["upper_lid"], eyes[side]["lower_lid"]
        # clockwise from the image-left corner: left, top x2, right, bottom x2
        eye_pts.append(np.stack([up[0], up[4], up[8], up[12], low[8], low[4]]))
    outer = np.concatenate([mouth["upper_outer"][::4], mouth["lower_outer"][::4][::-1][1:-1]])
    inner = np.concatenate([mouth["upper_inner"][::4], mouth["lower_inner"][::4][::-1][1:-1]])
    return np.concatenate(
        [
            jaw[::3],
            brows[-1][::3],
            brows[1][::3],
            nose["bridge"],
            nose["base"],
            eye_pts[0],
            eye_pts[1],
            outer,
            inner,
        ]
    )
