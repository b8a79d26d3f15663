"""The dataset card (card.json + card.md) and the contact sheet (one row per emotion).

Everything here is deterministic except card.json's ``build`` block (wall time, worker count),
which records how this copy was made; card.md repeats it in its last section.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edtalk.atomic import write_bytes, write_text
from edtalk.data.synthtalk.expression import EXPRESSION_KEYS, LEVEL_SCALE
from edtalk.data.synthtalk.files import write_json
from edtalk.data.synthtalk.presets import SPLITS, Preset

GENERATOR_VERSION = "1.1.0"

LAYOUT = {
    "clips/<id>.mp4": "H.264 yuv420p, 25 fps, square frames, AAC mono audio muxed",
    "clips/<id>.wav": "16 kHz mono 16-bit PCM, the same speech as the mp4's audio track",
    "clips/<id>.json": "sidecar: id, identity, split, emotion, level, transcript, fps, sample_rate, "
    "n_frames, "
    "size, factors{yaw,pitch,roll,tx,ty,scale,mouth_open,mouth_width,mouth_round,blink: T floats}, "
    "landmarks (T x 68 x 2 pixels, iBUG order), visemes [{viseme,start,end}] seconds, "
    "identity_params, expression, generator",
    "splits/<split>.txt": "clip ids, one per line; splits train, judge, test have disjoint identities",
    "card.json, card.md": "this card",
    "contact_sheet.png": "one row per emotion; columns = one identity per split x levels 1..3",
}
CONVENTIONS = {
    "id": "<identity>#<emotion>#level_<k>#<nnn>, identity st000..",
    "yaw": "degrees, > 0 turns the nose to the image right",
    "pitch": "degrees, > 0 tips the nose down",
    "roll": "degrees, > 0 rotates the head clockwise in the image",
    "tx, ty": "head shift as a fraction of the image size (x right, y down)",
    "scale": "head size multiplier",
    "mouth_open": "0 closed .. ~1 wide open (from the viseme timeline; silence = 0)",
    "mouth_width": "-1 narrow (rounded) .. 1 spread",
    "mouth_round": "0 .. 1 lip rounding",
    "blink": "0 open .. 1 closed (extra factor)",
    "landmarks": "pixel coordinates with pixel centres at integers",
    "time": "frame i shows time t = (i + 0.5) / fps, the centre of its audio window",
    "audio": "frame i covers samples [i * sr / fps, (i + 1) * sr / fps); audio and mouth share the visemes",
}


def _label(image: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45) -> None:
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)


def write_contact_sheet(path: Path, tiles: dict, identities: list[int], preset: Preset) -> None:
    """Grid PNG: rows = EMOTIONS, columns = identities (one per split) x levels 1..3."""
    size, left, top = preset.size, 90, 36
    cols = [(i, level) for i in identities for level in preset.levels]
    sheet = np.full((top + size * len(preset.emotions), left + size * len(cols), 3), 245, np.uint8)
    for c, (ident, level) in enumerate(cols):
        x = left + c * size
        _label(sheet, f"st{ident:03d} L{level}", (x + 6, top - 12))
        for r, emotion in enumerate(preset.emotions):
            tile = tiles.get((ident, emotion, level))
            if tile is not None:
                sheet[top + r * size : top + (r + 1) * size, x : x + size] = tile
    for r, emotion in enumerate(preset.emotions):
        _label(sheet, emotion, (6, top + r * size + size // 2 + 5))
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"{path}: PNG encoding failed")
    write_bytes(path, png.tobytes())


def _dir_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file() and p.name not in ("card.json", "card.md")]
    return len(files), sum(p.stat().st_size for p in files)


def write_card(
    out: Path, preset: Preset, seed: int, tasks: list, results: list, wall_s: float, workers: int
) -> dict:
    ranges: dict[str, list[float]] = {}
    for r in results:
        for key, (lo, hi) in r["ranges"].items():
            cur = ranges.setdefault(key, [lo, hi])
            cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
    identities = {s: sorted({t.identity for t in tasks if t.split == s}) for s in SPLITS}
    n_frames = sum(r["n_frames"] for r in results)
    n_files, n_bytes = _dir_size(out)
    card = {
        "name": "synthtalk",
        "generator_version": GENERATOR_VERSION,
        "preset": preset.name,
        "seed": seed,
        "size": preset.size,
        "fps": preset.fps,
        "sample_rate": preset.sample_rate,
        "emotions": list(preset.emotions),
        "levels": list(preset.levels),
        "level_scale": {str(k): v for k, v in LEVEL_SCALE.items()},
        "counts": {
            "identities": {s: len(v) for s, v in identities.items()},
            "clips": {s: sum(1 for t in tasks if t.split == s) for s in SPLITS},
            "clips_total": len(tasks),
            "frames_total": n_frames,
            "hours": round(n_frames / preset.fps / 3600, 4),
            "clips_per_identity": len(preset.emotions) * len(preset.levels) * preset.clips_per_condition,
        },
        "identities": identities,
        "clip_duration_s": [preset.min_duration, preset.max_duration],
        "factor_ranges": {k: [round(v[0], 4), round(v[1], 4)] for k, v in ranges.items()},
        "expression_keys": list(EXPRESSION_KEYS),
        "conventions": CONVENTIONS,
        "layout": LAYOUT,
        "files": n_files,
        "size_bytes": n_bytes,
        "size_mb": round(n_bytes / 1e6, 2),
        "build": {
            "wall_time_s": round(wall_s, 1),
            "clip_cpu_time_s": round(sum(r["cpu_s"] for r in results), 1),
            "clips_kept": sum(1 for r in results if r.get("kept")),  # written by an interrupted run
            "workers": workers,
            "note": "the only non-deterministic part of the dataset",
        },
    }
    write_json(out / "card.json", card, indent=2)
    write_text(out / "card.md", _markdown(card))
    return card


def _markdown(card: dict) -> str:
    c = card["counts"]
    lines = [
        f"# synthtalk ({card['preset']}, seed {card['seed']})",
        "",
        "A procedural talking-head dataset with ground truth for every factor "
        "(head pose, mouth, expression),",
        "made by `python -m edtalk.data.synthtalk` (generator version "
        f"{card['generator_version']}). Same seed, same bytes.",
        "",
        "## Counts",
        "",
        "| split | identities | clips |",
        "|---|---|---|",
        *[f"| {s} | {c['identities'][s]} | {c['clips'][s]} |" for s in SPLITS],
        f"| total | {sum(c['identities'].values())} | {c['clips_total']} |",
        "",
        f"{c['frames_total']} frames ({c['hours']} h) at {card['fps']:g} fps, "
        f"{card['size']}x{card['size']} px, "
        f"audio {card['sample_rate']} Hz; {card['files']} files, {card['size_mb']} MB.",
        f"Emotions: {', '.join(card['emotions'])}; levels 1-3 (scale {card['level_scale']}); "
        f"{c['clips_per_identity']} clips per identity; clip length {card['clip_duration_s'][0]}-"
        f"{card['clip_duration_s'][1]} s.",
        "",
        "## Factor ranges (over all frames)",
        "",
        "| factor | min | max | meaning |",
        "|---|---|---|---|",
    ]
    conv = card["conventions"]
    for key, (lo, hi) in card["factor_ranges"].items():
        meaning = conv.get(key, conv.get("tx, ty", "") if key in ("tx", "ty") else "")
        lines.append(f"| {key} | {lo} | {hi} | {meaning} |")
    lines += ["", "## File layout", ""]
    lines += [f"- `{k}`: {v}" for k, v in card["layout"].items()]
    lines += ["", "## Conventions", ""]
    lines += [f"- {k}: {v}" for k, v in conv.items()]
    lines += [
        "",
        "## Build",
        "",
        f"Generated in {card['build']['wall_time_s']} s with {card['build']['workers']} workers "
        "(this section and card.json's `build` block are the only non-deterministic content).",
        "",
    ]
    return "\n".join(lines)
