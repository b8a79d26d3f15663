"""One ``nn.Module`` per block of the EDTalk paper (Sec. 3).

- ``stylegan_ops``: StyleGAN2 primitives (equalised layers, blur/upfirdn, modulated conv).
- ``encoder``: E, image -> (f^{*->r}, identity skips f^{id}).
- ``navigation``: the three Component-aware Latent Navigation heads (MLN, PLN, ELN) and the banks.
- ``generator``: G, the flow-warping StyleGAN2 decoder fed with f^{id} by skips.
- ``eem``: the Emotion Enhancement Module (AdaIN on f^{id} driven by f^{r->e}).
- ``discriminator``: StyleGAN2 D with minibatch stddev.
- ``audio_encoder``: E_a (Wav2Lip audio encoder on 80x16 mel windows) + MLP^m_A -> W^m.
- ``pose_flow``: phi_p, the normalizing flow audio -> W^p.
- ``expression_predictor``: E_S, E_T and MLP^e_A -> W^e with Eq. 7 modality masking.
"""

# A parameter attribute: frozen in every training stage, even under a trainable prefix
# (edtalk.stages.apply_freezing); HuBERT's CNN feature encoder, which the paper freezes (Sec. 3.3).
ALWAYS_FROZEN = "edtalk_always_frozen"
