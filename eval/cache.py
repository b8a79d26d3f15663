"""Per-clip score cache: one pickle per (dataset, method, protocol hash, clip), written atomically.

Layout: ``<out>/<dataset>/<method>/cache/<protocol_hash>/<escaped clip id>.pkl``. A row holds,
for each metric scored on the clip, its version, a key of its settings, the weight files it used
unverified, and either its mergeable state (``eval.metrics.base.Metric.clip_state``) or the
``ClipFailure`` reason; the version of the clip checks it was scored under (``eval.scoring.CLIP_RULES``);
plus a fingerprint of the input files (name, size and mtime of the GT and predicted videos, the
audio, the sidecar and files named in ``clip.extra``: ``clip_inputs``), so replacing any of them
invalidates its row, while the same files reached through another spelling
of ``--root`` or ``--out`` (relative, absolute, symlinked, moved) keep it (``file_fingerprint``).
A killed run loses at most the clips in flight; the next run loads every row whose keys still
match and scores only what is missing. A row that cannot be read (truncated, corrupt) counts as
missing and is deleted.

    cache = ClipCache(out / "synthtalk" / "gt" / "cache" / protocol.hash())
    row = cache.load(clip_id)          # None when absent or unreadable
    cache.save(clip_id, row)           # temp file + rename

``GTFeatureStore`` keeps the GT side's backbone features per (dataset, protocol hash), so scoring a
second method on the same clips does not recompute them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any
from urllib.parse import quote

from edtalk.atomic import write_bytes
from edtalk.data.file_key import file_fingerprint

log = logging.getLogger("eval.cache")

ROW_FORMAT = 1  # bump when the row layout changes


def escape_clip_id(clip_id: str) -> str:
    """A file-name-safe, reversible spelling of a clip id (``/`` and other unsafe characters are
    %-escaped, ``#`` is kept); very long ids get a hash suffix instead of their tail."""
    name = quote(clip_id, safe="#")
    if name in ("", ".", ".."):
        name = name.replace(".", "%2E") or "%00"
    if len(name) > 180:
        name = name[:160] + "~" + hashlib.sha256(clip_id.encode()).hexdigest()[:16]
    return name


def metric_key(metric: Any) -> str:
    """sha256 prefix of a metric's ``describe()`` (id, version, settings, weights)."""
    text = json.dumps(metric.describe(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def same_inputs(stored: Any, current: list) -> bool:
    """Whether a stored fingerprint (a cache row's, a GT feature row's, a generation stamp's) equals
    ``current`` (``file_fingerprint``). Rows and stamps written before fingerprints kept file names
    hold each file's path as it was spelled; their entries are compared by that path's name, so an
    old row is reused exactly when a row written now would be (same name, size and mtime) and never
    for another file; old rows of a relative or moved root no longer miss."""
    if not isinstance(stored, list | tuple):
        return False
    return [_by_name(entry) for entry in stored] == current


def _by_name(entry: Any) -> Any:
    """A fingerprint entry with its file spelled by name only (entries of older rows held the path)."""
    if isinstance(entry, list | tuple) and entry and isinstance(entry[0], str):
        return [Path(entry[0]).name, *entry[1:]]
    return entry


def extra_files(extra: Any) -> list[str]:
    """Paths of the existing files named anywhere in ``clip.extra`` (nested dicts, lists), in a
    fixed order: cross-driving's driver sidecars, an identity-source video, a folder's prediction."""
    if isinstance(extra, dict):
        return [p for key in sorted(extra, key=str) for p in extra_files(extra[key])]
    if isinstance(extra, list | tuple):
        return [p for item in extra for p in extra_files(item)]
    if isinstance(extra, str | Path) and str(extra) and os.path.isfile(extra):
        return [str(extra)]
    return []


def clip_inputs(clip: Any, pred: str | Path | None) -> list:
    """``file_fingerprint`` of everything scoring a clip reads: GT video, prediction, audio, and
    (when there are any) the sidecar and the files in ``clip.extra``."""
    paths: list[Any] = [clip.video, pred, clip.audio]
    seen = {str(p) for p in paths if p is not None}
    for p in ([clip.sidecar] if clip.sidecar is not None else []) + extra_files(clip.extra):
        if str(p) not in seen:
            seen.add(str(p))
            paths.append(p)
    return file_fingerprint(*paths)


def _load_pickle(path: Path) -> Any:
    """The object pickled in ``path``; None when absent or unreadable (an unreadable file, whatever
    the unpickler raised, is deleted so that the rewrite starts clean)."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception as err:  # a corrupt pickle can raise almost anything (TypeError, OverflowError ...)
        log.warning("unreadable cache file %s (%s: %s): recomputing it", path, type(err).__name__, err)
        try:
            path.unlink()
        except OSError:
            pass
        return None


class ClipCache:
    """The per-clip rows of one (dataset, method, protocol hash)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, clip_id: str) -> Path:
        return self.root / f"{escape_clip_id(clip_id)}.pkl"

    def load(self, clip_id: str) -> dict | None:
        """The cached row of ``clip_id``, or None (absent, unreadable or from another format)."""
        row = _load_pickle(self.path(clip_id))
        if not isinstance(row, dict) or row.get("format") != ROW_FORMAT or row.get("clip") != clip_id:
            return None
        return row

    def save(self, clip_id: str, row: dict) -> None:
        row = {**row, "format": ROW_FORMAT, "clip": clip_id}
        write_bytes(self.path(clip_id), pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))

    def entries(self, row: dict | None, inputs: list) -> dict[str, dict]:
        """Every metric entry of ``row`` when its input fingerprint equals ``inputs`` ({} if not),
        whatever metrics this run asks for: a rewrite keeps them. Entries of rows written before
        the per-entry ``unverified`` mark get the row's mark."""
        if row is None or not same_inputs(row.get("inputs"), inputs):
            return {}
        marked = row.get("unverified") or {}
        return {m: {"unverified": marked, **e} for m, e in row.get("metrics", {}).items()}

    def usable_metrics(self, row: dict | None, keys: dict[str, str], inputs: list) -> dict[str, dict]:
        """The entries of ``row["metrics"]`` whose metric key matches ``keys[id]`` and whose
        input fingerprint equals ``inputs`` ({} when nothing is reusable)."""
        got = self.entries(row, inputs)
        return {m: got[m] for m, k in keys.items() if m in got and got[m].get("key") == k}

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*.pkl")) if self.root.is_dir() else 0


class GTFeatureStore:
    """GT-side clip features of one (dataset, protocol hash), shared by every method scored on it.

    Layout: ``<out>/<dataset>/gt_features/<protocol_hash>/<escaped clip id>.pkl``, one row per clip:
    ``{"format", "clip", "inputs": file_fingerprint(gt video), "features": {store key: value}}``
    (store keys from ``eval.context.feature_store_key``; only ``eval.context.GT_CACHEABLE``
    features, which depend on the GT video and the protocol's weights alone). A replaced GT video
    invalidates its row, another spelling of the dataset root does not (``file_fingerprint`` knows
    a file by name, size and mtime); the protocol hash covers settings and weight files.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, clip_id: str) -> Path:
        return self.root / f"{escape_clip_id(clip_id)}.pkl"

    def load(self, clip_id: str, inputs: list) -> dict[str, Any]:
        """The stored features of ``clip_id`` whose GT fingerprint equals ``inputs`` ({} if none)."""
        row = _load_pickle(self.path(clip_id))
        if (
            not isinstance(row, dict)
            or row.get("format") != ROW_FORMAT
            or row.get("clip") != clip_id
            or not same_inputs(row.get("inputs"), inputs)
        ):
            return {}
        return dict(row.get("features", {}))

    def save(self, clip_id: str, inputs: list, features: dict[str, Any]) -> None:
        row = {"format": ROW_FORMAT, "clip": clip_id, "inputs": inputs, "features": features}
        write_bytes(self.path(clip_id), pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
