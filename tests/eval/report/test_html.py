"""report/index.html: structure, relative URL-encoded video links, and a headless Chromium render
whose screenshot must show the tables and the video tiles (found by their CSS colours)."""

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eval.report.__main__ import main
from eval.report.html import TABLE_HEADER_RGB, VIDEO_TILE_RGB, relative_url

CHROMIUM = Path("/usr/bin/chromium")


def test_relative_url_encodes_hash(tmp_path):
    target = tmp_path / "videos" / "st001#happy#level_1#000.mp4"
    assert relative_url(target, tmp_path / "report") == "../videos/st001%23happy%23level_1%23000.mp4"


def _build(tmp_path, build_results_with_videos):
    results = build_results_with_videos(tmp_path / "results")
    out = tmp_path / "report"
    assert main([str(results), "--out", str(out)]) == 0
    return out


def test_index_has_tables_plots_and_video_grid(tmp_path, results_with_videos):
    out = _build(tmp_path, results_with_videos)
    page = (out / "index.html").read_text()
    assert page.count('<table class="report-table"') == 9
    assert (out / "tables.md").is_file() and (out / "tables.tex").is_file()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(Path(i).name.split("_")[0] for i in images) == ["ablations", "bank", "clips", "training"]
    for src in images:
        assert (out / src).is_file(), src
    videos = re.findall(r'<video controls muted loop[^>]*src="([^"]+)"', page)
    assert len(videos) == 9  # 3 clips x (GT, edtalk_a, wav2lip)
    assert all("%23" in v and "#" not in v and not v.startswith("/") for v in videos)
    from urllib.parse import unquote

    assert all((out / unquote(v)).is_file() for v in videos)


def test_each_video_grid_row_shows_its_own_clips_videos(tmp_path, results_with_videos):
    """Catches a grid whose every row shows the first clip's videos (the counts stay 9, the files exist)."""
    from urllib.parse import unquote

    from eval.cache import escape_clip_id

    out = _build(tmp_path, results_with_videos)
    page = (out / "index.html").read_text()
    tiles = [
        (html.unescape(title), unquote(html.unescape(src)))
        for src, title in re.findall(r'<video controls muted loop[^>]*src="([^"]+)" title="([^"]+)"', page)
    ]
    cells = {tuple(title.split(": ", 1)): src for title, src in tiles}
    clips = ["st020#happy#level_1#000", "st021#sad#level_2#001", "st022#angry#level_3#002"]
    assert sorted(cells) == sorted((col, clip) for col in ("GT", "edtalk_a", "wav2lip") for clip in clips)
    for (col, clip), src in cells.items():
        assert Path(src).name == f"{escape_clip_id(clip)}.mp4", (col, clip, src)
    # the GT column plays the GT clips, each method column its own folder's videos
    folders = {
        col: {Path(src).parent.as_posix() for (c, _), src in cells.items() if c == col}
        for col in ("GT", "edtalk_a", "wav2lip")
    }
    assert {col: len(f) for col, f in folders.items()} == {"GT": 1, "edtalk_a": 1, "wav2lip": 1}
    assert len(set().union(*folders.values())) == 3


def test_one_unreadable_input_is_left_out_and_named_not_fatal(tmp_path, capsys, make_result):
    results = tmp_path / "results"
    make_result(results, "mead", "good", "eat", {"psnr": 30.0, "fid": 3.0})
    make_result(results, "mead", "other", "eat", {"psnr": 25.0, "fid": 3.0})
    lines = ['{"clip": "c1", "psnr": 25.0}', '{"clip": "c2", ', "[3]"]
    (results / "mead" / "other" / "eat.clips.jsonl").write_text("\n".join(lines) + "\n")
    bad = results / "mead" / "m" / "eat.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("[]")
    (results / "proof.json").write_text('{"claims": [1, 2]}')
    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    err = capsys.readouterr().err
    expected = [
        "m/eat.json: top level must be a JSON object",
        "other/eat.clips.jsonl: line 2 is not valid JSON",
        "other/eat.clips.jsonl: line 3 is not a JSON object",
        "proof.json: no 'claims' object",
    ]
    page = (tmp_path / "r" / "index.html").read_text()
    for problem in expected:
        assert problem in err and html.escape(problem) in page
    assert "Left out of this report (4)" in page
    md = (tmp_path / "r" / "tables.md").read_text()
    assert "good" in md and "other" in md  # both readable files still make their rows

    assert main([str(results), "--out", str(tmp_path / "strict"), "--strict"]) == 2
    assert "m/eat.json: top level must be a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "strict").exists()
    bad.unlink()
    assert main([str(results), "--out", str(tmp_path / "strict"), "--strict"]) == 2
    assert "other/eat.clips.jsonl: line 2" in capsys.readouterr().err
    (results / "mead" / "other" / "eat.clips.jsonl").unlink()
    assert main([str(results), "--out", str(tmp_path / "strict"), "--strict"]) == 2
    assert "proof.json: no 'claims' object" in capsys.readouterr().err
    assert not (tmp_path / "strict").exists()


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-installs Debian's chromium) and re-run")
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def _colour_mask(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(rgb)) <= tol).all(axis=-1)


def test_headless_chromium_renders_tables_and_videos(tmp_path, results_with_videos):
    out = _build(tmp_path, results_with_videos)
    url = (out / "index.html").resolve().as_uri()
    dom = _chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<table class="report-table"') == 9
    assert len(re.findall(r"<video ", dom.stdout)) == 9 and "<thead>" in dom.stdout
    # Screenshot of the video section: render a page scrolled to it (the grid is below the tables).
    shot = tmp_path / "shot.png"
    top = _chromium([f"--screenshot={shot}", "--window-size=1400,2000", url], tmp_path)
    assert shot.is_file(), top.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.std() > 10, "screenshot is blank"
    headers = _colour_mask(img, TABLE_HEADER_RGB)
    assert headers.sum() > 5000, "no table headers (amber) visible in the screenshot"
    assert headers[:, : img.shape[1] // 2].any(axis=1).sum() > 100  # header rows down the page
    videos_only = out / "videos_only.html"
    page = (out / "index.html").read_text()
    videos_only.write_text(
        page.replace('<section id="tables">', '<section id="tables" style="display:none">').replace(
            '<section id="plots" class="plots">', '<section id="plots" style="display:none">'
        )
    )
    shot2 = tmp_path / "shot_videos.png"
    _chromium([f"--screenshot={shot2}", "--window-size=1400,2000", videos_only.resolve().as_uri()], tmp_path)
    img2 = np.asarray(Image.open(shot2).convert("RGB"))
    tiles = _colour_mask(img2, VIDEO_TILE_RGB)
    assert tiles.sum() > 20000, "no video tiles (teal) visible in the screenshot"
    rows_with_tiles = np.flatnonzero(tiles.any(axis=1))
    assert rows_with_tiles.size > 200  # three rows of tiles
    # the first GT clip is solid (0, 200, 80): its decoded frame shows inside a tile
    assert _colour_mask(img2, (0, 200, 80), tol=30).sum() > 10000, "GT video frame not rendered"


def _proof(claims: dict, support: dict) -> dict:
    """A proof.json as eval.proof writes it (only the fields its table reads)."""
    zeros = {"psnr": 1.0, "ssim": 1.0, "lmk": 1.0}
    return {
        "checkpoint": "runs/audio_expression/final.pt",
        "claims": claims,
        "reconstruction": {
            "edtalk_v": zeros, "static_source": zeros, "judge_landmark_error_on_gt_px": 1.0, "n_clips": 1,
        },
        "cross_driving": {"n_videos": 12, "videos_supporting": support},
        "audio_sync": {
            "lse_c_true_audio": 0.5, "lse_c_shuffled_audio": 0.2, "offset_zero_share": 1.0,
            "lse_c_gt_video": 0.7, "n_clips": 1,
        },
        "pose_seeds": {"skipped": "no pose"},
    }  # fmt: skip


def test_index_shows_the_proof_when_the_results_hold_one(tmp_path):
    import json

    results = tmp_path / "results"
    results.mkdir()
    assert main([str(results), "--out", str(tmp_path / "r0"), "--no-plots", "--allow-empty"]) == 0
    assert 'id="proof"' not in (tmp_path / "r0" / "index.html").read_text()  # no proof.json, no section
    claims = {"cross_mouth_follows_B": True, "cross_emotion_follows_D": False, "sampled_poses_differ": None}
    support = {"cross_mouth_follows_B": [9, 12], "cross_emotion_follows_D": [2, 12]}
    (results / "proof.json").write_text(json.dumps(_proof(claims, support)))
    assert main([str(results), "--out", str(tmp_path / "r1"), "--no-plots", "--allow-empty"]) == 0
    page = (tmp_path / "r1" / "index.html").read_text()
    assert "1 of 2 claims hold; 1 n/a for runs/audio_expression/final.pt" in page
    # each claim said in words (a reader saw only ids such as cross_emotion_follows_D), its id beside
    assert (
        "<tr><td>Cross-driving: the mouth follows B&#x27;s (the face judge&#x27;s mouth factors) "
        "<code>cross_mouth_follows_B</code></td><td>yes</td><td>9 of 12</td></tr>"
    ) in page
    assert (
        "<tr><td>Cross-driving: the emotion follows D&#x27;s <code>cross_emotion_follows_D</code></td>"
        "<td>NO</td><td>2 of 12</td></tr>"
    ) in page
    assert (
        "<tr><td>Poses sampled with different seeds differ <code>sampled_poses_differ</code></td>"
        "<td>n/a</td><td></td></tr>"
    ) in page
    assert "LSE-C true audio 0.500" in page  # eval.proof's own printout follows the table


def test_one_method_in_two_folders_keeps_a_video_column_each(tmp_path, results_with_videos):
    """The tables label both rows by folder; the video grid kept only the last file's videos."""
    import shutil

    from eval.report.html import collect_videos
    from eval.report.inputs import load_results

    results = results_with_videos(tmp_path / "results")
    [method_dir] = [p.parent for p in results.rglob("edtalk_a/*.json")][:1]
    shutil.copytree(method_dir, method_dir.with_name("edtalk_a_rerun"))
    grid = collect_videos(load_results(results))
    columns = {name for per_clip in grid.values() for clip in per_clip.values() for name in clip}
    assert {"edtalk_a (edtalk_a/)", "edtalk_a (edtalk_a_rerun/)"} <= columns and "edtalk_a" not in columns


def _synthtalk_scored_elsewhere(tmp_path, make_result, cwd: Path) -> tuple[Path, str]:
    """A results folder whose clips were scored with --root data/synthtalk in folder ``cwd``, with a
    method video per clip; returns it and the clip id."""
    from eval.cache import escape_clip_id

    clip = "st020#happy#level_1#000"
    results = tmp_path / "results"
    extra = {"config": {"dataset": "synthtalk", "root": "data/synthtalk", "split": "test", "cwd": str(cwd)}}
    make_result(results, "synthtalk", "m", "synthtalk", {"psnr": 20.0}, clips=[{"clip": clip}], extra=extra)
    video = results / "synthtalk" / "m" / "videos" / f"{escape_clip_id(clip)}.mp4"
    video.parent.mkdir()
    video.write_bytes(b"video")
    return results, clip


def _synthtalk_root(checkout: Path, clip: str) -> Path:
    """data/synthtalk under ``checkout`` with one test clip's video (the reader needs no more)."""
    root = checkout / "data" / "synthtalk"
    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    (root / "splits" / "test.txt").write_text(clip + "\n")
    (root / "clips" / f"{clip}.mp4").write_bytes(b"gt")
    return root / "clips" / f"{clip}.mp4"


def test_gt_videos_are_looked_for_in_the_current_checkout_when_the_scored_one_is_gone(
    tmp_path, make_result, monkeypatch, capsys
):
    """GT links pointed into the checkout where eval.run ran (config cwd); with that checkout gone the
    GT column quietly said "no video". The scored files come first (the current checkout's same
    relative path may hold another build), the current folder's when they are gone, else a warning."""
    from eval.report.html import collect_videos
    from eval.report.inputs import load_results

    old, here = tmp_path / "old_checkout", tmp_path / "here"
    results, clip = _synthtalk_scored_elsewhere(tmp_path, make_result, old)
    old_gt, here_gt = _synthtalk_root(old, clip), _synthtalk_root(here, clip)
    monkeypatch.chdir(here)
    [grid] = collect_videos(load_results(results)).values()
    assert grid[clip]["GT"].resolve() == old_gt.resolve()  # the files eval.run scored
    shutil.rmtree(old)
    [grid] = collect_videos(load_results(results)).values()
    assert grid[clip]["GT"].resolve() == here_gt.resolve()  # then the current checkout's
    shutil.rmtree(here / "data")
    warnings = []
    [grid] = collect_videos(load_results(results), warnings).values()
    assert "GT" not in grid[clip]
    assert warnings == [
        "GT videos of synthtalk not found: --root data/synthtalk is neither at "
        f"{old / 'data' / 'synthtalk'} (where eval.run ran) nor at {here / 'data' / 'synthtalk'} "
        "(from the current folder); the video grid's GT column lacks them (run the report in the checkout "
        "that holds the dataset)"
    ]
    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: GT videos of synthtalk not found") == 1


def test_equal_values_share_a_mark_and_the_page_says_so(tmp_path, make_result):
    """A tie for best left the next distinct value underlined as second with nothing saying why, and the
    page's legend named † and * but not the bold, underline or ‡ marks (a helper's review of the demo's
    report). A second best that would mark every cell (a tie among all but one row) is not marked, as
    with two rows (a mutation review: nothing pinned it)."""
    results = tmp_path / "results"
    for method, psnr in (("a", 30.0), ("b", 30.0), ("c", 28.0), ("d", 25.0)):
        make_result(results, "mead", method, "eat", {"psnr": psnr})
    assert main([str(results), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert page.count("<b>30.000</b>") == 2 and page.count("<u>28.000</u>") == 1 and "<u>25.000" not in page
    legend = re.sub(r"\s+", " ", html.unescape(page.split("</p>")[0]))
    assert "‡ = over fewer clips than the rest of its row" in legend
    assert "the best value is bold and the next distinct value underlined as second best, unless" in legend
    for method, psnr in (("c", 30.0), ("d", 28.0)):  # 30, 30, 30, 28: a second best marks every cell
        make_result(results, "mead", method, "eat", {"psnr": psnr})
    assert main([str(results), "--out", str(tmp_path / "r2"), "--no-plots"]) == 0
    page = (tmp_path / "r2" / "index.html").read_text()
    assert page.count("<b>30.000</b>") == 3 and "<u>" not in page.split('id="other-mead')[1]
