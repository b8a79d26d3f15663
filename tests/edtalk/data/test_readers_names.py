"""Clip id parsing: every MEAD naming maps to the canonical id; HDTF chunk ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from edtalk.data.readers.names import (
    EAT_EMOTIONS,
    canonical_mead_id,
    mead_id_from_raw_path,
    parse_hdtf_id,
    parse_mead_id,
)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("M003#angry#level_1#001", "M003#angry#level_1#001"),
        ("M003#angry#level_1#001.mp4", "M003#angry#level_1#001"),
        ("M003_ang_1_001", "M003#angry#level_1#001"),
        ("W015_con_3_012.mp4", "W015#contempt#level_3#012"),
        ("M030_dis_2_005", "M030#disgusted#level_2#005"),
        ("W009_fea_1_001", "W009#fear#level_1#001"),
        ("M003_hap_2_030", "M003#happy#level_2#030"),
        ("M003_neu_1_001", "M003#neutral#level_1#001"),
        ("M003_sad_3_001", "M003#sad#level_3#001"),
        ("M003_sur_1_7", "M003#surprised#level_1#007"),
    ],
)
def test_mead_names_map_to_canonical(name, canonical):
    assert canonical_mead_id(name) == canonical


def test_eat_codes_cover_all_eight_emotions():
    from edtalk.data.clip import EMOTIONS

    assert sorted(EAT_EMOTIONS.values()) == list(EMOTIONS)
    for code, emotion in EAT_EMOTIONS.items():
        assert parse_mead_id(f"M003_{code}_1_001").emotion == emotion
        assert parse_mead_id(f"M003_{code}_1_001").eat_name == f"M003_{code}_1_001"


@pytest.mark.parametrize(
    "name",
    [
        "RD_Radio1_000#1",
        "M003_xyz_1_001",
        "M003#joyful#level_1#001",
        "hello",
        "M003#ANGRY#level_1#001",
        "M003_ANG_1_001",
    ],
)
def test_non_mead_names_are_rejected(name):
    assert parse_mead_id(name) is None


def test_raw_mead_path():
    mead = mead_id_from_raw_path(Path("MEAD/M031/video/front/surprised/level_3/003.mp4"))
    assert str(mead) == "M031#surprised#level_3#003" and mead.speaker == "M031" and mead.level == 3
    assert mead_id_from_raw_path(Path("M031/video/front/surprised/misc/003.mp4")) is None


def test_raw_mead_path_emotion_is_lower_case_as_in_file_names():
    """Before: ``ANGRY/`` folders parsed as angry, while ``M003#ANGRY#level_1#001`` names did not."""
    assert mead_id_from_raw_path(Path("M003/video/front/ANGRY/level_1/001.mp4")) is None
    assert mead_id_from_raw_path(Path("M003/video/front/Angry/level_1/001.mp4")) is None
    assert parse_mead_id("M003#ANGRY#level_1#001") is None


def test_hdtf_ids():
    assert parse_hdtf_id("RD_Radio1_000#1") == ("RD_Radio1_000", 1)
    assert parse_hdtf_id("WDA_BarackObama_000#12.mp4") == ("WDA_BarackObama_000", 12)
    assert parse_hdtf_id("RD_Radio1_000") is None
