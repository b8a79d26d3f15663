"""Source-filter speech from the viseme timeline (the same weights that drive the mouth).

source: a glottal pulse train at an emotion-dependent pitch (with declination, emotion-specific
melody, jitter) plus breath noise; filter: each voiced viseme's three formant resonators, the
filtered signals blended by the viseme weights; fricatives add high-passed noise. The voiced gain
grows with mouth openness and both gains are zero for closed visemes (silence, m/b/p), so audio
energy and mouth opening move together by construction.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from edtalk.data.synthtalk.expression import LEVEL_SCALE
from edtalk.data.synthtalk.visemes import VISEME_NAMES, formant_table, targets

# level-3 prosody per emotion: pitch factor, energy factor, melody depth, breathiness, speaking rate
PROSODY = {
    "angry": (1.25, 1.6, 1.3, 0.0, 1.1),
    "contempt": (0.95, 0.9, 0.8, 0.05, 0.95),
    "disgusted": (0.92, 1.0, 0.9, 0.05, 0.9),
    "fear": (1.35, 0.9, 1.2, 0.25, 1.15),
    "happy": (1.3, 1.3, 1.6, 0.02, 1.1),
    "neutral": (1.0, 1.0, 1.0, 0.05, 1.0),
    "sad": (0.85, 0.6, 0.5, 0.2, 0.85),
    "surprised": (1.4, 1.3, 1.8, 0.05, 1.05),
}
BANDWIDTHS = (90.0, 110.0, 160.0)


def prosody(emotion: str, level: int) -> dict[str, float]:
    """Pitch, energy, melody, breath and rate of ``emotion`` at ``level`` (blended from neutral)."""
    k = LEVEL_SCALE[level]
    neutral = PROSODY["neutral"]
    values = [n + (e - n) * k for n, e in zip(neutral, PROSODY[emotion], strict=True)]
    return dict(zip(("pitch", "energy", "melody", "breath", "rate"), values, strict=True))


def _pitch_track(t: np.ndarray, f0: float, pro: dict, emotion: str, rng: np.random.Generator) -> np.ndarray:
    span = max(t[-1], 1e-3)
    melody = 1 + 0.06 * pro["melody"] * np.sin(2 * np.pi * rng.uniform(0.5, 1.2) * t + rng.uniform(0, 6.3))
    declination = 1.08 - 0.16 * t / span
    if emotion == "surprised":
        declination = declination + 0.25 * np.clip((t / span - 0.6) / 0.4, 0, 1) ** 2
    tremolo = 1 + (0.03 * np.sin(2 * np.pi * 6.0 * t) if emotion == "fear" else 0.0)
    jitter = 1 + 0.01 * np.interp(t, np.linspace(0, span, 50), rng.standard_normal(50))
    return f0 * pro["pitch"] * melody * declination * tremolo * jitter


def _glottal_source(f0: np.ndarray, sample_rate: int) -> np.ndarray:
    """Derivative of a raised-cosine glottal flow pulse (open quotient 0.6), one pulse per period."""
    phase = np.cumsum(f0 / sample_rate) % 1.0
    flow = np.where(phase < 0.6, 0.5 * (1 - np.cos(2 * np.pi * phase / 0.6)), 0.0)
    source = np.diff(flow, prepend=0.0)
    return source / (np.abs(source).max() + 1e-9)


def _formant_filter(x: np.ndarray, formants, sample_rate: int) -> np.ndarray:
    y = x
    for freq, bw in zip(formants, BANDWIDTHS, strict=True):
        r = np.exp(-np.pi * bw / sample_rate)
        theta = 2 * np.pi * freq / sample_rate
        y = signal.lfilter([1 - r], [1.0, -2 * r * np.cos(theta), r * r], y)
    return y


def synthesize(
    weights: np.ndarray,
    rate_hz: int,
    n_samples: int,
    sample_rate: int,
    f0: float,
    emotion: str,
    level: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """float32 mono speech of ``n_samples`` from (n, V) viseme weights on a ``rate_hz`` grid."""
    pro = prosody(emotion, level)
    t = np.arange(n_samples) / sample_rate
    grid = np.arange(len(weights)) / rate_hz
    w = np.stack([np.interp(t, grid, weights[:, v]) for v in range(weights.shape[1])], 1)
    openness = w @ targets("open")
    voicing = w @ targets("voicing")
    frication = w @ targets("frication")
    source = _glottal_source(_pitch_track(t, f0, pro, emotion, rng), sample_rate)
    source = source + pro["breath"] * 0.3 * rng.standard_normal(n_samples)
    voice = np.zeros(n_samples)
    table = formant_table()
    voiced_visemes = targets("voicing") > 0
    for v in range(len(VISEME_NAMES)):
        if not voiced_visemes[v] or w[:, v].max() < 1e-3:
            continue
        y = _formant_filter(source, table[v], sample_rate)
        voice += w[:, v] * y / (np.sqrt(np.mean(y * y)) + 1e-9)
    noise = signal.sosfilt(
        signal.butter(4, 2500, "highpass", fs=sample_rate, output="sos"), rng.standard_normal(n_samples)
    )
    noise /= np.sqrt(np.mean(noise * noise)) + 1e-9
    out = 0.1 * pro["energy"] * (voicing * (0.25 + 0.75 * openness) * voice + 0.35 * frication * noise)
    return np.clip(out, -0.98, 0.98).astype(np.float32)
