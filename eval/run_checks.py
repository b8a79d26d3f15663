"""Pre-flight checks of ``python -m eval.run``: the clips, metrics, weight files, device, Ray address
and results file are checked before any work, so that a bad argument stops the run at once with one
line (``UsageError``, exit code 2) rather than failing every clip."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eval.scoring import metric_weights


class UsageError(Exception):
    """A problem with the arguments or inputs that stops the run before scoring (exit code 2)."""


def resolve_clips(args: argparse.Namespace) -> tuple[list, list]:
    """The clips to score: the dataset split (its first ``--limit``), or ``--gt``/``--pred`` paired by file
    name; and the whole split they come from. Refuses an empty selection and clip ids that more than one
    video of the selection has."""
    from edtalk.data.readers import pair_folders, read_clips

    given = " and ".join(flag for flag, value in (("--gt", args.gt), ("--pred", args.pred)) if value)
    if given and args.dataset != "folder":  # they were ignored: the split of --root was scored
        raise UsageError(
            f"{given}: for --dataset folder only (pairs of videos by file name); --dataset "
            f"{args.dataset} reads its clips from --root"
        )
    if given and args.root:  # --root was ignored: the pair of folders was scored
        raise UsageError(f"--root and {given}: give --root DIR (with gt/ and pred/) or --gt DIR --pred DIR")
    if args.dataset == "folder" and (args.gt or args.pred):
        if not (args.gt and args.pred):
            raise UsageError(
                "--dataset folder needs both --gt DIR and --pred DIR (or --root with gt/ and pred/)"
            )
        clips = pair_folders(args.gt, args.pred, args.split)
    else:
        if not args.root:
            other = " (with gt/ and pred/), or --gt DIR --pred DIR" if args.dataset == "folder" else ""
            raise UsageError(f"--dataset {args.dataset} needs --root DIR{other}")
        clips = read_clips(args.dataset, args.root, args.split)
        if args.dataset == "folder" and "paired" in split_methods(args.method, args.dataset):
            check_prediction_folder(Path(args.root))
    split = clips
    if args.limit is not None:
        clips = clips[: args.limit]
    if not clips:
        raise UsageError(f"no clips in {args.dataset} split {args.split!r}")
    duplicated = duplicate_clips(clips)
    if duplicated:
        shown = [f"{cid!r} ({', '.join(str(c.video) for c in same)})" for cid, same in duplicated.items()]
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise UsageError(
            f"{args.dataset}: duplicate clip ids in split {args.split!r} (one video per clip id; "
            f"remove or rename the extra files): {'; '.join(shown[:5])}{more}"
        )
    return clips, split


FOLDER_PREFIX = "folder:"


def split_methods(value: str | None, dataset: str) -> list[str]:
    """The method specs of ``--method``: one name, or several as a comma list (``gt,static,edtalk_v``;
    spaces around a name are dropped, an empty name is kept for ``check_method_list``); left out,
    ``paired`` for ``--dataset folder`` and none otherwise. ``folder:DIR`` whose DIR holds a comma and
    exists is one method, as it was before lists."""
    if not value:
        return ["paired"] if dataset == "folder" else []
    if "," not in value or (
        value.startswith(FOLDER_PREFIX) and Path(value[len(FOLDER_PREFIX) :]).expanduser().is_dir()
    ):
        return [value]
    return [spec.strip() for spec in value.split(",")]


def check_method_list(value: str, specs: list[str]) -> None:
    """Refuse an empty name (``gt,,static``, a trailing comma), names separated by spaces rather than
    commas (``gt static``) and a method named twice in ``--method``."""
    if "" in specs:
        raise UsageError(
            f"--method {value}: an empty method name in the list; name the methods separated by single "
            "commas, e.g. --method gt,static,edtalk_v"
        )
    spaced = [spec for spec in specs if not spec.startswith(FOLDER_PREFIX) and len(spec.split()) != 1]
    if spaced:
        raise UsageError(
            f"--method {value!r}: {spaced[0]!r} is not a method name; separate several methods with "
            "commas, e.g. --method gt,static"
        )
    twice = sorted({spec for spec in specs if specs.count(spec) > 1})
    if twice:
        raise UsageError(f"--method {value}: {', '.join(twice)} named more than once; name each method once")


def check_distinct_results(runs: list[tuple[str, Path]]) -> None:
    """Refuse two methods of one call (``(spec, results file)`` each) that write one results file: two
    folders of one name (``folder:/x/videos`` and ``folder:/y/videos``), or one folder spelt twice."""
    first: dict[Path, str] = {}
    for spec, results_file in runs:
        if results_file in first:
            raise UsageError(
                f"--method {first[results_file]} and {spec} would write one results file and cache "
                f"({results_file}); score them with separate --out folders, or give a folder's method "
                'another name in its provenance.json (e.g. {"method": "sadtalker"})'
            )
        first[results_file] = spec


def prepare_method(method: Any, clips: list, split: list) -> None:
    """``method.prepare(clips)``; a folder of videos (``folder:DIR``) also gets the whole ``split``, so
    that it matches its videos against every clip of the split: with ``--limit`` the videos of the
    clips left out were called unmatched ("128 videos match none of the 16 clips")."""
    if getattr(method, "folder", None) is not None:
        method.prepare(clips, split=split)
    else:
        method.prepare(clips)


LOOKED_AT = 3  # GT clips whose headers note_unusual_gt reads


def note_unusual_gt(clips: list) -> str | None:
    """A note when the first ``LOOKED_AT`` GT videos are not what the protocols score: square face
    crops at 25 fps, at least ``MIN_IMAGE_SIDE`` px a side (headers only, no decoding; an unreadable
    one fails as its clip, later). Raw MEAD (1920x1080, 30 fps) was scored whole and without a word
    (LSE now fails each such clip on its rate; the frame metrics compared whole frames)."""
    from edtalk.data.errors import DataError
    from edtalk.data.video import probe_video
    from edtalk.driving_inputs import FPS, MIN_IMAGE_SIDE

    for clip in clips[:LOOKED_AT]:
        try:
            info = probe_video(clip.video)
        except DataError:
            continue
        (h, w), fps = info.size, info.fps
        if h != w or min(h, w) < MIN_IMAGE_SIDE or abs(fps - FPS) > 0.01:
            return (
                f"{clip.video}: {w}x{h} px at {fps:g} fps, not a square face crop of at least "
                f"{MIN_IMAGE_SIDE} px at 25 fps as the protocols score (crop the dataset first: python -m "
                "edtalk.data.crop dataset; `python -m edtalk.data.check` lists every clip's problems)"
            )
    return None


def note_short_audio(clips: list, shown: int = 3) -> str | None:
    """A note naming the GT clips whose audio ends more than one video frame before their video: LSE
    is then taken over the frames the audio covers (as syncnet_python does), which went unsaid.
    Headers where they tell (``probe_video``; ``audio_info`` reads a wav's header and decodes only the
    audio track of a container): ``run`` asks about the clips it is about to score with LSE, whose
    frames and audio are decoded next anyway. A file that cannot be read fails as its clip, later."""
    from edtalk.data.audio import audio_info
    from edtalk.data.errors import DataError
    from edtalk.data.video import probe_video

    short = []
    for clip in clips:
        if clip.audio is None:
            continue
        try:
            video, audio_s = probe_video(clip.video), audio_info(clip.audio).duration
        except DataError:
            continue
        if video.fps <= 0:
            continue
        video_s = video.n_frames / video.fps
        if video_s - audio_s > 1 / video.fps:
            of = "" if Path(clip.audio) == Path(clip.video) else f" ({clip.video})"
            short.append(f"{clip.audio} has {audio_s:.2f} s of audio for {video_s:.2f} s of video{of}")
    if not short:
        return None
    more = f"; and {len(short) - shown} more" if len(short) > shown else ""
    return (
        f"{len(short)} GT clip(s) with audio shorter than the video by more than a frame; LSE takes only "
        f"the frames the audio covers (as syncnet_python does): {'; '.join(short[:shown])}{more}"
    )


def check_prediction_folder(root: Path) -> None:
    """``--dataset folder --root DIR`` scored as paired predictions needs ``DIR/gt`` and ``DIR/pred``:
    without them the reader finds ground truth alone (``root_folders``), and every clip failed with
    "no prediction video for this clip in None" (e.g. ``--root x/gt``, one level too low)."""
    from edtalk.data.readers.folder import PAIRED_EXPECTED, root_folders

    if root_folders(root)[1] is None:
        missing = [str(d) for d in (root / "gt", root / "pred") if not d.is_dir()]
        raise UsageError(
            f"--dataset folder --root {root}: {' and '.join(missing)} not found; paired scoring (method "
            f"'paired') reads the predictions from the tree\n{PAIRED_EXPECTED}\n(give --root the folder "
            "that holds gt/ and pred/, or --gt DIR --pred DIR, or a --method that generates its videos)"
        )


def prediction_folder(args: argparse.Namespace) -> Path | None:
    """Where ``--dataset folder`` looks for predictions: ``--pred``, else ``<--root>/pred``."""
    if args.pred:
        return Path(args.pred)
    return Path(args.root) / "pred" if args.root else None


def duplicate_clips(clips: list) -> dict[str, list]:
    """Clip id -> its clips, for the ids that more than one clip of ``clips`` has (in order)."""
    by_id: dict[str, list] = {}
    for c in clips:
        by_id.setdefault(c.id, []).append(c)
    return {cid: same for cid, same in by_id.items() if len(same) > 1}


def select_metrics(protocol: Any, requested: str | None) -> tuple[list[str], list[str]]:
    """The metric ids to score (``--metrics``, default: every metric of ``protocol`` that can run
    here) and the protocol's metrics left out because they cannot run here."""
    available, unavailable = protocol.available()
    if not requested:
        return available, unavailable
    ids = [m.strip() for m in requested.split(",") if m.strip()]
    for mid in ids:
        if mid not in protocol.metric_ids():
            raise UsageError(
                f"metric {mid!r} is not in protocol {protocol.name!r} ({', '.join(protocol.metric_ids())})"
            )
        if mid not in available:
            raise UsageError(
                f"metric {mid!r} of protocol {protocol.name!r} cannot run here: "
                f"{protocol.unavailable_reasons()[mid]}"
            )
    return ids, []


def check_weights(
    protocol: Any, metrics: dict, allow_unverified: bool, data: str | None = None, clips: list | None = None
) -> None:
    """Resolve every weight file the selected metrics need before any work: those each metric
    declares, and the protocol's backbone weights named in their settings (the judges). With
    ``clips``, only the metrics that apply to one of them (Acc_emo's Emotion-FAN is not needed on
    HDTF, LRW or VoxCeleb2, which have no emotion labels: it shows n/a there). With ``data`` (a
    synthtalk root) a judge trained on that set's train or test people is refused. Every missing
    file is named in one error (one run per missing file was needed to find them all); a file that
    fails its hash check is reported when none is missing."""
    from edtalk.weights import MissingWeightsError, WeightsMismatchError

    if clips is not None:
        metrics = {m: x for m, x in metrics.items() if any(x.not_applicable(c) is None for c in clips)}
    users: dict[str, list[str]] = {}
    for mid, metric in metrics.items():
        for name in metric_weights(protocol, mid, metric):
            users.setdefault(name, [])
            if mid not in users[name]:
                users[name].append(mid)
    missing: dict[str, MissingWeightsError] = {}
    mismatched: list[WeightsMismatchError] = []
    for name in users:
        try:
            _resolve_weight(name, allow_unverified, data)
        except MissingWeightsError as err:
            missing[name] = err
        except WeightsMismatchError as err:
            mismatched.append(err)
    if len(missing) == 1:
        raise next(iter(missing.values()))
    if missing:
        needed_by = {name: users[name] for name in missing}
        raise MissingWeightsError(missing_weights_message(protocol.name, needed_by, data))
    if mismatched:
        raise mismatched[0]


def _resolve_weight(name: str, allow_unverified: bool, data: str | None) -> None:
    """Resolve one weight file (a synthtalk judge through ``resolve_judge``, whose error says how to get
    it); names that are not in the weights catalogue are left alone."""
    from edtalk import weights
    from edtalk.weight_catalogue import WEIGHTS
    from eval.protocols import weight_identity

    weight_identity(name)  # registers locally trained judges with the manager
    if name.endswith("_judge"):
        from edtalk.experts.names import INSTALL_JUDGES
        from edtalk.experts.store import resolve_judge

        try:
            resolve_judge(name, data)
        except ValueError as err:  # unreadable (cut short), or not a judge (past the hash check, as with
            # --allow-unverified-weights, or a judge trained here and not hashed)
            install = f"python -m eval.zoo install --data {data}" if data else INSTALL_JUDGES
            raise weights.WeightsMismatchError(
                f"{err}; install the judges again (`{install}`) or train them (eval.zoo train)"
            ) from None
    elif name in WEIGHTS:
        weights.resolve(name, allow_unverified=allow_unverified)


def missing_weights_message(protocol: str, users: dict[str, list[str]], data: str | None = None) -> str:
    """One line naming each missing weight file (``users``: name -> the metrics that need it), the folder
    they go to and how to get them: one ``fetch`` for the downloadable ones, the judges' install, and
    each other file's own steps."""
    from edtalk import weights
    from edtalk.experts.names import INSTALL_JUDGES, TRAIN_JUDGES
    from edtalk.weight_catalogue import WEIGHTS

    listing = ", ".join(f"{name} ({', '.join(mids)})" for name, mids in users.items())
    judges = [n for n in users if n.endswith("_judge")]
    fetched = [n for n in users if n not in judges and WEIGHTS.get(n).direct and not WEIGHTS.get(n).is_folder]
    steps = [f"`python -m eval.weights fetch NAME` for each of {', '.join(fetched)}"] if fetched else []
    if judges:
        train = TRAIN_JUDGES if data is None else f"python -m eval.zoo train --data {data}"
        install = INSTALL_JUDGES if data is None else f"python -m eval.zoo install --data {data}"
        steps.append(f"{', '.join(judges)}: `{install}` installs the shipped pair, `{train}` trains them")
    steps += [f"{n}: {weights.how_to_install(n)}" for n in users if n not in judges and n not in fetched]
    return (
        f"{len(users)} weight files that protocol {protocol}'s metrics need are missing from "
        f"{weights.weights_dir()} (or set EDTALK_BENCH_WEIGHTS): {listing}. To get them: {'; '.join(steps)}. "
        "`python -m eval.weights status` lists each file and its URL; or choose --metrics without them"
    )


def missing_prediction(clip: Any, method: Any, args: argparse.Namespace) -> str:
    """Why a clip has no prediction, naming where it was looked for."""
    folder = getattr(method, "folder", None)
    if folder is not None:  # folder:DIR
        return (
            f"no prediction video for this clip in {folder}: name it {clip.id}.mp4 "
            "(or map its file name to the clip id in the folder's provenance.json name_map)"
        )
    if args.dataset == "folder":  # --gt/--pred (or --root's gt/ and pred/) pairs by file stem
        where = prediction_folder(args)
        stem = Path(clip.video).stem
        deeper = _in_subfolder(where, stem)
        if deeper is not None:
            return (
                f"no prediction video for this clip in {where}; {deeper} is in a subfolder, which "
                f"--pred does not read: move it up, or score the folder with --method folder:{where}"
            )
        return f"no prediction video for this clip in {where}: name it {stem}.mp4"
    return "no prediction video for this clip"


def _in_subfolder(folder: Path | None, stem: str) -> Path | None:
    """A video named ``stem`` in a subfolder of ``folder`` (the first, sorted), or None."""
    from glob import escape

    from edtalk.data.readers.common import videos_matching

    found = [v for v in videos_matching(folder, f"*/**/{escape(stem)}.*") if v.stem == stem] if folder else []
    return found[0] if found else None


def check_same_method(results_file: Path, method: Any, args: argparse.Namespace | None = None) -> None:
    """Refuse to replace the results of another method of the same name: two output folders with
    the same name (``folder:/x/eat/videos`` and ``folder:/y/sadtalker/videos`` are both
    ``folder-videos``) would share one results file and one cache; so would two ``--dataset
    folder`` pairs (both method ``paired``), whether named by ``--gt``/``--pred`` or by ``--root``
    (its ``gt/`` and ``pred/``): the folders each run read are compared (``paired_folders``). A method of
    this suite is refused the results file of a folder whose provenance.json gave it the same name
    (``baselines/darken.py`` added after ``folder:DIR`` scored DIR as "darken"; the reverse order is
    refused by ``baselines.adapters.provenance_method``)."""
    folder = getattr(method, "folder", None)
    if not results_file.is_file():
        return
    try:
        data = json.loads(results_file.read_text())
        before = (data.get("provenance") or {}).get("folder")
        config = data.get("config") or {}
    except (OSError, ValueError, AttributeError):
        return  # an unreadable file is replaced, as before
    if folder is None and isinstance(before, str):
        raise UsageError(
            f"{results_file} holds the scores of the videos in {before} (--method folder:{before}, named "
            f"{data.get('method') or method.display_name!r} by its provenance.json), not of this suite's "
            f"method {method.display_name!r}: score it with another --out, or move {results_file.parent} "
            f"aside and give that folder another method name in {Path(before) / 'provenance.json'}"
        )
    if not isinstance(config, dict) or (folder is None and not (args and args.dataset == "folder")):
        return
    if folder is None:
        old_pair, new_pair = paired_folders(config), paired_folders(vars(args))
        for side in ("gt", "pred"):
            (old_flag, old_value, old), (new_flag, new_value, new) = old_pair[side], new_pair[side]
            if old is not None and new is not None and old.resolve() != new.resolve():
                raise UsageError(
                    f"{results_file} holds the scores of {old_flag} {old_value}; this run's {new_flag} is "
                    f"{new_value}. Score another pair with another --out (every --dataset folder pair is "
                    "method 'paired')"
                )
        return
    if before is not None and before != str(Path(folder).resolve()):
        raise UsageError(
            f"{results_file} holds the scores of another folder, {before}, whose method has the same name "
            f"as {folder}'s ({method.display_name}); name this one in {folder}/provenance.json "
            '(e.g. {"method": "sadtalker"}) or score it with another --out'
        )


def paired_folders(config: dict) -> dict[str, tuple[str, Any, Path | None]]:
    """The ground-truth and prediction folders a ``--dataset folder`` run read, from its arguments
    (``vars(args)`` or a results file's ``config``), as (flag, its value, folder): ``--gt`` and
    ``--pred`` as given, else the folders ``--root`` holds (``root_folders``, as the reader picks them).
    A relative path is taken from the folder the run was started in (``config["cwd"]``; this one for
    ``vars(args)`` and for results files written before it was recorded)."""
    from edtalk.data.readers.folder import root_folders

    def folder(value: str) -> Path:
        return Path(config.get("cwd") or ".") / Path(value).expanduser()

    if config.get("gt") or config.get("pred"):
        return {
            side: (f"--{side}", config.get(side), folder(config[side]) if config.get(side) else None)
            for side in ("gt", "pred")
        }
    if config.get("root"):
        gt, pred = root_folders(folder(config["root"]))
        return {"gt": ("--root", config["root"], gt), "pred": ("--root", config["root"], pred)}
    return {"gt": ("", None, None), "pred": ("", None, None)}


def check_device(args: argparse.Namespace) -> None:
    """--device names a torch device this run can use (``edtalk.cli.parse_device``; "auto" becomes
    cpu or cuda): a CUDA device on a machine (or local Ray) without one would crash in every clip's
    first metric, or leave Ray workers waiting for a GPU forever. Left out, it is "auto" (as for
    edtalk.infer and eval.proof), or "cpu" on a cluster (--address), whose workers' GPUs this machine
    cannot see: there the GPUs are checked when Ray starts (``eval.chunk_runner._init_ray``). A numbered
    GPU other than cuda:0 is for ``--workers 0`` only: a Ray worker sees its one GPU as cuda:0."""
    from edtalk.cli import parse_device

    requested = args.device or ("cpu" if args.address else "auto")
    try:
        args.device = parse_device(requested, here=not args.address)
    except ValueError as err:
        raise UsageError(str(err)) from None
    index = args.device.partition(":")[2]
    if args.device.startswith("cuda") and index not in ("", "0") and (args.workers != 0 or args.address):
        raise UsageError(
            f"--device {args.device} with Ray workers: each scoring worker gets one GPU of Ray's choosing, "
            "which it sees as cuda:0 (Ray sets its CUDA_VISIBLE_DEVICES), so cuda:N would fail in every "
            f"worker; use --device cuda (one worker per GPU), or --workers 0 without --address to score "
            f"on GPU {index} in this process"
        )


DEFAULT_WORKERS = 2  # --workers left out: at most this many, and no more than the machine's CPUs


def check_workers(args: argparse.Namespace) -> None:
    """--workers fits the private local Ray this run starts: one CPU per worker, as Ray counts this
    machine's (``edtalk.ray_setup.local_resources``, cgroup quota included); more workers shared its
    cores and ran each task slower, where ``edtalk.train`` refuses them. Left out, it is
    ``DEFAULT_WORKERS`` or the machine's CPUs when fewer. A cluster (--address) or a Ray this process
    already runs has its own size; --workers 0 starts no Ray."""
    ray = sys.modules.get("ray")
    local = args.workers != 0 and not args.address and not (ray is not None and ray.is_initialized())
    if not local:
        args.workers = DEFAULT_WORKERS if args.workers is None else args.workers
        return
    from edtalk.ray_setup import local_resources, worker_shortfall

    resources = local_resources()
    if args.workers is None:
        args.workers = max(1, min(DEFAULT_WORKERS, int(resources.get("CPU", 1))))
        return
    problem = worker_shortfall(args.workers, False, resources)
    if problem is not None:
        fit = max(1, int(resources.get("CPU", 1)))
        raise UsageError(
            f"{problem} on this machine; use --workers {fit} (or 0 to score in this process), or join a "
            "larger cluster with --address"
        )


REAL_FACES_PROTOCOL = "eat"  # their default: the protocol of the paper's numbers


def real_faces(dataset: str) -> bool:
    """Whether ``dataset``'s reader says its faces are real (its ``Dataset.rendered`` is False, as for
    any new reader unless it says otherwise); an unknown name is not taken for real faces (the reader
    check names it)."""
    from edtalk.data.readers import READERS

    return dataset in READERS and not READERS.get(dataset).rendered


def protocol_help() -> str:
    """--protocol's help (eval.run's and the sweeps'): every registered protocol and the default each
    reader gets (``choose_protocol``), from the registries, so a new protocol or reader is listed."""
    from edtalk.cli import listed
    from edtalk.data.readers import READERS
    from eval.protocols import PROTOCOLS

    real = [name for name in READERS.names() if real_faces(name)]  # choose_protocol's own rule
    rendered = [name for name in READERS.names() if name not in real]
    return (
        f"{' | '.join(PROTOCOLS.names())} (default: synthtalk for --dataset {listed(rendered)}, "
        f"{REAL_FACES_PROTOCOL} for the real faces of {listed(real)} and any new reader, where "
        "synthtalk is refused: its judges know synthtalk's faces only)"
    )


def choose_protocol(dataset: str, requested: str | None) -> tuple[str, str | None]:
    """The protocol ``dataset`` is scored under, and a note to print (or None): ``requested`` (--protocol)
    when given, else ``synthtalk`` for the readers of synthtalk's renders (``Dataset.rendered``: synthtalk,
    and folder with a note) and ``eat`` for the real faces of every other reader (mead, hdtf, lrw,
    voxceleb2, a new one). The synthtalk judges (its FID, Sync and Acc_emo backbones) were trained on
    synthtalk's rendered faces: ``--protocol synthtalk`` on a real-face dataset is refused. The one place
    eval.run and the sweeps choose a protocol."""
    if requested is None:
        if real_faces(dataset):
            return REAL_FACES_PROTOCOL, None
        if dataset == "folder":
            return "synthtalk", (
                "--dataset folder is scored under the synthtalk protocol (the default): its judges were "
                "trained on synthtalk's rendered faces; for real faces give --protocol eat (the paper's) "
                "or canonical"
            )
        return "synthtalk", None
    if requested == "synthtalk" and real_faces(dataset):
        raise UsageError(
            f"--protocol synthtalk with --dataset {dataset}: the synthtalk judges were trained on "
            f"synthtalk's rendered faces and do not score real ones; use --protocol {REAL_FACES_PROTOCOL} "
            f"(the paper's numbers, the default for {dataset}) or canonical"
        )
    return requested, None


def check_address(address: str | None) -> None:
    """--address names a Ray cluster that answers (``edtalk.ray_setup.check_cluster_address``)."""
    if address:
        from edtalk.ray_setup import ClusterAddressError, check_cluster_address

        try:
            check_cluster_address(address)
        except ClusterAddressError as err:
            raise UsageError(str(err)) from None


def smaller_than_before(results_file: Path, data: dict) -> str | None:
    """What a subset run (``--limit``, ``--metrics``) drops from the results file it replaces."""
    try:
        before = json.loads(results_file.read_text()) if results_file.is_file() else None
        clips_before, metrics_before = int(before["n_clips"]), set(before["metrics"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    lost = sorted(metrics_before - set(data["metrics"]))
    parts = [f"{clips_before} clips"] if clips_before > data["n_clips"] else []
    parts += [f"metrics {', '.join(lost)}"] if lost else []
    return f"{results_file} had {' and '.join(parts)} that this run replaced" if parts else None
