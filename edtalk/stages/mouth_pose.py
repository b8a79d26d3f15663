"""Stage 2, mouth_pose: cross-reconstruction on mouth-swapped pairs (paper Sec. 3.2, Eq. 2-4).

MLN, PLN, B^m and B^p train; E, the shared trunk and G stay frozen. L_self = L1 + L_per of the
self-reconstructions (mouth and pose from the same image), so that "w/o L_self" removes both; L_fea
compares motion features f^{r->*} (cosine is the same for W^*, the bases being orthonormal).
Losses: L_rec 1, L_per 1, L_adv 1, L_self 1, L_fea 1 (exp(-cos)).
"""

from __future__ import annotations

import torch

from edtalk import losses as L
from edtalk.stages import STAGES, Stage
from edtalk.stages.shared import image_terms, present_banks

TRAINABLE = ("navigation.heads.mouth", "navigation.heads.pose", "banks.raw.mouth", "banks.raw.pose")


def forward(model, batch, cfg):
    """Î^a, Î^b drawn with the swapped images' mouth and pose (``cross``), each image's own
    self-reconstruction (``self``; not drawn when L_self's weight is 0, the "w/o L_self" ablation, so
    the unmodified images reach no loss, L_adv included), and the motion features f^{r->*} of both
    for L_fea."""
    n = batch["a"].shape[0]
    names = present_banks(model, ("mouth", "pose"))
    with torch.no_grad():  # E is frozen and its inputs are data: no graph needed
        f_all, skips_all = model.encode(
            torch.cat([batch["id_a"], batch["id_b"], batch["a"], batch["b"], batch["ma_pb"], batch["mb_pa"]])
        )
    f_ida, f_idb, f_a, f_b, f_ab, f_ba = f_all.split(n)
    skips = [s[: 2 * n] for s in skips_all]  # identity features f^id of id_a, id_b
    w_ab = model.navigate(f_ab, names)  # mouth m_a, pose p_b
    w_ba = model.navigate(f_ba, names)  # mouth m_b, pose p_a
    w_a, w_b = model.navigate(f_a, names), model.navigate(f_b, names)  # from the unswapped images
    cross_a = {"mouth": w_ab["mouth"], **({"pose": w_ba["pose"]} if "pose" in names else {})}
    cross_b = {"mouth": w_ba["mouth"], **({"pose": w_ab["pose"]} if "pose" in names else {})}
    f_id = torch.cat([f_ida, f_idb])
    drawn = [model.compose(f_id, {k: torch.cat([cross_a[k], cross_b[k]]) for k in cross_a})]  # Î^a, Î^b
    with_self = cfg is None or cfg.weight("self", 1.0) > 0
    if with_self:
        drawn.append(model.compose(f_id, {k: torch.cat([w_a[k], w_b[k]]) for k in names}))  # self-recon
    images = model.generate(torch.cat(drawn), [torch.cat([s] * len(drawn)) for s in skips])
    # L_fea pairs: features from the swapped images vs the same features from the real images
    m_swap = model.motion({k: torch.cat([cross_a[k], cross_b[k]]) for k in cross_a})
    m_real = model.motion({k: torch.cat([w_a[k], w_b[k]]) for k in names})
    return {
        "cross": images[: 2 * n],
        **({"self": images[2 * n :]} if with_self else {}),
        "fea_swap": torch.cat([m_swap[k] for k in names]),
        "fea_real": torch.cat([m_real[k] for k in names]),
    }


def losses(outputs, batch, nets):
    """L_rec, L_per, L_adv of the cross-reconstructions (L_adv also on the self ones, as the official
    trainer's GAN term on its 4 reconstructions), L_self, L_fea. Without ``self`` outputs (L_self's
    weight 0) L_self is 0 and L_adv sees the cross-reconstructions only."""
    real = torch.cat([batch["a"], batch["b"]])
    terms = image_terms(outputs["cross"], real, nets)
    drawn = [outputs["cross"]] + ([outputs["self"]] if "self" in outputs else [])
    if nets.discriminator is not None:
        terms["adv"] = L.adversarial_generator(nets.discriminator(torch.cat(drawn)))
    if "self" in outputs:
        terms["self"] = L.reconstruction_l1(outputs["self"], real) + nets.need("perceptual")(
            outputs["self"], real
        )
    else:
        terms["self"] = outputs["cross"].new_zeros(())
    # Eq. 4: exp(-S) per component, summed over components (mouth, pose), mean over a and b
    n_comp = outputs["fea_swap"].shape[0] // real.shape[0]
    terms["fea"] = n_comp * L.feature_consistency(outputs["fea_swap"], outputs["fea_real"])
    return terms


def fresh_banks(cfg) -> tuple[str, ...]:
    """MLN, PLN, B^m and B^p start afresh with ``cfg.fresh_mouth_pose_banks`` (``Stage.fresh_prefixes``)."""
    return TRAINABLE if cfg.fresh_mouth_pose_banks else ()


STAGES.add(
    "mouth_pose",
    Stage(
        name="mouth_pose",
        trainable=TRAINABLE,
        weights={"rec": 1.0, "per": 1.0, "adv": 1.0, "self": 1.0, "fea": 1.0},
        adversarial=True,
        experts=(),
        sample=lambda s, c: s.mouth_swap_pairs(c.batch_size),
        forward=forward,
        losses=losses,
        defaults={"max_steps": 30, "batch_size": 4, "lr": 2e-3, "fresh_mouth_pose_banks": True},
        # lr 2e-4 at tiny: the stage only re-learns the heads and banks on top of a frozen E and G, and
        # at the official 2e-3 (beta1 0.9) 300 steps wreck what stage 1 drew. Measured from the demo's
        # eg_pretrain on 12 TRAIN-identity clips (stage-1 forward, W^m and W^p from the frame itself):
        # PSNR 32.2 before, 25.0 after 2e-3, 30.9 after 2e-4; the dlib mouth track's correlation with
        # GT 0.80 / 0.56 / 0.75 (the heads' norms grow, and the whole face shifts and blurs).
        # tiny keeps stage 1's heads and banks. Measured from one stage-1 checkpoint (the demo's, at 800
        # steps), then the demo's 200 expression steps, eval.proof's cross-driving on test identities,
        # fresh vs kept: fresh banks at the demo's 300 steps broke the mouth (dlib correlation with GT
        # 0.23); 1500 steps at lr 1e-3 (530 s on 2 workers) drew pose better (error toward C 2.04 vs
        # 3.03 deg) and the mouth worse (judged error toward B / A 0.211 / 0.222 vs 0.161 / 0.196; dlib
        # correlation with B 0.46 vs 0.60), and emotion no better (0 of 6 videos as D's either way; a
        # person's own clip on their neutral frame judged as its emotion in 21 % vs 25 % of 24 pairs;
        # 1000 expression steps instead of 200: 25 %, and the mouth's dlib correlation with B 0.14).
        demo={
            "max_steps": 300,
            "beta1": 0.9,
            "lr": 2e-4,
            "loss_weights": {"adv": 0.0},
            "fresh_mouth_pose_banks": False,
        },
        fake_real=lambda out, b: (out["cross"], torch.cat([b["a"], b["b"]])),
        fresh_prefixes=fresh_banks,
    ),
)
