"""The two reference methods every table needs: ``gt`` (upper bound) and ``static`` (lower bound).

- ``gt``: the prediction *is* the ground-truth file (no re-encoding), so full-reference metrics
  are at their ideal values: PSNR +inf (identical frames, skimage), SSIM 1, L1 0, LMD 0.
- ``static``: the source frame repeated for the clip's length. Source = the first frame of the GT
  clip, the same convention EDTalk's video-driven evaluation uses (LIA: the first frame of each
  test video drives nothing and is the identity source). The clip's audio is muxed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from baselines import METHODS, Method
from edtalk.data.clip import Clip


@METHODS.register("gt")
class GroundTruth(Method):
    """Prediction = the GT video itself."""

    name = "gt"
    generates = False
    about = "the ground-truth clip scored against itself (a reference, never ranked)"

    def prediction_path(self, clip: Clip, videos_dir: Path) -> Path:
        return Path(clip.video)

    def provenance(self) -> dict[str, Any]:
        return {"method": "gt", "note": "prediction is the ground-truth file itself"}


def static_frames(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) frames -> the first frame repeated T times."""
    return np.repeat(frames[:1], len(frames), axis=0)


@METHODS.register("static")
class StaticFrame(Method):
    """Prediction = the first GT frame repeated for the length of the clip (audio muxed)."""

    name = "static"
    generates = True
    about = (
        "the clip's first frame held for all its frames: no motion, but the clip's own identity and "
        "expression (a floor for the motion and sync metrics, not for emotion or identity)"
    )

    def generate(self, clip: Clip, out_path: Path) -> None:
        """The video; the clip's audio muxed when it reads. Unreadable audio (missing, empty, corrupt)
        leaves the track out: the metrics that need the speech (LSE) read the clip's audio themselves
        and fail on it, while PSNR, SSIM and the others score the frames. It failed the whole clip."""
        from edtalk.data.audio import load_audio
        from edtalk.data.errors import AudioReadError
        from edtalk.data.video import read_video, write_video

        video = read_video(clip.video)
        try:
            audio = load_audio(clip.audio) if clip.audio is not None else None
        except AudioReadError:
            audio = None
        write_video(out_path, static_frames(video.frames), fps=video.fps, audio=audio)

    def provenance(self) -> dict[str, Any]:
        return {
            "method": "static",
            "source_frame": "first frame of the GT clip",
            "encoding": "H.264 crf 17 via edtalk.data.video.write_video",
        }
