"""``python -m edtalk.data.synthtalk --out data/synthtalk --preset tiny --seed 0``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edtalk.cli import non_negative_int, positive_int, report_error
from edtalk.data.synthtalk.presets import PRESETS, estimated_bytes


def main(argv: list[str] | None = None) -> int:
    presets = "; ".join(
        f"{p.name}: {p.n_identities} identities (train/judge/test {'/'.join(map(str, p.splits))}), "
        f"{p.size} px, {p.clips_per_condition} clip(s) per emotion x level, "
        f"{p.min_duration}-{p.max_duration} s, about {estimated_bytes(p, p.n_clips) / 1e9:.1f} GB"
        for p in PRESETS.values()
    )
    parser = argparse.ArgumentParser(
        prog="python -m edtalk.data.synthtalk",
        description="Generate synthtalk, the built-in procedural talking-head dataset: "
        "25 fps mp4 (H.264 + AAC), "
        "16 kHz wav and a JSON sidecar of ground-truth factors and 68 landmarks per clip, split lists, "
        "a dataset card and a contact sheet. Same seed, same bytes.",
        epilog=f"Presets -- {presets}.",
    )
    parser.add_argument(
        "--out",
        default="data/synthtalk",
        help="output folder (default: data/synthtalk); refused before any writing when its disk clearly "
        "cannot hold the preset (the first line prints the estimate)",
    )
    parser.add_argument(
        "--preset", default="tiny", choices=sorted(PRESETS), help="dataset size (default: tiny)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed, >= 0 (default: 0)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="worker processes (default: CPU count)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--force",
        action="store_true",
        help="regenerate even if OUT already holds this dataset; write into an OUT that holds another "
        "synthtalk (other preset or seed) or other files (the .mp4, .wav and .json files in OUT/clips "
        "that are not this dataset's are deleted)",
    )
    args = parser.parse_args(argv)
    from edtalk.data.errors import DataError

    try:
        from edtalk.data.synthtalk.generate import ensure_dataset

        card, wrote = ensure_dataset(
            args.out, args.preset, args.seed, args.workers, not args.no_progress, args.force
        )
    except DataError as err:
        return report_error(err)
    except KeyboardInterrupt:
        out = Path(args.out)
        if (out / "card.json").is_file() or not (out / "clips").is_dir():
            print(f"\ninterrupted: nothing written to {args.out}", file=sys.stderr)
        else:
            print(
                f"\ninterrupted: {args.out} is unfinished (no card.json); the same command finishes it, "
                "keeping the clips written so far",
                file=sys.stderr,
            )
        return 130
    if wrote:
        print(_wrote(card, args.out))
    else:
        print(
            f"synthtalk preset {card['preset']!r} seed {card['seed']} is already present in {args.out} "
            f"({card['counts']['clips_total']} clips, {card['size_mb']} MB, generator "
            f"{card['generator_version']}); nothing written (--force regenerates it)"
        )
    return 0


def _wrote(card: dict, out: str) -> str:
    """The last line of a run that wrote: the clips it wrote, and those of an interrupted run it kept."""
    total, kept, build = card["counts"]["clips_total"], card["build"]["clips_kept"], card["build"]
    took = f"{build['wall_time_s']} s ({build['workers']} workers)"
    if not kept:
        return f"wrote {total} clips, {card['size_mb']} MB to {out} in {took}"
    return (
        f"wrote {total - kept} clips, kept {kept} written by an earlier run: {out} holds {total} clips, "
        f"{card['size_mb']} MB; took {took}"
    )


if __name__ == "__main__":
    from edtalk.cli import run_main

    run_main(main)
