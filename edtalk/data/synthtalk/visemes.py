"""Visemes: a transcript -> a timed viseme timeline -> smooth (coarticulated) mouth and voice tracks.

Each viseme has mouth targets (open, width, round), how voiced and how noisy (fricative) it is,
and three formant frequencies. ``timeline_from_text`` maps the transcript's letters to visemes
deterministically (a few digraphs, then one viseme per letter, repeated visemes merged), with
pauses at word and phrase boundaries. ``viseme_weights`` turns the timeline into per-time weights: a
one-hot target per segment smoothed by a Hann window (coarticulation), so neighbouring visemes
blend; the mouth factors and the audio both read these same weights, which makes them synchronous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Viseme:
    name: str
    open: float  # mouth openness target, 0 closed .. 1 wide open
    width: float  # mouth width target, -1 narrow .. 1 spread
    round: float  # lip rounding target, 0 .. 1
    voicing: float  # voiced source gain, 0 .. 1
    frication: float  # noise source gain, 0 .. 1
    formants: tuple[float, float, float]  # F1, F2, F3 in Hz
    duration: float  # base duration in seconds


_NEUTRAL_F = (500.0, 1500.0, 2500.0)
VISEMES: dict[str, Viseme] = {
    v.name: v
    for v in (
        Viseme("SIL", 0.0, 0.0, 0.0, 0.0, 0.0, _NEUTRAL_F, 0.05),
        Viseme("AA", 0.95, 0.2, 0.0, 1.0, 0.0, (750.0, 1200.0, 2600.0), 0.13),
        Viseme("EH", 0.6, 0.45, 0.0, 1.0, 0.0, (550.0, 1800.0, 2550.0), 0.12),
        Viseme("IY", 0.3, 0.85, 0.0, 1.0, 0.0, (300.0, 2300.0, 3000.0), 0.11),
        Viseme("OH", 0.7, -0.35, 0.65, 1.0, 0.0, (500.0, 900.0, 2500.0), 0.13),
        Viseme("UW", 0.25, -0.6, 1.0, 1.0, 0.0, (320.0, 850.0, 2300.0), 0.12),
        Viseme("MBP", 0.0, 0.0, 0.0, 0.0, 0.0, _NEUTRAL_F, 0.08),
        Viseme("FV", 0.12, 0.1, 0.0, 0.15, 0.6, _NEUTRAL_F, 0.09),
        Viseme("S", 0.15, 0.5, 0.0, 0.0, 0.8, _NEUTRAL_F, 0.10),
        Viseme("SH", 0.2, -0.2, 0.6, 0.0, 0.8, _NEUTRAL_F, 0.10),
        Viseme("TH", 0.2, 0.3, 0.0, 0.1, 0.5, _NEUTRAL_F, 0.08),
        Viseme("TD", 0.3, 0.3, 0.0, 0.6, 0.1, (400.0, 1700.0, 2600.0), 0.06),
        Viseme("KG", 0.4, 0.2, 0.0, 0.5, 0.2, (400.0, 1900.0, 2500.0), 0.07),
        Viseme("R", 0.35, -0.2, 0.45, 0.8, 0.0, (450.0, 1300.0, 1700.0), 0.07),
    )
}
VISEME_NAMES = tuple(VISEMES)

_DIGRAPHS = {
    "th": "TH",
    "sh": "SH",
    "ch": "SH",
    "ph": "FV",
    "ck": "KG",
    "ng": "KG",
    "ee": "IY",
    "ea": "IY",
    "oo": "UW",
    "ou": "OH",
    "ow": "OH",
    "ai": "EH",
    "ay": "EH",
    "qu": "KG",
}
_LETTERS = {
    "a": "AA",
    "e": "EH",
    "i": "IY",
    "y": "IY",
    "o": "OH",
    "u": "UW",
    "w": "UW",
    "m": "MBP",
    "b": "MBP",
    "p": "MBP",
    "f": "FV",
    "v": "FV",
    "s": "S",
    "z": "S",
    "x": "S",
    "j": "SH",
    "t": "TD",
    "d": "TD",
    "n": "TD",
    "l": "TD",
    "k": "KG",
    "g": "KG",
    "q": "KG",
    "h": "KG",
    "c": "KG",
    "r": "R",
}
PHRASE_PAUSE = 0.18  # seconds of silence at a comma or mid-sentence punctuation


def _word_visemes(word: str) -> list[str]:
    out, i = [], 0
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]  # silent final e
    while i < len(word):
        pair = word[i : i + 2]
        if pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
            continue
        ch = word[i]
        if ch == "c" and word[i + 1 : i + 2] in ("e", "i", "y"):
            out.append("S")
        elif ch in _LETTERS:
            out.append(_LETTERS[ch])
        i += 1
    return out


def text_visemes(text: str) -> list[tuple[str, float]]:
    """(viseme, base duration) sequence of a sentence; repeated visemes are merged."""
    seq: list[tuple[str, float]] = []
    tokens = text.lower().replace(",", " , ").replace("!", " ").replace("?", " ").replace(".", " ").split()
    for k, token in enumerate(tokens):
        if token == ",":
            seq.append(("SIL", PHRASE_PAUSE))
            continue
        if k and seq and seq[-1][0] != "SIL":
            seq.append(("SIL", VISEMES["SIL"].duration))
        for name in _word_visemes("".join(ch for ch in token if ch.isalpha())):
            if seq and seq[-1][0] == name:
                seq[-1] = (name, seq[-1][1] + 0.5 * VISEMES[name].duration)
            else:
                seq.append((name, VISEMES[name].duration))
    return seq


def timeline_from_text(text: str, rate: float, lead: float, max_speech: float) -> list[dict]:
    """Timed viseme segments ``[{viseme, start, end}]`` (seconds), starting after ``lead`` seconds.

    ``rate`` > 1 speaks faster; speech longer than ``max_speech`` seconds is sped up to fit.
    Leading and trailing silence are explicit ``SIL`` segments added by the caller's duration.
    """
    seq = text_visemes(text)
    total = sum(d for _, d in seq) / rate
    speed = rate * max(1.0, total / max_speech)
    out, t = [], lead
    for name, dur in seq:
        d = dur / speed
        out.append({"viseme": name, "start": round(t, 4), "end": round(t + d, 4)})
        t += d
    return out


def close_timeline(segments: list[dict], duration: float) -> list[dict]:
    """Pad a timeline with SIL from 0 to its first segment and from its last one to ``duration``."""
    out = []
    if segments and segments[0]["start"] > 0:
        out.append({"viseme": "SIL", "start": 0.0, "end": segments[0]["start"]})
    out.extend(segments)
    end = segments[-1]["end"] if segments else 0.0
    if end < duration:
        out.append({"viseme": "SIL", "start": end, "end": round(duration, 4)})
    return out


def viseme_weights(
    segments: list[dict], duration: float, rate_hz: int = 1000, smooth: float = 0.07
) -> np.ndarray:
    """(n, V) blend weights on a ``rate_hz`` grid over [0, duration]: one-hot targets, Hann-smoothed.

    ``smooth`` is the coarticulation window in seconds; each row sums to 1.
    """
    n = int(round(duration * rate_hz)) + 1
    times = np.arange(n) / rate_hz
    index = np.zeros(n, dtype=np.int64)  # SIL = 0 outside every segment
    for seg in segments:
        index[(times >= seg["start"]) & (times < seg["end"])] = VISEME_NAMES.index(seg["viseme"])
    onehot = np.zeros((n, len(VISEME_NAMES)))
    onehot[np.arange(n), index] = 1.0
    width = max(3, int(round(smooth * rate_hz)) | 1)
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    pad = width // 2
    padded = np.concatenate([np.repeat(onehot[:1], pad, 0), onehot, np.repeat(onehot[-1:], pad, 0)])
    out = np.stack([np.convolve(padded[:, v], kernel, mode="valid") for v in range(onehot.shape[1])], 1)
    return out / out.sum(1, keepdims=True)


def targets(attribute: str) -> np.ndarray:
    """(V,) values of one viseme attribute (open, width, round, voicing, frication) in table order."""
    return np.array([getattr(VISEMES[name], attribute) for name in VISEME_NAMES])


def formant_table() -> np.ndarray:
    """(V, 3) formant frequencies in table order."""
    return np.array([VISEMES[name].formants for name in VISEME_NAMES])
