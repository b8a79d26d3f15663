import pytest

from edtalk.registry import Registry, UnknownNameError


def test_register_and_get():
    r = Registry("widget")

    @r.register("alpha")
    def alpha():
        return 1

    assert r.get("alpha") is alpha
    assert "alpha" in r and len(r) == 1 and r.names() == ["alpha"]


def test_unknown_name_suggests_close_matches():
    r = Registry("metric")
    r.add("psnr", object())
    r.add("ssim", object())
    with pytest.raises(UnknownNameError) as err:
        r.get("pnsr")
    msg = str(err.value)
    assert "unknown metric 'pnsr'" in msg and "Did you mean 'psnr'" in msg and "Known: psnr, ssim" in msg


def test_duplicate_registration_is_an_error():
    r = Registry("stage")
    r.add("a", object())
    with pytest.raises(ValueError, match="registered twice"):
        r.add("a", object())
