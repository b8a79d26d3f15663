"""Shape and maths tests of the EDTalk building blocks (tiny preset, CPU, fast)."""

import pytest
import torch
import torch.nn.functional as F

from edtalk.config import ModelConfig
from edtalk.modules.audio_encoder import AudioToLip, smooth_weights
from edtalk.modules.discriminator import Discriminator, minibatch_stddev
from edtalk.modules.eem import AdaIN, EEMBlock, EmotionEnhancement
from edtalk.modules.encoder import Encoder
from edtalk.modules.generator import Generator, identity_grid
from edtalk.modules.stylegan_ops import ModulatedConv2d, Upsample, make_kernel, upfirdn2d

CFG = ModelConfig.preset("tiny")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_upfirdn_blur_preserves_constant_and_upsamples():
    x = torch.ones(1, 2, 8, 8)
    up = Upsample()(x)
    assert up.shape == (1, 2, 16, 16)
    assert torch.allclose(up[:, :, 2:-2, 2:-2], torch.ones(1, 2, 12, 12), atol=1e-6)  # DC gain 1 inside
    down = upfirdn2d(torch.ones(1, 1, 8, 8), make_kernel(), down=2, pad=(1, 1))
    assert down.shape == (1, 1, 4, 4)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_per_sample_weights(demodulate):
    conv = ModulatedConv2d(4, 5, 3, style_dim=6, demodulate=demodulate)
    x, w = torch.randn(2, 4, 7, 7), torch.randn(2, 6)
    out = conv(x, w)
    s = conv.modulation(w)
    for b in range(2):  # StyleGAN2's definition: per-sample modulated (and demodulated) weights
        weight = conv.weight * conv.scale * s[b][None, :, None, None]
        if demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        ref = F.conv2d(x[b : b + 1], weight, padding=1)
        assert torch.allclose(out[b : b + 1], ref, atol=1e-5)


def test_modulated_conv_upsample_shape():
    conv = ModulatedConv2d(4, 3, 3, style_dim=6, upsample=True)
    assert conv(torch.randn(2, 4, 8, 8), torch.randn(2, 6)).shape == (2, 3, 16, 16)


def test_encoder_shapes():
    f_r, skips = Encoder(CFG)(torch.randn(2, 3, 64, 64))
    assert f_r.shape == (2, CFG.latent_dim)
    assert [tuple(s.shape[1:]) for s in skips] == [(CFG.channels(r), r, r) for r in (8, 16, 32, 64)]


def test_identity_grid_makes_grid_sample_identity():
    x = torch.randn(2, 3, 16, 16)
    y = F.grid_sample(x, identity_grid(16, 2, x.device, x.dtype), align_corners=True)
    assert torch.allclose(x, y, atol=1e-5)


def test_warp_in_bfloat16_matches_float32_for_channels_last_skips():
    """DeepSpeed --bf16 hands G channels-last bf16 skips; PyTorch's CPU grid_sample returns NaN/1e34
    on those, and bf16 sampling coordinates are 0.25 px apart at 128 px. ``warp`` samples in float32."""
    from edtalk.modules.generator import warp

    skip = torch.randn(4, 16, 64, 64)
    logits = torch.randn(4, 2, 64, 64) * 0.05
    ref = warp(skip, logits)
    fast = warp(skip.bfloat16().contiguous(memory_format=torch.channels_last), logits.bfloat16())
    assert fast.dtype == torch.bfloat16
    assert torch.isfinite(fast).all()
    # only the bf16 rounding of the inputs and of the result remains (|skip| <= ~4.5: steps of 2^-6)
    assert (fast.float() - ref).abs().max() < 0.1
    assert (fast.float() - ref).abs().mean() < 0.01


def test_generator_shape_and_uses_skips():
    enc, gen = Encoder(CFG), Generator(CFG)
    f_r, skips = enc(torch.randn(2, 3, 64, 64))
    img = gen(f_r, skips)
    assert img.shape == (2, 3, 64, 64)
    other = gen(f_r, [s + 1.0 for s in skips])
    assert not torch.allclose(img, other)  # f^{id} reaches the output through the warped skips
    with pytest.raises(ValueError, match="identity skips"):
        gen(f_r, skips[:-1])


def _record_mask_logits(monkeypatch) -> list[torch.Tensor]:
    """Patch ToFlow.forward to record each level's mask logits (coarse to fine) into the returned list."""
    from edtalk.modules.generator import ToFlow

    logits, original = [], ToFlow.forward

    def record(self, h, style, skip, prev=None):
        out = original(self, h, style, skip, prev)
        logits.append(out[2][:, 2])
        return out

    monkeypatch.setattr(ToFlow, "forward", record)
    return logits


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_fresh_masks_are_not_saturated_and_g_starts_as_the_identity(preset, monkeypatch):
    """The coarser logits are added to the finer ones (LIA's flow skip); a bias at every level would
    sum to a saturated finest mask whose gradient is ~0. Coarser levels start at logit 0, the finest
    at MASK_LOGIT_INIT, exactly, border included."""
    from edtalk.model import EDTalk
    from edtalk.modules.generator import MASK_LOGIT_INIT

    model = EDTalk(ModelConfig.preset(preset)).eval()
    size = model.cfg.image_size
    x = torch.rand(1, 3, size, size) * 2 - 1
    logits = _record_mask_logits(monkeypatch)
    with torch.no_grad():
        f, skips = model.encode(x)
        y = model.generate(model.compose(f, model.navigate(f, model.cfg.bank_names)), skips)
    assert len(logits) == len(model.generator.to_flows)
    for level in logits[:-1]:
        assert torch.equal(level, torch.zeros_like(level))
    assert torch.allclose(logits[-1], torch.full_like(logits[-1], MASK_LOGIT_INIT))
    mask = torch.sigmoid(logits[-1])
    assert (mask * (1 - mask)).min() > 0.01  # the finest mask's gradient is alive
    assert (y - x).abs().max() < 0.01  # G(E(I)) = I: the read-out divides the mask back out


def test_eem_starts_as_identity_then_is_residual_adain_conditioned_on_expression():
    eem = EmotionEnhancement(CFG)
    skips = [torch.randn(2, CFG.channels(r), r, r) for r in (8, 16, 32, 64)]
    e1, e2 = torch.randn(2, CFG.latent_dim), torch.randn(2, CFG.latent_dim)
    # fresh EEM: dx = 0 exactly, so it cannot scramble the identity features G was trained on
    assert all(torch.equal(o, s) for o, s in zip(eem(skips, e1), skips, strict=True))
    # ... yet the gradient reaches the zero-gain AdaIN, so training can open the residual branch
    sum(o.sum() for o in eem(skips, e1)).backward()
    assert eem.blocks[0].norm2.gamma.weight.grad.abs().sum() > 0
    eem.zero_grad()
    with torch.no_grad():  # as after some training steps
        for block in eem.blocks:
            block.norm2.gamma.weight.normal_(0, 0.1)
            block.norm2.beta.weight.normal_(0, 0.1)
    out1, out2 = eem(skips, e1), eem(skips, e2)
    assert [o.shape for o in out1] == [s.shape for s in skips]
    assert not torch.allclose(out1[0], out2[0])
    # both conv layers are live (the official dead-branch quirk is not reproduced)
    sum(o.sum() for o in out1).backward()
    block = eem.blocks[0]
    assert block.conv1.weight.grad.abs().sum() > 0 and block.norm1.gamma.weight.grad.abs().sum() > 0


def test_adain_instance_normalises_each_channel_before_the_expression_scale_and_shift():
    """AdaIN = (x - mu) / sigma * (1 + gamma) + beta per sample and channel: with gamma = 1, beta = 0.5
    every channel ends at mean 0.5 and std 2 whatever its input's scale and offset (an AdaIN without
    its InstanceNorm keeps the input's channel means, here -20 .. 19)."""
    adain = AdaIN(8, CFG.latent_dim, CFG.eem_hidden)
    with torch.no_grad():
        adain.gamma.weight.zero_()
        adain.gamma.bias.fill_(1.0)
        adain.beta.weight.zero_()
        adain.beta.bias.fill_(0.5)
    x = torch.randn(2, 8, 6, 6) * torch.rand(1, 8, 1, 1).mul(4).add(1) + torch.randn(1, 8, 1, 1) * 7
    with torch.no_grad():
        y = adain(x, torch.randn(2, CFG.latent_dim))
    assert torch.allclose(y.mean((2, 3)), torch.full((2, 8), 0.5), atol=1e-4)
    assert torch.allclose(y.std((2, 3), unbiased=False), torch.full((2, 8), 2.0), atol=1e-3)


def test_each_adain_of_an_eem_block_is_conditioned_on_the_expression():
    """Both AdaINs of a block read f^{r->e}: with the other one made independent of e, the block's
    output still changes with e (a first AdaIN fed zeros instead of e fails the first half)."""
    x = torch.randn(2, 8, 8, 8)
    e1, e2 = torch.randn(2, CFG.latent_dim), torch.randn(2, CFG.latent_dim)
    # only norm1 sees e: norm2 opened (1 + gamma = 1) with gamma and beta independent of e
    block = EEMBlock(8, CFG.latent_dim, CFG.eem_hidden)
    with torch.no_grad():
        block.norm2.gamma.bias.zero_()
    assert (block(x, e1) - block(x, e2)).abs().mean() > 1e-3
    # only norm2 sees e: norm1's hidden layer ignores e (its input weights 0)
    block = EEMBlock(8, CFG.latent_dim, CFG.eem_hidden)
    with torch.no_grad():
        block.norm1.shared[0].weight.zero_()
        block.norm2.gamma.weight.normal_(0, 0.1)
        block.norm2.beta.weight.normal_(0, 0.1)
    assert (block(x, e1) - block(x, e2)).abs().mean() > 1e-3


def test_coarser_flow_and_mask_logits_reach_the_finest_level(monkeypatch):
    """LIA's flow skip: each ToFlow adds the upsampled logits of the level below, so +1 on the coarsest
    mask bias raises the finest mask logit by 1 (away from the blurred border). Without the skip the
    finest logit stays at MASK_LOGIT_INIT (a fresh G's coarser logits are 0, so only this catches it)."""
    from edtalk.modules.generator import MASK_LOGIT_INIT

    enc, gen = Encoder(CFG).eval(), Generator(CFG).eval()
    with torch.no_grad():
        f_r, skips = enc(torch.rand(2, 3, 64, 64) * 2 - 1)
        gen.to_flows[0].bias[0, 2] += 1.0
    logits = _record_mask_logits(monkeypatch)
    with torch.no_grad():
        gen(f_r, skips)
    finest = logits[-1]
    assert finest.shape[-1] == CFG.image_size
    centre = finest[:, 16:-16, 16:-16]
    assert torch.allclose(centre, torch.full_like(centre, MASK_LOGIT_INIT + 1.0), atol=1e-3)
    assert finest.mean() > MASK_LOGIT_INIT + 0.5  # measured 4.91


def test_coarser_rgb_is_upsampled_into_the_output():
    """StyleGAN2's skip generator: the image is the sum of every level's ToRGB, so a 0.3 bias on the
    coarsest ToRGB shifts the output by 0.3 (away from the border). Keeping only the finest ToRGB fails."""
    enc, gen = Encoder(CFG).eval(), Generator(CFG).eval()
    with torch.no_grad():
        f_r, skips = enc(torch.rand(2, 3, 64, 64) * 2 - 1)
        before = gen(f_r, skips)
        gen.to_rgbs[0].bias.fill_(0.3)
        shift = gen(f_r, skips) - before
    centre = shift[..., 16:-16, 16:-16]
    assert torch.allclose(centre, torch.full_like(centre, 0.3), atol=1e-3)
    assert shift.mean() > 0.2  # measured 0.27 (the blurred border carries less)


def test_discriminator_shape_and_odd_batch():
    d = Discriminator(CFG)
    assert d(torch.randn(3, 3, 64, 64)).shape == (3, 1)
    y = minibatch_stddev(torch.randn(4, 8, 4, 4))
    assert y.shape == (4, 9, 4, 4)


def test_audio_to_lip_shapes_and_errors():
    net = AudioToLip(CFG)
    assert net(torch.randn(5, 80, 16)).shape == (5, CFG.n_mouth)
    assert net.encoder(torch.randn(5, 1, 80, 16)).shape == (5, CFG.audio_feature_dim)
    with pytest.raises(ValueError, match="80, 16"):
        net(torch.randn(5, 80, 20))


def test_smooth_weights_gaussian():
    w = torch.zeros(5, 2)
    w[2] = 1.0
    s = smooth_weights(w)
    assert torch.allclose(s[1:4, 0], torch.tensor([0.274, 0.452, 0.274]))
