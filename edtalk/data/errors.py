"""Clear, user-facing errors for bad input. Each names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """A problem with one input file: the message always names the file and what is wrong."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)

    def __reduce__(self):
        """Pickle by (path, problem), so the error crosses from a Ray worker to the driver intact
        (the default pickles only the message and fails to rebuild: 'missing ... problem')."""
        return (type(self), (self.path, self.problem))


class VideoReadError(DataError):
    """A video that cannot be decoded (missing, corrupt, truncated, no video stream)."""


class AudioReadError(DataError):
    """An audio file that is missing, empty, unreadable or has no samples."""


class DatasetLayoutError(DataError):
    """A dataset root that does not have the expected tree (see the README's dataset section)."""
