"""report/index.html: the tables, the plots and a grid of side-by-side videos (GT and each method).

Videos of the clips in the per-clip rows (``<protocol>.clips.jsonl``): a row may name its video
(``"video"``) and the ground truth (``"gt_video"``); otherwise the method's video is where eval.run
writes it (``<results>/<dataset>/<method>/videos/<escaped clip id>.mp4``) and the GT video is the
clip's file according to the dataset reader named in the results file's config (paths only), under
its ``root``: a relative one is looked for in the folder eval.run ran in first (another checkout,
maybe gone), then in the current folder; a root found in neither is named once in the warnings.
Links are relative to the report folder and URL-encoded (clip ids contain '#'), so the report
folder can be moved together with the results.
Distinctive CSS colours (table headers, video tiles) let a headless-browser test find them.
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

from eval.report.formats import caption, split_phrase, to_html
from eval.report.inputs import ResultFile, method_label
from eval.report.proof import proof_html
from eval.report.table_model import Table
from eval.report.table_specs import USUAL_SPLIT

TABLE_HEADER_RGB = (255, 196, 0)  # amber: <th> background
VIDEO_TILE_RGB = (0, 150, 136)  # teal: the frame around every <video>

CSS = f"""
body {{ font-family: sans-serif; margin: 24px; background: #ffffff; color: #202020; }}
h1 {{ margin-top: 0; }}
table.report-table {{ border-collapse: collapse; margin: 12px 0 4px 0; font-size: 13px; }}
table.report-table caption {{ text-align: left; font-weight: bold; padding: 4px 0; }}
table.report-table th {{ background: rgb{TABLE_HEADER_RGB}; padding: 4px 8px; border: 1px solid #999; }}
table.report-table td {{ padding: 4px 8px; border: 1px solid #ccc; text-align: right; }}
table.report-table tr.reported td {{ color: #555; font-style: italic; }}
.problems {{ border: 1px solid #c33; background: #fff4f4; padding: 4px 12px; margin: 8px 0; }}
.warnings {{ border: 1px solid #c90; background: #fffbe8; padding: 4px 12px; margin: 8px 0; }}
p.table-note, p.plot-note {{ font-size: 12px; color: #444; margin: 2px 0; }}
.plots img {{ max-width: 100%; border: 1px solid #ddd; margin: 8px 0; }}
.video-grid {{ display: grid; gap: 8px; margin: 12px 0; align-items: center; }}
.video-grid .head {{ font-weight: bold; text-align: center; }}
.video-grid .clip {{ font-size: 12px; word-break: break-all; }}
.video-tile {{ background: rgb{VIDEO_TILE_RGB}; padding: 10px; min-height: 120px; }}
.video-tile video {{ width: 100%; display: block; }}
.missing {{ background: #eee; color: #888; padding: 10px; text-align: center; }}
"""


def relative_url(target: str | Path, out_dir: str | Path) -> str:
    """URL of ``target`` relative to the report folder, '#' and spaces percent-encoded."""
    rel = os.path.relpath(Path(target).resolve(), Path(out_dir).resolve())
    return quote(Path(rel).as_posix())


def _resolve(path: str, result: ResultFile) -> Path:
    p = Path(path)
    if p.is_absolute():
        return p
    beside = result.path.parent / p
    return beside if beside.exists() else Path.cwd() / p


def gt_roots(result: ResultFile) -> list[Path]:
    """Where the dataset root a results file was scored on may be, in the order tried: its config's
    ``root`` as given when absolute; a relative one from the folder eval.run ran in (config ``cwd``:
    the files it scored, even when the report runs in another checkout, whose same relative path may
    hold another synthtalk build), then, when that is gone, from the current folder."""
    cfg = result.raw.get("config") or {}
    root = cfg.get("root")
    if not isinstance(root, str) or not root:
        return []
    root_path = Path(root).expanduser()
    if root_path.is_absolute():
        return [root_path]
    tried = []
    if isinstance(cfg.get("cwd"), str) and cfg["cwd"]:
        tried.append(Path(cfg["cwd"]) / root_path)
    tried.append(Path.cwd() / root_path)
    return list(dict.fromkeys(tried))


def _gt_videos(result: ResultFile, cache: dict, warnings: list[str] | None = None) -> dict[str, Path]:
    """GT video of each clip of the result's split, from the dataset reader named in the results
    file's config (dataset, root, split) at the first of ``gt_roots`` that exists: file paths only,
    nothing is decoded. A root found nowhere, or not readable, is named once in ``warnings``."""
    warnings = [] if warnings is None else warnings
    tried = gt_roots(result)
    key = (result.dataset, tuple(tried), result.split)
    if key in cache:
        return cache[key]
    cache[key] = {}
    if not tried or result.dataset == "folder":
        return cache[key]
    root = next((p for p in tried if p.is_dir()), None)
    if root is None:
        root = (result.raw.get("config") or {}).get("root")
        where = (
            f"{tried[0]} does not exist"
            if len(tried) == 1
            else f"--root {root} is neither at {tried[0]} (where eval.run ran) nor at {tried[1]} "
            "(from the current folder)"
        )
        warnings.append(
            f"GT videos of {result.dataset} not found: {where}; the video grid's GT column lacks them (run "
            "the report in the checkout that holds the dataset)"
        )
        return cache[key]
    from edtalk.data.errors import DataError
    from edtalk.data.readers import read_clips

    try:
        cache[key] = {c.id: Path(c.video) for c in read_clips(result.dataset, root, result.split or "test")}
    except (DataError, OSError, KeyError, ValueError) as e:
        warnings.append(
            f"GT videos of {result.dataset} not read from {root} ({e}); the video grid shows no GT"
        )
    return cache[key]


def _method_video(row: dict, result: ResultFile) -> Path | None:
    """The method's video of a per-clip row: ``row["video"]``, else eval.run's
    ``<method folder>/videos/<escaped clip id>.mp4``, else ``provenance.videos``."""
    from eval.cache import escape_clip_id

    if row.get("video"):
        return _resolve(row["video"], result)
    name = f"{escape_clip_id(row['clip'])}.mp4"
    for folder in (result.path.parent / "videos", result.provenance.get("videos")):
        if folder and _resolve(str(folder), result).joinpath(name).is_file():
            return _resolve(str(folder), result) / name
    return None


def _grid(r: ResultFile) -> tuple[str, str, str]:
    """The video grid a results file's clips go to: (dataset, protocol, split), as tables never
    mix splits."""
    return (r.dataset, r.protocol, r.split or "")


def _grid_key(r: ResultFile) -> tuple:
    """Results files sharing a video grid and a method name (sweep trials have no column)."""
    return (r.sweep is None, _grid(r), r.method)


def collect_videos(
    results: list[ResultFile], warnings: list[str] | None = None
) -> dict[tuple[str, str, str], dict[str, dict[str, Path]]]:
    """{(dataset, protocol, split): {clip id: {"GT" | method: video path}}} for clips with videos;
    GT videos that cannot be found are named once in ``warnings`` (when a list is passed)."""
    grid: dict[tuple[str, str, str], dict[str, dict[str, Path]]] = defaultdict(lambda: defaultdict(dict))
    gt_cache: dict = {}
    notes: list[str] = []
    for r in results:
        if r.sweep is not None:
            continue
        for row in r.clip_rows:
            clip = row.get("clip")
            if not clip:
                continue
            video = _method_video(row, r)
            if video is not None and video.is_file():
                grid[_grid(r)][clip][method_label(r, results, _grid_key)] = video
            if clip not in grid[_grid(r)]:
                continue
            gt = (
                _resolve(row["gt_video"], r)
                if row.get("gt_video")
                else _gt_videos(r, gt_cache, notes).get(clip)
            )
            if gt is not None and gt.is_file():
                grid[_grid(r)][clip]["GT"] = gt
    if warnings is not None:
        warnings += [n for n in dict.fromkeys(notes) if n not in warnings]
    return {k: dict(v) for k, v in grid.items() if v}


def _video_grid(title: str, clips: dict[str, dict[str, Path]], out_dir: Path, max_clips: int) -> str:
    methods = sorted({m for per in clips.values() for m in per if m != "GT"})
    columns = ["GT"] + methods
    esc = html.escape
    cells = ['<div class="head">clip</div>'] + [f'<div class="head">{esc(c)}</div>' for c in columns]
    for clip in sorted(clips)[:max_clips]:
        cells.append(f'<div class="clip">{esc(clip)}</div>')
        for col in columns:
            path = clips[clip].get(col)
            if path is None:
                cells.append('<div class="missing">no video</div>')
            else:
                url = esc(relative_url(path, out_dir))
                cells.append(
                    f'<div class="video-tile"><video controls muted loop preload="metadata" '
                    f'src="{url}" title="{esc(col)}: {esc(clip)}"></video></div>'
                )
    style = f"grid-template-columns: 14em repeat({len(columns)}, minmax(120px, 1fr));"
    shown = min(max_clips, len(clips))
    return (
        f"<h3>{esc(title)}</h3><p>{shown} of {len(clips)} clips.</p>"
        f'<div class="video-grid" style="{style}">\n' + "\n".join(cells) + "\n</div>"
    )


def render_index(
    tables: list[Table],
    plots: list[Path],
    results: list[ResultFile],
    out_dir: str | Path,
    max_clips: int = 8,
    downloads: dict[str, str] | None = None,
    proof: dict | None = None,
    problems: list[str] | tuple[str, ...] = (),
    warnings: list[str] | tuple[str, ...] = (),
    videos: dict | None = None,
    plot_captions: dict[Path, str] | None = None,
) -> str:
    """The whole page as a string; ``proof``: eval.proof's result, if any; ``problems``: inputs left
    out (unreadable results files, per-clip lines), listed at the top so no gap goes unnoticed;
    ``warnings``: inputs shown with a caveat (two files giving one row, results in no paper table);
    ``videos``: ``collect_videos``' grids (collected here when not given); ``plot_captions``: a
    line under a figure (``plots.make_plots``' captions)."""
    out_dir = Path(out_dir)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>EDTalk-Bench report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>EDTalk-Bench report</h1>",
        f"<p>{len(results)} results files; {len(tables)} tables. "
        "† = reported in the EDTalk paper (not measured here); ‡ = over fewer clips than the rest of "
        "its row (some failed in that metric alone), not ranked; * = unverified. In each column the best "
        "value is bold and the next distinct value underlined as second best, unless that would mark "
        "every cell (equal values share a mark).</p>",
    ]
    if problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in problems)
        parts.append(
            f'<div class="problems"><p>Left out of this report ({len(problems)}):</p><ul>{items}</ul></div>'
        )
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        parts.append(f'<div class="warnings"><p>Warnings ({len(warnings)}):</p><ul>{items}</ul></div>')
    if downloads:
        links = " · ".join(f'<a href="{esc(quote(v))}">{esc(k)}</a>' for k, v in downloads.items())
        parts.append(f"<p>Downloads: {links}</p>")
    parts.append('<section id="tables"><h2>Tables</h2>')
    parts.append(
        "<ul>" + "".join(f'<li><a href="#{esc(t.key)}">{esc(caption(t))}</a></li>' for t in tables) + "</ul>"
    )
    parts += [to_html(t) for t in tables]
    parts.append("</section>")
    if proof is not None:
        parts.append(proof_html(proof))
    parts.append('<section id="plots" class="plots"><h2>Plots</h2>')
    for p in plots:
        note = (plot_captions or {}).get(p)
        note_html = f'<p class="plot-note">{esc(note)}</p>' if note else ""
        parts.append(f'<div><img src="{esc(relative_url(p, out_dir))}" alt="{esc(p.stem)}">{note_html}</div>')
    if not plots:
        parts.append("<p>No sweep, per-clip or training data to plot.</p>")
    parts.append("</section>")
    parts.append('<section id="videos"><h2>Videos</h2>')
    grids = collect_videos(results) if videos is None else videos
    for (dataset, protocol, split), clips in sorted(grids.items()):
        where = protocol if split == USUAL_SPLIT else f"{protocol}, {split_phrase(split)}"
        parts.append(_video_grid(f"{dataset} [{where}]", clips, out_dir, max_clips))
    if not grids:
        parts.append("<p>No per-clip rows name videos.</p>")
    parts.append("</section></body></html>")
    return "\n".join(parts) + "\n"
