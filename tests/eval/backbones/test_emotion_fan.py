"""Emotion-FAN: relation-attention maths on a tiny seeded model, checkpoint layout, class order."""

import numpy as np
import pytest
import skimage.data
import torch

from edtalk.data.clip import EMOTIONS
from eval.backbones.emotion_fan import OFFICIAL_CLASSES, TO_EMOTIONS, EmotionFAN, face_chips, video_scores


def _manual_logits(f, alpha_w, alpha_b, beta_w, beta_b, fc_w, fc_b, aggregation):
    """Emotion-FAN relation attention written out frame by frame in numpy."""
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    alpha = np.array([sig(alpha_w @ fi + alpha_b) for fi in f]).reshape(-1)
    f_v = sum(a * fi for a, fi in zip(alpha, f, strict=False)) / alpha.sum()
    cat = [np.concatenate([fi, f_v]) for fi in f]
    beta = np.array([sig(beta_w @ c + beta_b) for c in cat]).reshape(-1)
    w = alpha if aggregation == "eval_code" else alpha * beta
    pooled = sum(wi * c for wi, c in zip(w, cat, strict=False)) / (alpha * beta).sum()
    return fc_w @ pooled + fc_b


@pytest.mark.parametrize("aggregation", ["eval_code", "paper"])
def test_relation_attention_matches_frame_by_frame_formula(aggregation):
    torch.manual_seed(0)
    model = EmotionFAN().eval()
    f = torch.rand(5, 512, dtype=torch.float64) * 2
    model = model.double()
    with torch.no_grad():
        alpha = model.alpha(f)
        ours = model.video_logits(f, alpha, aggregation).numpy()
    p = {k: v.numpy() for k, v in model.state_dict().items()}
    ref = _manual_logits(
        f.numpy(), p["alpha.0.weight"][0], p["alpha.0.bias"][0], p["beta.0.weight"][0], p["beta.0.bias"][0],
        p["pred_fc2.weight"], p["pred_fc2.bias"], aggregation,
    )  # fmt: skip
    assert ours.shape == (8,) and np.allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_eval_code_and_paper_pooling_differ_and_one_frame_agrees():
    torch.manual_seed(1)
    model = EmotionFAN().double().eval()
    f = torch.rand(4, 512, dtype=torch.float64)
    with torch.no_grad():
        a = model.alpha(f)
        assert not torch.allclose(model.video_logits(f, a, "eval_code"), model.video_logits(f, a, "paper"))
        # one frame: eval code = paper / beta (alpha cancels), so the two differ only by 1/beta scaling
        one = f[:1]
        beta = model.beta(torch.cat([one, one], 1))[0, 0]
        pooled_paper = torch.cat([one, one], 1)[0]
        expect = model.pred_fc2(pooled_paper / beta)
        assert torch.allclose(model.video_logits(one, model.alpha(one), "eval_code"), expect)


def test_class_order_maps_official_indices_to_emotions():
    assert sorted(OFFICIAL_CLASSES) == list(EMOTIONS)
    official = np.arange(8.0)  # score k at official index k
    ours = official[TO_EMOTIONS]
    for j, emotion in enumerate(EMOTIONS):
        assert OFFICIAL_CLASSES[int(ours[j])] == emotion
    assert OFFICIAL_CLASSES[0] == "happy" and OFFICIAL_CLASSES[7] == "contempt"


def test_class_order_is_eats_mead_label_map():
    """The checkpoint's class indices, pinned to EAT's ``cate2label['MEAD']`` of evaluation_eat's
    emotionfan_basiccode (0 Happy, 1 Angry, 2 Disgust, 3 Fear, 4 Sad, 5 Neutral, 6 Surprised,
    7 Contempt; the project's reference notes, metrics-conventions.md 4.2) rather than derived from the
    table under test: catches two classes swapped, which would score those emotions as each other."""
    eat_mead = "happy angry disgusted fear sad neutral surprised contempt".split()  # indices 0 .. 7
    assert OFFICIAL_CLASSES == tuple(eat_mead)
    assert EMOTIONS == ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
    # EMOTIONS[j] is official index TO_EMOTIONS[j]: angry 1, contempt 7, disgusted 2, fear 3, happy 0, ...
    assert TO_EMOTIONS.tolist() == [1, 7, 2, 3, 0, 5, 4, 6]
    official_scores = np.array([0.30, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.43])  # happy 0.30, contempt 0.43
    ours = dict(zip(EMOTIONS, official_scores[TO_EMOTIONS], strict=True))
    assert ours["happy"] == 0.30 and ours["contempt"] == 0.43
    assert ours["sad"] == 0.05 and ours["neutral"] == 0.06


def test_checkpoint_layout_loads_and_chips_score(seeded_weights):
    """The EAT checkpoint layout ({'state_dict': {'module.*'}, epoch, accuracy, name}, with the
    FER+ 'module.fc' head that EAT's loader skips) loads through the weights manager."""
    from eval.backbones import get_backbone

    torch.manual_seed(2)
    model = EmotionFAN()
    sd = {f"module.{k}": v for k, v in model.state_dict().items()}
    sd["module.fc.weight"], sd["module.fc.bias"] = torch.zeros(7, 512), torch.zeros(7)
    seeded_weights("emotion_fan_mead8", {"epoch": 62, "state_dict": sd, "accuracy": 84.3655, "name": "x"})
    loaded = get_backbone("emotion_fan")
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    img = skimage.data.astronaut()[30:286, 100:356]  # 256 x 256 around the face
    chips, kept = face_chips(np.stack([img, np.zeros_like(img)]))
    assert chips.shape == (1, 224, 224, 3) and kept.tolist() == [0]
    probs = video_scores(loaded, chips)
    with torch.no_grad():
        x = torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 255
        f, a = model.eval().frame_features(x)
        ref = torch.softmax(model.video_logits(f, a).double(), 0).numpy()[TO_EMOTIONS]
    assert probs.shape == (8,) and np.allclose(probs, ref, atol=1e-6) and probs.sum() == pytest.approx(1.0)
