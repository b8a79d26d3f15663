"""Where a sweep keeps Tune's experiment (``--storage``): a folder on this machine or on a file
system every node mounts at the same path (``~`` expanded), or object storage given as a URI
(``s3://bucket/ray_results``, ``gs://...``), which Tune writes through pyarrow's file systems.

A multi-node sweep needs storage every node reaches: Ray Train and Tune no longer copy checkpoints
between nodes (Ray's "Configuring persistent storage" guide)."""

from __future__ import annotations

from pathlib import Path

from edtalk.atomic import write_text


def is_uri(storage: str | Path) -> bool:
    return "://" in str(storage)


def storage_root(storage: str) -> str:
    """``--storage`` as Tune's ``storage_path``: a URI as given, a folder absolute (``~`` expanded)."""
    return storage.rstrip("/") if is_uri(storage) else str(Path(storage).expanduser().resolve())


def joined(root: str | Path, *names: str) -> str:
    """``root``/names for a folder or a URI."""
    return "/".join([str(root), *names]) if is_uri(root) else str(Path(root, *names))


def read_text(location: str) -> str | None:
    """The text of a file in a folder or object storage; None when there is none."""
    if not is_uri(location):
        path = Path(location)
        return path.read_text() if path.is_file() else None
    import pyarrow.fs

    data = read_bytes(*pyarrow.fs.FileSystem.from_uri(location))
    return None if data is None else data.decode()


def read_bytes(fs, path: str) -> bytes | None:
    """The bytes of ``path`` on the pyarrow file system ``fs`` (a Tune ``Result``'s ``filesystem``
    and ``path`` lead to a trial's folder); None when there is no such file."""
    import pyarrow.fs

    if fs.get_file_info(path).type != pyarrow.fs.FileType.File:
        return None
    with fs.open_input_stream(path) as f:
        return f.read()


def trial_folder():
    """The running Tune trial's folder in ``--storage``: (pyarrow file system, path on it). Not
    ``tune.get_context().get_trial_dir()``, which in Ray 2.60 is a staging folder under the node's
    /tmp/ray session, gone after a reboot and unreadable from other nodes."""
    from ray import tune

    storage = tune.get_context().get_storage()
    return storage.storage_filesystem, storage.trial_fs_path


def local_path(fs, path: str) -> Path | None:
    """``path`` as a folder of this machine when ``fs`` is the local file system (a shared mount on a
    cluster), None for object storage."""
    import pyarrow.fs

    return Path(path) if isinstance(fs, pyarrow.fs.LocalFileSystem) else None


def upload(local: Path, fs, path: str) -> None:
    """Copy the folder ``local`` to ``path`` on ``fs`` (object storage)."""
    import pyarrow.fs

    fs.create_dir(path, recursive=True)
    pyarrow.fs.copy_files(str(local), path, source_filesystem=pyarrow.fs.LocalFileSystem(),
                          destination_filesystem=fs)  # fmt: skip


def save_text(location: str, text: str) -> None:
    """Write a small text file to a folder (atomically) or to object storage."""
    if not is_uri(location):
        write_text(Path(location), text)
        return
    import pyarrow.fs

    fs, path = pyarrow.fs.FileSystem.from_uri(location)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as f:
        f.write(text.encode())
