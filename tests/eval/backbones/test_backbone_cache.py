"""Loaded backbones are kept per process, and loaded again once weight files were installed."""

from eval import backbones


def test_a_backbone_is_loaded_again_after_weight_files_are_installed(monkeypatch):
    """Judges retrained and installed in one process (a notebook: eval.zoo train, then eval.run) were
    scored with the judges loaded before, under the new files' protocol hash."""
    from edtalk import weights

    loads = []
    monkeypatch.setitem(backbones.BACKBONES._items, "unit_test_counting", lambda device: loads.append(device))
    monkeypatch.setattr(backbones, "_CACHE", {})
    backbones.get_backbone("unit_test_counting")
    backbones.get_backbone("unit_test_counting")
    assert loads == ["cpu"]
    weights.count_install()
    backbones.get_backbone("unit_test_counting")
    assert loads == ["cpu", "cpu"]
