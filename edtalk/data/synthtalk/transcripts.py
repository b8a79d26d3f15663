"""Emotion-bearing sentences, MEAD-style: each emotion has its own short sentences.

A clip speaks one sentence of its emotion, picked by the clip's random generator.
"""

from __future__ import annotations

import numpy as np

SENTENCES: dict[str, tuple[str, ...]] = {
    "angry": (
        "Stop that right now.",
        "You lied to me again.",
        "Get out of my way.",
        "I told you never to do that.",
        "This is completely unacceptable.",
        "Leave me alone.",
    ),
    "contempt": (
        "Oh, you call that work?",
        "How very clever of you.",
        "As if that would matter.",
        "I expected nothing more.",
        "Sure, whatever you say.",
        "That is rather amusing.",
    ),
    "disgusted": (
        "That smell is awful.",
        "Ugh, it is rotten.",
        "Take that filthy thing away.",
        "I feel sick looking at it.",
        "This food tastes foul.",
        "How gross is that.",
    ),
    "fear": (
        "Did you hear that noise?",
        "Someone is behind the door.",
        "Please do not leave me here.",
        "I think we are lost.",
        "What was that shadow?",
        "Help me, quickly.",
    ),
    "happy": (
        "We won the big game!",
        "What a lovely surprise party.",
        "I am so glad you came.",
        "This is the best day ever.",
        "Look, the sun is out!",
        "I love this song.",
    ),
    "neutral": (
        "The meeting is at noon.",
        "Please close the window.",
        "The train leaves at five.",
        "She reads a book.",
        "It is a cloudy day.",
        "Put the cup on the table.",
    ),
    "sad": (
        "I miss her so much.",
        "Nobody came to my party.",
        "It is all over now.",
        "The old dog passed away.",
        "I lost everything today.",
        "We will never meet again.",
    ),
    "surprised": (
        "Wow, is that for me?",
        "You did all of this?",
        "I can not believe it!",
        "Oh, what a big cake!",
        "Really, you are here?",
        "No way, that is amazing!",
    ),
}


def pick_sentence(emotion: str, rng: np.random.Generator) -> str:
    """One sentence of ``emotion`` drawn with ``rng``."""
    if emotion not in SENTENCES:
        raise ValueError(f"no sentences for emotion {emotion!r}; known: {', '.join(SENTENCES)}")
    options = SENTENCES[emotion]
    return options[int(rng.integers(len(options)))]
