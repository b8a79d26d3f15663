"""A tiny synthtalk-shaped dataset for tests of the experts, judges and metrics (NOT synthtalk).

``make_fixture_dataset(root)`` writes the synthtalk layout (clips/<id>.mp4|wav|json, splits/*.txt)
with crude drawings: a disc face moved by the pose factors, a mouth whose height follows
``mouth_open``, brows coloured by emotion; the audio is a tone whose loudness follows the mouth.
It exists so that tests can run the real loading / training / saving code paths in seconds;
the real dataset comes from ``edtalk.data.synthtalk``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edtalk.data.clip import EMOTIONS

FIXTURE_SPLITS = {"train": ("st000", "st001"), "judge": ("st002", "st003"), "test": ("st004", "st005")}


def _factors(rng: np.random.Generator, t: int) -> dict[str, list[float]]:
    time = np.arange(t) / 25.0
    open_ = np.clip(np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * time + rng.uniform(0, 6)), 0, 1)
    return {
        "yaw": (10 * np.sin(time + rng.uniform(0, 6))).tolist(),
        "pitch": (5 * np.sin(0.7 * time)).tolist(),
        "roll": (3 * np.cos(0.5 * time)).tolist(),
        "tx": [0.0] * t,
        "ty": [0.0] * t,
        "scale": [1.0] * t,
        "mouth_open": open_.tolist(),
        "mouth_width": (0.5 + 0.2 * np.cos(3 * time)).tolist(),
        "mouth_round": (0.3 + 0.1 * np.sin(2 * time)).tolist(),
    }


def _render(f: dict, i: int, size: int, ident: int, emo: int) -> tuple[np.ndarray, np.ndarray]:
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = (40 + 30 * ident, 90, 140 - 20 * ident)
    yy, xx = np.mgrid[:size, :size]
    cx = size / 2 + f["yaw"][i] / 40 * size / 4
    cy = size / 2 + f["pitch"][i] / 40 * size / 4
    r = size * 0.33
    img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = (220, 180, 150)
    brow = (30 * emo, 255 - 30 * emo, 60)
    for sx in (-1, 1):
        img[
            int(cy - 0.45 * r) : int(cy - 0.35 * r),
            int(cx + sx * 0.5 * r - 0.2 * r) : int(cx + sx * 0.5 * r + 0.2 * r),
        ] = brow
    mh = 0.05 * r + 0.35 * r * f["mouth_open"][i]
    mw = 0.3 * r + 0.4 * r * f["mouth_width"][i]
    img[
        int(cy + 0.45 * r - mh / 2) : int(cy + 0.45 * r + mh / 2 + 1), int(cx - mw / 2) : int(cx + mw / 2)
    ] = (90, 20, 30)
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    lms = np.stack([cx + 0.8 * r * np.cos(angles), cy + 0.8 * r * np.sin(angles)], axis=1)
    return img, lms


def make_fixture_dataset(
    root: str | Path, n_clips: int = 2, n_frames: int = 25, size: int = 64, seed: int = 0
) -> Path:
    """Write the fixture tree under ``root`` and return ``root``."""
    from edtalk.data.video import write_video

    root = Path(root)
    (root / "clips").mkdir(parents=True, exist_ok=True)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sr = 16000
    for split, identities in FIXTURE_SPLITS.items():
        ids = []
        for identity in identities:
            ident = int(identity[2:])
            for k in range(n_clips):
                emo = (ident + 3 * k) % len(EMOTIONS)
                clip_id = f"{identity}#{EMOTIONS[emo]}#level_1#{k:03d}"
                f = _factors(rng, n_frames)
                frames, lms = zip(*(_render(f, i, size, ident, emo) for i in range(n_frames)), strict=True)
                t = np.arange(n_frames * sr // 25) / sr
                env = np.repeat(np.asarray(f["mouth_open"]), sr // 25)
                wav = (0.3 * env * np.sin(2 * np.pi * (150 + 20 * ident) * t)).astype(np.float32)
                write_video(root / "clips" / f"{clip_id}.mp4", np.stack(frames), fps=25.0)
                import soundfile as sf

                sf.write(root / "clips" / f"{clip_id}.wav", wav, sr)
                sidecar = {
                    "id": clip_id,
                    "identity": identity,
                    "split": split,
                    "emotion": EMOTIONS[emo],
                    "level": 1,
                    "transcript": "fixture",
                    "fps": 25.0,
                    "sample_rate": sr,
                    "n_frames": n_frames,
                    "size": size,
                    "factors": f,
                    "landmarks": np.stack(lms).round(3).tolist(),
                }
                (root / "clips" / f"{clip_id}.json").write_text(json.dumps(sidecar))
                ids.append(clip_id)
        (root / "splits" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    # the card fields the extra judge identities are drawn with (edtalk.experts.extra_identities)
    card = {
        "name": "fixture",
        "seed": seed,
        "size": size,
        "fps": 25.0,
        "emotions": ["happy", "sad"],
        "levels": [1],
    }
    (root / "card.json").write_text(json.dumps(card))
    return root


def make_training_fixture(root: str | Path, image_size: int) -> tuple[Path, Path, Path]:
    """(dataset root, frame cache, loss-expert folder) for in-process training tests: the two-clip
    fixture under ``root/data``, loss experts trained on its train split for two steps each, and its
    train clips decoded into the frame cache at ``image_size``."""
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache
    from edtalk.experts.train import TrainSettings, train_experts

    root = Path(root)
    data = make_fixture_dataset(root / "data", n_clips=2, n_frames=25, size=64)
    train_experts(data, "train", root / "experts", TrainSettings(face_steps=2, sync_steps=2, progress=False))
    cache = build_frame_cache(
        read_clips("synthtalk", data, "train"), image_size, root / "cache", progress=False
    )
    return data, cache, root / "experts"
