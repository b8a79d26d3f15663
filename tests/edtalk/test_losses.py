import inspect
import math

import pytest
import torch

from edtalk import losses


def test_feature_consistency_identical_is_exp_minus_one():
    a = torch.randn(4, 20)
    assert losses.feature_consistency(a, a).item() == pytest.approx(math.exp(-1), rel=1e-6)
    assert losses.feature_consistency(a, 3 * a).item() == pytest.approx(math.exp(-1), rel=1e-6)
    assert losses.feature_consistency(a, -a).item() == pytest.approx(math.exp(1), rel=1e-6)


def test_feature_consistency_orthogonal_is_one():
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.0, 2.0]])
    assert losses.feature_consistency(a, b).item() == pytest.approx(1.0)


def test_reconstruction_terms_on_known_inputs():
    x = torch.zeros(2, 3, 4, 4)
    y = torch.full_like(x, 0.5)
    assert losses.reconstruction_l1(x, y).item() == pytest.approx(0.5)
    assert losses.reconstruction_l2(x, y).item() == pytest.approx(0.25)
    assert losses.reconstruction_l1(x, x).item() == 0.0


def test_reconstruction_l1_is_zero_only_for_equal_images_and_the_mean_gap_otherwise():
    """L_rec / L_self (every image stage) on a non-zero target. The other tests compare against zeros,
    where |pred + target| equals |pred - target|: that sign error passed them, and it pulls G toward
    -target."""
    x = torch.full((2, 3, 4, 4), 0.5)
    assert losses.reconstruction_l1(x, x).item() == 0.0
    assert losses.reconstruction_l1(x, torch.full_like(x, 1.5)).item() == pytest.approx(1.0)


def test_adversarial_terms():
    zero = torch.zeros(5)
    assert losses.adversarial_generator(zero).item() == pytest.approx(math.log(2))
    assert losses.adversarial_discriminator(zero, zero).item() == pytest.approx(2 * math.log(2))
    # a confident, correct discriminator has a small loss; the generator is then penalised
    assert losses.adversarial_discriminator(torch.full((3,), 20.0), torch.full((3,), -20.0)).item() < 1e-6
    assert losses.adversarial_generator(torch.full((3,), -20.0)).item() == pytest.approx(20.0, rel=1e-6)


def test_weight_terms():
    w = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert losses.weight_l2(w, torch.zeros_like(w)).item() == pytest.approx(2.5)  # (5 + 0) / 2
    assert losses.weight_l1(w, torch.zeros_like(w)).item() == pytest.approx(3.5)  # (7 + 0) / 2


def test_weight_l1_sums_absolute_differences_of_either_sign():
    """L_exp is an L1 norm: with all-positive weights a signed sum passed, and made the expression
    loss unbounded below (audio_expression training diverges while its loss goes down)."""
    w = torch.tensor([[3.0, -4.0]])
    assert losses.weight_l1(w, torch.zeros_like(w)).item() == pytest.approx(7.0)
    assert losses.weight_l1(torch.zeros_like(w), w).item() == pytest.approx(7.0)


def test_motion_reconstruction_sums_networks():
    real = [torch.zeros(2, 3), torch.zeros(2, 4)]
    fake = [torch.tensor([[3.0, 4.0, 0.0]] * 2), torch.tensor([[0.0, 0.0, 0.0, 2.0]] * 2)]
    assert losses.motion_reconstruction(real, fake).item() == pytest.approx(7.0)
    with pytest.raises(ValueError):
        losses.motion_reconstruction(real, fake[:1])


def test_motion_reconstruction_is_zero_when_the_fake_features_equal_non_zero_real_ones():
    """L_mot with real features that are not zeros: ||real + fake|| passed the zero-feature test."""
    real = [torch.ones(2, 3), torch.full((2, 4), -2.0)]
    assert losses.motion_reconstruction(real, [f.clone() for f in real]).item() == 0.0
    assert losses.motion_reconstruction(real, [torch.zeros(2, 3), real[1]]).item() == pytest.approx(3**0.5)


def test_sync_loss():
    v = torch.randn(3, 8)
    assert losses.sync_loss(v, v).item() == pytest.approx(0.0, abs=1e-5)
    # opposite embeddings (cosine -1): the tangent of -log at 0.1, not a clamped constant
    assert losses.sync_loss(v, -v).item() == pytest.approx(-math.log(0.1) + 1.1 / 0.1, rel=1e-5)


def test_sync_loss_is_the_papers_above_a_tenth_and_still_pulls_below_it():
    """The sync expert embeds on the signed sphere: cosines below 0 were clamped to eps, a constant
    13.8 with zero gradient for exactly the worst-synced windows."""
    a = torch.tensor([[1.0, 0.0]] * 4)
    angles = torch.tensor([0.3, 1.3, 2.0, 2.8], requires_grad=True)  # cosines 0.96, 0.27, -0.42, -0.94
    video = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    cos = torch.cos(angles.detach())
    per_sample = [losses.sync_loss(a[i : i + 1], video[i : i + 1]) for i in range(4)]
    for c, value in zip(cos[:2], per_sample[:2], strict=True):
        assert value.item() == pytest.approx(-math.log(c.item()), rel=1e-5)  # the paper's form
    grads = [torch.autograd.grad(v, angles, retain_graph=True)[0][i].item() for i, v in enumerate(per_sample)]
    assert all(g > 0 for g in grads)  # descent turns every window toward sync, the anti-synced ones too


def test_flow_nll_standard_normal_at_zero():
    z = torch.zeros(2, 5, 6)
    expected = 0.5 * math.log(2 * math.pi)
    assert losses.flow_nll(z, torch.zeros(2)).item() == pytest.approx(expected)
    # a positive log-determinant (volume expansion) lowers the NLL by logdet / (N * D)
    assert losses.flow_nll(z, torch.full((2,), 30.0)).item() == pytest.approx(expected - 1.0, abs=1e-5)


def test_temporal_difference():
    target = torch.zeros(1, 3, 2)
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]]])
    # deltas of pred: (3,4), (0,0) -> norms 5, 0 -> mean 2.5
    assert losses.temporal_difference(target, pred).item() == pytest.approx(2.5)
    # a constant offset has no temporal difference
    assert losses.temporal_difference(target, target + 7).item() == 0.0
    with pytest.raises(ValueError):
        losses.temporal_difference(target[:, :1], pred[:, :1])


def test_temporal_difference_is_zero_for_a_prediction_that_moves_as_the_target():
    """L_tem (audio_pose) on a moving target: with a still (zero) target, target.diff + pred.diff
    equals the difference, so that sign error passed."""
    seq = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]])
    assert losses.temporal_difference(seq, seq).item() == 0.0
    assert losses.temporal_difference(seq, seq + 7).item() == 0.0
    assert losses.temporal_difference(seq, torch.zeros_like(seq)).item() == pytest.approx(5.0)


def _pair(*shape):
    return torch.randn(*shape), torch.randn(*shape)


GRADIENT_INPUTS = {  # small inputs for every loss of edtalk.losses, shaped as the tests above call them
    "reconstruction_l1": lambda: _pair(2, 3, 4, 4),
    "reconstruction_l2": lambda: _pair(2, 3, 4, 4),
    "adversarial_generator": lambda: (torch.randn(5),),
    "adversarial_discriminator": lambda: _pair(5),
    "feature_consistency": lambda: _pair(2, 6),
    "motion_reconstruction": lambda: (
        [torch.randn(2, 3), torch.randn(2, 4)],
        [torch.randn(2, 3), torch.randn(2, 4)],
    ),
    "weight_l2": lambda: _pair(2, 5),
    "weight_l1": lambda: _pair(2, 5),
    "sync_loss": lambda: _pair(3, 8),
    "flow_nll": lambda: (torch.randn(2, 5, 6), torch.randn(2)),
    "temporal_difference": lambda: _pair(1, 4, 2),
}
LOSS_FUNCTIONS = sorted(
    name
    for name, f in inspect.getmembers(losses, inspect.isfunction)
    if f.__module__ == losses.__name__ and not name.startswith("_")
)


@pytest.mark.parametrize("name", LOSS_FUNCTIONS)
def test_losses_are_differentiable(name):
    """Every loss passes a finite, non-zero gradient to each of its tensor inputs (a .detach() in a
    loss silently stops training what it should train)."""
    assert name in GRADIENT_INPUTS, f"losses.{name}: add small inputs for it to GRADIENT_INPUTS"
    torch.manual_seed(0)
    args = GRADIENT_INPUTS[name]()
    leaves = [t for a in args for t in (a if isinstance(a, list) else [a])]
    for t in leaves:
        t.requires_grad_()
    getattr(losses, name)(*args).backward()
    for i, t in enumerate(leaves):
        assert t.grad is not None, f"{name}: no gradient reaches input {i}"
        assert torch.isfinite(t.grad).all() and (t.grad != 0).any(), f"{name}: input {i} grad {t.grad}"


def test_perceptual_substitute_is_named_and_behaves(monkeypatch, tmp_path):
    from edtalk.perceptual import build_perceptual

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path))  # no VGG19 weights here
    p = build_perceptual("auto")
    assert p.label == "substitute:pyramid_l1_ssim"
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert p(x, x).item() == pytest.approx(0.0, abs=1e-5)
    assert p(x, torch.zeros_like(x)).item() > 0.1
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        build_perceptual("vgg19")  # explicit VGG19 without weights: a clear error, no substitute


def test_the_recorded_perceptual_label_is_told_without_building_or_warning(monkeypatch, tmp_path, caplog):
    """The training driver built the whole perceptual network (VGG19 with its weights) only to read
    its label for the run config, and for ``auto`` without weights logged the workers' warning again."""
    import edtalk.perceptual as perceptual

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path))  # no VGG19 weights here
    monkeypatch.setattr(perceptual, "build_perceptual", lambda name: pytest.fail("built the network"))
    assert perceptual.perceptual_label("auto") == "substitute:pyramid_l1_ssim"
    assert perceptual.perceptual_label("substitute:pyramid_l1_ssim") == "substitute:pyramid_l1_ssim"
    assert perceptual.perceptual_label("vgg19") == "vgg19"
    monkeypatch.setattr(perceptual, "vgg19_unavailable", lambda: None)  # the weights resolve
    assert perceptual.perceptual_label("auto") == "vgg19"
    assert "L_per" not in caplog.text


def test_perceptual_substitute_is_l1_plus_one_minus_ssim_averaged_over_four_scales():
    """Without VGG19 weights (these machines) the substitute *is* L_per in every run. Dropping its
    SSIM term, or its downsampled scales, still passed the p(x, x) == 0 and p(x, 0) > 0.1 checks."""
    from edtalk.perceptual import PyramidL1SSIM, _pyramid, ssim

    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    levels = list(zip(_pyramid(x, 8), _pyramid(y, 8), strict=True))
    assert [p.shape[-1] for p, _ in levels] == [64, 32, 16, 8]
    want = sum(((p - t).abs().mean() + 1 - ssim(p, t)).item() for p, t in levels) / len(levels)
    assert PyramidL1SSIM()(x, y).item() == pytest.approx(want, rel=1e-6)


@pytest.mark.slow  # builds and saves a 548 MB VGG19
def test_vgg19_perceptual_with_seeded_weights(tmp_path):
    from torchvision.models import vgg19

    from edtalk.perceptual import VGG19Perceptual, _pyramid

    torch.manual_seed(0)
    path = tmp_path / "vgg19.pth"
    torch.save(vgg19(weights=None).state_dict(), path)
    p = VGG19Perceptual(weights_path=str(path))
    assert p.label == "vgg19"
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert p(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert p(x, -x).item() > 0
    # the official VGGLoss: 10 x mean |phi_l(x) - phi_l(y)| summed over the 5 layers and the scales
    # (64 and 32 px here); a mean of the terms with weight 1 was 1/100 of it
    y = torch.rand(1, 3, 64, 64) * 2 - 1
    scales = list(zip(_pyramid(x, 32), _pyramid(y, 32), strict=True))
    assert [s[0].shape[-1] for s in scales] == [64, 32]
    by_hand = sum(
        10 * (a - b).abs().mean()
        for xs, ys in scales
        for a, b in zip(p.features(xs), p.features(ys), strict=True)
    )
    assert p(x, y).item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert all(not q.requires_grad for q in p.parameters())
