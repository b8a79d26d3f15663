"""``python -m eval.weights status|fetch NAME|import NAME PATH``: the weights manager's CLI.

The registry and verification live in ``edtalk.weights`` (usable from the model package too);
this module re-exports them for eval code and adds the command line:

    python -m eval.weights status                  # table: name, file, state, URL, users; exit 1 on MISMATCH
                                                   # (a note, exit 0, under EDTALK_BENCH_ALLOW_UNVERIFIED=1)
    python -m eval.weights fetch syncnet_v2        # download from the official URL + verify
    python -m eval.weights fetch all               # every directly downloadable file
    python -m eval.weights import emotion_fan_mead8 ~/Downloads/self_relation-attention_61_84.3655
    python -m eval.weights import hubert_large_ll60k ~/models/hubert-large-ll60k   # a model folder

Files go to ``$EDTALK_BENCH_WEIGHTS`` (default ``~/.cache/edtalk-bench/weights``); every subcommand
takes ``--weights-dir DIR`` for another folder, as ``eval.zoo`` does.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from edtalk.cli import add_weights_dir_option, name_subcommands, report_error, use_weights_dir
from edtalk.experts.names import INSTALL_JUDGES, TRAIN_JUDGES
from edtalk.weight_catalogue import WEIGHTS
from edtalk.weights import (
    MissingWeightsError,
    WeightsMismatchError,
    allow_unverified_env,
    fetch,
    how_to_install,
    import_file,
    status_rows,
    verify,
    weights_dir,
)


def _import(name: str, path: str, allow_unverified: bool) -> Path:
    """``import NAME FILE``: a synthtalk judge goes through ``install_judge`` (its metadata must say
    it is that judge; its hash becomes the recorded one), any other file through ``import_file``."""
    if WEIGHTS.get(name).trained_here:
        from edtalk.experts.store import install_judge

        if allow_unverified:  # it would be silently ignored
            raise WeightsMismatchError(
                f"{name}: a judge is checked by its own metadata (the judge split, its name), which "
                "--allow-unverified cannot waive; import it without the flag"
            )
        if Path(path).is_dir():
            raise MissingWeightsError(f"{path}: is a folder; give the judge's .safetensors file in it")
        if not Path(path).is_file():
            raise MissingWeightsError(f"{path}: no such file to import as {name!r}")
        try:
            return install_judge(name, path)
        except ValueError as err:  # not an expert file, or another kind / split
            raise WeightsMismatchError(str(err)) from None
    return import_file(name, path, allow_unverified=allow_unverified)


def _fetch(name: str, allow_unverified: bool) -> int:
    """``fetch NAME``: one file (a failure raises: exit 2), or every directly downloadable one for
    ``all`` (a failure is named and the others are still fetched; exit 1 if any failed)."""
    if name != "all":
        if WEIGHTS.get(name).trained_here:
            raise MissingWeightsError(
                f"{name} is shipped or trained by this suite, not downloaded: `{INSTALL_JUDGES}` installs "
                f"the shipped pair, `{TRAIN_JUDGES}` trains one"
            )
        print(f"{name}: {fetch(name, allow_unverified=allow_unverified)}")
        return 0
    names = [n for n in WEIGHTS.names() if WEIGHTS.get(n).direct]
    failed = []
    for n in names:
        try:
            print(f"{n}: {fetch(n, allow_unverified=allow_unverified)}")
        except (MissingWeightsError, WeightsMismatchError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            failed.append(n)
    if failed:
        print(f"error: {len(failed)} of {len(names)} not fetched: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _print_status() -> int:
    """The status table; exit 1 when a present file fails its hash check (MISMATCH: ``resolve`` would
    refuse it), else 0: a missing file is not an error, most are needed only by some metrics. Under
    ``EDTALK_BENCH_ALLOW_UNVERIFIED=1`` (``resolve`` accepts it, marked unverified) a MISMATCH is a note
    and the exit is 0."""
    rows = status_rows()
    print(f"weights directory: {weights_dir()}")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"  {r['name']:<{width}}  {r['state']:<10}  {r['file']}")
        print(f"  {'':<{width}}  used by: {', '.join(r['users'])}")
        print(f"  {'':<{width}}  url: {r['url']}")
        if r.get("detail") and r["state"] != "ok":
            print(f"  {'':<{width}}  {r['detail']}")
    missing = [r["name"] for r in rows if r["state"] == "missing"]
    if missing:
        print(
            f"{len(missing)} missing; `python -m eval.weights fetch NAME` downloads one with a direct URL, "
            "`import NAME FILE` installs one you downloaded from its page (or a judge trained elsewhere, or "
            "a model folder, NAME/ above); "
            f"the synthtalk judges are installed with `{INSTALL_JUDGES}` or trained with `{TRAIN_JUDGES}`"
        )
    wrong = [r["name"] for r in rows if r["state"] == "MISMATCH"]
    if not wrong:
        return 0
    allowed = allow_unverified_env()
    used = " (used, as EDTALK_BENCH_ALLOW_UNVERIFIED is set: results are marked unverified)"
    fixes = "; ".join(f"{n}: {how_to_install(n)}" for n in wrong)
    print(
        f"{'note' if allowed else 'error'}: {len(wrong)} present but failing the hash check (MISMATCH)"
        f"{used if allowed else ''}: {', '.join(wrong)}; to install the right one: {fixes}",
        file=sys.stderr,
    )
    return 0 if allowed else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m eval.weights",
        description="List, download and import the external weight files the metrics need "
        "(files are verified by sha256; nothing else in the suite uses the network).",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    said = (
        "show every weight file, where it goes and whether it is present; exit 1 if a present one fails its "
        "hash check (MISMATCH), 0 otherwise (missing files included, and a MISMATCH under "
        "EDTALK_BENCH_ALLOW_UNVERIFIED=1, which uses it: it is then a note)"
    )
    st = sub.add_parser("status", help=said, description=said)
    add_weights_dir_option(st, "list the files of")
    f = sub.add_parser("fetch", help="download NAME (or 'all') from its official URL and verify it")
    f.add_argument("name", help=f"one of: {', '.join(WEIGHTS.names())}, or 'all'")
    f.add_argument("--allow-unverified", action="store_true", help="keep a file whose hash differs")
    add_weights_dir_option(f, "download into")
    i = sub.add_parser("import", help="copy a file you downloaded yourself into place and verify it")
    i.add_argument("name", help=f"one of: {', '.join(WEIGHTS.names())}")
    i.add_argument("path", help="the downloaded file (or model folder)")
    i.add_argument("--allow-unverified", action="store_true", help="keep a file whose hash differs")
    add_weights_dir_option(i, "import into")
    name_subcommands(sub)
    args = p.parse_args(argv)
    use_weights_dir(args)
    try:
        if args.cmd == "status":
            return _print_status()
        if args.cmd == "fetch":
            return _fetch(args.name, args.allow_unverified)
        with warnings.catch_warnings(record=True) as caught:  # the library warns; a CLI says it in a line
            warnings.simplefilter("always")
            path = _import(args.name, args.path, args.allow_unverified)
        for w in caught:
            print(f"note: {w.message}", file=sys.stderr)
        print(f"{args.name}: {path}")
        ok, why = verify(args.name)
        if not ok:
            print(
                f"note: installed UNVERIFIED ({why}): results computed with it are marked so", file=sys.stderr
            )
        return 0
    except (MissingWeightsError, WeightsMismatchError, KeyError, OSError) as e:
        return report_error(e)
    except KeyboardInterrupt:  # a partial copy or download is removed, never put in place
        print(
            "\ninterrupted: no partly copied or downloaded file was put in place "
            "(`python -m eval.weights status` shows what is installed)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
