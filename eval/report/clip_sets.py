"""Which clips each results file was scored on, and which rows of a table are ranked (bold/underlined)
together. Rows are compared by the ids of the clips they were scored on where their files record them
(a per-clip row of ``<protocol>.clips.jsonl`` for each of the file's ``n_clips`` clips), else by how
many clips they were scored on; a file that records neither is never compared."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Collection

from eval.report.inputs import ResultFile
from eval.report.row_keys import split_of

Where = tuple[str, str]  # (dataset, split)
Anchor = tuple[str, frozenset[str]]  # a row's label and the ids of its clips, that others are described by


def scored_clips(result: ResultFile) -> int | None:
    """The clips a results file was scored on: its ``n_clips`` (the clips run) less the clips that
    failed as a whole; None when the file does not record ``n_clips``."""
    n = _clips_run(result)
    return None if n is None else n - len(_whole_failures(result))


def scored_clip_ids(result: ResultFile) -> frozenset[str] | None:
    """The ids of the clips a results file was scored on: its per-clip rows' clips less the clips that
    failed as a whole; None when its rows do not name each of its ``n_clips`` clips once (no
    ``.clips.jsonl``, a line that could not be read, a file older than ``n_clips``)."""
    n = _clips_run(result)
    ids = [row.get("clip") for row in result.clip_rows]
    if n is None or result.problems or len(ids) != n or not all(isinstance(i, str) for i in ids):
        return None
    whole = _whole_failures(result)
    if len(set(ids)) != n or not whole <= set(ids):
        return None
    return frozenset(ids) - whole


def failed_in_metric_alone(result: ResultFile, metric: str) -> set:
    """The clips that failed in ``metric`` but not as a whole: left out of that metric's number only,
    so it is over fewer clips than the file's other metrics."""
    failed = {f.get("clip") for f in result.failures if isinstance(f, dict) and f.get("metric") == metric}
    return failed - _whole_failures(result)


def _clips_run(result: ResultFile) -> int | None:
    n = result.raw.get("n_clips")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def _whole_failures(result: ResultFile) -> set:
    return {f.get("clip") for f in result.failures if isinstance(f, dict) and f.get("metric") is None}


@dataclasses.dataclass(frozen=True)
class Ranked:
    """The rows of one dataset and split that are ranked: those scored on ``n`` clips, the most any
    row was, and of the rows that record their clips' ids, those scored on ``ids``, the clips most of
    the rows on ``n`` clips share. ``tied``: as many of them share each of two or more sets of clips,
    so no row that records its clips' ids is ranked."""

    n: int
    ids: frozenset[str] | None = None
    tied: bool = False


def ranked_clips(results: list[ResultFile]) -> dict[Where, Ranked]:
    """(dataset, split) -> the clips of the rows that are ranked, for each dataset and split whose
    ``results`` were scored on different clips (``comparable``): the fullest evaluation's (a
    ``--limit`` or smoke run, a row that lost clips to failures, or a folder of videos of other clips is
    shown but not ranked against it). A dataset and split absent from it ranks every row."""
    by_where: dict[Where, list[ResultFile]] = defaultdict(list)
    for r in results:
        by_where[(r.dataset, split_of(r))].append(r)
    ranked = {}
    for where, rs in by_where.items():
        if comparable(rs):
            continue
        n = max(c for c in map(scored_clips, rs) if c is not None)
        sets = Counter(scored_clip_ids(r) for r in rs if scored_clips(r) == n)
        sets.pop(None, None)
        top = sets.most_common(2)
        tied = len(top) == 2 and top[0][1] == top[1][1]
        ranked[where] = Ranked(n, None if tied or not top else top[0][0], tied)
    return ranked


def comparable(results: list[ResultFile]) -> bool:
    """Whether ``results`` (of one dataset and split) were all scored on the same clips as far as their
    files say: one number of clips, or none recorded at all, and one set of ids among the files that
    record them."""
    counts = [scored_clips(r) for r in results]
    recorded = {n for n in counts if n is not None}
    if len(recorded) > 1 or (recorded and None in counts):
        return False
    return len({ids for ids in map(scored_clip_ids, results) if ids is not None}) < 2


def is_ranked(result: ResultFile, ranked: dict[Where, Ranked]) -> bool:
    """Whether ``result``'s row may be bold/underlined (``ranked_clips``): by its clips' ids when its
    file records them, else by their number."""
    ref = ranked.get((result.dataset, split_of(result)))
    if ref is None:
        return True
    ids = scored_clip_ids(result)
    return scored_clips(result) == ref.n if ids is None else ids == ref.ids


def anchor_of(labelled: list[tuple[str, ResultFile]], preferred: Collection[str] = ()) -> Anchor | None:
    """The row (label, clip ids) that the others' clips are described against: of the rows that record
    their clips' ids, one scored on the most clips and on the set most of those rows share, then one of
    ``preferred`` (GT), then the first label; None when no row records them."""
    with_ids = [(label, ids) for label, r in labelled if (ids := scored_clip_ids(r)) is not None]
    if not with_ids:
        return None
    sharing = Counter(ids for _, ids in with_ids)
    label, ids = min(with_ids, key=lambda li: (-len(li[1]), -sharing[li[1]], li[0] not in preferred, li[0]))
    return label, ids


def clips_phrase(result: ResultFile, label: str, anchor: Anchor | None) -> str:
    """``12 clips``, and how its clips differ from ``anchor``'s when both record their ids
    (``12 clips, 4 of them not in gt's 12``); ``clips not recorded`` without a count."""
    n = scored_clips(result)
    if n is None:
        return "clips not recorded"
    count = f"{n} clip{'s' if n != 1 else ''}"
    ids = scored_clip_ids(result)
    if anchor is None or label == anchor[0]:
        return count
    if ids is None:
        return f"{count}, clip ids not recorded"
    other, theirs = anchor
    if ids == theirs:
        return f"{count}, the same as {other}'s"
    outside = len(ids - theirs)
    how = f"{outside} of them not in" if outside else "all in"
    return f"{count}, {how} {other}'s {len(theirs)}"
