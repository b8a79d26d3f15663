"""The training frame cache: the driver decodes the training split once (``prepare_cache``) into the
cache that every stage's workers read, with rendered extra people for the frames-only stages when
``--extra-identities`` asks for them.
"""

from __future__ import annotations

from pathlib import Path


def parse_data(spec: str) -> tuple[str, Path]:
    reader, _, root = spec.partition(":")
    return reader, Path(root).expanduser()


def prepare_cache(train_cfg, model_cfg, with_extras: bool = False) -> Path:
    """Decode the training split once (driver side) into the shared frame cache; ``with_extras``
    appends ``train_cfg.extra_identities`` rendered people (for the frames-only stages)."""
    from edtalk.data.held_out import training_clips
    from edtalk.data.training import build_frame_cache

    reader, root = parse_data(train_cfg.data)
    clips = training_clips(reader, root, train_cfg.split)  # none of the judge or test clips
    n, k = train_cfg.extra_identities, train_cfg.extra_frames
    if not (n and with_extras):
        return build_frame_cache(clips, model_cfg.image_size, train_cfg.cache).resolve()
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE, render_extra_clips

    def extra() -> list:
        return render_extra_clips(root, n, k, progress=True, index_base=TRAIN_EXTRA_INDEX_BASE)

    tag = f"synthtalk-training-extra:{n}x{k}"
    return build_frame_cache(
        clips, model_cfg.image_size, train_cfg.cache, extra=extra, extra_tag=tag
    ).resolve()
