"""The weights manager core: where each external weight file lives, and its verification.

The files themselves are listed in one catalogue (``edtalk.weight_catalogue.WEIGHTS``: name, file
name, sha256, official URL, licence note, users). Files live in ``weights_dir()``
(``$EDTALK_BENCH_WEIGHTS`` or ``~/.cache/edtalk-bench/weights``).

HuBERT and EmoBERTa are Hugging Face model folders (``config.json`` + weights), not single files:
their entries carry ``hf_repo``. A folder is present when it holds ``config.json`` and a
``*.safetensors`` / ``*.bin`` file, and a text model's folder its tokenizer files
(``WeightFile.tokenizer``); its sha256 is that of the sorted list of its files' relative paths and
sha256 (hidden entries such as ``.cache`` skipped). ``fetch`` cannot download a folder: it prints the
``hf download`` command.

- ``resolve(name)`` returns the verified local path, or raises ``MissingWeightsError`` (naming the
  file, its URL and the target path) / ``WeightsMismatchError``. Verification results are cached
  by (size, mtime, ctime) in ``<weights_dir>/.verified.json`` so a 100 MB file is hashed once.
- ``fetch(name)`` downloads from the official URL and verifies: the only network access.
- ``import_file(name, path)`` copies a file the user obtained elsewhere and verifies it.

Before any hash is checked or recorded, ``import`` and ``fetch`` refuse (even with ``allow_unverified``)
what cannot be the weight file: an empty file, a saved web page, an archive still to be unpacked, a
torch zip or safetensors file cut short, a model folder with a broken link or a shard its
``*.index.json`` lists missing, a download that ended before its Content-Length, and a file that
changed while it was copied. A copy goes to a temp name and is renamed into place only when complete;
a model folder it replaces waits beside it until then, and comes back if the import is cut short; the
staging folder of a folder copy that was killed is removed by the next import of that folder.

Hashes: the full sha256 is recorded where a reference document gives it. For most official files
only a hash *prefix* is known (the ``-6726825d`` in torch-hub file names is the sha256 prefix;
syncnet-python's README gives a prefix and a suffix); those parts are checked. Where no full hash
is known, the first fetched/imported file's sha256 is *recorded* (with a warning) in
``<weights_dir>/recorded_hashes.json`` and later files must match it. Hashes are never invented.

``allow_unverified=True`` (or ``EDTALK_BENCH_ALLOW_UNVERIFIED=1``) accepts a file that fails the
check; such files are listed by ``unverified_in_use()`` and results computed with them must be
marked ``unverified`` by the runner. The user-facing CLI is ``python -m eval.weights``.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path

from edtalk.atomic import atomic_path, write_json
from edtalk.weight_catalogue import WEIGHTS

try:
    import fcntl
except ImportError:  # Windows: no stage can be proven ownerless, so none is removed
    fcntl = None


class MissingWeightsError(FileNotFoundError):
    """A weight file is not in the weights directory."""


class WeightsMismatchError(RuntimeError):
    """A weight file is present but its sha256 does not match the registry."""


class WeightsFolderError(MissingWeightsError):
    """The weights folder itself cannot be used (not a folder, a broken record file)."""


# -- locations ---------------------------------------------------------------------------------


def weights_dir() -> Path:
    """``$EDTALK_BENCH_WEIGHTS`` (made absolute: a relative one meant another folder to every
    process started elsewhere) or ``~/.cache/edtalk-bench/weights``. ``WeightsFolderError`` when it
    exists and is not a folder."""
    env = os.environ.get("EDTALK_BENCH_WEIGHTS")
    folder = Path(env).expanduser().resolve() if env else Path.home() / ".cache" / "edtalk-bench" / "weights"
    if folder.exists() and not folder.is_dir():
        where = f"EDTALK_BENCH_WEIGHTS={env}" if env else "the default weights folder"
        raise WeightsFolderError(f"{where} ({folder}) is a file, not a folder: point it at a folder")
    return folder


def target_path(name: str) -> Path:
    return weights_dir() / WEIGHTS.get(name).filename


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _folder_files(folder: Path) -> list[Path]:
    """The files of a model folder, sorted; hidden entries (``.cache``, ``.gitattributes``) skipped."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [Path(root, n) for n in names if not n.startswith(".")]
    return sorted(files)


def folder_sha256(folder: str | Path) -> str:
    """Hex sha256 of a model folder: of each file's relative path and sha256, in sorted order."""
    folder = Path(folder)
    h = hashlib.sha256()
    for f in _folder_files(folder):
        h.update(f"{f.relative_to(folder).as_posix()}\0{sha256_of(f)}\n".encode())
    return h.hexdigest()


def _digest(path: Path) -> str:
    return folder_sha256(path) if path.is_dir() else sha256_of(path)


def _stat_key(path: Path) -> tuple[int, int, int]:
    """(size, mtime_ns, ctime_ns) of a file; of a folder, its files' total size and the latest mtime
    and ctime of its files and folders (a renamed file changes its folder's mtime). The ctime catches
    a same-size file put in place with its old mtime kept (``cp -p``, ``rsync -t``, ``os.utime``),
    which (size, mtime) took for the file hashed before."""
    if not path.is_dir():
        st = path.stat()
        return st.st_size, st.st_mtime_ns, st.st_ctime_ns
    files = _folder_files(path)
    stats = {p: p.stat() for p in {path, *files, *(f.parent for f in files)}}  # each path stat'ed once
    size = sum(stats[f].st_size for f in files)
    return size, max(st.st_mtime_ns for st in stats.values()), max(st.st_ctime_ns for st in stats.values())


MODEL_WEIGHT_GLOBS = ("*.safetensors", "*.bin")


def _folder_problem(folder: Path, tokenizer: tuple[tuple[str, ...], ...] = ()) -> str | None:
    """Why ``folder`` is not a usable Hugging Face model folder, or None when it is. ``tokenizer``: the
    sets of files a text model's tokenizer may come from (``WeightFile.tokenizer``), one needed whole."""
    if not folder.exists():
        return "no such folder"
    if not folder.is_dir():
        return "it is a file, not a folder"
    if not (folder / "config.json").is_file():
        return "it has no config.json"
    if not any(any(folder.glob(g)) for g in MODEL_WEIGHT_GLOBS):
        return f"it has no model weights ({' or '.join(MODEL_WEIGHT_GLOBS)})"
    lacking = [[f for f in group if not (folder / f).is_file()] for group in tokenizer]
    if tokenizer and all(lacking):  # transformers then builds an empty tokenizer without a word
        files = ", or ".join(" + ".join(m) for m in lacking)
        return f"it lacks its tokenizer: {files} (an unfinished download?)"
    for f in _folder_files(folder):
        if not f.exists():  # a link into the Hugging Face cache whose blob never finished downloading
            return f"{f.relative_to(folder)} is a broken link (an unfinished download?)"
    for index in sorted(folder.glob("*.index.json")):  # a sharded checkpoint lists its shards here
        try:
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (ValueError, OSError, AttributeError) as err:
            return f"its {index.name} is not a readable shard index ({err})"
        lacking = sorted(str(s) for s in shards if not (folder / str(s)).is_file())
        if lacking:
            return f"it lacks {', '.join(lacking)}, listed in its {index.name} (an unfinished download?)"
    return None


def _content_problem(path: Path) -> str | None:
    """Why the file ``path`` cannot be a weight file, from its first bytes (and a zip's or safetensors'
    own index): empty, a web page saved under its name, an archive still to be unpacked, or a torch
    zip / safetensors file cut short. None when none of these (not a proof that it is the right file)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "it is empty"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html")):
        return "it is a web page (HTML), not a weight file: the download saved an error or sign-in page"
    if head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar":
        return "it is a gzip or tar archive, not a weight file: unpack it and import the file inside"
    if head.startswith(b"PK"):  # torch.save's format is a zip holding <name>/data.pkl
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return "it is a zip file cut short (an unfinished download?): its index is missing"
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return (
                f"it is a zip archive of {len(names)} entries, not a torch checkpoint: unpack it and "
                "import the file inside"
            )
    if path.suffix == ".safetensors":
        return _safetensors_problem(path, head)
    return None


def _safetensors_problem(path: Path, head: bytes) -> str | None:
    """A safetensors file whose header is unreadable or promises more bytes than the file holds."""
    n = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
    size = path.stat().st_size
    try:
        if not 0 < n <= size - 8:
            raise ValueError("header length out of range")
        with open(path, "rb") as f:
            f.seek(8)
            header = json.loads(f.read(n))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        return f"it is not a readable safetensors file ({err})"
    if 8 + n + end > size:
        return f"it is cut short (an unfinished download?): {size} of the {8 + n + end} bytes it lists"
    return None


def _source_problem(src: Path, folder: bool, tokenizer: tuple[tuple[str, ...], ...] = ()) -> str | None:
    """Why ``src`` cannot be imported: not there, a file for a folder or a folder for a file, a model
    folder without its tokenizer, or (for a file, and each model-weight file of a folder) content that is
    not a weight file."""
    if folder:
        problem = _folder_problem(src, tokenizer)
        if problem:
            return problem
        files = [f for f in _folder_files(src) if any(f.match(g) for g in MODEL_WEIGHT_GLOBS)]
        return next((f"{f.relative_to(src)}: {p}" for f in files if (p := _content_problem(f))), None)
    if src.is_dir():
        return "it is a folder, not a file (the file may be inside it)"
    if not src.is_file():
        return "no such file"
    return _content_problem(src)


def installed(name: str) -> bool:
    """Whether ``name`` is in place: a file, or a complete model folder (``_folder_problem``; a folder
    replacement cut short is first finished, ``_recover_folder``)."""
    w, path = WEIGHTS.get(name), target_path(name)
    if not w.is_folder:
        return path.is_file()
    _recover_folder(path)
    return _folder_problem(path, w.tokenizer) is None


def _missing_why(name: str) -> str | None:
    """What is wrong with what sits at the target of an uninstalled ``name`` (None when nothing does
    and it is a file)."""
    w, path = WEIGHTS.get(name), target_path(name)
    if w.is_folder:
        problem = _folder_problem(path, w.tokenizer)
        old = _old_folder(path)
        if problem == "no such folder" and old.is_dir():  # _recover_folder could not move it back
            problem += f"; the folder it replaced is at {old} (an interrupted import): rename it to {path}"
        return problem
    return "a folder is there, not the file" if path.is_dir() else None


def _read_json(path: Path) -> dict:
    """The JSON object in ``path`` ({} when absent); ``WeightsFolderError`` naming it when broken."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as err:
        raise WeightsFolderError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise WeightsFolderError(f"{path} does not hold a JSON object")
    return data


def _read_cache(path: Path) -> dict:
    """``_read_json`` for a cache that can be rebuilt: a broken one reads as empty."""
    try:
        return _read_json(path)
    except WeightsFolderError:
        return {}


def _read_recorded() -> dict:
    """The hashes recorded on first import of files no official hash exists for."""
    try:
        return _read_json(_recorded_hashes())
    except WeightsFolderError as err:
        raise WeightsFolderError(
            f"{err}. It holds the sha256 recorded when each file without an official hash was first "
            "imported: repair it, or delete it and import those files again"
        ) from None


def _verified_cache() -> Path:
    return weights_dir() / ".verified.json"


def _recorded_hashes() -> Path:
    return weights_dir() / "recorded_hashes.json"


def file_sha256(name: str) -> str:
    """sha256 of the local file (or model folder) ``name``, cached by size, mtime and ctime."""
    path = target_path(name)
    size, mtime, ctime = _stat_key(path)
    cache = _read_cache(_verified_cache())
    hit = cache.get(name)
    if hit and (hit.get("size"), hit.get("mtime"), hit.get("ctime")) == (size, mtime, ctime):
        return hit["sha256"]
    digest = _digest(path)
    _remember_sha256(name, digest, cache)
    return digest


def _remember_sha256(name: str, digest: str, cache: dict | None = None) -> None:
    """Cache ``digest`` as the sha256 of the local file ``name`` at its current size, mtime and ctime."""
    size, mtime, ctime = _stat_key(target_path(name))
    cache = _read_cache(_verified_cache()) if cache is None else cache
    cache[name] = {"size": size, "mtime": mtime, "ctime": ctime, "sha256": digest}
    write_json(_verified_cache(), cache, indent=1, sort_keys=True)


def record_hash(name: str, digest: str) -> None:
    """Record ``digest`` as the sha256 that ``name`` must have from now on (``recorded_hashes.json``):
    on first import of a file without an official hash, or when a judge is (re)trained."""
    rec = _read_recorded()
    rec[name] = digest
    write_json(_recorded_hashes(), rec, indent=1, sort_keys=True)


def expected_hash(name: str) -> str | None:
    """Full sha256 the file must have: the registry's, else the one recorded on first use."""
    w = WEIGHTS.get(name)
    return w.sha256 or _read_recorded().get(name)


# -- verification ------------------------------------------------------------------------------

_UNVERIFIED: dict[str, str] = {}
NO_OFFICIAL_HASH = (
    "no official sha256 is published for this file; it is checked only against the hash recorded when "
    "it was first imported"
)


def unverified_in_use() -> dict[str, str]:
    """name -> reason, for every file resolved with ``allow_unverified`` that failed its check.
    Results computed with these must be marked ``unverified``."""
    return dict(_UNVERIFIED)


def allow_unverified_env() -> bool:
    """Whether ``EDTALK_BENCH_ALLOW_UNVERIFIED`` is set: ``resolve`` then accepts a mismatching file."""
    return os.environ.get("EDTALK_BENCH_ALLOW_UNVERIFIED", "") not in ("", "0", "false")


def verify(name: str) -> tuple[bool, str]:
    """(ok, explanation) for the local file ``name`` (which must exist)."""
    w = WEIGHTS.get(name)
    digest = file_sha256(name)
    if w.sha256 is None:
        recorded = _read_recorded().get(name)
        if recorded is not None and recorded != digest:
            return False, f"sha256 {digest} differs from the hash recorded on first use ({recorded})"
    known = w.check(digest)
    if known is False:
        want = w.sha256 or f"{w.sha256_prefix or ''}...{w.sha256_suffix or ''}"
        return False, f"sha256 {digest} does not match the official {want}"
    return True, "ok" if known else "recorded hash (no official full hash)"


def hf_command() -> str:
    """The Hugging Face CLI of this Python's environment (the project venv's ``hf``, relative to the
    current folder when under it), with ``HF_HUB_OFFLINE=0``: the Makefile and README export
    ``HF_HUB_OFFLINE=1``, under which ``hf download`` refuses, and ``hf`` is on PATH only in an
    activated venv."""
    import sys

    hf = Path(sys.executable).parent / "hf"
    if not hf.is_file():
        return "HF_HUB_OFFLINE=0 hf"
    try:
        hf = hf.relative_to(Path.cwd())
    except ValueError:
        pass
    return f"HF_HUB_OFFLINE=0 {hf}"


def how_to_install(name: str) -> str:
    """The command (or steps) that put ``name`` in place."""
    w = WEIGHTS.get(name)
    if w.trained_here:  # a synthtalk judge: shipped with the code, or trained by eval.zoo
        from edtalk.experts.names import INSTALL_JUDGES, TRAIN_JUDGES

        return f"`{INSTALL_JUDGES}` installs the shipped pair, `{TRAIN_JUDGES}` trains one"
    if w.is_folder:
        return (
            f"`{hf_command()} download {w.hf_repo} --local-dir {target_path(name)}` (huggingface_hub's CLI), "
            f"or `python -m eval.weights import {name} <folder>` for a copy of that model folder you have"
        )
    if w.direct:
        return f"run `python -m eval.weights fetch {name}`"
    return f"download it from {w.url} and run `python -m eval.weights import {name} <file>`"


def resolve(name: str, allow_unverified: bool = False) -> Path:
    """Local path of weight file (or model folder) ``name``, verified.

    Raises ``MissingWeightsError`` if absent (the message names file, URL and target path) and
    ``WeightsMismatchError`` if the hash check fails, unless ``allow_unverified`` (or the env
    var ``EDTALK_BENCH_ALLOW_UNVERIFIED=1``), which records the file in ``unverified_in_use()``."""
    w = WEIGHTS.get(name)
    path = target_path(name)
    if not installed(name):
        noun = "folder" if w.is_folder else "file"
        why = f" ({problem})" if (problem := _missing_why(name)) else ""
        raise MissingWeightsError(
            f"{'model' if w.is_folder else 'weight'} {noun} {w.filename!r} ({name}) is missing: expected at "
            f"{path}{why}. Official URL: {w.url}. To install: {how_to_install(name)} (or put the {noun} "
            f"there / set EDTALK_BENCH_WEIGHTS). Needed by: {', '.join(w.users)}."
        )
    ok, why = verify(name)
    if not ok:
        if allow_unverified or allow_unverified_env():
            _UNVERIFIED[name] = why
            return path
        raise WeightsMismatchError(
            f"weight file {path} ({name}): {why}. Source: {w.url}; install the right file with "
            f"`python -m eval.weights import {name} FILE`, or accept this one (results are then marked "
            "unverified): eval.run --allow-unverified-weights, or EDTALK_BENCH_ALLOW_UNVERIFIED=1"
        )
    if w.unverifiable():
        _UNVERIFIED[name] = NO_OFFICIAL_HASH
    else:
        _UNVERIFIED.pop(name, None)
    return path


def _old_folder(dst: Path) -> Path:
    """Where ``_put_folder`` keeps the folder it replaces until the new one is in place."""
    return dst.with_name(f".{dst.name}.old")


def _recover_folder(dst: Path) -> None:
    """Finish a replacement of the model folder ``dst`` that was cut short (Ctrl-C, a kill, a crash):
    the old folder goes back when nothing took its place, and is removed once the new one is there.
    A weights folder that cannot be written is left as it is (``_missing_why`` names the old one)."""
    old = _old_folder(dst)
    if not (old.exists() or old.is_symlink()):
        return
    try:
        if not (dst.exists() or dst.is_symlink()):
            old.rename(dst)
        elif old.is_symlink():  # the replaced folder was a link (into a Hugging Face cache): the link goes
            old.unlink()
        else:
            shutil.rmtree(old)
    except OSError:
        pass


_STAGE_OWNER = ".owner"  # in a staging folder: the file its importing process holds an exclusive flock on


def _host_prefix(dst: Path) -> str:
    """The name start of this host's staging folders for ``dst``: ``.<name>.<host>.``."""
    return f".{dst.name}.{socket.gethostname()}."


def _stage_prefix(dst: Path) -> str:
    """The name start of this process's staging folders for ``dst``: ``.<name>.<host>.<pid>.``."""
    return f"{_host_prefix(dst)}{os.getpid()}."


def _hold_stage(stage: Path) -> int | None:
    """Lock ``stage`` as this process's until the returned descriptor is closed: an exclusive ``flock`` on
    ``stage/.owner``, taken before the file gets that name, so no cleanup finds it unlocked while its owner
    lives. None (the stage is then never removed by cleanup) without fcntl or where locking fails."""
    if fcntl is None:
        return None
    try:
        fd = os.open(stage / ".owner.new", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(stage / ".owner.new", stage / _STAGE_OWNER)
    except OSError:
        os.close(fd)
        return None
    return fd


def _owner_gone(stage: Path) -> bool:
    """Whether ``stage``'s lock can be taken at once: its holder is gone, in whatever PID namespace it
    ran. A stage without ``.owner`` (an older one, or one whose owner is about to lock it) is not."""
    try:
        fd = os.open(stage / _STAGE_OWNER, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True  # stage names are never reused: nobody takes it again once released
    except OSError:
        return False
    finally:
        os.close(fd)


def _remove_dead_stages(dst: Path) -> None:
    """Remove the staging folders of ``dst`` left by a copy killed on this host (SIGKILL, power loss):
    those named exactly ``.<name>.<host>.<pid>.XXXXXXXX.part`` whose ``.owner`` lock nobody holds. A live
    import's, another host's (a weights folder shared over NFS) and one without ``.owner`` are left alone,
    and all of them where fcntl does not exist (Windows)."""
    if fcntl is None:
        return
    host_prefix = _host_prefix(dst)
    ours = re.compile(re.escape(host_prefix) + r"[0-9]+\.[a-z0-9_]{8}\.part")  # mkdtemp's random part
    for stage in dst.parent.glob(f"{glob.escape(host_prefix)}*.part"):
        if ours.fullmatch(stage.name) and stage.is_dir() and not stage.is_symlink() and _owner_gone(stage):
            shutil.rmtree(stage, ignore_errors=True)


def _put_folder(src: Path, dst: Path, changed=lambda: False) -> None:
    """Copy model folder ``src`` to ``dst`` (hidden entries skipped); ``dst`` is replaced only once
    the copy is complete (and, raising ``_Changed`` otherwise, ``changed()`` says ``src`` did not change).
    The old folder waits at ``_old_folder(dst)`` between the two renames, so an interruption there
    never loses both: it goes back now (``finally``) or on the next access (``installed``). The copy is
    staged in ``.<name>.<host>.<pid>.XXXX.part``, locked by this process until removed: one left by a
    killed copy goes on the next call."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    _recover_folder(dst)  # one cut short before: its old folder back first, or its leftover removed
    _remove_dead_stages(dst)
    stage = Path(tempfile.mkdtemp(dir=dst.parent, prefix=_stage_prefix(dst), suffix=".part"))
    owner = None
    try:
        owner = _hold_stage(stage)
        shutil.copytree(src, stage / "new", ignore=shutil.ignore_patterns(".*"))
        if changed():
            raise _Changed
        if dst.exists():
            dst.rename(_old_folder(dst))
        (stage / "new").rename(dst)
    finally:
        _recover_folder(dst)  # the old folder back if the new one is not in place, else removed
        shutil.rmtree(stage, ignore_errors=True)
        if owner is not None:
            os.close(owner)


def _source_error(name: str, shown: str, problem: str) -> WeightsMismatchError:
    """The one-line error for a file (or folder) ``shown`` that cannot be installed as ``name``: which
    it is, what is wrong, where the right one comes from and where it goes."""
    w = WEIGHTS.get(name)
    return WeightsMismatchError(
        f"{shown} ({name}): {problem}; not installed. Get {w.filename!r} from {w.url} and run "
        f"`python -m eval.weights import {name} <{'folder' if w.is_folder else 'file'}>` "
        f"(it goes to {target_path(name)})"
    )


_INSTALLS = [0]  # weight files this process has put in place: networks loaded before may be stale


def installs() -> int:
    """How many weight files this process has installed (``_install``, ``install_judge``): a cache of
    loaded networks (``eval.backbones.get_backbone``) loads again once it changes."""
    return _INSTALLS[0]


def count_install() -> None:
    """Note that a weight file was put in place (``installs``)."""
    _INSTALLS[0] += 1


def _install(name: str, src: Path, allow_unverified: bool, shown: str | None = None) -> Path:
    """Copy ``src`` into place, verify, record the hash on first use; refuse a mismatch, and (even
    with ``allow_unverified``) anything that is not a weight file or that changed while it was read.
    ``shown`` names ``src`` in messages (default its path; a download names its URL)."""
    w = WEIGHTS.get(name)
    shown = str(src) if shown is None else shown
    problem = _source_problem(src, w.is_folder, w.tokenizer)
    published = w.sha256 or w.sha256_prefix or w.sha256_suffix
    if problem and published and not w.is_folder and src.is_file() and w.check(_digest(src)) is True:
        problem = None  # the published hash vouches for it (an old torch format may look like an archive)
    if problem:
        raise _source_error(name, shown, problem)
    before = _stat_key(src)
    digest = _digest(src)
    known = w.check(digest)
    recorded = expected_hash(name)
    bad = known is False or (recorded is not None and recorded != digest)
    if bad and not allow_unverified:
        if recorded is not None and w.sha256 is None:
            want = (
                f"{recorded}, recorded from the first {name} installed (if that one was wrong, delete its "
                f"entry in {_recorded_hashes()} and import again)"
            )
        else:
            want = w.sha256 or f"official {w.sha256_prefix or ''}...{w.sha256_suffix or ''}"
        raise _source_error(
            name,
            shown,
            f"sha256 {digest} does not match the expected {want} (--allow-unverified installs it anyway; "
            "results are then marked unverified)",
        )
    dst = target_path(name)
    if dst.exists() and dst.is_dir() != w.is_folder:
        kind = "folder" if dst.is_dir() else "file"
        raise _source_error(name, shown, f"a {kind} is in its place at {dst}: remove it first")
    try:
        if src.resolve() != dst.resolve():  # importing the file already in place only records its hash
            if w.is_folder:
                _put_folder(src, dst, lambda: _stat_key(src) != before)
            else:
                with atomic_path(dst, suffix=".part") as tmp:
                    shutil.copyfile(src, tmp)
                    if _stat_key(src) != before:
                        raise _Changed
    except _Changed:
        raise _source_error(
            name, shown, "it changed while it was being copied (still downloading?): import it once complete"
        ) from None
    except OSError as err:  # a read-only or full weights folder: the copy was removed
        raise _source_error(name, shown, f"copying it to {dst} failed ({err})") from None
    _remember_sha256(name, digest)  # the copy's hash is the source's: verify() need not read it again
    count_install()
    if w.sha256 is None and recorded is None and not bad:
        warnings.warn(
            f"{name}: no official full sha256 is known; recording {digest} from this "
            f"{'folder' if w.is_folder else 'file'} (later ones must match it)",
            stacklevel=3,
        )
        record_hash(name, digest)
    return dst


class _Changed(Exception):
    """The source changed between its hashing and the end of its copy."""


def import_file(name: str, path: str | Path, allow_unverified: bool = False) -> Path:
    """Copy a weight file (or model folder) the user obtained elsewhere into the weights directory,
    verified."""
    src = Path(path)
    folder = WEIGHTS.get(name).is_folder
    there = src.exists() if folder else src.is_file() or src.is_dir()  # _install checks the rest
    if not there:
        problem = "no such folder" if folder else "no such file"
        raise MissingWeightsError(str(_source_error(name, str(src), problem)))
    return _install(name, src, allow_unverified)


def fetch(name: str, allow_unverified: bool = False, progress: bool = True) -> Path:
    """Download ``name`` from its official URL and verify it (the suite's only network access)."""
    w = WEIGHTS.get(name)
    if w.is_folder:
        raise MissingWeightsError(
            f"{name}: the Hugging Face model folder {w.filename!r} cannot be downloaded by this command. "
            f"Get it with {how_to_install(name)}."
        )
    if not w.direct:
        raise MissingWeightsError(
            f"{name}: {w.filename!r} cannot be downloaded automatically. Get it from {w.url}, then "
            f"`python -m eval.weights import {name} <file>` (target {target_path(name)})."
        )
    weights_dir().mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=weights_dir(), prefix=w.filename, suffix=".download")
    os.close(fd)
    try:
        try:
            with urllib.request.urlopen(w.url) as resp, open(tmp, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                bar = _progress(total, w.filename) if progress else None
                got = 0
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
                if bar is not None:
                    bar.close()
            if total and got < total:  # read() ends quietly when the server closes the connection early
                raise OSError(f"the connection closed after {got} of {total} bytes")
        except (OSError, http.client.HTTPException) as err:  # URLError, HTTPError, a connection cut mid-file
            raise MissingWeightsError(
                f"{name}: downloading {w.filename!r} from {w.url} failed ({err}). Download it on a machine "
                f"with network access, then `python -m eval.weights import {name} <file>` "
                f"(target {target_path(name)})."
            ) from None
        return _install(name, Path(tmp), allow_unverified, shown=f"the download from {w.url}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total or None, unit="B", unit_scale=True, desc=desc)


def status_rows() -> list[dict]:
    """One row per registered file: name, file (a model folder ends in ``/``), present, verified
    state, url, users."""
    rows = []
    for name in WEIGHTS.names():
        w = WEIGHTS.get(name)
        path = target_path(name)
        file = w.filename + ("/" if w.is_folder else "")
        row = {"name": name, "file": file, "path": str(path), "url": w.url, "users": w.users}
        if not installed(name):
            row["state"] = "missing"
            if w.is_folder or path.exists():  # say what is wrong with what is there, and how to install
                problem = f"{path}: {_missing_why(name)}; " if path.exists() else ""
                row["detail"] = f"{problem}install: {how_to_install(name)}"
        else:
            ok, why = verify(name)
            official = not w.unverifiable()
            row["state"] = ("ok" if official else "recorded") if ok else "MISMATCH"
            row["detail"] = (
                why if official or not ok else NO_OFFICIAL_HASH + ": results are marked unverified"
            )
            if ok and w.check(file_sha256(name)) is None and expected_hash(name) is None:
                row["state"] = "unrecorded"  # put in place by hand: nothing checked it, nothing will
                row["detail"] = (
                    "no hash was recorded (it was not imported): "
                    f"`python -m eval.weights import {name} {path}` records it, so a later change is caught"
                    + ("" if official else "; results are marked unverified")
                )
        rows.append(row)
    return rows
