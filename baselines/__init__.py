"""Competing methods: the ``METHODS`` registry of what ``python -m eval.run --method`` can score.

A method maps a ground-truth ``Clip`` to its *prediction* (a video file). Three kinds:

- runnable baselines (``baselines/runnable.py``): ``gt`` (the GT video itself: the upper bound)
  and ``static`` (the source frame, i.e. the first GT frame, repeated: the lower bound);
- EDTalk itself (``baselines/edtalk_methods.py``): ``edtalk_v`` (video-driven self-reconstruction)
  and ``edtalk_a`` (audio-driven), generated from a checkpoint (``--ckpt``);
- adapters for other methods' output folders (``baselines/adapters.py``): ``folder:DIR`` maps the
  videos in DIR to clip ids (EAT's ``M003_ang_1_001`` -> MEAD ``M003#angry#level_1#001``) and
  ``paired`` takes the prediction paired by ``--dataset folder --gt DIR --pred DIR``.

The numbers the paper reports for methods we cannot run live in ``baselines/reported.py``.

    method = make_method("static")                 # or "folder:/data/eat_out", "edtalk_a"
    path = method.prediction_path(clip, videos_dir)   # where the prediction is / will be written
    if method.generates and not path.exists():
        method.generate(clip, path)                # written atomically (mp4, 25 fps)

How to add a method
1. Write a ``Method`` subclass in a new file ``baselines/<name>.py`` with ``name``, ``generates``,
   ``driving`` (``"audio"`` or ``"video"``: what moves the mouth decides which of the paper's tables
   rank the method; left None, it joins both) and, if it generates, ``generate(clip, out_path)``
   (write with ``edtalk.data.video.write_video``, which is atomic) and ``provenance()`` (version,
   checkpoint, resolution).
2. Decorate it with ``@METHODS.register("<name>")`` (every module of this package is imported).
3. Add ``tests/baselines/test_<name>.py`` on tiny fixture clips.
Methods must be picklable (Ray ships them to workers): load heavy models lazily, once per process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edtalk.data.clip import Clip
from edtalk.registry import Registry, import_modules_of

METHODS: Registry[type[Method]] = Registry("method", fill=__name__)


class Method:
    """A way to obtain a prediction video for a clip.

    Args:
        arg: the part after ``:`` in the method spec (``folder:DIR`` -> ``DIR``), if any.
        ckpt: checkpoint file for generating methods (``--ckpt``).
        device: torch device generating methods run their network on (``eval.run --device``).
    """

    name: str = "method"
    generates: bool = False  # True: predictions are written to <out>/<dataset>/<method>/videos/
    uses_ckpt: bool = False  # True: it generates from eval.run's --ckpt
    about: str = ""  # what its row is, for a reader of the report's tables (said under them)
    # what moves the mouth (eval.results.DRIVING_MODES): "audio" (Tables 1 and 4, and the sweeps' 3 and 6),
    # "video" (Tables 1 and 4, marked so, and face reenactment, Table 5), None when not known (gt, static,
    # another method's folder without a "driving" in its provenance.json); recorded in the results file
    driving: str | None = None

    def __init__(self, arg: str | None = None, ckpt: str | None = None, device: str = "cpu") -> None:
        self.arg = arg
        self.ckpt = ckpt
        self.device = device

    @property
    def display_name(self) -> str:
        """The name used in results paths and tables."""
        return self.name

    def prediction_path(self, clip: Clip, videos_dir: Path) -> Path | None:
        """The prediction video of ``clip`` (None: this method has none for the clip)."""
        from eval.cache import escape_clip_id

        return videos_dir / f"{escape_clip_id(clip.id)}.mp4"

    def generate(self, clip: Clip, out_path: Path) -> None:
        raise NotImplementedError(f"method {self.name!r} does not generate videos")

    def prepare(self, clips: list[Clip]) -> None:
        """Checks before anything runs (e.g. the checkpoint exists); raise with a clear message."""

    def provenance(self) -> dict[str, Any]:
        """Method version, checkpoint, resolution ... recorded in the results file."""
        return {"method": self.name}

    def driving_mode(self) -> str | None:
        """``driving``, as recorded in the results file (a folder method reads its provenance.json)."""
        return self.driving


def load_all() -> Registry:
    """Import every module of this package (the method modules register themselves) and return
    ``METHODS``."""
    import_modules_of(__name__)
    return METHODS


def make_method(spec: str, ckpt: str | None = None, device: str = "cpu") -> Method:
    """A method from its CLI spec: ``gt``, ``static``, ``edtalk_a``, ``folder:DIR`` ..."""
    load_all()
    name, _, arg = spec.partition(":")
    return METHODS.get(name)(arg=arg or None, ckpt=ckpt, device=device)
