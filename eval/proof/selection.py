"""Which test clips the proof measures: a spread of clips, cross-driving quadruples (A, B, C, D),
within-identity emotion pairs and the other-sentence control for shuffled audio."""

from __future__ import annotations

from collections.abc import Callable


def _by_identity(clips) -> dict[str, list]:
    """Clips grouped by ``identity``, in listing order."""
    by_id: dict[str, list] = {}
    for clip in clips:
        by_id.setdefault(clip.identity, []).append(clip)
    return by_id


SELECTION_STRIDE = 7  # coprime with an identity's 8 emotions x 3 levels: picks rotate through both


def spread_selection(clips, n: int) -> list:
    """``n`` clips spread over identities, emotions and levels: pick k goes to identity k mod the
    number of identities and takes that identity's clip (7 k) mod its count, so 12 picks from six
    synthtalk identities cover all eight emotions and the three levels (every k-th clip of the
    identity-major listing gave angry and happy level-1 clips only)."""
    by_id = _by_identity(clips)
    ids = sorted(by_id)
    picked: list = []
    for k in range(min(n, len(clips))):
        own = by_id[ids[k % len(ids)]]
        start = (SELECTION_STRIDE * k) % len(own)
        # the first clip from ``start`` on not picked yet (an identity with fewer clips than picks)
        for step in range(len(own)):
            clip = own[(start + step) % len(own)]
            if clip not in picked:
                picked.append(clip)
                break
    return picked


def _transcript(clip) -> str | None:
    """The sentence ``clip`` speaks; None when its record has no transcript."""
    return getattr(clip, "transcript", None)


def first_speaking_another(items: list, start: int, sentence: str | None, said: Callable):
    """The first of ``items`` from index ``start`` on (wrapping) whose sentence, ``said(item)``, is not
    ``sentence`` (any item when ``sentence`` is None); None when every item speaks it."""
    for i in range(len(items)):
        x = items[(start + i) % len(items)]
        if sentence is None or said(x) != sentence:
            return x
    return None


def pick_quadruples(clips, n: int) -> list[tuple]:
    """(A, B, C, D) clips of four different identities; D's emotion differs from A's, B's and C's.

    Works on ``Clip`` records or decoded clips (only ``identity``, ``emotion`` and ``level`` are
    read, and ``transcript`` when there is one: B never speaks A's sentence). Quadruple k rotates the
    identities by k and strides through each identity's clips, so the emotions vary across quadruples
    and quadruples k and k + the number of identities have other A clips. A is a neutral clip when
    the identity has one (the identity source of the expression stage is neutral,
    ``StageSampler.expression_windows``: an emotional source frame would carry its own expression
    into every output); D prefers the strongest intensity level available, so the expression to
    transfer is clear.
    """
    by_id = _by_identity(clips)
    ids = sorted(by_id)
    if len(ids) < 4:
        return []
    quads = []
    for k in range(n):
        a_id, b_id, c_id, d_id = (ids[(k + j) % len(ids)] for j in range(4))
        a_choices = [x for x in by_id[a_id] if x.emotion == "neutral"] or by_id[a_id]
        a = a_choices[(k + k // len(ids)) % len(a_choices)]  # quadruples k and k + #ids: other A clips
        # B speaks another sentence than A (else "toward A" is nearly "toward B")
        b_choices = by_id[b_id]
        b = first_speaking_another(b_choices, 5 * k + 7, _transcript(a), _transcript)
        b = b_choices[(5 * k + 7) % len(b_choices)] if b is None else b
        c = by_id[c_id][(5 * k + 13) % len(by_id[c_id])]
        taken = {a.emotion, b.emotion, c.emotion}
        d_choices = [x for x in by_id[d_id] if x.emotion not in taken]
        if not d_choices:
            continue
        top = max((x.level or 0) for x in d_choices)
        d_choices = [x for x in d_choices if (x.level or 0) == top]
        quads.append((a, b, c, d_choices[k % len(d_choices)]))
    return quads


def pick_emotion_pairs(clips, n: int) -> list[tuple]:
    """(neutral source, emotional driver) pairs of ONE identity: the driver is a strongest-level
    non-neutral clip; drivers stride through identities and emotions. Identities without a neutral
    clip are skipped."""
    by_id = _by_identity(clips)
    pairs = []
    for ident in sorted(by_id):
        neutral = [x for x in by_id[ident] if x.emotion == "neutral"]
        emotional = [x for x in by_id[ident] if x.emotion != "neutral"]
        if neutral and emotional:
            top = max((x.level or 0) for x in emotional)
            pairs += [(neutral[0], d) for d in emotional if (d.level or 0) == top]
    step = max(1, len(pairs) // max(1, n))
    return pairs[::step][:n]


def other_sentence(clips, j: int, transcripts: dict[str, str | None]):
    """The control clip for clip ``j``: half the list away, stepping on to the first clip that speaks
    another sentence (two clips of one emotion and level often share a transcript; their mouths
    move alike, which is no shuffled audio). ``clips[j]`` itself when there is no other."""

    def said(clip) -> str | None:
        return transcripts.get(clip.id)

    other = first_speaking_another(clips, j + max(1, len(clips) // 2), said(clips[j]), said)
    return clips[j] if other is None else other  # None: every clip speaks clip j's sentence
