"""``crop dataset`` stopped short: the temp files a killed run left are removed by the next run (unless
another run crops into the same folder), and Ctrl-C ends it with one line, exit 130 and a report."""

import json
import os
import signal

import pytest

from edtalk.data import crop

LEFTOVERS = (  # as ``edtalk.atomic`` names a report's, a done record's, a crop's and a wav's temp file
    ".crop_report.json.k2j3h4g5.tmp",
    ".crop/.x.json.abcd_123.tmp",
    "video/.x#1.mp4.egydx26w.tmp.mp4",
    "audio/.x#1.wav.zzzzzzzz.tmp.wav",
)
KEPT = (  # not the tool's temp names: someone else's files
    "notes.tmp",
    ".notes.txt",
    "video/x.mp4.egydx26w.tmp.mp4",  # not hidden
    "video/.x.mp4.short.tmp.mp4",  # not mkstemp's 8 characters
    "audio/.keep.wav",
    "elsewhere/.x.mp4.egydx26w.tmp.mp4",  # not a folder the crops go to
)


def _jobs(tmp_path, names="abc") -> list[crop.CropJob]:
    out = tmp_path / "out"
    for name in names:
        (tmp_path / f"{name}.mp4").write_bytes(b"x")
    return [
        crop.CropJob(n, str(tmp_path / f"{n}.mp4"), None, str(out / "video"), str(out / "audio"))
        for n in names
    ]


def _done(job: crop.CropJob) -> crop.CropOutcome:
    return crop.CropOutcome(job.clip_id, job.video, written=[job.video])


def _place(out, names) -> None:
    for name in names:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"")


def test_the_temp_names_removed_are_the_ones_the_atomic_writes_give(tmp_path):
    from edtalk.atomic import atomic_path, is_temp_name

    for target, suffix in (("x#1.mp4", ".tmp.mp4"), ("x#1.wav", ".tmp.wav"), ("x.json", ".tmp")):
        with atomic_path(tmp_path / target, suffix=suffix) as tmp:  # VideoWriter's, write_wav's, write_json's
            assert is_temp_name(tmp.name)
            tmp.write_bytes(b"")


def test_a_killed_runs_temp_files_are_removed_by_the_next_run(tmp_path):
    """After a SIGKILL the atomic writes' temp files (``.<name>.XXXXXXXX.tmp.mp4``) stayed for good."""
    out = tmp_path / "out"
    _place(out, LEFTOVERS + KEPT)
    outcomes = crop.crop_dataset(_jobs(tmp_path), out, workers=1, progress=False, crop=_done)
    assert [o.problem for o in outcomes] == [None, None, None]
    assert [name for name in LEFTOVERS if (out / name).exists()] == []
    assert [name for name in KEPT if not (out / name).exists()] == []


def test_a_killed_lists_copys_staging_folder_is_removed_by_the_next_run(tmp_path):
    """``copy_lists`` stages its copy in ``<out>/.lists.XXXXXXXX.part``: a kill during the copy left it
    for good (nothing removed folders); a folder of another name is someone else's."""
    out = tmp_path / "out"
    _place(out, [".lists.k2j3h4g5.part/lists/test.txt", ".lists.mine.part/notes.txt"])
    crop.crop_dataset(_jobs(tmp_path), out, workers=1, progress=False, crop=_done)
    assert not (out / ".lists.k2j3h4g5.part").exists() and (out / ".lists.mine.part/notes.txt").is_file()
    (tmp_path / "raw" / "lists").mkdir(parents=True)
    (tmp_path / "raw" / "lists" / "test.txt").write_text("a\n")
    assert crop.copy_lists(tmp_path / "raw", out) == out / "lists"  # leaves no stage of its own
    assert sorted(p.name for p in out.glob(".lists.*")) == [".lists.mine.part"]


def test_temp_files_are_kept_while_another_run_crops_into_the_folder(tmp_path):
    """Another run's temp files may be half-written crops: removed only once it has ended."""
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "out"
    _place(out, LEFTOVERS)
    fd = os.open(out / crop.DONE_DIR / crop._LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a running crop_dataset holds
        crop.crop_dataset(_jobs(tmp_path), out, workers=1, progress=False, crop=_done)
        assert all((out / name).exists() for name in LEFTOVERS)
    finally:
        os.close(fd)
    crop.crop_dataset(_jobs(tmp_path), out, workers=1, progress=False, crop=_done)
    assert not any((out / name).exists() for name in LEFTOVERS)


def test_ctrl_c_writes_the_report_and_the_next_run_resumes(tmp_path, capsys):
    """Ctrl-C wrote no crop_report.json; the clips done before it keep their done records."""
    out = tmp_path / "out"
    jobs = _jobs(tmp_path)

    def interrupted(job):
        if job.clip_id == "b":
            raise KeyboardInterrupt
        return _done(job)

    with pytest.raises(KeyboardInterrupt):
        crop.crop_dataset(jobs, out, workers=1, progress=False, crop=interrupted)
    report = json.loads((out / crop.REPORT).read_text())
    assert [(r["clip_id"], r["problem"]) for r in report] == [
        ("a", None),
        ("b", f"{tmp_path / 'b.mp4'}: not cropped: the run was interrupted (the same command crops it)"),
        ("c", f"{tmp_path / 'c.mp4'}: not cropped: the run was interrupted (the same command crops it)"),
    ]
    capsys.readouterr()
    outcomes = crop.crop_dataset(jobs, out, workers=1, progress=False, crop=_done)
    assert "2 of 3 clips to crop (1 done before)" in capsys.readouterr().out
    assert [o.problem for o in outcomes] == [None, None, None]


def test_ctrl_c_while_the_done_records_are_read_reports_the_clips_done_before_as_done(tmp_path, monkeypatch):
    """Ctrl-C before every done record was read called the clips done by an earlier run interrupted."""
    out, jobs = tmp_path / "out", _jobs(tmp_path)
    crop.crop_dataset(jobs, out, workers=1, progress=False, crop=_done)
    read_done, stopped = crop._read_done, []

    def read_until_b(out_dir, job):
        if job.clip_id == "b" and not stopped:
            stopped.append(job.clip_id)
            raise KeyboardInterrupt
        return read_done(out_dir, job)

    monkeypatch.setattr(crop, "_read_done", read_until_b)
    with pytest.raises(KeyboardInterrupt):
        crop.crop_dataset(jobs, out, workers=1, progress=False, crop=_done)
    report = json.loads((out / crop.REPORT).read_text())
    assert [(r["clip_id"], r["problem"]) for r in report] == [("a", None), ("b", None), ("c", None)]


def test_ctrl_c_on_the_command_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    """It was a 26-line traceback (exit 130 from Python itself)."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.mp4").write_bytes(b"x")

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(crop, "crop_dataset", stopped)
    argv = ["dataset", "--dataset", "folder", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]
    try:
        code = crop.main(argv)
    except KeyboardInterrupt:  # raised on, it would stop the whole test session
        pytest.fail("Ctrl-C escaped main: a traceback")
    assert code == 130
    err = capsys.readouterr().err
    assert err == (
        f"\ninterrupted: the clips cropped so far are kept in {tmp_path / 'out'}; "
        "the same command resumes from them\n"
    )


def test_ctrl_c_stops_the_worker_processes_and_removes_their_temp_files(tmp_path, monkeypatch):
    """With worker processes, Ctrl-C waited for the clips in flight (minutes for a long video) and
    wrote no report; now they are stopped at once and the temp files they were writing removed."""
    (tmp_path / "stopper.py").write_text(
        "import os, signal, time\n"
        "from pathlib import Path\n"
        "from edtalk.data.crop import CropOutcome\n"
        "def crop(job):\n"
        "    if job.clip_id == 'b':\n"
        "        Path(job.video_dir).mkdir(parents=True, exist_ok=True)\n"
        "        (Path(job.video_dir) / '.b.mp4.egydx26w.tmp.mp4').write_bytes(b'half a crop')\n"
        "        os.kill(os.getppid(), signal.SIGINT)  # Ctrl-C, as the parent gets it\n"
        "        time.sleep(60)  # only a worker that was not stopped writes b.mp4\n"
        "        (Path(job.video_dir) / 'b.mp4').write_bytes(b'finished')\n"
        "    return CropOutcome(job.clip_id, job.video, written=[job.video])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # the spawned workers import stopper from here too
    import stopper

    out = tmp_path / "out"
    # Python's own Ctrl-C handler, whatever this process inherited: a shell starts background jobs
    # (`make test &`) with SIGINT ignored, where the signal would never arrive
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            crop.crop_dataset(_jobs(tmp_path, "ab"), out, workers=2, progress=False, crop=stopper.crop)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not (out / "video" / "b.mp4").exists()  # its worker was stopped, not waited for
    assert not (out / "video" / ".b.mp4.egydx26w.tmp.mp4").exists()
    report = {r["clip_id"]: r["problem"] for r in json.loads((out / crop.REPORT).read_text())}
    assert "the run was interrupted" in report["b"]
