"""What `python -m edtalk.train` says about --perceptual and --device before Ray starts: the substitute
L_per that auto means without VGG19 weights, vgg19 without them, a typo'd loss, and torch's device names."""

import pytest


@pytest.fixture
def driver(tmp_path, monkeypatch):
    """edtalk.train with no VGG19 weights installed, its frame cache and loss experts stubbed, stopped
    where Ray would start. ``driver(argv)`` returns main's exit code, or "started Ray" when it got there;
    ``driver.seen["train_cfg"]`` is the config the frame cache was asked for (absent: never asked)."""
    import ray

    from edtalk import train

    seen = {}

    def cache(train_cfg, model_cfg, **kwargs):
        seen["train_cfg"] = train_cfg
        return tmp_path / "cache"  # no meta.json: silent_split leaves it to the stages

    def ray_start(*args, **kwargs):
        raise SystemExit("started Ray")

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(train, "prepare_cache", cache)
    monkeypatch.setattr(train, "ensure_experts", lambda *a, **k: None)
    monkeypatch.setattr(train, "start_ray", ray_start)
    monkeypatch.setattr(train, "local_resources", lambda: {"CPU": 2.0, "GPU": 2.0})
    monkeypatch.setattr(ray, "is_initialized", lambda: False)

    def run(argv):
        try:
            return train.main([*argv, "--out", str(tmp_path / "runs")])
        except SystemExit as exc:
            return exc.code

    run.seen = seen
    run.weights = tmp_path / "weights"
    return run


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_auto_without_vgg19_weights_names_the_substitute_before_ray(driver, capsys, preset):
    """The substitute was said only in one log line inside the Ray workers, at --preset paper too."""
    assert driver(["--stage", "eg_pretrain", "--preset", preset]) == "started Ray"
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: --perceptual")]
    assert len(notes) == 1, notes
    note = notes[0]
    assert "L_per is substitute:pyramid_l1_ssim" in note and "not the paper's VGG19 term" in note
    assert (
        f"VGG19 weights vgg19 are not installed (their file goes to {driver.weights / 'vgg19-dcbb9e9d.pth'})"
        in note
    )
    assert (
        "`python -m eval.weights fetch vgg19`" in note
        and "`python -m eval.weights import vgg19 FILE`" in note
    )
    assert driver.seen["train_cfg"].perceptual == "auto"  # run_stage records the label, as before


def test_runs_without_l_per_and_the_substitute_by_name_get_no_note(driver, capsys, monkeypatch):
    from edtalk import train

    assert driver(["--stage", "eg_pretrain", "--perceptual", "substitute:pyramid_l1_ssim"]) == ("started Ray")
    assert "note: --perceptual" not in capsys.readouterr().err
    monkeypatch.setattr(train, "unmet_parent", lambda *a: None)  # an audio stage, as if its parent were there
    monkeypatch.setattr(train, "parent_config_mismatch", lambda *a: None)
    for perceptual in ("auto", "vgg19"):  # audio_lip has no L_per: nothing to say, nothing missing
        assert driver(["--stage", "audio_lip", "--perceptual", perceptual]) == "started Ray"
        assert "perceptual" not in capsys.readouterr().err


def test_vgg19_without_its_weights_is_one_error_line_before_ray(driver, capsys):
    """It failed inside the first stage, after the frame cache, the loss experts and Ray (about 23 s)."""
    assert (
        driver(["--stage", "mouth_pose", "--parent", "pretrained:tiny_synthtalk_eg", "--perceptual", "vgg19"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: --perceptual vgg19: weight file 'vgg19-dcbb9e9d.pth' (vgg19) is missing")
    assert str(driver.weights / "vgg19-dcbb9e9d.pth") in err and "python -m eval.weights fetch vgg19" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "train_cfg" not in driver.seen


@pytest.mark.parametrize(
    "given, message",
    [
        ("vgg", "unknown perceptual loss 'vgg'; did you mean 'vgg19'?"),
        ("substitute:vgg19", "unknown perceptual loss 'substitute:vgg19'"),  # read as vgg19 before
    ],
)
def test_a_misspelt_perceptual_loss_lists_the_spellings_help_documents(driver, capsys, given, message):
    """It said "Known: pyramid_l1_ssim, vgg19": neither auto nor the substitute:NAME spelling of --help."""
    assert driver(["--stage", "eg_pretrain", "--perceptual", given]) == 2
    err = capsys.readouterr().err
    assert f"argument --perceptual: {message}" in err
    assert "(known: auto, vgg19, substitute:pyramid_l1_ssim)" in err
    assert "train_cfg" not in driver.seen


def test_the_substitutes_bare_name_is_still_taken_as_its_substitute_spelling():
    """``--perceptual pyramid_l1_ssim`` trained with the substitute before the spellings were checked:
    scripts and --resume commands that give it keep working."""
    from edtalk.train import build_parser

    args = build_parser().parse_args(["--stage", "eg_pretrain", "--perceptual", "pyramid_l1_ssim"])
    assert args.perceptual == "substitute:pyramid_l1_ssim"


def test_help_documents_each_perceptual_and_device_spelling(capsys):
    from edtalk.config import PERCEPTUAL_LOSSES
    from edtalk.perceptual import PERCEPTUAL
    from edtalk.train import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--perceptual {auto,vgg19,substitute:pyramid_l1_ssim}" in out
    assert "--device {auto,cuda,gpu,cpu}" in out and "cuda (or gpu)" in " ".join(out.split())
    # every spelling but auto is a registered loss, and every registered loss has a spelling
    assert {name.removeprefix("substitute:") for name in PERCEPTUAL_LOSSES if name != "auto"} == set(
        PERCEPTUAL
    )


@pytest.mark.parametrize("device, use_gpu", [("cuda", True), ("gpu", True), ("cpu", False), ("auto", None)])
def test_device_takes_cuda_as_the_other_tools_do_and_gpu_still(driver, device, use_gpu):
    """edtalk.infer, eval.proof and eval.run take torch's names: `--device cuda` was refused here."""
    assert driver(["--stage", "eg_pretrain", "--device", device]) == "started Ray"
    assert driver.seen["train_cfg"].use_gpu is use_gpu


@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda:1", "'cuda:1': Ray gives each worker its own GPU (it sets the worker's CUDA_VISIBLE_DEVICES)"),
        ("tpu", "'tpu': expected auto, cuda (or gpu) or cpu"),
    ],
)
def test_a_numbered_or_unknown_device_is_refused_at_parse_time(driver, capsys, device, message):
    assert driver(["--stage", "eg_pretrain", "--device", device]) == 2
    assert f"argument --device: {message}" in capsys.readouterr().err
