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


_CACHE: dict[tuple, Any] = {}  # (name, device, settings) -> network
_CACHED_AT = [-1]  # edtalk.weights.installs() when _CACHE was last valid


def _freeze(settings: dict) -> tuple:
    return tuple(sorted(settings.items()))


def load_all() -> Registry:
    """Import every module of this package (each registers its loaders and features) and return
    ``BACKBONES``."""
    import_modules_of(__name__)
    return BACKBONES


def get_backbone(name: str, device: str = "cpu", **settings: Any) -> Any:
    """The backbone ``name`` on ``device``, built once per process and settings, and again once this
    process has installed weight files (``edtalk.weights.installs``: judges retrained and installed
    in a notebook were scored with the old ones, under the new files' protocol hash)."""
    from edtalk.weights import installs

    if _CACHED_AT[0] != installs():
        _CACHE.clear()
        _CACHED_AT[0] = installs()
    key = (name, device, _freeze(settings))
    if key not in _CACHE:
        if name not in BACKBONES:
            load_all()
        _CACHE[key] = BACKBONES.get(name)(device=device, **settings)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget loaded backbones (tests that swap weight files use this)."""
    _CACHE.clear()
