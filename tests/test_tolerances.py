"""Tolerances: marker > ini > built-in, their validation, assert_close and the runtime contexts."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_dtypegate import precisions as _p
from pytest_dtypegate import tolerances as T

torch = pytest.importorskip("torch")

VALID = "valid names: fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, fp64, amp_bf16, amp_fp16"


# -- parse_ini -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "bf16:2e-2,1e-3 fp16:1e-3,1e-5",
        "\nbf16:2e-2,1e-3\nfp16:1e-3,1e-5\n",  # a multi-line ini value
        ["bf16:2e-2,1e-3", "fp16:1e-3,1e-5"],  # type = linelist / args
        "bfloat16: 2e-2, 1e-3   half:0.001,0.00001",  # aliases, spaces after : and ,
    ],
)
def test_parse_ini_accepts_each_layout(value: Any) -> None:
    assert T.parse_ini(value) == {"bf16": (2e-2, 1e-3), "fp16": (1e-3, 1e-5)}


@pytest.mark.parametrize("value", [None, "", "   \n ", []])
def test_parse_ini_empty_is_no_override(value: Any) -> None:
    assert T.parse_ini(value) == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bf16", "'bf16' is not NAME:RTOL,ATOL (e.g. bf16:1.6e-2,1e-5)"),
        ("bf16:1e-2", "'bf16:1e-2' is not NAME:RTOL,ATOL (e.g. bf16:1.6e-2,1e-5)"),
        ("fp16:1,2 bf16=1,2", "'bf16=1,2' is not NAME:RTOL,ATOL (e.g. bf16:1.6e-2,1e-5)"),
        ("bf16:1,2,3", "'bf16:1,2,3' is not NAME:RTOL,ATOL (e.g. bf16:1.6e-2,1e-5)"),
        ("bf17:1e-2,1e-3", f"in 'bf17:1e-2,1e-3': unknown precision 'bf17'; {VALID}"),
        ("bf16:x,1e-3", "in 'bf16:x,1e-3': rtol 'x' is not a finite number >= 0"),
        ("bf16:1e-2,-1", "in 'bf16:1e-2,-1': atol '-1' is not a finite number >= 0"),
        ("bf16:nan,1", "in 'bf16:nan,1': rtol 'nan' is not a finite number >= 0"),
        ("bf16:1,2 bfloat16:3,4", "bf16 is given twice"),
        (
            "auto:1,2",
            "in 'auto:1,2': 'auto' cannot have a tolerance (it resolves to bf16, fp16 or fp32 per device); "
            "give those instead",
        ),
    ],
)
def test_parse_ini_errors_name_the_bad_entry(value: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        T.parse_ini(value)
    assert str(info.value) == message


# -- parse_marker ------------------------------------------------------------------------------
def test_parse_marker_canonicalises_aliases() -> None:
    assert T.parse_marker((), {"bfloat16": (2e-2, 1e-2), "fp16": [1e-3, 0]}) == {
        "bf16": (2e-2, 1e-2),
        "fp16": (1e-3, 0.0),
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            ("bf16",),
            {},
            "dtype_tolerance takes keyword arguments only, such as dtype_tolerance(bf16=(1.6e-2, 1e-5)); "
            "got positional ('bf16',)",
        ),
        (
            (),
            {},
            "dtype_tolerance needs at least one precision=(rtol, atol), e.g. dtype_tolerance(bf16=(1.6e-2, 1e-5))",
        ),
        ((), {"bf17": (1, 2)}, f"unknown precision 'bf17'; {VALID}"),
        ((), {"bf16": (0.01,)}, "bf16=(0.01,) is not an (rtol, atol) pair of numbers >= 0, e.g. bf16=(1.6e-2, 1e-5)"),
        ((), {"bf16": 0.01}, "bf16=0.01 is not an (rtol, atol) pair of numbers >= 0, e.g. bf16=(1.6e-2, 1e-5)"),
        ((), {"bf16": "1,2"}, "bf16='1,2' is not an (rtol, atol) pair of numbers >= 0, e.g. bf16=(1.6e-2, 1e-5)"),
        (
            (),
            {"fp16": (True, 1e-3)},
            "fp16=(True, 0.001) is not an (rtol, atol) pair of numbers >= 0, e.g. bf16=(1.6e-2, 1e-5)",
        ),
        (
            (),
            {"fp16": (-1e-3, 1e-3)},
            "fp16=(-0.001, 0.001) is not an (rtol, atol) pair of numbers >= 0, e.g. bf16=(1.6e-2, 1e-5)",
        ),
        ((), {"bf16": (1, 2), "bfloat16": (1, 2)}, "bf16 is given twice (bf16= and bfloat16=)"),
        (
            (),
            {"auto": (1, 2)},
            "'auto' cannot have a tolerance (it resolves to bf16, fp16 or fp32 per device); give those instead",
        ),
    ],
)
def test_parse_marker_errors_name_the_bad_part(args: Any, kwargs: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        T.parse_marker(args, kwargs)
    assert str(info.value) == message


# -- resolve: marker > ini > built-in ---------------------------------------------------------------
@pytest.mark.parametrize("name", list(_p.PRECISIONS))
def test_resolve_falls_back_to_the_built_in_table(name: str) -> None:
    assert T.resolve(name, None, None) == (_p.PRECISIONS[name].rtol, _p.PRECISIONS[name].atol)


def test_resolve_precedence_marker_then_ini_then_built_in() -> None:
    ini = T.parse_ini("bf16:2e-2,1e-3 fp16:1e-3,1e-4")
    marker = {"bf16": (5e-2, 5e-2)}
    assert T.resolve("bf16", marker, ini) == (5e-2, 5e-2)
    assert T.resolve("fp16", marker, ini) == (1e-3, 1e-4)
    assert T.resolve("fp32", marker, ini) == (1.3e-6, 1e-5)
    assert T.lookup("bf16", marker, ini).source == "dtype_tolerance marker"
    assert T.lookup("fp16", marker, ini).source == "dtypegate_tolerance ini"
    assert T.lookup("fp32", marker, ini).describe() == "rtol=1.3e-06, atol=1e-05 (fp32 built-in)"


def test_resolve_accepts_aliases_dtypes_and_raw_marker_kwargs() -> None:
    assert T.resolve(torch.bfloat16, {"bfloat16": (0.1, 0.2)}, None) == (0.1, 0.2)
    assert T.resolve("half", None, {"fp16": (0.3, 0.4)}) == (0.3, 0.4)
    with pytest.raises(ValueError, match=r"^bf16=0\.1 is not an \(rtol, atol\) pair"):
        T.resolve("bf16", {"bf16": 0.1}, None)


# -- assert_close ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeModelPrecision:
    """What the model_precision fixture hands a test (the fields assert_close reads)."""

    name: str
    rtol: float
    atol: float
    dtype: Any = None


def test_pytest_dtypegate_assert_close_is_this_one() -> None:
    import pytest_dtypegate

    assert pytest_dtypegate.assert_close is T.assert_close


def test_assert_close_passes_within_the_precision_tolerance() -> None:
    ref = torch.linspace(1, 2, 50)
    T.assert_close(ref.bfloat16(), ref)  # bf16 rounding is within bf16's rtol
    T.assert_close(ref.half(), ref, "fp16")


def test_assert_close_fails_outside_and_says_which_tolerances() -> None:
    ref = torch.linspace(1, 2, 50)
    with pytest.raises(AssertionError) as info:
        T.assert_close(ref.bfloat16() + 0.1, ref)
    text = str(info.value)
    assert text.startswith(
        "bf16 comparison failed with rtol=0.016, atol=1e-05 (bf16 built-in, from actual.dtype), compared in "
        "float32; the built-in tolerances are per-op, usually too tight for a whole model: widen them with "
        "@dtype_tolerance(bf16=(rtol, atol)) or the dtypegate_tolerance ini option\n"
    )
    assert "Tensor-likes are not close!" in text
    assert "Mismatched elements: 50 / 50" in text


def test_assert_close_upcasts_both_sides() -> None:
    # 1 + 2**-9 is not representable in bf16 but fp16 holds it: compared in fp32, not in bf16
    actual = torch.tensor([1.0], dtype=torch.bfloat16)
    expected = torch.tensor([1.0 + 2**-9], dtype=torch.float16)
    T.assert_close(actual, expected, "bf16")
    with pytest.raises(AssertionError, match="compared in float32"):
        T.assert_close(actual, expected, "fp16")
    T.assert_close(torch.tensor([1.0], dtype=torch.float64), [1.0], "fp64")


def test_assert_close_with_the_model_precision_record_uses_its_tolerances() -> None:
    record = FakeModelPrecision("bf16", rtol=0.0, atol=0.5)
    T.assert_close(torch.zeros(3), torch.full((3,), 0.4), record)
    with pytest.raises(AssertionError) as info:
        T.assert_close(torch.zeros(3), torch.full((3,), 0.6), record)
    assert str(info.value).startswith(
        "bf16 comparison failed with rtol=0, atol=0.5 (bf16 from model_precision), compared in float32\n"
    )


def test_assert_close_explicit_tolerances_and_msg() -> None:
    T.assert_close(torch.zeros(2), torch.full((2,), 0.1), "fp32", rtol=0, atol=0.2)
    with pytest.raises(AssertionError) as info:
        T.assert_close(torch.zeros(2), torch.full((2,), 0.1), "bf16", atol=0.01, msg="logits drifted")
    assert str(info.value).startswith(
        "logits drifted\nbf16 comparison failed with rtol=0.016, atol=0.01 (bf16 built-in, partly explicit), "
        "compared in float32\n"
    )


def test_assert_close_explains_an_upcast_actual() -> None:
    # logits.float() hides the precision: the fp32 tolerance applies, and the message says why
    with pytest.raises(AssertionError) as info:
        T.assert_close(torch.ones(2).bfloat16().float() + 1e-3, torch.ones(2))
    assert "(fp32 built-in, from actual.dtype)" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"actual": torch.ones(2, dtype=torch.int64), "expected": torch.ones(2)},
            "assert_close: cannot take a precision from actual's dtype (torch.int64); pass precision= "
            "(e.g. model_precision) or rtol= and atol=",
        ),
        (
            {"actual": torch.ones(2), "expected": torch.ones(2), "precision": "bf17"},
            f"assert_close: unknown precision 'bf17'; {VALID}",
        ),
        (
            {"actual": torch.ones(2), "expected": torch.ones(2), "precision": "auto"},
            f"assert_close: unknown precision 'auto'; {VALID}",
        ),
        (
            {"actual": torch.ones(2), "expected": torch.ones(2), "rtol": -1.0},
            "assert_close: rtol=-1.0 is not a finite number >= 0",
        ),
    ],
)
def test_assert_close_rejects_what_it_cannot_use(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        T.assert_close(**kwargs)
    assert str(info.value) == message


def test_assert_close_shape_mismatch_is_an_assertion_with_the_header() -> None:
    with pytest.raises(AssertionError) as info:
        T.assert_close(torch.ones(2), torch.ones(3), "fp32")
    assert str(info.value).startswith("fp32 comparison failed with rtol=1.3e-06, atol=1e-05 (fp32 built-in)")
    assert "shape" in str(info.value).lower()


def test_tolerance_scope_applies_marker_and_ini_to_assert_close() -> None:
    actual, expected = torch.zeros(2).bfloat16(), torch.full((2,), 0.05)
    with pytest.raises(AssertionError):
        T.assert_close(actual, expected)
    with T.tolerance_scope({"bfloat16": (0.0, 0.1)}, T.parse_ini("fp16:0,0.2")):
        T.assert_close(actual, expected)  # marker, from the dtype
        T.assert_close(torch.zeros(2), torch.full((2,), 0.15), "fp16")  # ini, by name
        with pytest.raises(AssertionError) as info:
            T.assert_close(actual, torch.full((2,), 0.5))
        assert "rtol=0, atol=0.1 (bf16 dtype_tolerance marker, from actual.dtype)" in str(info.value)
    with pytest.raises(AssertionError):  # left again: built-in
        T.assert_close(actual, expected)


# -- runtime contexts: tf32 -----------------------------------------------------------------
def _read_all() -> dict[str, Any]:
    """Every TF32-related global this torch has, read independently of the code under test."""
    out: dict[str, Any] = {}
    try:
        out["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    except RuntimeError:
        out["float32_matmul_precision"] = "<unreadable>"
    for path in (*T._LEGACY_TF32, *T._NEW_TF32):
        try:
            out[path] = operator.attrgetter(path)(torch.backends)
        except AttributeError:
            continue
        except RuntimeError:
            out[path] = "<unreadable>"
    return out


@pytest.fixture
def clean_tf32() -> Iterator[None]:
    saved = T._tf32_snapshot(torch)
    yield
    T._tf32_restore(torch, saved)


def _use_new_api() -> None:
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.cudnn.conv.fp32_precision = "ieee"


STARTS = {
    "defaults": lambda: None,
    "legacy tf32 on": lambda: setattr(torch.backends.cuda.matmul, "allow_tf32", True),
    "cudnn tf32 off": lambda: setattr(torch.backends.cudnn, "allow_tf32", False),
    "matmul medium": lambda: torch.set_float32_matmul_precision("medium"),
    "new API in use": _use_new_api,
}


@pytest.mark.usefixtures("clean_tf32")
@pytest.mark.parametrize("start", list(STARTS))
def test_tf32_context_switches_tf32_on_and_restores_every_global(start: str) -> None:
    if start == "new API in use" and "cuda.matmul.fp32_precision" not in _read_all():
        pytest.skip("this torch has no fp32_precision API")
    STARTS[start]()
    before = _read_all()
    with T.precision_context("tf32", "cuda:0"):
        inside = _read_all()
        if "cuda.matmul.fp32_precision" in inside:
            assert inside["cuda.matmul.fp32_precision"] == "tf32"
        if inside.get("cuda.matmul.allow_tf32") != "<unreadable>" and "cuda.matmul.allow_tf32" in inside:
            assert inside["cuda.matmul.allow_tf32"] is True
            assert inside["cudnn.allow_tf32"] is True
            assert inside["float32_matmul_precision"] == "high"
    assert _read_all() == before


@pytest.mark.usefixtures("clean_tf32")
def test_tf32_context_restores_after_a_failure_inside() -> None:
    before = _read_all()
    with pytest.raises(ZeroDivisionError):
        with T.precision_context("tf32", "cpu"):
            assert torch.get_float32_matmul_precision() == "high"
            1 / 0  # noqa: B018
    assert _read_all() == before


# -- runtime contexts: autocast and the rest -------------------------------------------------------
def _autocast() -> tuple[bool, Any]:
    """Whether CPU autocast is on, and its dtype (torch >= 2.4 API, older fallback)."""
    if hasattr(torch, "get_autocast_dtype"):
        return torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")
    return torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()


@pytest.mark.parametrize(("name", "dtype"), [("amp_bf16", torch.bfloat16), ("amp_fp16", torch.float16)])
def test_amp_context_runs_the_body_under_autocast(name: str, dtype: Any) -> None:
    assert not _autocast()[0]
    linear = torch.nn.Linear(4, 4)
    with T.precision_context(name, "cpu"):
        assert _autocast() == (True, dtype)
        assert linear(torch.randn(2, 4)).dtype == dtype  # fp32 weights, low-precision matmul
    assert not _autocast()[0]
    assert linear(torch.randn(2, 4)).dtype == torch.float32


def test_amp_context_is_left_after_a_failure_inside() -> None:
    with pytest.raises(KeyError):
        with T.precision_context("autocast_bf16", "cpu"):
            raise KeyError("boom")
    assert not _autocast()[0]


@pytest.mark.usefixtures("clean_tf32")
@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16", "fp64", "fp8_e4m3", torch.float16])
def test_storage_precisions_have_no_runtime_context(name: Any) -> None:
    before = _read_all()
    with T.precision_context(name, "cpu"):
        assert not _autocast()[0]
        assert _read_all() == before


def test_precision_context_rejects_auto() -> None:
    with pytest.raises(_p.UnknownPrecisionError) as info:
        T.precision_context("auto", "cpu")
    assert str(info.value) == f"unknown precision 'auto'; {VALID}"
