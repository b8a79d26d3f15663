"""Feature networks used by the metrics, and the clip features they provide.

``BACKBONES`` maps a backbone name to a loader ``load(device="cpu", **settings) -> model``;
``get_backbone(name, **settings)`` caches one instance per process (weights load once per Ray
worker). Each backbone module also registers its clip features in ``eval.context.FEATURES``
(e.g. ``landmarks``, ``inception``, ``syncnet``), which metrics read through
``ctx.feature(name, side, **settings)``.

Weight files come only from the weights manager (``edtalk.weights.resolve``); a missing file
raises ``MissingWeightsError`` naming the file, its URL and where to put it.

How to add a backbone: one file here with a ``@BACKBONES.register("name")`` loader and its
``@FEATURES.register(...)`` extractor(s); its weight file in ``edtalk/weights.py``; the module
name in ``_MODULES``; a conformance test in ``tests/eval/backbones/``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from edtalk.registry import Registry

BACKBONES: Registry = Registry("backbone")

_MODULES = (
    "align",
    "landmarks",
    "dlib68",
    "embeddings",
    "inception_fid",
    "inception_tv",
    "lpips_net",
    "syncnet",
    "openface",
    "fan",
    "emotion_fan",
)
_OPTIONAL = ("judges",)  # the synthtalk judges (judges engineer), imported when present

_CACHE: dict[tuple, Any] = {}


def _freeze(settings: dict) -> tuple:
    return tuple(sorted(settings.items()))


def load_all() -> Registry:
    for name in _MODULES:
        importlib.import_module(f"eval.backbones.{name}")
    present = {m.name for m in pkgutil.iter_modules(__path__)}
    for name in _OPTIONAL:
        if name in present:
            importlib.import_module(f"eval.backbones.{name}")
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
