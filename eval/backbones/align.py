"""Face crops shared by the image metrics: ``ctx.feature("crop", side, kind=..., size=...)``.

Kinds:
- ``none``: the frames as they are, resized to ``size`` x ``size`` when ``size`` is given
  (synthtalk and pre-cropped datasets).
- ``eat_frame_align``: EAT's 128 x 128 crops for PSNR, SSIM, LMD and FID (evaluation_eat's
  ``align_crop``), fitted **on every frame**: dlib's HOG detector with one upsampling on the
  frame's grey image (EAT converts its RGB frames with BGR2GRAY, kept here), the 68-point
  predictor on the first face, and a least-squares similarity from the template's points 27-44
  (nose and eyes, which do not move with the mouth) onto that frame's; the frame is sampled
  through it at every template pixel of a 163 x 163 output (skimage's ``warp``: bilinear, black
  outside), whose rows and columns 1-128 are the crop. So head roll, scale and position are
  taken out of each frame; the face fills the crop from the brows to the chin.
  EAT drops a frame where dlib finds no face; here it is warped with the nearest detected frame's
  fit instead, so GT and prediction keep their frame indices for the pairing. EAT's template
  (``base_68.npy``: one person's landmarks in a 128 px face ROI, made by ATVGnet's LRW
  preprocessing) is not published: ``EAT_TEMPLATE`` is made by the same ROI rule from skimage's
  astronaut portrait (``eat_template_from_face``), levelled, made left-right symmetric and
  centred on the detector box, so the face's scale and place in the crop match EAT's to within
  how two faces differ, not to the byte. EAT also swaps in a closed-eye copy of its template
  when the eyes are shut; there is one template here.
- ``pcavs_align``: the 224 x 224 crops EAT scores Sync on (``_fast_align.py`` ->
  ``scripts/align_68.py``, PC-AVS style): face-alignment's 2DFAN-4 landmarks on every frame;
  the eye centres (36-41, 42-47) and the inner-mouth centre (60-67) averaged over the clip
  give one similarity onto (87, 59), (137, 59), (112, 120); each frame is then shifted so its
  own inner-mouth centre lands on (112, 120), the shift smoothed as 0.2 previous + 0.8 current;
  black outside. A frame without a face fails the clip's crop, as it fails EAT's.
"""

from __future__ import annotations

import numpy as np

from edtalk.data.mouth_swap import similarity_transform  # the mouth swap's fit (Umeyama, as skimage)
from eval.backbones import BACKBONES  # noqa: F401  (package import keeps registration order)
from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure
from eval.metrics.frames import CROP_KINDS, check_crop

# -- shared -------------------------------------------------------------------------------------


SIDE_NAMES = {"gt": "ground-truth video", "pred": "generated video"}


def _no_face(kind: str, side: str, frames: np.ndarray, detail: str, where: str = "any frame") -> ClipFailure:
    h, w = frames.shape[1:3]
    video = SIDE_NAMES.get(side, side)
    return ClipFailure(f"{kind} crop: no face found in {where} of the {video} ({w}x{h} px){detail}")


# -- eat_frame_align: EAT's per-frame 128 px crop ---------------------------------------------------

EAT_CANVAS = 163  # the warp's output side; the crop is its rows/columns 1..128
EAT_CROP = CROP_KINDS["eat_frame_align"]  # 128
EAT_ROI = 128  # side of the face ROI the template's landmarks were taken in
EAT_POINTS = slice(27, 45)  # nose (27-35) and eyes (36-44)
EAT_UPSAMPLE = 1  # utils_crop.crop_image: detector(gray, 1)

# iBUG-68 index of each point's mirror image (left-right flip)
MIRROR_68 = np.array(
    [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    + [26, 25, 24, 23, 22, 21, 20, 19, 18, 17]
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)

# Points 27-44 of ``eat_template_from_face(skimage.data.astronaut())`` (tests/eval/backbones/
# test_align.py recomputes them), in template pixels (= the warp's output pixels).
EAT_TEMPLATE = np.array(
    [
        [64.00, 42.61], [64.00, 52.76], [64.00, 61.73], [64.00, 70.70], [52.76, 75.80],
        [58.39, 77.48], [64.00, 78.61], [69.61, 77.48], [75.24, 75.80], [30.27, 43.22],
        [35.88, 39.86], [43.79, 39.86], [49.95, 45.49], [42.64, 46.03], [35.91, 46.03],
        [78.05, 45.49], [84.21, 39.86], [92.12, 39.86],
    ]
)  # fmt: skip


def eat_roi_landmarks(lmk68: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Landmarks in a 128 px face ROI by the rule of the code that made EAT's template
    (ATVGnet's LRW preprocessing, ``get_base_roi``): a square of half-side ``int(0.64 h)`` about
    the detector box's centre ``(x + int(w/2), y + int(h/2))``, resized to 128 px."""
    x, y, w, h = box
    cx, cy, r = x + int(0.5 * w), y + int(0.5 * h), int(0.64 * h)
    return (lmk68 - np.array([cx - r, cy - r], float)) * EAT_ROI / (2 * r)


def eat_template_from_face(rgb: np.ndarray) -> np.ndarray:
    """(68, 2) template built as EAT built ``base_68.npy`` (one face's dlib landmarks placed by
    ``eat_roi_landmarks``), then levelled (eye line horizontal), made left-right symmetric and
    centred on the detector box, so it carries no one person's tilt or turn."""
    from edtalk.data.face_landmarks import face_detector, gray, shape_predictor

    image = gray(rgb, swap_rb=True)
    rects = face_detector()(image, EAT_UPSAMPLE)
    if not len(rects):
        raise ValueError("no face found in the template image")
    rect = rects[0]
    lmk = np.array([(p.x, p.y) for p in shape_predictor()(image, rect).parts()], float)
    box = (rect.left(), rect.top(), rect.right() - rect.left(), rect.bottom() - rect.top())
    t = eat_roi_landmarks(lmk, box)
    left, right = t[36:42].mean(0), t[42:48].mean(0)
    mid = (left + right) / 2
    a = -np.arctan2(right[1] - left[1], right[0] - left[0])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    level = (t - mid) @ rot.T + mid
    mirrored = level.copy()
    mirrored[:, 0] = 2 * mid[0] - mirrored[:, 0]
    sym = (level + mirrored[MIRROR_68]) / 2
    sym[:, 0] += EAT_ROI / 2 - mid[0]  # the box centre: 128 * r / (2 r)
    return sym


def eat_frame_fits(lmk68: np.ndarray) -> np.ndarray:
    """(T, 2, 3) maps from template pixels to each frame's pixels (template points
    27-44 onto the frame's); frames without landmarks take the nearest detected frame's."""
    valid = np.flatnonzero(~np.isnan(lmk68[:, EAT_POINTS]).any(axis=(1, 2)))
    fits = {t: similarity_transform(EAT_TEMPLATE, lmk68[t, EAT_POINTS]) for t in valid}
    nearest = valid[np.abs(np.arange(len(lmk68))[:, None] - valid[None, :]).argmin(1)]
    return np.stack([fits[t] for t in nearest])


def eat_frame_crop(frame: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """uint8 (128, 128, 3): ``frame`` sampled at ``fit`` (template -> frame) of every template
    pixel by skimage's ``warp`` (bilinear, black outside), ``np.array(dst * 255, dtype=np.uint8)``
    as EAT; rows and columns 1..128 of its 163 px output."""
    from skimage.transform import AffineTransform, warp

    inverse_map = AffineTransform(matrix=np.vstack([fit, [0.0, 0.0, 1.0]]))
    out = warp(frame, inverse_map, output_shape=(EAT_CANVAS, EAT_CANVAS))
    return np.array(out * 255, dtype=np.uint8)[1 : EAT_CROP + 1, 1 : EAT_CROP + 1]


def eat_frame_align(frames: np.ndarray, lmk68: np.ndarray, side: str = "pred") -> np.ndarray:
    """uint8 (T, 128, 128, 3) EAT crops of ``frames`` from their full-frame landmarks."""
    if np.isnan(lmk68[:, EAT_POINTS]).any(axis=(1, 2)).all():
        small = " (dlib's detector with one upsampling, as in EAT, finds faces of about 40 px and up)"
        raise _no_face("eat_frame_align", side, frames, small if min(frames.shape[1:3]) < 80 else "")
    return np.stack([eat_frame_crop(f, m) for f, m in zip(frames, eat_frame_fits(lmk68), strict=True)])


# -- pcavs_align: PC-AVS-style 224 px crop (EAT's Sync crops) ---------------------------------------

PCAVS_SIZE = CROP_KINDS["pcavs_align"]  # 224
PCAVS_TARGET = np.array([[87.0, 59.0], [137.0, 59.0], [112.0, 120.0]])  # eyes, inner-mouth centre
PCAVS_SMOOTH = 0.2  # weight of the previous frame's mouth shift


def eyes_and_mouth(lmk68: np.ndarray) -> np.ndarray:
    """(…, 3, 2): eye centres (36-41, 42-47) and inner-mouth centre (60-67)."""
    return np.stack(
        [lmk68[..., 36:42, :].mean(-2), lmk68[..., 42:48, :].mean(-2), lmk68[..., 60:68, :].mean(-2)], axis=-2
    )


def pcavs_fits(lmk68: np.ndarray) -> np.ndarray:
    """(T, 2, 3) frame -> crop maps: one similarity from the clip's mean eye and mouth points,
    plus each frame's smoothed shift that puts its inner-mouth centre on (112, 120)."""
    points = eyes_and_mouth(lmk68)
    base = similarity_transform(points.mean(0), PCAVS_TARGET)
    mouths = points[:, 2] @ base[:, :2].T + base[:, 2]
    fits, shift = [], None
    for mouth in mouths:
        raw = PCAVS_TARGET[2] - mouth
        shift = raw if shift is None else PCAVS_SMOOTH * shift + (1 - PCAVS_SMOOTH) * raw
        m = base.copy()
        m[:, 2] += shift
        fits.append(m)
    return np.stack(fits)


def pcavs_align(frames: np.ndarray, lmk68: np.ndarray, side: str = "pred") -> np.ndarray:
    """uint8 (T, 224, 224, 3) PC-AVS-style crops of ``frames`` from their FAN landmarks."""
    import cv2

    missing = np.flatnonzero(np.isnan(lmk68).any(axis=(1, 2)))
    if len(missing):
        where = f"frame {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        raise _no_face("pcavs_align", side, frames, " (EAT's Sync crop needs a face in every frame)", where)
    size, fits = (PCAVS_SIZE, PCAVS_SIZE), pcavs_fits(lmk68)
    pairs = zip(frames, fits, strict=True)
    return np.stack([cv2.warpAffine(f, m, size, flags=cv2.INTER_LINEAR, borderValue=0) for f, m in pairs])


# -- the feature ----------------------------------------------------------------------------------


@FEATURES.register("crop")
def crop_feature(ctx: ClipContext, side: str, kind: str = "none", size: int | None = None) -> np.ndarray:
    """uint8 (T, size, size, 3) crops of one side (see module docstring for ``kind``)."""
    check_crop(kind, size)
    if kind == "none":
        return ctx.feature("resized", side, size=size)
    if kind == "eat_frame_align":
        lmk = ctx.feature("landmarks", side, backend="dlib68_eat_crop", crop="none", size=None)
        return eat_frame_align(ctx.frames(side), lmk, side)
    lmk = ctx.feature("landmarks", side, backend="fan", crop="none", size=None)
    return pcavs_align(ctx.frames(side), lmk, side)
