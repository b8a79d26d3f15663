"""Small argparse helpers shared by the command-line tools (no torch import: ``--help`` stays fast)."""

from __future__ import annotations

import argparse
import functools
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from edtalk.atomic import write_json

# A negative number as float() reads it: digits (an underscore between two of them allowed), a decimal
# point, an exponent (-3, -.5, -3., -3e0, -1e-1, -1_000.5), or -inf, -infinity, -nan (finite_float
# then names those as not finite, instead of argparse calling them an unknown option).
_DIGITS = r"\d(?:_?\d)*"
NEGATIVE_NUMBER = re.compile(
    rf"^-(?:(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:e[-+]?{_DIGITS})?|inf|infinity|nan)$",
    re.IGNORECASE,
)


class NumberFriendlyParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` that takes every negative number ``float()`` reads as a value.

    Whether a token starting with "-" is an option or a value (``--range -3e0 3``) argparse decides
    with its ``_negative_number_matcher``, which knows only ``-3`` and ``-.5``: ``-3e0`` and ``-1e-1``
    were read as unknown options ("--range: expected 2 arguments"), and ``--range=-3e0`` cannot give
    a two-value option its values. This widens that matcher to ``NEGATIVE_NUMBER`` (the attribute has
    been argparse's hook for this since Python 3.2; 3.14 widens its own the same way). Tokens that
    are not numbers (``--steps``, ``-h``) are options as before. ``add_subparsers().add_parser`` makes
    its subcommands' parsers of the same class, so they read numbers the same way.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER


def listed(names: list[str]) -> str:
    """``a, b and c`` (for help texts built from registries)."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _whole_number(text: str, least: int) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {n}")
    return n


def positive_int(text: str) -> int:
    """argparse ``type`` for counts that must be at least 1 (steps, batch sizes, clips, frames)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse ``type`` for counts where 0 means none or off (Ray workers, extra identities)."""
    return _whole_number(text, 0)


def finite_float(text: str) -> float:
    """argparse ``type`` for a real number other than nan and +-inf (base weights, blend factors)."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return x


def positive_float(text: str) -> float:
    """argparse ``type`` for a rate that must be a finite number above 0 (learning rates)."""
    x = finite_float(text)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return x


def non_negative_float(text: str) -> float:
    """argparse ``type`` for a weight or rate where 0 means off (a loss weight, a frozen module's rate)."""
    x = finite_float(text)
    if x < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return x


def term_weight(text: str) -> tuple[str, float]:
    """argparse ``type`` for ``TERM=W``: a loss term and a finite weight >= 0 (0 switches it off)."""
    term, sep, value = text.partition("=")
    try:
        if not sep or not term.strip():
            raise argparse.ArgumentTypeError
        return term.strip(), non_negative_float(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected TERM=W with W a finite number >= 0, e.g. fea=0"
        ) from None


def model_preset(text: str) -> str:
    """argparse ``type`` for ``--preset``: a ``ModelConfig`` preset name (did-you-mean on a typo)."""
    from edtalk.config import ConfigError, ModelConfig

    try:
        ModelConfig.preset(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def mp4_path(text: str) -> str:
    """argparse ``type`` for a video output: the writer always makes an H.264/AAC mp4, so the name says so."""
    if not text.lower().endswith(".mp4"):
        raise argparse.ArgumentTypeError(f"{text!r}: the output is an mp4 video; give a path ending in .mp4")
    if Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give the path of the mp4 file to write")
    return text


def user_path(text: str) -> Path:
    """A path argument with ``~`` expanded (a quoted ``'~/data'`` reaches the program as written, as in
    a ``ray job submit`` command meant for the cluster's nodes)."""
    return Path(text).expanduser()


def add_weights_dir_option(parser: argparse.ArgumentParser, what: str = "read the weights from") -> None:
    """``--weights-dir`` as the weights tools spell it (``eval.zoo``, ``eval.weights``); ``use_weights_dir``
    applies it."""
    parser.add_argument("--weights-dir", type=Path, default=None, help=f"{what} this weights directory "
                        "(default $EDTALK_BENCH_WEIGHTS, else ~/.cache/edtalk-bench/weights)")  # fmt: skip


def use_weights_dir(args: argparse.Namespace) -> None:
    """``--weights-dir`` as ``$EDTALK_BENCH_WEIGHTS`` for this process and those it starts (not given:
    as it was)."""
    import os

    if getattr(args, "weights_dir", None) is not None:
        os.environ["EDTALK_BENCH_WEIGHTS"] = str(args.weights_dir)


def parse_device(name: str, *, here: bool = True) -> str:
    """The torch device ``--device NAME`` means, as a string: "auto" is the first CUDA GPU when this
    machine has one, else the CPU; cpu, cuda, cuda:N as given. ValueError, with the message a user
    reads, for a name torch does not know or (``here``: the device is this machine's) a CUDA device
    on a machine without one. With ``here=False`` (the device is a Ray cluster's workers') "auto"
    cannot be judged from this machine and is refused."""
    import torch

    if name == "auto":
        if not here:
            raise ValueError(
                "--device auto looks at this machine, not at the cluster's workers: use cpu or cuda"
            )
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name!r}: not a torch device (auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and here and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: this machine has no CUDA GPU (use --device cpu)")
    return str(device)


def add_device_option(parser: argparse.ArgumentParser, what: str = "the model") -> None:
    """``--device`` as every model-running CLI spells it (read with ``parse_device``)."""
    parser.add_argument(
        "--device",
        default="auto",
        help=f"torch device for {what}: auto (a CUDA GPU when there is one, else the CPU), cpu, cuda, "
        "cuda:N (default auto)",
    )


def amount_of_bytes(n_bytes: float) -> str:
    """A disk amount for messages: "1.2 GB" from 100 MB up, else "12.3 MB"."""
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


LOG_BAR_INTERVAL_S = 30  # seconds between a progress bar's updates when stderr is not a terminal


def name_subcommands(subparsers: argparse.Action) -> None:
    """Name the subcommands of ``add_subparsers()``'s action, once they are all added, in its errors: a
    missing one said "required: command" (the variable's name); now "required: {train,install,...}",
    as the usage line shows them."""
    subparsers.metavar = "{" + ",".join(subparsers.choices) + "}"


def os_reason(err: OSError) -> str:
    """An OSError's reason without its errno and path: 'Permission denied', 'File name too long'."""
    return err.strerror or str(err)


def unwritable(out: Path, suffix: str = ".tmp") -> str | None:
    """Why a file cannot be written at ``out``, or None when it can: a temp file like an atomic writer's
    is created in the nearest of its folders that exists (where the missing ones would be made) and
    removed again, so a tool checks its output path before its work, not after. Nothing is left
    behind: missing folders are made only when the file is written."""
    import tempfile

    try:
        if out.is_dir():
            return f"{out} is a folder"
        for folder in (out.parent, *out.parent.parents):
            if folder.exists():
                if not folder.is_dir():
                    return f"{folder} is a file, not a folder"
                break
        fd, name = tempfile.mkstemp(dir=folder, prefix="." + out.name + ".", suffix=suffix)
    except OSError as err:
        return os_reason(err)
    os.close(fd)
    os.unlink(name)
    return None


def out_file_problem(out: Path | None, flag: str = "--out", suffix: str = ".tmp") -> str | None:
    """The one-line error for an output file that cannot be written (``unwritable``), or None."""
    problem = unwritable(out, suffix) if out is not None else None
    return f"{flag} {out}: cannot write the output here ({problem})" if problem else None


def run_main(main: Callable[[], int | None]) -> NoReturn:
    """A command line's ``if __name__ == "__main__"`` entry: ``sys.exit(main())``, its output written
    line by line and SIGTERM handled as Ctrl-C (``sigterm_as_ctrl_c``). To a pipe or a file (``| tee
    log``, a cluster job's log) Python holds stdout in an 8 KiB buffer until exit, so a long run's
    progress lines and notes arrived only when it ended, and a killed run lost them; and tqdm's bars,
    redrawn ten times a second, filled such a log (850 KB of the demo's): there they are redrawn every
    ``LOG_BAR_INTERVAL_S`` (``$TQDM_MININTERVAL``, which a user's own value overrides)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a TextIOWrapper (not a test's stand-in)
            stream.reconfigure(line_buffering=True)
    if sys.stderr is not None and not sys.stderr.isatty():  # a log file or pipe: a bar's line every 30 s
        slow_bars_for_logs()
    global _SIGTERM_OWNER
    _SIGTERM_OWNER = os.getpid()
    signal.signal(signal.SIGTERM, sigterm_as_ctrl_c)
    code = main()
    end_ray()
    sys.exit(code)


_SIGTERM_OWNER: int | None = None  # the process whose SIGTERM run_main turned into Ctrl-C


_BARS_SLOWED_HERE = False  # whether slow_bars_for_logs set $TQDM_MININTERVAL (not the user, not a job)


def slow_bars_for_logs() -> None:
    """tqdm's bars redrawn every ``LOG_BAR_INTERVAL_S``: through ``$TQDM_MININTERVAL`` (read when tqdm is
    imported; Ray's workers inherit it) unless the user set it, and in a tqdm this process imported
    already (its ``__init__`` keeps the environment's defaults as a ``partialmethod``)."""
    global _BARS_SLOWED_HERE
    if "TQDM_MININTERVAL" in os.environ:
        return
    os.environ["TQDM_MININTERVAL"] = str(LOG_BAR_INTERVAL_S)
    _BARS_SLOWED_HERE = True
    std = sys.modules.get("tqdm.std")
    init = getattr(std, "tqdm", object).__dict__.get("__init__")
    if isinstance(init, functools.partialmethod):
        defaults = {**init.keywords, "mininterval": float(LOG_BAR_INTERVAL_S)}
        std.tqdm.__init__ = functools.partialmethod(init.func, *init.args, **defaults)


def bar_interval_for_workers() -> dict[str, str]:
    """``$TQDM_MININTERVAL`` for Ray's workers on every node, when ``slow_bars_for_logs`` set it: a
    value the user or a Ray job's runtime env set is theirs already (and sending it again in
    ``ray.init``'s runtime env conflicts with a job's: Ray refuses to merge the two)."""
    return {"TQDM_MININTERVAL": os.environ["TQDM_MININTERVAL"]} if _BARS_SLOWED_HERE else {}


def end_ray() -> None:
    """Shut down the Ray this command started or joined (a joined cluster goes on; this driver leaves
    it), once its work is done: here a Ctrl-C (or SIGTERM) while Ray stops only ends the stopping,
    where in Ray's own atexit hook it printed an ignored-KeyboardInterrupt traceback after the
    results were written. A failure to stop is a note, not the command's failure."""
    import time

    ray = sys.modules.get("ray")
    try:
        if ray is not None and ray.is_initialized():
            time.sleep(0.5)  # as Ray's atexit hook does: the workers' last log lines reach this driver
            ray.shutdown()
    except KeyboardInterrupt:
        pass
    except Exception as err:  # noqa: BLE001 - the work is done and written; stopping Ray is not part of it
        print(f"note: stopping Ray: {type(err).__name__}: {err}", file=sys.stderr)


def sigterm_as_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM (a scheduler ending a job: Slurm's time limit or preemption, ``kill PID``) stops a
    command as Ctrl-C does: the current SIGINT handler runs (Ray Train's and Tune's graceful stop),
    else KeyboardInterrupt, so the command says it was interrupted and how to resume, exit 130.
    Ray's own handler ended the driver with a C stack trace (exit 134). A forked child that inherited
    this handler dies of SIGTERM as usual."""
    if os.getpid() != _SIGTERM_OWNER:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    if callable(on_ctrl_c):
        on_ctrl_c(signal.SIGINT, frame)
    else:  # ignored (a shell's background job) or not set from Python
        raise KeyboardInterrupt


@contextmanager
def ctrl_c_kept() -> Iterator[None]:
    """Put the SIGINT handler back on leaving: Ray Train's and Tune's ``fit()`` install their own and
    leave it, bound to the finished run, so a later Ctrl-C (or SIGTERM, ``sigterm_as_ctrl_c``) did
    nothing. Off the main thread (where no handler can be set) it only runs the block."""
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        if on_ctrl_c is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, on_ctrl_c)


def report_error(err: object) -> int:
    """Print a user's mistake (bad path, checkpoint, dataset, device) as one ``error:`` line; exit status 2.

    Every command-line tool ends a run it cannot do this way instead of with a traceback.
    """
    print(f"error: {err}", file=sys.stderr)
    return 2


def run_inputs(ckpt: Path, data: Path, files: dict[str, Path] | None = None, **settings: object) -> dict:
    """What a checkpoint diagnostic's result depends on: the sha256 of the checkpoint, of the
    dataset's ``card.json`` (synthtalk's generator settings; skipped when absent) and of ``files``
    (e.g. judges), its ``settings`` and the code (``edtalk.provenance.code_state``). A ``device``
    setting is kept as the device it means here (``parse_device``): "auto" computed on the CPU is not
    the same result once the machine has a GPU. ConfigError for a device this machine lacks."""
    from edtalk.config import ConfigError
    from edtalk.model import checkpoint_path_problem
    from edtalk.provenance import code_state
    from edtalk.weights import sha256_of

    if problem := checkpoint_path_problem(ckpt):
        raise FileNotFoundError(problem)
    if "device" in settings:
        try:
            settings["device"] = parse_device(str(settings["device"]))
        except ValueError as err:
            raise ConfigError(str(err)) from None
    hashed = {"checkpoint": Path(ckpt), **(files or {})}
    if (Path(data) / "card.json").is_file():  # without one, reading the dataset names what it lacks
        hashed["data card"] = Path(data) / "card.json"
    return {
        "sha256": {name: sha256_of(path) for name, path in sorted(hashed.items())},
        "settings": {"data": str(data), **{k: str(v) for k, v in sorted(settings.items())}},
        "code": code_state(),
    }


def saved_result(out: Path | None, inputs: dict) -> dict | None:
    """The result saved at ``out`` when it came from the same ``inputs`` and committed code (a dirty
    or unknown checkout always recomputes); None when it has to be computed. When a result is saved
    there but cannot be reused, one ``note:`` line on stderr says why."""
    if out is None or not Path(out).is_file():
        return None
    saved, why = _reusable(Path(out), inputs)
    if why:
        print(f"note: {out} is not reused ({why}): computing it again", file=sys.stderr)
    return saved


def _reusable(out: Path, inputs: dict) -> tuple[dict | None, str | None]:
    """(the result saved at ``out``, None) when ``inputs`` match its own, else (None, why not)."""
    import json

    code = inputs.get("code", "unknown")
    if code == "unknown":
        return None, "the code's commit is unknown: not a git checkout, or git could not tell"
    if code.endswith("+dirty"):
        return None, (
            "the checkout has changes that are not committed (`git status` lists them), so this code may "
            "not be the commit that computed it"
        )
    try:
        saved = json.loads(out.read_text())
    except (OSError, ValueError) as err:
        return None, f"it cannot be read: {err}"
    if not isinstance(saved, dict) or not isinstance(saved.get("inputs"), dict):
        return None, "it records no inputs"
    if saved["inputs"] == inputs:
        return saved, None
    return None, f"it came from other inputs: {', '.join(changed_inputs(saved['inputs'], inputs))} changed"


def changed_inputs(saved: dict, now: dict) -> list[str]:
    """What differs between two ``run_inputs`` records: the hashed files by name, the settings by
    name (old -> new), "commit"; empty when they are equal."""
    changed = []
    for key in sorted(set(saved) | set(now)):
        old, new = saved.get(key, "(none)"), now.get(key, "(none)")
        if old == new:
            continue
        if key in ("sha256", "settings") and isinstance(old, dict) and isinstance(new, dict):
            for name in sorted(set(old) | set(new)):
                was, now_is = old.get(name, "(none)"), new.get(name, "(none)")
                if was != now_is:
                    changed.append(f"{name} {was} -> {now_is}" if key == "settings" else name)
        else:
            changed.append("commit" if key == "code" else key)
    return changed


def add_recompute_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recompute",
        action="store_true",
        help="run even when --out holds a result of the same checkpoint, data, settings and commit "
        "(by default that result is printed again)",
    )


def print_and_save(
    compute: Callable[[], dict],
    describe: Callable[[dict], str],
    out: Path | None,
    inputs: Callable[[], dict] | None = None,
    recompute: bool = False,
) -> int:
    """The end of a diagnostic tool (``eval.probe``, ``eval.inversion``, ``eval.oracle``): run it,
    print its table and, with ``--out``, write the result as JSON.

    With ``inputs`` (``run_inputs`` of the run), a result at ``out`` from the same inputs is printed
    again instead of recomputed, unless ``recompute``. An ``out`` that cannot be written is refused
    before any work (``out_file_problem``). A user's mistake (a bad checkpoint, dataset or
    option: CheckpointError, DataError, ValueError, a missing file) ends the run as one ``error:``
    line, exit 2.
    """
    from edtalk.data.errors import DataError
    from edtalk.model import CheckpointError  # loads torch: only once a tool runs, never for --help

    if problem := out_file_problem(out):  # before the work, not after it
        return report_error(problem)
    try:
        stamp = inputs() if inputs else None
        if stamp and not recompute and (saved := saved_result(out, stamp)) is not None:
            print(describe(saved))
            print(f"up to date: {out} (same checkpoint, data, settings and commit; --recompute to rerun)")
            return 0
        result = compute()
    except (CheckpointError, DataError, ValueError, FileNotFoundError) as exc:
        return report_error(exc)
    if stamp:
        result = {**result, "inputs": stamp}
    print(describe(result))
    if out:
        write_json(out, result)
        print(f"written: {out}")
    return 0
