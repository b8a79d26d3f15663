"""Stage-1 initialisations shipped with the code: EDTalk's own analogue of starting from LIA.

The official EDTalk never trains E and G from scratch: stage 1 starts from LIA's released
``vox.pt`` (trained for days on VoxCeleb on GPUs). The tiny CPU demo cannot afford stage 1's
length either: on synthtalk, 800 steps (the demo's budget) reconstruct texture but learn no pose
(judged pose error 2.94 deg vs 2.86 for the static source frame), while 20 000 steps learn it
(2.0 vs 3.3 on test identities). So the repository ships the 20 000-step tiny ``eg_pretrain``
trained by this code on synthtalk's *train* identities (``make pretrain`` reproduces it, about 80
minutes on 2 CPU cores); the demo's chain starts from it (``--parent pretrained:NAME``) and trains all
six stages on top, as EDTalk does on top of LIA. Nothing here is ever a result: the proof and the
scores are measured on the *test* identities, which no weight file has seen.

Each entry records the file's sha256, the exact command and dataset that made it; ``resolve``
verifies the hash before a run uses the file, and ``export`` writes a cleaned checkpoint (config,
weights, a provenance ``meta``; no machine paths) from a training run's ``final.pt``.

The shipped ``tiny_synthtalk_eg`` was rebuilt by ``make pretrain`` with G's current mask
initialisation (``edtalk.modules.generator.MASK_LOGIT_INIT``; the previous file started from masks
whose finest logits summed to a saturated 17.6) and with the official stage-1 pairing (the source is a
neutral frame of the target's identity, ``StageSampler.frame_pairs``). It ended at loss 0.085
(L1 0.025), 4.0 it/s on 2 CPU workers, 83 minutes.

    python -m edtalk.pretrained list
    python -m edtalk.pretrained export --ckpt runs_pretrain/eg_pretrain/final.pt --name tiny_synthtalk_eg
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edtalk.registry import Registry
from edtalk.weights import sha256_of

HERE = Path(__file__).resolve().parent
PREFIX = "pretrained:"  # ``--parent pretrained:NAME`` names a shipped init instead of a path


class PretrainedError(ValueError):
    """A shipped init is missing, altered, or asked for by an unknown name."""


@dataclass(frozen=True)
class Pretrained:
    """One shipped initialisation file (in this folder)."""

    name: str
    filename: str
    sha256: str
    preset: str  # the model preset whose config it matches exactly
    stage: str  # the stage that produced it
    steps: int
    dataset: str  # what it was trained on
    command: str  # how to reproduce it

    @property
    def path(self) -> Path:
        return HERE / self.filename


PRETRAINED: Registry[Pretrained] = Registry("pretrained init")

PRETRAINED.add(
    "tiny_synthtalk_eg",
    Pretrained(
        name="tiny_synthtalk_eg",
        filename="tiny_synthtalk_eg.pt",
        sha256="c29b679eaa19d1c132701cabb8c461632f89f0d28a5ea695e67a4a62f21d5d45",
        preset="tiny",
        stage="eg_pretrain",
        steps=20000,
        dataset="synthtalk preset tiny, seed 0, generator 1.1.0, split train (12 identities)",
        command="make pretrain",
    ),
)


def resolve(spec: str) -> str:
    """``pretrained:NAME`` -> the verified path of that shipped file; any other string unchanged."""
    if not spec.startswith(PREFIX):
        return spec
    entry = PRETRAINED.get(spec[len(PREFIX) :])
    if not entry.path.is_file():
        raise PretrainedError(
            f"{entry.path}: the shipped init {entry.name!r} is missing from this checkout; restore it "
            f"with `git checkout -- {entry.path.relative_to(HERE.parent.parent)}` or rebuild it with "
            f"`{entry.command}`"
        )
    actual = sha256_of(entry.path)
    if actual != entry.sha256:
        raise PretrainedError(
            f"{entry.path}: sha256 {actual} differs from the recorded {entry.sha256}; the file was "
            f"altered or rebuilt: after `{entry.command}`, record the new hash in "
            "edtalk/pretrained/__init__.py"
        )
    return str(entry.path)
