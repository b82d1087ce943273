from __future__ import annotations

import pytest

from pytest_dtypegate import precisions as P


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("bf16", "bf16"),
        ("bfloat16", "bf16"),
        ("torch.bfloat16", "bf16"),
        ("BFloat16", "bf16"),
        ("half", "fp16"),
        ("float16", "fp16"),
        ("torch.float16", "fp16"),
        ("float32", "fp32"),
        ("float", "fp32"),
        ("fp64", "fp64"),
        ("double", "fp64"),
        ("float8_e4m3fn", "fp8_e4m3"),
        ("fp8", "fp8_e4m3"),
        ("float8_e5m2", "fp8_e5m2"),
        ("tf32", "tf32"),
        ("auto", "auto"),
        (" fp16 ", "fp16"),
        ("amp_bf16", "amp_bf16"),
    ],
)
def test_aliases_resolve(alias: str, name: str) -> None:
    assert P.resolve(alias) == name


def test_torch_dtype_objects_resolve() -> None:
    torch = pytest.importorskip("torch")
    assert P.resolve(torch.bfloat16) == "bf16"
    assert P.resolve(torch.float16) == "fp16"
    assert P.resolve(torch.float8_e4m3fn) == "fp8_e4m3"
    assert P.torch_dtype("bf16") is torch.bfloat16
    assert P.torch_dtype("tf32") is torch.float32
    assert P.torch_dtype("amp_fp16") is torch.float32


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(P.UnknownPrecisionError) as info:
        P.resolve("bf17")
    assert str(info.value) == (
        "unknown precision 'bf17'; valid names: fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, fp64, "
        "amp_bf16, amp_fp16, auto"
    )
    with pytest.raises(P.UnknownPrecisionError, match="unknown precision 3"):
        P.resolve(3)
    with pytest.raises(P.UnknownPrecisionError, match=r"valid names: .*amp_fp16$"):
        P.resolve("auto", allow_auto=False)


def test_parse_list_keeps_order_and_drops_duplicates() -> None:
    assert P.parse_list("bf16, fp16 fp32 bfloat16") == ("bf16", "fp16", "fp32")
    assert P.parse_list(["half", "fp32"]) == ("fp16", "fp32")
    with pytest.raises(ValueError, match="empty precision list"):
        P.parse_list(" , ")


def test_fallback_chains_end_in_usable_precisions() -> None:
    assert P.get("bf16").fallback == ("fp16", "fp32")
    assert P.get("fp8_e4m3").fallback[0] == "bf16"
    assert P.get("tf32").fallback == ("fp32",)
    assert P.get("fp32").fallback == ()
    for prec in P.PRECISIONS.values():
        for name in prec.fallback:
            assert name in P.PRECISIONS and name != prec.name


def test_default_tolerances_match_torch_assert_close() -> None:
    torch = pytest.importorskip("torch")
    from torch.testing._comparison import default_tolerances

    for name in ("fp16", "bf16", "fp32", "fp64"):
        rtol, atol = default_tolerances(P.torch_dtype(name))
        assert (P.get(name).rtol, P.get(name).atol) == (rtol, atol), name
    assert torch.float32 is P.torch_dtype("fp32")


def test_autocast_precisions_follow_their_compute_type() -> None:
    assert P.get("amp_bf16").hardware == "bf16"
    assert P.get("amp_fp16").hardware == "fp16"
    assert P.get("tf32").tf32 and P.get("tf32").storage == "float32"
