"""The normalizing flow phi_p: exact inverse, log-determinant against autograd, sampling, MLE."""

import pytest
import torch

from edtalk.config import ModelConfig
from edtalk.modules.pose_flow import PoseFlow

CFG = ModelConfig.preset("tiny", flow_steps=3, flow_hidden=16, flow_heads=2)


def _flow(lu: bool, channels: int = 4, cond_dim: int = 5) -> PoseFlow:
    torch.manual_seed(0)
    flow = PoseFlow(CFG.replace(flow_lu=lu), channels=channels, cond_dim=cond_dim).double()
    with torch.no_grad():  # make every part non-trivial (the coupling output starts at zero)
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return flow.eval()


@pytest.mark.parametrize("lu", [True, False])
def test_inverse_is_exact(lu):
    flow = _flow(lu)
    w, cond = torch.randn(2, 6, 4, dtype=torch.float64), torch.randn(2, 6, 5, dtype=torch.float64)
    z, _ = flow.encode(w, cond)
    assert not torch.allclose(z, w)
    assert torch.allclose(flow.decode(z, cond), w, atol=1e-10)


@pytest.mark.parametrize("lu", [True, False])
def test_logdet_matches_autograd_jacobian(lu):
    flow = _flow(lu, channels=3)  # odd channel count: split 1 / 2
    t_len = 4
    w, cond = torch.randn(1, t_len, 3, dtype=torch.float64), torch.randn(1, t_len, 5, dtype=torch.float64)
    _, logdet = flow.encode(w, cond)

    def fn(flat):
        return flow.encode(flat.view(1, t_len, 3), cond)[0].flatten()

    jac = torch.autograd.functional.jacobian(fn, w.flatten())
    assert jac.shape == (t_len * 3, t_len * 3)
    assert torch.allclose(logdet[0], torch.linalg.slogdet(jac)[1], atol=1e-8)


def test_actnorm_data_init_and_log_prob_trains():
    torch.manual_seed(1)
    flow = PoseFlow(CFG)
    w = 3.0 + 2.0 * torch.randn(8, 10, CFG.n_pose)
    cond = torch.randn(8, 10, CFG.audio_feature_dim)
    flow.train()
    first = flow.steps[0][0]
    h, _ = first(w)
    assert torch.allclose(h.reshape(-1, CFG.n_pose).mean(0), torch.zeros(CFG.n_pose), atol=1e-4)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = -flow.log_prob(w, cond).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("lu", [True, False])
def test_log_prob_is_standard_normal_density_of_z_plus_logdet(lu):
    """log_prob = log N(z; 0, I) + log|det dz/dW| summed per sequence (the change of variables), and the
    stage's loss ``losses.flow_nll`` is the same quantity negated, averaged over the batch and divided
    by the N*D values of a sequence: catches either one losing the log-determinant or the prior."""
    from edtalk.losses import flow_nll

    flow = _flow(lu, channels=3)
    w, cond = torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 4, 5, dtype=torch.float64)
    z, logdet = flow.encode(w, cond)
    assert (logdet.abs() > 0.1).all()  # the log-determinant is not negligible here
    normal = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), 1.0)
    expected = normal.log_prob(z).sum(dim=(1, 2)) + logdet
    log_prob = flow.log_prob(w, cond)
    assert log_prob.shape == (2,)
    assert torch.allclose(log_prob, expected, rtol=0, atol=1e-10)
    assert flow_nll(z, logdet).item() == pytest.approx(-expected.mean().item() / (4 * 3), rel=1e-12)
    assert flow_nll(z, logdet).item() == pytest.approx(-log_prob.mean().item() / (4 * 3), rel=1e-12)


def test_sample_is_reproducible_by_seed():
    flow = PoseFlow(CFG).eval()
    cond = torch.randn(2, 7, CFG.audio_feature_dim)
    a, b, c = flow.sample(cond, seed=3), flow.sample(cond, seed=3), flow.sample(cond, seed=4)
    assert a.shape == (2, 7, CFG.n_pose)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_shape_errors():
    flow = PoseFlow(CFG)
    with pytest.raises(ValueError, match="pose weights"):
        flow.encode(torch.randn(2, 5, 3), torch.randn(2, 5, CFG.audio_feature_dim))
    with pytest.raises(ValueError, match="audio condition"):
        flow.encode(torch.randn(2, 5, CFG.n_pose), torch.randn(2, 4, CFG.audio_feature_dim))


def test_bf16_flow_sums_log_densities_in_float32():
    """Under DeepSpeed --bf16 the flow runs in bf16, but log|det| and log p(z) are sums of T·Kp·K terms:
    kept in float32 they agree with the same bf16 weights run in float32 far better than bf16's 8 bits."""
    from edtalk.losses import flow_nll

    torch.manual_seed(0)
    flow = PoseFlow(CFG, channels=6, cond_dim=5)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    flow_bf16 = flow.to(torch.bfloat16).eval()
    w = torch.randn(2, 10, 6).to(torch.bfloat16)
    cond = torch.randn(2, 10, 5).to(torch.bfloat16)
    z, logdet = flow_bf16.encode(w, cond)
    assert z.dtype == torch.bfloat16 and logdet.dtype == torch.float32
    assert flow_bf16.log_prob(w, cond).dtype == torch.float32
    assert flow_nll(z, logdet).dtype == torch.float32
    # the same log-determinant summed from float32 copies of the bf16 terms
    terms = []
    h = w
    for actnorm, mix, coupling in flow_bf16.steps:
        h, ld1 = actnorm(h)
        h, ld2 = mix(h)
        h, ld3 = coupling(h, cond)
        assert ld1.dtype == ld2.dtype == ld3.dtype == torch.float32  # each step's sum, not only the total
        terms += [ld1, ld2, ld3]
    exact = sum(t.double() for t in terms)
    assert torch.allclose(logdet.double(), exact, rtol=1e-6)


def test_actnorm_initialises_once_and_again_after_loading_an_uninitialised_state():
    """ActNorm remembers in Python that its ``initialized`` buffer is set (test_step_host_reads counts
    the reads); a state loaded into it is read again, so loading a fresh layer's state re-initialises
    it and loading a trained one does not."""
    from edtalk.modules.pose_flow import ActNorm

    layer = ActNorm(3).train()
    first = torch.randn(64, 3) * 2 + 5
    layer(first)
    assert torch.allclose(layer.loc, first.mean(0))
    layer(torch.randn(64, 3))  # initialised: the data no longer moves it
    assert torch.allclose(layer.loc, first.mean(0))
    layer.load_state_dict(ActNorm(3).state_dict())  # initialized False again
    second = torch.randn(64, 3) - 4
    layer(second)
    assert torch.allclose(layer.loc, second.mean(0))
    trained = ActNorm(3).train()
    trained(first)
    fresh = ActNorm(3).train()
    fresh.load_state_dict(trained.state_dict())  # an initialised state: kept
    fresh(second)
    assert torch.allclose(fresh.loc, first.mean(0))


def test_the_lu_mixing_starts_as_the_orthogonal_matrix_it_factors_and_trains_its_upper_part():
    """W = P L (U + diag(s)): a wrong mask on U (lower instead of strictly upper) kept the inverse exact
    and the log-det prod(s), so every test passed while the flow lost half of its mixing (a mutation
    review)."""
    from edtalk.modules.pose_flow import InvertibleLinear

    torch.manual_seed(0)
    mix = InvertibleLinear(6, lu=True)
    w = mix.matrix()
    torch.testing.assert_close(w @ w.t(), torch.eye(6), atol=1e-5, rtol=0)  # the QR draw it factors
    with torch.no_grad():
        mix.upper[0, 5] += 1.0  # an entry above the diagonal, where U's free parameters live
    assert not torch.allclose(mix.matrix(), w)


def test_actnorm_starts_each_channel_at_zero_mean_and_unit_spread():
    from edtalk.modules.pose_flow import ActNorm

    norm = ActNorm(3).train()
    x = torch.randn(4, 50, 3) * torch.tensor([0.5, 2.0, 7.0]) + 3.0
    y, _ = norm(x)
    flat = y.reshape(-1, 3)
    torch.testing.assert_close(flat.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


def test_the_sampling_temperature_scales_the_flows_noise():
    """z ~ N(0, T^2 I), as --pose-temperature's help says: T = 0.5 draws exactly half of T = 1's z for
    one seed (the infer test only checked that 0.5 lands nearer the mode, as T^2 would too)."""
    flow = PoseFlow(CFG)
    seen = []
    flow.decode = lambda z, cond: seen.append(z) or z
    cond = torch.zeros(1, 4, CFG.audio_width)
    flow.sample(cond, seed=3, temperature=1.0)
    flow.sample(cond, seed=3, temperature=0.5)
    torch.testing.assert_close(seen[1], 0.5 * seen[0], rtol=0, atol=0)


def test_the_coupling_knows_where_each_frame_is():
    """The transformer coupling adds a positional encoding: without it the network treats the frames as
    a set, and moving frames around only moves its outputs (a mutation review dropped it unnoticed)."""
    from edtalk.modules.pose_flow import TransformerCoupling

    torch.manual_seed(0)
    coupling = TransformerCoupling(channels=6, cond_dim=4, hidden=16, heads=2, layers=1).eval()
    torch.nn.init.normal_(coupling.out.weight)  # it starts as the identity map; give it an output
    h1, cond = torch.randn(1, 5, 3), torch.randn(1, 5, 4)
    order = torch.tensor([4, 3, 2, 1, 0])
    shift, scale = coupling._shift_scale(h1, cond)
    moved_shift, moved_scale = coupling._shift_scale(h1[:, order], cond[:, order])
    assert not torch.allclose(moved_shift, shift[:, order], atol=1e-4)
