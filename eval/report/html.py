"""report/index.html: the tables, the plots and a grid of side-by-side videos (GT and each method).

Videos come from the per-clip rows (``<protocol>.clips.jsonl``): a row may name its generated
video (``"video"``) and the ground truth (``"gt_video"``); otherwise a results file's
``provenance.videos`` folder holding ``<clip id>.mp4`` is used. Links are relative to the report
folder and URL-encoded (clip ids contain '#'), so the report folder can be moved with the results.
Distinctive CSS colours (table headers, video tiles) let a headless-browser test find them.
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

from eval.report.inputs import ResultFile, read_clip_rows
from eval.report.tables import Table, caption, to_html

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
p.table-note {{ font-size: 12px; color: #444; margin: 2px 0; }}
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


def collect_videos(results: list[ResultFile]) -> dict[tuple[str, str], dict[str, dict[str, Path]]]:
    """{(dataset, protocol): {clip id: {"GT" | method: video path}}} for clips with videos."""
    grid: dict[tuple[str, str], dict[str, dict[str, Path]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        if r.sweep is not None:
            continue
        videos_dir = r.provenance.get("videos")
        for row in read_clip_rows(r):
            clip = row.get("clip")
            if not clip:
                continue
            video = row.get("video")
            if video:
                video_path = _resolve(video, r)
            elif videos_dir:
                video_path = _resolve(videos_dir, r) / f"{clip}.mp4"
            else:
                video_path = None
            if video_path is not None and video_path.is_file():
                grid[(r.dataset, r.protocol)][clip][r.method] = video_path
            gt = row.get("gt_video")
            if gt and _resolve(gt, r).is_file():
                grid[(r.dataset, r.protocol)][clip]["GT"] = _resolve(gt, r)
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
) -> str:
    """The whole page as a string (``write_index`` writes it)."""
    out_dir = Path(out_dir)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>EDTalk-Bench report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>EDTalk-Bench report</h1>",
        f"<p>{len(results)} results files; {len(tables)} tables. "
        "† = reported in the EDTalk paper (not measured here); * = unverified.</p>",
    ]
    if downloads:
        links = " · ".join(f'<a href="{esc(quote(v))}">{esc(k)}</a>' for k, v in downloads.items())
        parts.append(f"<p>Downloads: {links}</p>")
    parts.append('<section id="tables"><h2>Tables</h2>')
    parts.append(
        "<ul>" + "".join(f'<li><a href="#{esc(t.key)}">{esc(caption(t))}</a></li>' for t in tables) + "</ul>"
    )
    parts += [to_html(t) for t in tables]
    parts.append("</section>")
    parts.append('<section id="plots" class="plots"><h2>Plots</h2>')
    parts += [f'<div><img src="{esc(relative_url(p, out_dir))}" alt="{esc(p.stem)}"></div>' for p in plots]
    if not plots:
        parts.append("<p>No sweep, per-clip or training data to plot.</p>")
    parts.append("</section>")
    parts.append('<section id="videos"><h2>Videos</h2>')
    grids = collect_videos(results)
    for (dataset, protocol), clips in sorted(grids.items()):
        parts.append(_video_grid(f"{dataset} [{protocol}]", clips, out_dir, max_clips))
    if not grids:
        parts.append("<p>No per-clip rows name videos.</p>")
    parts.append("</section></body></html>")
    return "\n".join(parts) + "\n"


def write_text_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
