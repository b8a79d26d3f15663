"""One generic registry, used for every kind of pluggable thing in EDTalk-Bench.

Datasets (readers), training stages, metrics, backbones, protocols and methods each keep one
``Registry`` instance next to their implementations. Adding one is one new file (a protocol: one table
in eval/protocols.py) and one ``@REGISTRY.register(name)``, or ``REGISTRY.add(name, record)`` for a
record (a dataset's ``Dataset``, a stage's ``Stage``); a metric is scored only once a protocol lists it
too (a ``spec`` row in eval/protocols.py: see the how-to in eval/metrics/__init__.py):

    METRICS = Registry("metric")

    @METRICS.register("psnr")
    class PSNR(Metric): ...

An unknown name raises ``KeyError`` with a "did you mean" suggestion and the list of known names.
A package of pluggable things calls ``import_modules_of(__name__)`` to import its files, so that a
new file registers itself without a second list to edit; a registry made with ``fill=<package>``
does so itself on its first lookup (``METRICS.get("psnr")`` in a fresh process finds psnr).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists close matches."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class Registry(Generic[T]):
    """A name -> object map filled by a decorator, with helpful errors for unknown names."""

    def __init__(self, kind: str, fill: str | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._fill = fill  # a package whose modules register here: imported on the first lookup

    def _filled(self) -> dict[str, T]:
        if self._fill is not None:
            package, self._fill = self._fill, None  # first: a module that looks a name up while imported
            import_modules_of(package)
        return self._items

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; a duplicate name is an error, except the
        same definition run again (a notebook cell re-run: a class of the same module and qualified
        name, or an equal record), which replaces the first."""

        def wrap(obj: T) -> T:
            if name in self._items and not _same_definition(self._items[name], obj):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return wrap

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without decorator syntax."""
        return self.register(name)(obj)

    def get(self, name: str) -> T:
        """The object registered as ``name``; unknown names raise ``UnknownNameError``."""
        try:
            return self._filled()[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._items), n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            known = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}.{hint} Known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._filled())

    def __contains__(self, name: object) -> bool:
        return name in self._filled()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._filled())


def _same_definition(old: object, new: object) -> bool:
    """``new`` is ``old`` defined again: the same object, a class or function of the same module and
    qualified name defined in ``__main__`` (a notebook or script re-run), or an equal record."""
    if old is new:
        return True
    if isinstance(old, type) or callable(old):
        where = ("__module__", "__qualname__")
        same = all(getattr(old, a, None) == getattr(new, a, None) for a in where)
        return same and getattr(new, "__module__", None) == "__main__"
    try:
        return bool(old == new)
    except (ValueError, TypeError, RuntimeError):  # a record holding arrays or tensors: == is ambiguous
        return False  # compares as different: the caller says the name is registered twice


def import_modules_of(package: str) -> None:
    """Import every module of ``package`` (not its sub-packages): each registers what it defines.

    The one list of a kind is its registry; no second list of module names to keep in step."""
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not info.ispkg:
            importlib.import_module(f"{package}.{info.name}")
