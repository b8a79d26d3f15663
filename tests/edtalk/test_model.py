"""EDTalk composition, ablation variants, config round trips, checkpoints and the summary CLI."""

import dataclasses
import json

import pytest
import torch

from edtalk.config import ConfigError, ModelConfig
from edtalk.model import (
    OFFICIAL_PARAMS,
    CheckpointError,
    EDTalk,
    build_from_checkpoint,
    load_checkpoint,
    main,
    parameter_counts,
    save_checkpoint,
)

CFG = ModelConfig.preset("tiny")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return EDTalk(CFG).eval()


def _img(b=2):
    return torch.rand(b, 3, CFG.image_size, CFG.image_size) * 2 - 1


def _driving_weights(model, mouth, pose, expr):
    """W^m, W^p and W^e each navigated from its own driving image, as the paper composes them."""
    return {
        "mouth": model.navigate(model.encode(mouth)[0])["mouth"],
        "pose": model.navigate(model.encode(pose)[0])["pose"],
        "expression": model.navigate(model.encode(expr)[0])["expression"],
    }


def test_encode_navigate_compose_generate_equals_forward(model):
    ident, mouth, pose, expr = _img(1), _img(), _img(), _img()
    with torch.no_grad():
        f_src, skips = model.encode(ident)
        w = _driving_weights(model, mouth, pose, expr)
        assert {k: v.shape[1] for k, v in w.items()} == {"mouth": 20, "pose": 6, "expression": 10}
        latent = model.compose(f_src.expand(2, -1), w)
        manual = latent - f_src - sum(model.motion(w).values())
        assert manual.abs().max() < 1e-4  # latent = f^{s->r} + sum_* B^* W^*
        img = model.generate(latent, skips, model.expression_latent(w["expression"]))
        fwd = model(ident, mouth, pose, expr)
    assert img.shape == (2, 3, 64, 64)
    assert torch.allclose(img, fwd, atol=1e-4)


@pytest.fixture(scope="module")
def live_model():
    """A tiny model whose output depends on its latent and on the expression, as after training: a fresh
    G ignores its latent (ToFlow's conv starts at 0) and a fresh EEM is the identity, so image-level
    comparisons on a fresh model cannot see the latent or expression path."""
    torch.manual_seed(1)
    m = EDTalk(CFG).eval()
    with torch.no_grad():
        for to_flow in m.generator.to_flows:
            to_flow.conv.weight.normal_(0, 0.05)
        for block in m.eem.blocks:
            block.norm2.gamma.weight.normal_(0, 0.1)
            block.norm2.beta.weight.normal_(0, 0.1)
    return m


def test_a_live_generator_depends_on_its_latent(live_model):
    """Guard for the live-model tests below: two latents give two images."""
    with torch.no_grad():
        f, skips = live_model.encode(_img(1))
        a = live_model.generate(f, skips)
        b = live_model.generate(f + torch.randn_like(f), skips)
    assert (a - b).abs().mean() > 1e-3


def test_generate_applies_the_eem_so_the_expression_changes_the_image(live_model):
    """generate(latent, skips, f^{r->e}) = G(latent, EEM(skips, f^{r->e})): two expressions give two
    images at one latent (measured mean |diff| 0.32); a generate that skips EEM gives the same image."""
    torch.manual_seed(2)
    with torch.no_grad():
        f, skips = live_model.encode(_img(2))
        latent = live_model.compose(f, live_model.navigate(f))
        e1, e2 = torch.randn(2, CFG.latent_dim), torch.randn(2, CFG.latent_dim)
        img1, img2 = live_model.generate(latent, skips, e1), live_model.generate(latent, skips, e2)
        by_hand = live_model.generator(latent, live_model.eem(skips, e1))
    assert (img1 - img2).abs().mean() > 0.02
    assert torch.allclose(img1, by_hand, atol=1e-5)


def test_forward_drives_each_component_with_its_own_image_on_a_live_model(live_model):
    """forward(identity, mouth, pose, expression) = generate(compose(...)) with W^m from the mouth image,
    W^p from the pose image and W^e from the expression image, compared on a model whose image depends
    on the latent (drivers swapped inside forward fail)."""
    torch.manual_seed(3)
    m = live_model
    ident, mouth, pose, expr = _img(1), _img(), _img(), _img()
    with torch.no_grad():
        f_src, skips = m.encode(ident)
        w = _driving_weights(m, mouth, pose, expr)
        manual = m.generate(m.compose(f_src.expand(2, -1), w), skips, m.expression_latent(w["expression"]))
        fwd = m(ident, mouth, pose, expr)
        swapped = m(ident, pose, mouth, expr)
    assert torch.allclose(fwd, manual, atol=1e-4)
    assert (fwd - swapped).abs().mean() > 1e-3  # measured 0.0094: the check sees which image drove what


def test_bases_api(model):
    b = model.bases()
    assert {k: tuple(v.shape) for k, v in b.items()} == {
        "mouth": (128, 20),
        "pose": (128, 6),
        "expression": (128, 10),
    }


def test_wrong_image_size_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"expects images \[B, 3, 64, 64\]"):
        model.encode(torch.zeros(1, 3, 32, 32))


@pytest.mark.parametrize(
    "changes",
    [
        {"use_eem": False},
        {"components": "lip"},
        {"components": "lip_pose"},
        {"use_bank": False},
        {"orthogonal": False},
    ],
)
def test_ablation_variants_run(changes):
    torch.manual_seed(0)
    cfg = CFG.replace(**changes)
    m = EDTalk(cfg)
    out = m(_img(1), _img(), _img(), _img())
    assert out.shape == (2, 3, 64, 64)
    out.mean().backward()
    assert (m.eem is None) == (not cfg.has_eem)
    assert set(m.bases()) == set(cfg.bank_names)


def test_config_round_trip_and_errors():
    d = CFG.to_dict()
    assert ModelConfig.from_dict(d) == CFG
    with pytest.raises(ConfigError, match="did you mean 'n_mouth'"):
        ModelConfig.from_dict({**d, "n_mouht": 3})
    with pytest.raises(ConfigError, match="did you mean 'tiny'"):
        ModelConfig.preset("tinyy")
    with pytest.raises(ConfigError, match="components"):
        CFG.replace(components="everything")
    with pytest.raises(ConfigError, match="latent_dim"):
        CFG.replace(n_mouth=200)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CFG.n_mouth = 3  # type: ignore[misc]


def test_paper_parameter_counts_within_two_percent():
    counts = parameter_counts(ModelConfig.preset("paper"))
    for key, ref in OFFICIAL_PARAMS.items():
        assert abs(counts[key] - ref) / ref < 0.02, (key, counts[key], ref)


def test_summary_cli_json(capsys):
    assert main(["summary", "--preset", "paper", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["preset"] == "paper"
    for key, ref in OFFICIAL_PARAMS.items():
        assert abs(counts[key] - ref) / ref < 0.02


def test_summary_cli_unknown_preset_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["summary", "--preset", "papr"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.endswith(
        "argument --preset: unknown model preset 'papr'; did you mean 'paper'? (known: paper, tiny)"
    )


def _differing_tensors(expected: dict, got: dict) -> list[str]:
    """Keys missing from / extra in ``got``, and keys whose tensors are not exactly equal."""
    keys = sorted(set(expected) | set(got))
    return [k for k in keys if k not in expected or k not in got or not torch.equal(expected[k], got[k])]


def test_checkpoint_round_trip(tmp_path, live_model):
    """Every tensor (navigation, banks, EEM, generator, ...) comes back bit-exact, in the file and in
    the rebuilt model; on the live model the images also show the latent and expression path."""
    state = live_model.state_dict()
    path = save_checkpoint(tmp_path / "ck.pt", state, CFG, {"stage": "expression", "step": 3})
    ckpt = load_checkpoint(path)
    assert ckpt["config"] == CFG and ckpt["meta"]["stage"] == "expression"
    assert "git" in ckpt["meta"]["provenance"]
    assert _differing_tensors(state, ckpt["state_dict"]) == []
    loaded, _ = build_from_checkpoint(path)
    assert _differing_tensors(state, loaded.state_dict()) == []
    x, e = _img(1), _img(1)
    with torch.no_grad():
        assert torch.allclose(loaded(x, x, x, e), live_model(x, x, x, e))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b'{"json": "not a checkpoint"}')
    with pytest.raises(CheckpointError, match="bad.pt: not a torch checkpoint"):
        load_checkpoint(bad)
    whole = tmp_path / "whole.pt"
    torch.save({"config": CFG.to_dict(), "state_dict": {"w": torch.zeros(1000)}}, whole)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[:600])  # a truncated download: zip header, no central directory
    with pytest.raises(CheckpointError, match="cut.pt: not a readable") as err:
        load_checkpoint(cut)
    assert "\n" not in str(err.value)  # torch's multi-paragraph explanations are cut to one line
    torch.save({"state_dict": {}}, tmp_path / "nocfg.pt")
    with pytest.raises(CheckpointError, match="missing keys: config"):
        load_checkpoint(tmp_path / "nocfg.pt")


def test_common_library_mistakes_get_a_clear_error():
    """EDTalk(dict) said "'dict' object has no attribute 'image_size'", encode on uint8 images raised a
    dtype error from the first convolution (a helper's library-API review)."""
    import torch

    from edtalk.config import ModelConfig
    from edtalk.model import EDTalk

    with pytest.raises(TypeError, match="takes a ModelConfig .* got dict"):
        EDTalk(ModelConfig.preset("tiny").to_dict())
    model = EDTalk(ModelConfig.preset("tiny"))
    with pytest.raises(ValueError, match="expects float images in \\[-1, 1\\], got torch.uint8"):
        model.encode(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
