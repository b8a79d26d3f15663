"""Face crops as EDTalk's official preprocessing makes them for MEAD and HDTF (facts in
../shared/reference/edtalk-official-facts.md, "Preprocessing"): the face is followed through the
clip (here a detection joins the track when it overlaps the track's last box by IoU >= 0.25; FOMM's
script, which the official one follows, compares with the first box), the union
of the track's boxes is grown on every side and made square, and every frame is cut to that square
and scaled to 256 x 256, at 25 fps. The networks never see anything else: inference and training
take square face crops.

The official script detects with face_alignment's SFD network and grows its box by 10 % a side;
here dlib's HOG detector (``edtalk.data.face_landmarks``, shipped offline) looks at every
``DETECT_EVERY``-th frame, scaled so that its longer side is at most ``DETECT_LONG_SIDE`` px
(``benchmarks/face_crop.py``: x7.8 on 1080p frames against full size, x7.3-7.8 over four runs on 2
shared cores, the squares within 0.4 % of a side). dlib's box is tighter than SFD's (brows to chin:
1.05 x its height on skimage's astronaut), so it grows by ``GROW`` = 20 % a side, which frames a face
as synthtalk does (brows to chin 0.59-0.76 of the side on four rendered faces pasted into a canvas,
0.58-0.62 in synthtalk's own frames; 10 % gave 0.69-0.88, tighter than the crops the networks train
on).

A video is cropped in two passes over its decoded stream, ``plan_crops`` (detect) and ``cut_crops``
(cut), so any length is cropped holding only the 256 px crops of one output clip; with
``chunk_frames`` the video is cut into clips of that many frames (HDTF's 5-second chunks), each with
its own square.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edtalk.data.face_landmarks import DETECT_SIDE, NoFaceError, face_detector, gray
from edtalk.data.video import output_count, output_slots, timed_index

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in the frame's pixels

GROW = 0.20  # each side of dlib's face box grows by this share of the box's size (see the module doc)
MIN_IOU = 0.25  # a detection continues the track when it overlaps the track's last box this much
SIDE = 256  # output crops are SIDE x SIDE
FPS = 25.0  # output frame rate
# How a source reaches FPS (``retimed``), recorded in each clip's crop settings: crops made by the
# earlier rule (nearest frame in source time, before December 2026) are cut again.
RESAMPLING = "ffmpeg fps filter"
DETECT_EVERY = 5  # detect on every 5th output frame (5 per second at 25 fps)
LOST_AFTER = 5  # frames looked at in a row without the face (1 s) before the track starts afresh
DETECT_LONG_SIDE = 640  # large frames are scaled down to this longer side before detection


def detect_faces(frame: np.ndarray) -> list[Box]:
    """Face boxes dlib's HOG detector finds in an RGB frame, in the frame's pixels."""
    import cv2

    h, w = frame.shape[:2]
    scale = min(DETECT_LONG_SIDE / max(h, w), max(1.0, DETECT_SIDE / min(h, w)))  # small ones scaled up
    image = gray(frame)
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return [
        (r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
        for r in face_detector()(image, 0)
    ]


def _area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def follow_face(
    detections: Sequence[Sequence[Box]], lost_after: int = LOST_AFTER
) -> list[tuple[int, Box] | None]:
    """The face track through per-frame detections, as (tube, box) per frame, None where it is not seen.

    The track starts at the largest face of the first frame with one; each later frame adds the
    detection that overlaps the track's last box most, when by IoU >= ``MIN_IOU`` (another person or a
    false detection elsewhere is left out). After ``lost_after`` frames in a row without it (a scene
    cut, the person gone), a face where the track was still continues it (HOG misses a head turned
    away for a while), and otherwise the track starts again at the largest face, as a new tube
    (index + 1)."""
    track: list[tuple[int, Box] | None] = []
    last: Box | None = None
    tube, missed = -1, 0
    for boxes in detections:
        pick = None
        if last is not None:
            pick = max(boxes, key=lambda b: iou(b, last), default=None)
            if pick is not None and iou(pick, last) < MIN_IOU:
                pick = None
        if pick is None and (last is None or missed >= lost_after):
            pick = max(boxes, key=_area, default=None)
            if pick is not None:
                tube += 1
        track.append(None if pick is None else (tube, pick))
        missed = 0 if pick is not None else missed + 1
        last = pick or last
    return track


def square_around(boxes: Iterable[Box], height: int, width: int, grow: float = GROW) -> Box:
    """The square of the boxes' union grown by ``grow`` of its size on every side, centred on it and
    moved into the frame where it fits (when it is larger than the frame, it stays centred and the
    crop is padded)."""
    boxes = list(boxes)
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * grow)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def placed(centre: float, extent: int) -> float:
        if side > extent:
            return centre - side / 2
        return min(max(centre - side / 2, 0.0), extent - side)

    left, top = placed(cx, width), placed(cy, height)
    return left, top, left + side, top + side


def crop_frame(frame: np.ndarray, box: Box, side: int = SIDE) -> np.ndarray:
    """uint8 (side, side, 3): ``frame`` cut to the square ``box`` (black outside the frame), resized."""
    import cv2

    x0, y0 = int(round(box[0])), int(round(box[1]))
    n = max(1, int(round(box[2] - box[0])))
    h, w = frame.shape[:2]
    square = np.zeros((n, n, 3), np.uint8)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if fx1 > fx0 and fy1 > fy0:
        square[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    interpolation = cv2.INTER_AREA if n >= side else cv2.INTER_CUBIC
    return cv2.resize(square, (side, side), interpolation=interpolation)


def retimed(
    frames: Iterable[np.ndarray], fps: float, target_fps: float = FPS, times: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """``edtalk.data.video.retime`` one frame at a time (ffmpeg's fps filter): source frame i starts at
    output frame ``output_slots(i / fps)`` and is repeated until the next one's start, a frame whose
    successor starts on the same output frame is dropped, and the last is repeated to
    ``output_count(n / fps)``. Each frame is given as soon as the next one is read. With a
    variable-frame-rate clip's ``times`` (``edtalk.data.video.frame_times``), the frames they place."""
    if fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {fps} -> {target_fps}")
    if times is not None:
        yield from _picked(frames, timed_index(times, target_fps))
        return
    given, n, previous = 0, 0, None
    for i, frame in enumerate(frames):
        start = int(output_slots(np.array([i / fps]), target_fps)[0])
        while previous is not None and given < start:  # the previous frame lasts until this one starts
            yield previous
            given += 1
        n, previous = i + 1, frame
    while previous is not None and given < output_count(n / fps, target_fps):
        yield previous
        given += 1


def _picked(frames: Iterable[np.ndarray], index: np.ndarray) -> Iterator[np.ndarray]:
    """Source frame ``index[j]`` for each j (non-decreasing), read once; the last frame read where the
    source runs out (as ``retime`` clamps)."""
    last, want = None, iter(index.tolist())
    j = next(want, None)
    for i, frame in enumerate(frames):
        last = frame
        while j is not None and j == i:
            yield frame
            j = next(want, None)
    while j is not None and last is not None:
        yield last
        j = next(want, None)


@dataclass(frozen=True)
class CropPlan:
    """Where each output clip of a video lies and the square it is cut to (``plan_crops``)."""

    n_frames: int  # output frames at ``FPS``
    size: tuple[int, int]  # the source's (height, width)
    clip_frames: int  # frames per output clip
    boxes: dict[int, Box]  # output clip index -> its square; clips without a followed face are absent
    sampled: int  # frames the detector looked at
    followed: int  # of those, frames where the track found the face
    jumps: int  # times the track lost the face and found it elsewhere (scene cuts)
    jumped_clips: int  # chunks left out because the face jumped inside them
    times: np.ndarray | None = field(default=None, compare=False)  # a variable-rate source's frame times


def plan_crops(
    frames: Iterable[np.ndarray], fps: float, chunk_frames: int | None = None, times: np.ndarray | None = None
) -> CropPlan:
    """First pass: detect on every ``DETECT_EVERY``-th output frame, follow the face, and give each
    output clip (the whole video, or ``chunk_frames``-long chunks, the incomplete last one dropped) the
    square around its part of the track. A chunk is left out when the track jumps inside it (a new
    tube: a scene cut) or follows the face in fewer than half of its frames looked at; a whole clip
    takes the square of its longest tube. Raises ``NoFaceError`` (without a path) when no frame has a
    face. ``times``: a variable-frame-rate source's frame times (``frame_times``), kept in the plan for
    the cut pass."""
    detections: list[list[Box]] = []
    at: list[int] = []
    n, size = 0, (0, 0)
    for j, frame in enumerate(retimed(frames, fps, FPS, times)):
        n, size = j + 1, frame.shape[:2]
        if j % DETECT_EVERY == 0:
            detections.append(detect_faces(frame))
            at.append(j)
    track = follow_face(detections)
    found = [hit for hit in track if hit is not None]
    if not found:
        raise NoFaceError(
            None, f"no face found by dlib's HOG detector in any of the {len(at)} frames looked at"
        )
    length = chunk_frames or n
    by_clip: dict[int, list[tuple[int, Box]]] = {}
    for j, hit in zip(at, track, strict=True):
        if hit is not None and (j // length + 1) * length <= n:
            by_clip.setdefault(j // length, []).append(hit)
    looked = Counter(j // length for j in at)
    boxes, jumped = {}, 0
    for k, hits in by_clip.items():
        tubes = Counter(tube for tube, _ in hits)
        if chunk_frames and len(tubes) > 1:  # a chunk across a scene cut: no one square fits it
            jumped += 1
            continue
        if chunk_frames and 2 * len(hits) < looked[k]:  # the face is elsewhere or gone most of the time
            continue
        longest = tubes.most_common(1)[0][0]  # a whole clip: the longest stretch of the face
        boxes[k] = square_around([b for tube, b in hits if tube == longest], *size)
    return CropPlan(n, size, length, boxes, len(at), len(found), found[-1][0], jumped, times)


def cut_crops(frames: Iterable[np.ndarray], fps: float, plan: CropPlan) -> Iterator[tuple[int, np.ndarray]]:
    """Second pass: yield (clip index, uint8 (T, SIDE, SIDE, 3) crops) for each planned clip, in order,
    holding only the current clip's crops."""
    current, crops = None, []
    for j, frame in enumerate(retimed(frames, fps, FPS, plan.times)):
        k = j // plan.clip_frames
        if k != current:
            if crops:
                yield current, np.stack(crops)
            current, crops = k, []
        if k in plan.boxes:
            crops.append(crop_frame(frame, plan.boxes[k]))
    if crops and len(crops) == plan.clip_frames:
        yield current, np.stack(crops)


def crop_image(image: np.ndarray, path: str | Path | None = None) -> np.ndarray:
    """uint8 (SIDE, SIDE, 3) face crop of one RGB image (its largest face); ``NoFaceError`` naming
    ``path`` when there is none."""
    boxes = detect_faces(image)
    if not boxes:
        raise NoFaceError(path, "no face found by dlib's HOG detector")
    return crop_frame(image, square_around([max(boxes, key=_area)], *image.shape[:2]))
