"""A sweep's results, exported for the report: after ``Tuner.fit()``, ``export_results`` reads each
trial's results file from its folder in ``--storage`` and writes it to
``<out>/<dataset>/edtalk_<variant>/<protocol>.json`` with ``"sweep": {"name", "param", "value",
"seed"}``, the schema ``python -m eval.report`` reads (Tables 3 and 6)."""

from __future__ import annotations

import json
from pathlib import Path

from edtalk.atomic import write_bytes, write_text
from sweeps.variant import Variant


def export_results(result_grid, sweep_name: str, out: str | Path) -> tuple[list[Path], list[str]]:
    """Write each finished trial's results file, read from its trial folder in --storage (Tune's
    ``result.path`` on ``result.filesystem``), as ``<out>/<dataset>/<method>/<protocol>.json`` with
    the ``sweep`` key, the ``driving`` mode and the training timings in provenance.training. The
    method is ``edtalk_<variant>``, with ``_video`` when video-driven and ``_seed<k>`` when the sweep
    has several seeds (decided from every trial's config, failed ones included, so that each export
    of a sweep, a partly failed one, then its ``--resume``, names its folders alike).
    Returns (files written, one line per trial that could not be exported); the others still are."""
    several_seeds = len({(r.config or {}).get("seed", 0) for r in result_grid}) > 1
    done = [r for r in result_grid if r.error is None and finished(r)]
    written, errors = [], []
    for result in done:
        try:
            written.append(_export_trial(result, sweep_name, Path(out), several_seeds))
        except (OSError, ValueError, KeyError) as e:  # a missing or unreadable file: the others go on
            errors.append(f"{result.path}: not exported: {e}")
    return written, errors


def finished(result) -> bool:
    """Whether a trial reported its end: a results file (each trial reports once, when scored)."""
    return bool(result.metrics) and "results_file" in result.metrics


def trial_name(result) -> str:
    """A trial as the sweep's summary names it: its variant, seed and folder in --storage."""
    return f"{variant_and_seed(result.config)} ({result.path})"


def variant_and_seed(config: dict | None) -> str:
    """ "<variant> seed <k>" of a trial's config (a Tune result's or trial's)."""
    config = config or {}
    return f"{(config.get('variant') or {}).get('name', '?')} seed {config.get('seed', 0)}"


def _export_trial(result, sweep_name: str, out: Path, several_seeds: bool) -> Path:
    """One trial's results file (and its per-clip rows) under ``out``; returns the file written."""
    from sweeps.storage import read_bytes

    variant = Variant.from_dict(result.config["variant"])
    seed = result.config.get("seed", 0)
    src = f"{result.path}/{result.metrics['results_file']}"
    raw = read_bytes(result.filesystem, src)
    if raw is None:
        raise FileNotFoundError(f"no results file {src} in the trial's folder")
    data = json.loads(raw)
    driving = result.config["driving"]
    method = export_method(variant, driving, seed, several_seeds)
    data["method"] = method
    data["driving"] = driving
    data["sweep"] = {"name": sweep_name, "param": variant.param, "value": variant.value, "seed": seed}
    data.setdefault("provenance", {})["training"] = json.loads(result.metrics.get("training", "[]"))
    data["provenance"]["sweep_variant"] = variant.to_dict()
    name = src.rsplit("/", 1)[-1]
    dest = out / data["dataset"] / method / name
    write_text(dest, json.dumps(data, indent=2) + "\n")
    clips_name = name.removesuffix(".json") + ".clips.jsonl"
    clips = read_bytes(result.filesystem, f"{src.rsplit('/', 1)[0]}/{clips_name}")
    if clips is not None:
        write_bytes(dest.with_name(clips_name), clips)
    return dest


def export_method(variant: Variant, driving: str, seed: int, several_seeds: bool) -> str:
    """A trial's method name: ``edtalk_<variant>``, with ``_video`` when video-driven (so that a sweep of
    each mode exported to one --out keeps both; the report gives each mode its table) and ``_seed<k>``
    when the sweep has several seeds."""
    return (
        f"edtalk_{variant.name}"
        + ("_video" if driving == "video" else "")
        + (f"_seed{seed}" if several_seeds else "")
    )
