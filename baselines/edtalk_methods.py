"""EDTalk itself as a method to score, generated from a checkpoint with ``edtalk.driving``.

- ``edtalk_v`` (video-driven self-reconstruction, paper Table 5 / LIA protocol): identity source
  I^s = the first GT frame; mouth, pose and expression are all driven by the GT clip itself.
- ``edtalk_a`` (audio-driven, paper Table 1): identity source = the first GT frame, mouth from the
  clip's audio, pose and expression from the GT clip (the paper's setting with a pose/expression
  reference video).

Both need ``--ckpt`` (a checkpoint written by ``edtalk.model.save_checkpoint`` / the training
stages). The generator loads once per process (Ray worker) and is reused for every clip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from baselines import METHODS, Method
from edtalk.data.clip import Clip

# (ckpt path, device, its mtime and size) -> loaded generator, per process: a checkpoint rewritten in
# place (a notebook that trains, scores, trains on) is loaded again, not scored with its old weights
# under the new file's hash. edtalk.driving (the model code) is imported inside the methods, so
# scoring other methods never loads it.
_GENERATORS: dict[tuple[str, str, int, int], Any] = {}


class EDTalkMethod(Method):
    """Shared checkpoint handling of the two EDTalk drivers."""

    generates = True
    uses_ckpt = True
    image_size: int | None = None  # the checkpoint model's, known once prepared (provenance's resolution)
    drives_with = "mouth_pose"  # the stage that trains the mouth this method draws
    # raised when the videos a checkpoint gives change; eval.run regenerates videos of another version
    version = "1"

    def prepare(self, clips: list[Clip]) -> None:
        if not self.ckpt:
            raise FileNotFoundError(
                f"--method {self.name} needs --ckpt CHECKPOINT (an EDTalk checkpoint file)"
            )
        if not Path(self.ckpt).is_file():
            raise FileNotFoundError(f"{self.ckpt}: checkpoint file does not exist (--ckpt)")
        # no score from heads still at init: the checkpoint must have been through the stages used
        from edtalk.data.held_out import check_not_trained_on
        from edtalk.driving import require_stages
        from edtalk.model import load_checkpoint

        ckpt = load_checkpoint(self.ckpt)
        self.image_size = ckpt["config"].image_size
        needed = [self.drives_with]
        needed += ["expression"] if "expression" in ckpt["config"].bank_names else []
        require_stages(ckpt["meta"], self.ckpt, needed)
        check_not_trained_on(clips, ckpt["meta"], self.ckpt)  # never scored on its training clips

    def generator(self):
        """The EDTalk model of ``--ckpt`` (``edtalk.driving.load_generator``), once per process and
        version of the file (its modification time and size): the model of an older version of it
        is dropped."""
        from edtalk.driving import load_generator

        path = Path(self.ckpt).resolve()
        stat = path.stat()
        key = (str(path), self.device, stat.st_mtime_ns, stat.st_size)
        if key not in _GENERATORS:
            for old in [k for k in _GENERATORS if k[:2] == key[:2]]:
                del _GENERATORS[old]
            model, _config = load_generator(self.ckpt, self.device)
            _GENERATORS[key] = model
        return _GENERATORS[key]

    def provenance(self) -> dict[str, Any]:
        prov: dict[str, Any] = {"method": self.name, "version": self.version, "checkpoint": str(self.ckpt)}
        if self.ckpt and os.path.isfile(self.ckpt):
            from edtalk.weights import sha256_of

            prov["checkpoint_sha256"] = sha256_of(self.ckpt)
        if self.image_size:  # the report names it
            prov["resolution"] = [self.image_size, self.image_size]
        return prov


@METHODS.register("edtalk_v")
class EDTalkVideoDriven(EDTalkMethod):
    """Self-reconstruction: source = first GT frame, every factor driven by the GT clip."""

    name = "edtalk_v"
    driving = "video"
    about = "EDTalk-V: the clip's first frame driven by the clip's own mouth, pose and expression"

    def generate(self, clip: Clip, out_path: Path) -> None:
        from edtalk.data.video import read_video, write_video

        video = read_video(clip.video)
        frames = self_reconstruction(self.generator(), video.frames)
        write_video(out_path, frames, fps=video.fps)


def self_reconstruction(model, frames: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """``drive_video`` with the clip driving mouth, pose and expression of its own first frame (one
    pass of E over the clip: drive_video encodes a video that drives several factors once)."""
    from edtalk.driving import drive_video

    return drive_video(model, frames[0], frames, frames, frames, batch_size=batch_size)


@METHODS.register("edtalk_a")
class EDTalkAudioDriven(EDTalkMethod):
    """Audio-driven: source = first GT frame, mouth from the clip audio, pose/expression from GT."""

    name = "edtalk_a"
    about = (
        "EDTalk-A: the clip's first frame, its mouth from the clip's audio, pose and expression from the clip"
    )
    driving = "audio"
    drives_with = "audio_lip"
    version = "2"  # 2: as many frames as the audio covers (one short for 11 of synthtalk's 144 clips)

    def generate(self, clip: Clip, out_path: Path) -> None:
        from edtalk.data.audio import load_audio
        from edtalk.data.video import read_video, write_video
        from edtalk.driving import drive_audio
        from edtalk.driving_inputs import fit_audio

        if clip.audio is None:
            raise FileNotFoundError(f"clip {clip.id}: edtalk_a needs the clip's audio, the dataset has none")
        video = read_video(clip.video)
        audio = fit_audio(load_audio(clip.audio), len(video.frames), video.fps)
        frames = drive_audio(
            self.generator(),
            video.frames[0],
            audio,
            pose_frames=video.frames,
            expression_frames=video.frames,
            fps=video.fps,
        )
        write_video(out_path, frames, fps=video.fps, audio=audio)
