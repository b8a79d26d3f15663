"""Stage-1 initialisations shipped with the code: EDTalk's own analogue of starting from LIA.

The official EDTalk never trains E and G from scratch: stage 1 starts from LIA's released
``vox.pt`` (trained for days on VoxCeleb on GPUs). The tiny CPU demo cannot afford stage 1's
length either: on synthtalk, 800 steps from scratch reconstruct texture but learn no pose
(judged pose error 2.94 deg vs 2.86 for the static source frame), while 20 000 steps learn it
(2.0 vs 3.3 on test identities). So the repository ships a tiny ``eg_pretrain`` trained by this
code on synthtalk's *train* identities: 20 000 steps on the 12 train people, then 4000 more that also
see 64 rendered people of no split (``edtalk.train --extra-identities``; ``make pretrain`` reproduces
both, about 100 minutes on 2 CPU cores). The demo's chain starts from it (``--parent pretrained:NAME``)
and trains all six stages on top, as EDTalk does on top of LIA. Nothing here is ever a result: the
proof and the scores are measured on the *test* identities, which no weight file has seen.

Why the extra people: 12 faces do not carry over to unseen ones. Measured on 12 test clips and 12
cross-driving quadruples of the test identities (stage-1 forward, W^m and W^p from the drivers):
the self-reconstructed mouth (dlib) moves at 0.47 of the GT amplitude with the 20 000-step file
and 0.65 after the 4000 steps with extra people (correlation with GT 0.75 -> 0.83); a mouth driven
by B on A's face sits nearer B's track than A's afterwards (gap 0.090 vs 0.096; before 0.119 vs
0.114), its correlation with B's track 0.65 -> 0.76, and the judged opening's error toward B vs A
0.185 vs 0.215 (before 0.242 vs 0.243). The 4000 steps ran as two resumed runs of 2000.

Each entry records the file's sha256, the exact command and dataset that made it; ``resolve``
verifies the hash before a run uses the file, and ``export`` writes a cleaned checkpoint (config,
weights, a provenance ``meta``; no machine paths) from a training run's ``final.pt``.

The shipped ``tiny_synthtalk_eg`` was rebuilt by ``make pretrain`` with G's current mask
initialisation (``edtalk.modules.generator.MASK_LOGIT_INIT``; the previous file started from masks
whose finest logits summed to a saturated 17.6) and with the official stage-1 pairing (the source is a
neutral frame of the target's identity, ``StageSampler.frame_pairs``). It ended at loss 0.085
(L1 0.025), 4.0 it/s on 2 CPU workers, 83 minutes.

Beside it ships the chain's *loss experts* (``tiny_synthtalk_loss_experts``: the synthtalk face
analyser φ/ψ for L_mot and the SyncNet for L^m_sync), as the official EDTalk downloads its trained
3DMM, emotion and SyncNet networks instead of training them. They are trained on the same *train*
identities only (never the judge split), long enough to carry a signal: the demo used to train them
for 150 / 40 steps, which left a face expert that read every clip as "sad" (emotion 27 % on train
clips) and a SyncNet that found the true audio offset in 2 % of trials, so L_mot and L^m_sync fed
the chain noise. An expert set is a folder whose ``manifest.json`` lists each file's sha256; the
registry records the manifest's sha256; ``resolve`` and ``list`` check it, then each listed file's.

The synthtalk *judges* ship as well (``tiny_synthtalk_judges``: the face analyser and the SyncNet
of the ``synthtalk`` protocol, trained by ``eval.zoo train`` on the **judge** identities only), so
that every clone scores synthtalk with the same judges; ``python -m eval.zoo install`` checks that
they fit the set to score and installs them (``make demo`` does; ``make demo JUDGES=train`` trains
them instead). Their held-out figures on the tiny set's test identities (printed by ``install``):
landmark error 2.09 px at 128 px, pose 1.08 deg, emotion 92.4 % of GT clips (video level), identity
AUC 1.000, audio shifts of 1-10 frames recovered in 100 % of 2880 trials, LSE-C 0.717 with the true
audio and 0.302 with another clip's. A folder set (loss experts or judges) is checked the same way.

    python -m edtalk.pretrained list
    python -m edtalk.pretrained export --ckpt runs_pretrain/more_people/eg_pretrain/final.pt \
        --data data/synthtalk   # the shipped init: `make pretrain`'s last stage-1 run
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edtalk.registry import Registry
from edtalk.weights import sha256_of

HERE = Path(__file__).resolve().parent
PREFIX = "pretrained:"  # ``--parent pretrained:NAME`` names a shipped init instead of a path
EXPERT_SET = "loss_experts"  # the ``stage`` of a shipped folder of loss experts
JUDGE_SET = "judges"  # the ``stage`` of a shipped folder of synthtalk judges (``eval.zoo install``)
# what each kind of entry is, for messages, and where it is used
KINDS = {
    "eg_pretrain": ("stage-1 init", "--parent"),
    EXPERT_SET: ("loss-expert set", "--experts"),
    JUDGE_SET: ("judge set", "eval.zoo install --from"),
}
KIND_NAMES = {stage: f"a {what} ({where})" for stage, (what, where) in KINDS.items()}


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

    @property
    def is_folder_set(self) -> bool:
        """A folder of loss experts or judges (its sha256 is that of its ``manifest.json``)."""
        return self.stage in (EXPERT_SET, JUDGE_SET)

    @property
    def hashed_file(self) -> Path:
        """The file whose sha256 is recorded: the checkpoint, or a folder set's manifest."""
        return self.path / "manifest.json" if self.is_folder_set else self.path


PRETRAINED: Registry[Pretrained] = Registry("pretrained init")

PRETRAINED.add(
    "tiny_synthtalk_eg",
    Pretrained(
        name="tiny_synthtalk_eg",
        filename="tiny_synthtalk_eg.pt",
        sha256="fb9c37ad708f0fb40fe7be6c32e03f0442004bb3cbadb7008091c45801655cff",
        preset="tiny",
        stage="eg_pretrain",
        steps=24000,
        dataset="synthtalk preset tiny, seed 0, generator 1.1.0, split train (12 identities); "
        "the last 4000 steps also on 64 rendered people of no split (--extra-identities 64)",
        command="make pretrain",
    ),
)

PRETRAINED.add(
    "tiny_synthtalk_loss_experts",
    Pretrained(
        name="tiny_synthtalk_loss_experts",
        filename="tiny_synthtalk_loss_experts",
        sha256="3d2a597544600f2371908dec127cc3adc42c3c835023e9f4ddfb9dcf8a678c3f",  # of manifest.json
        preset="tiny",
        stage=EXPERT_SET,
        steps=2000,  # face analyser; the SyncNet 600
        dataset="synthtalk preset tiny, seed 0, generator 1.1.0, split train (12 identities)",
        command="make pretrain (its first step: python -m edtalk.experts train --data data/synthtalk "
        "--split train --face-steps 2000 --sync-steps 600 "
        "--out edtalk/pretrained/tiny_synthtalk_loss_experts)",
    ),
)

PRETRAINED.add(
    "tiny_synthtalk_judges",
    Pretrained(
        name="tiny_synthtalk_judges",
        filename="tiny_synthtalk_judges",
        sha256="434d5fc3846c9eee8c95a1612cca0fd5d4262053cdb7c8ddd1f32b6ae5a5ec23",  # of manifest.json
        preset="tiny",
        stage=JUDGE_SET,
        steps=3000,  # face analyser; the SyncNet 600
        dataset="synthtalk preset tiny, seed 0, generator 1.1.0, split judge (6 identities); the face "
        "analyser also on stills of 96 rendered people of no split",
        command="make pretrain (its second step: python -m eval.zoo train --data data/synthtalk "
        "--out edtalk/pretrained/tiny_synthtalk_judges --no-eval)",
    ),
)


def resolve(spec: str, expert_set: bool = False) -> str:
    """``pretrained:NAME`` -> the verified path of that shipped stage-1 init (or, with ``expert_set``, of
    that shipped loss-expert folder, every file its manifest lists checked); any other string unchanged."""
    return resolve_kind(spec, EXPERT_SET if expert_set else "eg_pretrain")


def resolve_kind(spec: str, stage: str) -> str:
    """``pretrained:NAME`` -> the verified path of that shipped entry, which must be of kind ``stage``
    (a key of ``KIND_NAMES``); any other string unchanged."""
    if not spec.startswith(PREFIX):
        return spec
    name = spec[len(PREFIX) :]
    entry = PRETRAINED.get(name) if name in PRETRAINED else of_kind(stage).get(name)  # unknown: raises
    if entry.stage != stage:
        raise PretrainedError(f"{entry.name!r} is {KIND_NAMES[entry.stage]}, not {KIND_NAMES[stage]}")
    problem = check(entry)
    if problem:
        raise PretrainedError(problem[1])
    return str(entry.path)


def of_kind(stage: str) -> Registry[Pretrained]:
    """The shipped entries of kind ``stage`` alone: an unknown name's did-you-mean offers only those."""
    kind: Registry[Pretrained] = Registry(f"shipped {KINDS[stage][0]}")
    for name in PRETRAINED:
        if PRETRAINED.get(name).stage == stage:
            kind.add(name, PRETRAINED.get(name))
    return kind


def check(entry: Pretrained) -> tuple[str, str] | None:
    """None if a shipped entry is intact, else (a short state for ``list``, what is wrong and how to
    restore it). An expert set's manifest is checked against the registry, then each file it lists."""
    if not entry.hashed_file.is_file():
        return "missing", (
            f"{entry.hashed_file}: the shipped {entry.stage} {entry.name!r} is missing from this checkout; "
            f"{_restore_hint(entry, entry.path)}"
        )
    actual = sha256_of(entry.hashed_file)
    if actual != entry.sha256:
        return f"ALTERED: sha256 now {actual}", (
            f"{entry.hashed_file}: sha256 {actual} differs from the recorded {entry.sha256}; the file was "
            f"altered or rebuilt: after `{entry.command}`, record the new hash in "
            "edtalk/pretrained/__init__.py"
        )
    return _check_set_files(entry) if entry.is_folder_set else None


def _check_set_files(entry: Pretrained) -> tuple[str, str] | None:
    """Each file an (already verified) folder set's manifest lists must be there with its sha256."""
    manifest = json.loads(entry.hashed_file.read_text())
    for item in manifest.values():
        path = entry.path / item["file"]
        if not path.is_file():
            return f"missing {item['file']}", (
                f"{path}: listed in the manifest of the shipped {entry.stage} {entry.name!r} but missing "
                f"from this checkout; {_restore_hint(entry, path)}"
            )
        actual = sha256_of(path)
        if actual != item["sha256"]:
            return f"ALTERED: {item['file']}", (
                f"{path}: sha256 {actual} differs from {item['sha256']} in {entry.hashed_file.name} of the "
                f"shipped {entry.stage} {entry.name!r}; the file was altered: {_restore_hint(entry, path)}"
            )
    return None


def _restore_hint(entry: Pretrained, path: Path) -> str:
    """How to get a shipped file back: from git (it ships in the repository) or by rebuilding it."""
    try:
        shown = path.relative_to(HERE.parent.parent)
    except ValueError:
        shown = path
    return f"restore it with `git checkout -- {shown}` or rebuild it with `{entry.command}`"
