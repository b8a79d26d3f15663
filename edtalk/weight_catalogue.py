"""The catalogue of every external weight file the suite may need (``WEIGHTS``): its name, file name,
sha256 (or the part of it a reference document gives), official URL, licence note and the metrics
and losses that use it. It is complete on import: the metric backbones, VGG19 (the perceptual
loss), HuBERT and EmoBERTa (the expression predictor's E_S / E_T, Hugging Face folders: ``hf_repo``)
and the synthtalk judges (trained here). ``edtalk.weights`` finds, verifies, fetches and imports them.

To add a weight file: one ``_add(WeightFile(...))`` below, with what is known of its hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from edtalk.experts.names import INSTALL_JUDGES, JUDGE_NAMES, SUFFIX, TRAIN_JUDGES
from edtalk.registry import Registry


@dataclass(frozen=True)
class WeightFile:
    """One external weight file, or (``hf_repo`` set) one Hugging Face model folder."""

    name: str  # registry name (``pytorch_fid_inception``)
    filename: str  # file name inside weights_dir()
    sha256: str | None  # full sha256 when known from a reference document, else None
    url: str  # official download URL (or the page that explains how to get it)
    license: str  # licence note
    users: tuple[str, ...]  # metrics / losses that need it
    sha256_prefix: str | None = None  # known leading hex digits (torch-hub file-name suffix)
    sha256_suffix: str | None = None  # known trailing hex digits
    direct: bool = True  # False: the URL is a page (Google Drive archive); fetch cannot download
    trained_here: bool = False  # made by this suite (the judges): its recorded hash is the reference
    hf_repo: str | None = None  # Hugging Face model id: the entry is that model's folder, not one file
    tokenizer: tuple[tuple[str, ...], ...] = ()  # a text model folder's tokenizer files: one set, whole

    @property
    def is_folder(self) -> bool:
        return self.hf_repo is not None

    def unverifiable(self) -> bool:
        """Downloaded from elsewhere with no published hash to check it against: results computed
        with it are marked unverified (the hash recorded on first import only shows it has not
        changed since)."""
        return not (self.sha256 or self.sha256_prefix or self.sha256_suffix or self.trained_here)

    def check(self, digest: str) -> bool | None:
        """True/False when something about the hash is known, None when nothing is."""
        if self.sha256:
            return digest == self.sha256.lower()
        if self.sha256_prefix or self.sha256_suffix:
            ok_p = digest.startswith((self.sha256_prefix or "").lower())
            ok_s = digest.endswith((self.sha256_suffix or "").lower())
            return ok_p and ok_s
        return None


WEIGHTS: Registry[WeightFile] = Registry("weight file")


def _add(w: WeightFile) -> None:
    WEIGHTS.add(w.name, w)


_add(
    WeightFile(
        "pytorch_fid_inception",
        "pt_inception-2015-12-05-6726825d.pth",
        None,
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        "Apache-2.0 (pytorch-fid port of TF inception-2015-12-05)",
        ("fid[backbone=pytorch_fid]",),
        sha256_prefix="6726825d",
    )
)
_add(
    WeightFile(
        "torchvision_inception_v3",
        "inception_v3_google-0cc3c7bd.pth",
        None,
        "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        "BSD-3-Clause (torchvision); ImageNet-trained",
        ("fid[backbone=torchvision_eat]",),
        sha256_prefix="0cc3c7bd",
    )
)
_add(
    WeightFile(
        "torchvision_alexnet",
        "alexnet-owt-7be5be79.pth",
        None,
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "BSD-3-Clause (torchvision); ImageNet-trained; LPIPS backbone",
        ("lpips[net=alex]",),
        sha256_prefix="7be5be79",
    )
)
_add(
    WeightFile(
        "fan_2dfan4",
        "2DFAN4-11f355bf06.pth.tar",
        None,
        "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
        "face-alignment (BSD-3-Clause code); weights for research use",
        ("akd", "m_lmd[landmarks=fan]", "f_lmd[landmarks=fan]", "lse_c/lse_d[crop=pcavs_align]"),
        sha256_prefix="11f355bf06",
    )
)
_add(
    WeightFile(
        "s3fd",
        "s3fd-619a316812.pth",
        None,
        "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth",
        "face-alignment (BSD-3-Clause code); S3FD weights for research use",
        ("akd", "m_lmd[landmarks=fan]", "f_lmd[landmarks=fan]", "lse_c/lse_d[crop=pcavs_align]"),
        sha256_prefix="619a316812",
    )
)
_add(
    WeightFile(
        "syncnet_v2",
        "syncnet_v2.model",
        None,
        "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        "syncnet_python code MIT; no separate licence stated for the weights",
        ("lse_c", "lse_d"),
        sha256_prefix="961e8696",
        sha256_suffix="5442",
    )
)
_add(
    WeightFile(
        "syncnet_sfd_face",
        "sfd_face.pth",
        None,
        "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
        "syncnet_python code MIT; S3FD weights, no separate licence stated",
        ("lse_c[crop=s3fd_track]", "lse_d[crop=s3fd_track]"),
        sha256_prefix="d54a87c2",
        sha256_suffix="c491",
    )
)
_add(
    WeightFile(
        "emotion_fan_mead8",
        "self_relation-attention_61_84.3655",
        None,
        "https://github.com/yuangan/evaluation_eat (README: Google Drive code.zip, file "
        "code/emotionfan_basiccode/model/model_training_name/self_relation-attention_61_84.3655)",
        "evaluation_eat / Emotion-FAN (MIT code); MEAD-trained weights, research use",
        ("acc_emo[classifier=emotion_fan]",),
        direct=False,
    )
)
_add(
    WeightFile(
        "openface_nn4_small2",
        "openface.pth",
        None,
        "https://github.com/thnkim/OpenFacePytorch/raw/master/openface.pth",
        "OpenFacePytorch (Apache-2.0); nn4.small2 port of OpenFace",
        ("aed",),
    )
)
_add(
    WeightFile(
        "vgg19",
        "vgg19-dcbb9e9d.pth",
        None,
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        "BSD-3-Clause (torchvision); ImageNet-trained",
        ("L_per (edtalk.perceptual, training only)",),
        sha256_prefix="dcbb9e9d",
    )
)
_add(
    WeightFile(
        "hubert_large_ll60k",
        "hubert-large-ll60k",
        None,
        "https://huggingface.co/facebook/hubert-large-ll60k",
        "Apache-2.0 (model card); HuBERT-large pretrained on Libri-Light 60k h",
        ("E_S[semantic_encoder=hubert] (edtalk.modules.expression_predictor)",),
        direct=False,
        hf_repo="facebook/hubert-large-ll60k",
    )
)
_add(
    WeightFile(
        "emoberta_base",
        "emoberta-base",
        None,
        "https://huggingface.co/tae898/emoberta-base",
        "MIT (EmoBERTa model cards); RoBERTa-base fine-tuned on MELD and IEMOCAP",
        ("E_T[text_encoder=emoberta] (edtalk.modules.expression_predictor)",),
        direct=False,
        hf_repo="tae898/emoberta-base",
        tokenizer=(("tokenizer.json",), ("vocab.json", "merges.txt")),  # RoBERTa's fast or slow tokenizer
    )
)


def _judge(kind: str, users: tuple[str, ...]) -> WeightFile:
    """A synthtalk judge: trained here, so the sha256 recorded when it is installed is the reference."""
    name = JUDGE_NAMES[kind]
    return WeightFile(
        name,
        name + SUFFIX,
        None,
        f"trained on synthtalk's judge identities: shipped (`{INSTALL_JUDGES}`) or `{TRAIN_JUDGES}`",
        "EDTalk-Bench (trained by eval.zoo; no external weights)",
        users,
        direct=False,
        trained_here=True,
    )


_add(
    _judge(
        "face_analyser",
        (
            "disentangle_mouth",
            "disentangle_pose",
            "disentangle_emotion",
            "identity_sim",
            "fid[synthtalk]",
            "m_lmd[synthtalk]",
            "f_lmd[synthtalk]",
            "acc_emo[synthtalk]",
        ),
    )
)
_add(_judge("sync_net", ("lse_c[synthtalk]", "lse_d[synthtalk]")))
