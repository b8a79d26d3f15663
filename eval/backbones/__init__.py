"""Feature networks used by the metrics, and the clip features they provide.

``BACKBONES`` maps a backbone name to a loader ``load(device="cpu", **settings) -> model``;
``get_backbone(name, **settings)`` caches one instance per process (weights load once per Ray
worker). Each backbone module also registers its clip features in ``eval.context.FEATURES``
(e.g. ``landmarks``, ``embedding``, ``syncnet``), which metrics read through
``ctx.feature(name, side, **settings)``.

Weight files come only from the weights manager (``edtalk.weights.resolve``); a missing file
raises ``MissingWeightsError`` naming the file, its URL and where to put it.

How to add a backbone: one file here with a ``@BACKBONES.register("name")`` loader and its
``@FEATURES.register(...)`` extractor(s) (every module here is imported by ``load_all``); its weight
file in ``edtalk/weight_catalogue.py``; a conformance test in ``tests/eval/backbones/``.
"""

from __future__ import annotations

from typing import Any

from edtalk.registry import Registry, import_modules_of

BACKBONES: Registry = Registry("backbone")


_CACHE: dict[tuple, Any] = {}


def _freeze(settings: dict) -> tuple:
    return tuple(sorted(settings.items()))


def load_all() -> Registry:
    """Import every module of this package (each registers its loaders and features) and return
    ``BACKBONES``."""
    import_modules_of(__name__)
    return BACKBONES


def get_backbone(name: str, device: str = "cpu", **settings: Any) -> Any:
    """The backbone ``name`` on ``device``, built once per process and settings."""
    key = (name, device, _freeze(settings))
    if key not in _CACHE:
        if name not in BACKBONES:
            load_all()
        _CACHE[key] = BACKBONES.get(name)(device=device, **settings)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget loaded backbones (tests that swap weight files use this)."""
    _CACHE.clear()
