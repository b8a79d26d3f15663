"""The paper's reported numbers: every table, method and quirk, keyed by our metric ids."""

import csv
from pathlib import Path

import pytest

from baselines.reported import PAPER_METRICS, REPORTED, read_csv, reported_rows
from edtalk.ablations import ABLATIONS

PAPER_DIR = Path("/work/shared/paper")  # the transcription's source, where this checkout has it


def test_every_table_registered_with_its_protocol():
    assert REPORTED.names() == ["table1", "table3", "table4", "table5", "table6"]
    protocols = {name: REPORTED.get(name).protocol for name in REPORTED}
    assert protocols == {
        "table1": "eat",
        "table3": "eat",
        "table4": "eat",
        "table5": "canonical",
        "table6": "eat",
    }


def test_table1_values_and_sync_conf_maps_to_lse_c():
    mead = {r.row: r for r in reported_rows("table1", dataset="mead")}
    hdtf = {r.row: r for r in reported_rows("table1", dataset="hdtf")}
    assert len(mead) == len(hdtf) == 16
    assert mead["EDTalk-A"].metrics["lse_c"] == pytest.approx(8.115)
    assert mead["EDTalk-V"].method == "edtalk_v"
    assert hdtf["Wav2Lip"].metrics["lse_c"] == pytest.approx(9.032)
    assert "acc_emo" not in hdtf["EAT"].metrics  # HDTF has no emotion labels
    assert mead["GT"].is_reference and mead["GT"].printed["psnr"] == "1.000"
    assert mead["IP-LAP"].method == "ip_lap"
    assert mead["EAT"].source == "EDTalk (Tan et al., ECCV 2024), Table 1"


def test_table4_sadtalker_has_no_lrw_numbers():
    lrw = {r.row: r for r in reported_rows("table4", dataset="lrw")}
    assert lrw["SadTalker"].metrics == {} and lrw["SadTalker"].notes
    vox = {r.row: r for r in reported_rows("table4", dataset="voxceleb2")}
    assert vox["SadTalker"].metrics["psnr"] == pytest.approx(20.278)


def test_table5_is_canonical_and_vpgc_empty():
    rows = {r.row: r for r in reported_rows("table5")}
    assert rows["VPGC"].metrics == {} and "person-specific" in rows["VPGC"].notes[0]
    assert rows["EDTalk"].metrics == {
        "psnr": 26.5,
        "ssim": 0.85,
        "lpips": 0.13,
        "l1": 0.031,
        "akd": 1.74,
        "aed": 0.017,
    }
    assert all(r.protocol == "canonical" for r in rows.values())


def test_table3_variants_and_printed_precision():
    rows = {r.row: r for r in reported_rows("table3")}
    assert list(rows) == [a.row_label for a in ABLATIONS.values()]  # the paper's rows, in its order
    assert [r.method for r in rows.values()] == [f"edtalk_ablation_{a}" for a in ABLATIONS]
    assert rows["w/o EEM"].printed["acc_emo"] == "49.367"
    assert rows["w/o Bank"].method == "edtalk_ablation_wo_bank"
    full_t1 = next(r for r in reported_rows("table1", dataset="mead") if r.row == "EDTalk-A")
    assert rows["Full Model"].metrics == full_t1.metrics


def test_table6_halves_and_shared_full_model_row():
    mouth = {r.value: r for r in reported_rows("table6", group="mouth")}
    expr = {r.value: r for r in reported_rows("table6", group="expression")}
    assert sorted(mouth) == sorted(expr) == [5.0, 10.0, 20.0, 40.0]
    assert mouth[20.0].metrics == expr[10.0].metrics
    assert mouth[5.0].method == "edtalk_bank_mouth_5"
    assert "fid" not in mouth[5.0].metrics


def test_every_metric_has_paper_label_and_direction():
    ids = {m for t in REPORTED for r in REPORTED.get(t).rows() for m in r.metrics}
    assert ids <= set(PAPER_METRICS)
    assert PAPER_METRICS["lse_c"] == ("Sync_conf", True) and PAPER_METRICS["fid"][1] is False


def test_unknown_table_suggests():
    with pytest.raises(KeyError, match="did you mean|Did you mean"):
        reported_rows("table7")


@pytest.mark.skipif(not PAPER_DIR.is_dir(), reason="shared paper CSVs not in this checkout")
def test_packaged_csvs_equal_the_transcription():
    for name in REPORTED:
        file_name = REPORTED.get(name).csv
        with open(PAPER_DIR / file_name, newline="") as fh:
            assert read_csv(file_name) == list(csv.DictReader(fh)), file_name
