"""Pieces several stages' forward and losses functions use."""

from __future__ import annotations

import torch

from edtalk import losses as L


def present_banks(model, names: tuple[str, ...]) -> tuple[str, ...]:
    """The banks of ``names`` this model has (the 'lip' and 'lip_pose' models of Table 3 lack some)."""
    return tuple(n for n in names if n in model.cfg.bank_names)


def image_terms(fake, real, nets) -> dict[str, torch.Tensor]:
    """L_rec, L_per and the generator's L_adv of one set of generated images (L_adv only with a D:
    a stage run with L_adv weight 0 builds none, see ``Stage.trains_discriminator``)."""
    terms = {"rec": L.reconstruction_l1(fake, real), "per": nets.need("perceptual")(fake, real)}
    if nets.discriminator is not None:
        terms["adv"] = L.adversarial_generator(nets.discriminator(fake))
    return terms


def repeat_skips(skips, n: int):
    """The identity features f^id of each source repeated for its ``n`` frames."""
    return [s.repeat_interleave(n, dim=0) for s in skips]


def expression_latent(model, w_e):
    """EEM's input from W^e (``None`` without W^e or without an EEM, as in "w/o EEM")."""
    return model.expression_latent(w_e) if (w_e is not None and model.eem is not None) else None
