"""Saving, loading and registering expert networks (safetensors + config + sha256 manifest).

One expert = one ``.safetensors`` file whose metadata embeds everything needed to rebuild it:
``kind`` (face_analyser | sync_net), ``config`` (JSON of the frozen config), ``split`` (the
identity split it was trained on), ``identities``, held-out ``results`` when known, the git hash
and library versions. ``manifest.json`` beside the files maps each name to its file and sha256;
``load_expert`` checks the hash against the manifest when there is one.

The synthtalk judges are *locally trained* weight files, declared in ``edtalk.weight_catalogue`` with
``trained_here=True``. ``install_judge(name, path)`` copies a trained file into ``weights_dir()``
and records its sha256 with the weights manager (a retrain replaces the record), so
``edtalk.weights.resolve(name)`` verifies it like any other weight file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from edtalk.atomic import atomic_path, write_json
from edtalk.experts.face_analyser import FaceAnalyser, FaceAnalyserConfig
from edtalk.experts.names import EXPERT_NAMES, INSTALL_JUDGES, JUDGE_NAMES, SUFFIX, TRAIN_JUDGES
from edtalk.experts.sync_net import SyncNetConfig, SyncNetJudge
from edtalk.provenance import git_hash
from edtalk.weights import sha256_of

KINDS = {"face_analyser": (FaceAnalyser, FaceAnalyserConfig), "sync_net": (SyncNetJudge, SyncNetConfig)}
MANIFEST = "manifest.json"
TRAIN_LOSS_EXPERTS = (
    "train them with `python -m edtalk.experts train --data data/synthtalk --split train --out DIR`, or "
    "pass edtalk.train the shipped set, `--experts pretrained:tiny_synthtalk_loss_experts`"
)


def expert_name(kind: str, split: str) -> str:
    """``synthtalk_face_judge`` for the judge split, ``synthtalk_face_expert`` for train."""
    return (JUDGE_NAMES if split == "judge" else EXPERT_NAMES)[kind]


def save_expert(
    model: torch.nn.Module,
    kind: str,
    split: str,
    identities: list[str],
    out_dir: str | Path,
    extra: dict | None = None,
    dataset: dict | None = None,
) -> Path:
    """Write ``<out_dir>/<name>.safetensors`` atomically and update ``<out_dir>/manifest.json``.

    ``dataset`` is the synthtalk set's record (``edtalk.experts.data.dataset_record``: seed, preset,
    generator version), which ``check_fits_dataset`` compares with the set the expert is used on."""
    if kind not in KINDS:
        raise ValueError(f"unknown expert kind {kind!r}; known: {sorted(KINDS)}")
    import numpy
    import safetensors

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = expert_name(kind, split)
    meta = {
        "name": name,
        "kind": kind,
        "config": json.dumps(model.cfg.to_dict()),
        "split": split,
        "identities": json.dumps(sorted(identities)),
        "git": git_hash(),
        "versions": json.dumps(
            {"torch": torch.__version__, "numpy": numpy.__version__, "safetensors": safetensors.__version__}
        ),
        "extra": json.dumps(extra or {}),
        "dataset": json.dumps(dataset or {}),
    }
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path = out_dir / f"{name}{SUFFIX}"
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    manifest = _read_manifest(out_dir)
    manifest[name] = {"file": path.name, "sha256": sha256_of(path), "kind": kind, "split": split}
    write_json(out_dir / MANIFEST, manifest, indent=1, sort_keys=True)
    return path


def copy_experts(src_dir: str | Path, dst_dir: str | Path, files: list[str]) -> list[Path]:
    """Copy expert ``files`` from ``src_dir`` (e.g. a shipped set) into ``dst_dir``.

    Each file must be listed in ``src_dir``'s manifest with a matching sha256 (a file altered after
    its manifest was written is refused); ``dst_dir``'s manifest gains the same entries, so the
    copies load with the same check."""
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    src_manifest = _read_manifest(src_dir)
    dst_manifest = _read_manifest(dst_dir)
    copied = []
    for file in files:
        name, entry = _manifest_entry(src_manifest, file)
        src = src_dir / file
        if entry is None:
            raise FileNotFoundError(f"{src}: not in that expert set (its {MANIFEST} lists no such file)")
        if not src.is_file():
            raise FileNotFoundError(f"{src}: listed in its {MANIFEST} but missing")
        if sha256_of(src) != entry["sha256"]:
            raise ValueError(f"{src}: sha256 differs from its {MANIFEST}; the file was altered")
        dst_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst_dir / file, suffix=".part") as tmp:
            shutil.copyfile(src, tmp)
        dst_manifest[name] = dict(entry)
        copied.append(dst_dir / file)
    write_json(dst_dir / MANIFEST, dst_manifest, indent=1, sort_keys=True)
    return copied


def same_file_as_source(path: str | Path, src_dir: str | Path) -> bool:
    """Whether ``path`` is byte for byte the file of the same name in ``src_dir`` (by the sha256
    its manifest records)."""
    path = Path(path)
    _, entry = _manifest_entry(_read_manifest(Path(src_dir)), path.name)
    return entry is not None and sha256_of(path) == entry["sha256"]


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def _manifest_entry(manifest: dict, file: str) -> tuple[str | None, dict | None]:
    """(name, entry) of the manifest entry whose ``file`` is ``file``; (None, None) if none is."""
    return next(((k, e) for k, e in manifest.items() if e.get("file") == file), (None, None))


def read_metadata(path: str | Path) -> dict:
    """The safetensors metadata of an expert file, JSON fields decoded."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as err:  # safetensors raises its own error type for corrupt headers
        raise ValueError(f"{path}: not a readable safetensors file ({err})") from None
    if "kind" not in meta or "config" not in meta:
        raise ValueError(f"{path}: not an expert file (no kind/config in its safetensors metadata)")
    for key in ("config", "identities", "versions", "extra", "dataset"):
        if key in meta:
            meta[key] = json.loads(meta[key])
    return meta


def load_expert(
    path: str | Path, expect_split: str | None = None, device: str = "cpu", check_manifest: bool = True
) -> tuple[torch.nn.Module, dict]:
    """Rebuild an expert from its file: (model in eval mode, metadata).

    ``expect_split`` refuses a file trained on another identity split (a judge must come from
    the judge split, a loss expert from train). With ``check_manifest`` the file's sha256 must
    match ``manifest.json`` beside it, when that manifest lists the file."""
    path = Path(path)
    if not path.is_file():
        how = {"judge": f" (`{INSTALL_JUDGES}` or `{TRAIN_JUDGES}`)", "train": f" ({TRAIN_LOSS_EXPERTS})"}
        raise FileNotFoundError(f"{path}: expert weight file not found{how.get(expect_split, '')}")
    if check_manifest:
        _, entry = _manifest_entry(_read_manifest(path.parent), path.name)
        if entry and entry["sha256"] != sha256_of(path):
            raise ValueError(f"{path}: sha256 differs from {path.parent / MANIFEST}; the file changed")
    meta = read_metadata(path)
    if expect_split is not None and meta.get("split") != expect_split:
        raise ValueError(
            f"{path}: trained on the {meta.get('split')!r} identity split, expected {expect_split!r} "
            "(judges come from the judge split, training-loss experts from train)"
        )
    model_cls, cfg_cls = KINDS[meta["kind"]]
    model = model_cls(cfg_cls.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval(), meta


# -- installing a judge into the weights manager ----------------------------------------------


def install_judge(name: str, src: str | Path) -> Path:
    """Copy a trained judge into ``weights_dir()`` and record its sha256 for ``resolve``."""
    from edtalk import weights as W

    src = Path(src)
    meta = read_metadata(src)
    if meta.get("split") != "judge" or meta.get("name") != name:
        raise ValueError(
            f"{src}: is {meta.get('name')!r} trained on {meta.get('split')!r}; not a {name} judge"
        )
    dst = W.target_path(name)
    with atomic_path(dst, suffix=".part") as tmp:
        shutil.copyfile(src, tmp)
    digest = sha256_of(dst)
    W.record_hash(name, digest)
    W.count_install()
    manifest = _read_manifest(dst.parent)
    manifest[name] = {"file": dst.name, "sha256": digest, "kind": meta["kind"], "split": "judge"}
    write_json(dst.parent / MANIFEST, manifest, indent=1, sort_keys=True)
    return dst


def load_judge(kind: str, device: str = "cpu", data: str | Path | None = None):
    """The installed synthtalk judge of ``kind`` (``face_analyser`` or ``sync_net``) on ``device``, in
    eval mode; with ``data``, refused when it was trained on that set's train or test people
    (``resolve_judge``). The one loader of the diagnostics tools (eval.proof, capacity, inversion,
    oracle); metrics get the same files through ``eval.backbones.judges``."""
    model, _ = load_expert(resolve_judge(JUDGE_NAMES[kind], data), expect_split="judge", device=device)
    return model


def resolve_judge(name: str, data: str | Path | None = None) -> Path:
    """Verified path of an installed judge (``edtalk.weights.resolve``), with a clear error
    telling how to train it when missing. With ``data`` (a synthtalk root the judge will score) a
    judge trained on people who are that set's train or test people is refused
    (``check_fits_dataset``)."""
    from edtalk import weights as W
    from edtalk.experts.data import check_fits_dataset

    try:
        path = W.resolve(name)
    except W.MissingWeightsError:
        train = TRAIN_JUDGES if data is None else f"python -m eval.zoo train --data {data}"
        install = train.replace(" train ", " install ", 1)
        raise W.MissingWeightsError(
            f"synthtalk judge {name!r} is missing: expected {W.target_path(name)}. "
            f"Install the shipped pair (synthtalk tiny, seed 0) with `{install}`, or train it (about 7 "
            f"minutes on 2 idle CPU cores) with `{train}`; either writes into the weights directory "
            "($EDTALK_BENCH_WEIGHTS)."
        ) from None
    if data is not None:
        how = f"Train judges for this set with `python -m eval.zoo train --data {data}`."
        check_fits_dataset(path, read_metadata(path), data, how)
    return path
