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
