"""Metrics: ``METRICS`` maps a metric id (= file name = results-JSON key) to its class.

Every metric is a ``eval.metrics.base.Metric`` subclass: pure maths in
``eval/metrics/functional/<id>.py``, the stateful mergeable class in ``eval/metrics/<id>.py``.
It reads frames, audio and backbone features from an ``eval.context.ClipContext`` and returns a
picklable per-clip state that merges across Ray shards.

How to add a metric
1. Write the maths as pure functions in ``eval/metrics/functional/<id>.py`` (numpy/torch in,
   numbers out; no files, no networks).
2. Write ``eval/metrics/<id>.py``: a ``Metric`` (or ``MeanMetric``) subclass with ``id``, ``label``,
   ``higher_is_better``, ``version``, ``weights`` and a frozen ``Settings`` dataclass, decorated with
   ``@METRICS.register("<id>")``. Take every feature from ``ctx.feature(...)`` so that detections
   are shared; raise ``ClipFailure(reason)`` for a clip you cannot score. If the metric cannot
   apply to some datasets' clips at all (it needs a label or ground truth they lack), override
   ``not_applicable(clip)`` to return the reason: such clips are reported as n/a, not as failures.
3. If it needs a new network: a backbone in ``eval/backbones/<name>.py`` with its
   ``@BACKBONES.register("<name>")`` loader and its feature extractor in ``eval.context.FEATURES``,
   and its weight file in ``edtalk/weight_catalogue.py``.
4. Add it to a protocol that scores it: a ``spec("<id>", ...)`` row in ``eval/protocols.py``
   (``eval.run`` refuses ``--metrics`` a protocol does not list). Put it in a new protocol of your own
   (``PROTOCOLS.add``) unless you mean to change a shipped one: a row added to ``eat``, ``canonical`` or
   ``synthtalk`` changes that protocol's hash, so every cached row of it is rescored, its results are no
   longer comparable with those of other clones, and ``eval.report`` shows the rows scored before and
   after the change in separate tables (with a warning) until the older ones are rescored.
5. Tests in ``tests/eval/metrics/test_<id>.py``: against a reference implementation, and
   two merged shards == one pass.
"""

from __future__ import annotations

from edtalk.registry import Registry, import_modules_of

METRICS = Registry("metric", fill=__name__)
"""id -> Metric subclass (its first lookup imports the metric modules, which register themselves)."""


def load_all() -> Registry:
    """Import every module of this package (the metric modules register themselves) and return
    ``METRICS``."""
    import_modules_of(__name__)
    return METRICS


def get_metric(metric_id: str):
    """The Metric class registered as ``metric_id`` (``METRICS.get``, which imports the metric modules
    first: m_lmd / f_lmd live in lmd.py, lse_c / lse_d in lse.py)."""
    return METRICS.get(metric_id)
