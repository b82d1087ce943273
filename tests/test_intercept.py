"""Op interception with real torch on the CPU: simulated errors, the audit, restoring."""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from pytest_dtypegate import backstop, intercept, profiles  # noqa: E402
from pytest_dtypegate.intercept import TARGETS, Interceptor  # noqa: E402
from pytest_dtypegate.transformers import tiny_model  # noqa: E402

P100_GEMM = profiles.load("p100").errors["bf16"][1].message
P100_BGEMM = profiles.load("p100").errors["bf16"][0].message
QWEN_GEMM = "at::cuda::blas::gemm: not implemented for struct c10::BFloat16"
QWEN_BGEMM = "at::cuda::blas::bgemm: not implemented for struct c10::BFloat16"
QWEN_GEMV = "at::cuda::blas::gemv: not implemented for struct c10::BFloat16"
# kind -> the text each profile raises for it in bf16 (cuBLAS runs a bf16 gemv as a gemm on CUDA 11+)
P100_TEXT = {"gemm": P100_GEMM, "gemv": P100_GEMM, "conv": P100_GEMM, "bgemm": P100_BGEMM, "sdpa": P100_BGEMM}
QWEN_TEXT = {"gemm": QWEN_GEMM, "gemv": QWEN_GEMV, "conv": QWEN_GEMM, "bgemm": QWEN_BGEMM, "sdpa": QWEN_BGEMM}
SCALED_MM = "torch._scaled_mm is only supported on CUDA devices with compute capability >= 9.0 or 8.9, or ROCm MI300+"


def _snapshot() -> dict[tuple[str, str], tuple[bool, Any]]:
    out = {}
    for owner_name, attr, *_ in TARGETS:
        owner = torch.Tensor if owner_name == "torch.Tensor" else importlib.import_module(owner_name)
        out[(owner_name, attr)] = (attr in vars(owner), vars(owner).get(attr))
    return out


@pytest.fixture(autouse=True)
def _restored() -> Any:
    """Every test leaves torch exactly as it found it."""
    before = _snapshot()
    yield
    assert not intercept.installed()
    assert not backstop.installed()
    assert intercept.active() is None
    assert _snapshot() == before


def t(*shape: int, dtype: Any = torch.float32) -> Any:
    torch.manual_seed(0)
    return torch.randn(*shape).to(dtype)


def _sdpa(dtype: Any) -> Any:
    q = t(1, 2, 4, 8, dtype=dtype)
    return F.scaled_dot_product_attention(q, q, q)


# (name, call(dtype), expected kind) for the GEMM-family entry points
CALLS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("nn.Linear", lambda d: nn.Linear(8, 4).to(d)(t(2, 8, dtype=d)), "gemm"),
    ("nn.Linear 3-D input", lambda d: nn.Linear(8, 4).to(d)(t(2, 3, 8, dtype=d)), "gemm"),
    ("F.linear no bias", lambda d: F.linear(t(2, 8, dtype=d), t(4, 8, dtype=d)), "gemm"),
    ("torch.matmul 2-D", lambda d: torch.matmul(t(2, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("torch.matmul 3-D @ 2-D", lambda d: torch.matmul(t(2, 5, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("torch.matmul 4-D", lambda d: torch.matmul(t(1, 2, 4, 8, dtype=d), t(1, 2, 8, 4, dtype=d)), "bgemm"),
    ("a @ b", lambda d: t(2, 8, dtype=d) @ t(8, 3, dtype=d), "gemm"),
    ("a @ b batched", lambda d: t(2, 3, 8, dtype=d) @ t(2, 8, 3, dtype=d), "bgemm"),
    ("Tensor.matmul", lambda d: t(2, 8, dtype=d).matmul(t(8, 3, dtype=d)), "gemm"),
    ("torch.mm", lambda d: torch.mm(t(2, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("Tensor.mm", lambda d: t(2, 8, dtype=d).mm(t(8, 3, dtype=d)), "gemm"),
    ("torch.addmm", lambda d: torch.addmm(t(3, dtype=d), t(2, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("Tensor.addmm", lambda d: t(3, dtype=d).addmm(t(2, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("torch.bmm", lambda d: torch.bmm(t(2, 3, 8, dtype=d), t(2, 8, 3, dtype=d)), "bgemm"),
    ("Tensor.bmm", lambda d: t(2, 3, 8, dtype=d).bmm(t(2, 8, 3, dtype=d)), "bgemm"),
    ("torch.baddbmm", lambda d: torch.baddbmm(t(2, 3, 3, dtype=d), t(2, 3, 8, dtype=d), t(2, 8, 3, dtype=d)), "bgemm"),
    ("nn.Conv1d", lambda d: nn.Conv1d(2, 3, 3).to(d)(t(1, 2, 8, dtype=d)), "conv"),
    ("nn.Conv2d", lambda d: nn.Conv2d(2, 3, 3).to(d)(t(1, 2, 8, 8, dtype=d)), "conv"),
    ("torch.conv2d", lambda d: torch.conv2d(t(1, 2, 8, 8, dtype=d), t(3, 2, 3, 3, dtype=d)), "conv"),
    ("sdpa", _sdpa, "sdpa"),
    # matrix-vector products
    ("torch.mv", lambda d: torch.mv(t(3, 8, dtype=d), t(8, dtype=d)), "gemv"),
    ("Tensor.mv", lambda d: t(3, 8, dtype=d).mv(t(8, dtype=d)), "gemv"),
    ("torch.addmv", lambda d: torch.addmv(t(3, dtype=d), t(3, 8, dtype=d), t(8, dtype=d)), "gemv"),
    ("Tensor.addmv", lambda d: t(3, dtype=d).addmv(t(3, 8, dtype=d), t(8, dtype=d)), "gemv"),
    ("Tensor.addmv_", lambda d: t(3, dtype=d).addmv_(t(3, 8, dtype=d), t(8, dtype=d)), "gemv"),
    ("torch.matmul matrix @ vector", lambda d: torch.matmul(t(3, 8, dtype=d), t(8, dtype=d)), "gemv"),
    ("a @ v 3-D", lambda d: t(2, 3, 8, dtype=d) @ t(8, dtype=d), "gemv"),
    # einsum: the kind follows the equation
    (
        "einsum attention scores",
        lambda d: torch.einsum("bhqd,bhkd->bhqk", t(1, 2, 4, 8, dtype=d), t(1, 2, 5, 8, dtype=d)),
        "bgemm",
    ),
    ("einsum projection", lambda d: torch.einsum("bld,dh->blh", t(2, 3, 8, dtype=d), t(8, 4, dtype=d)), "gemm"),
    ("einsum matrix-vector", lambda d: torch.einsum("ij,j->i", t(3, 8, dtype=d), t(8, dtype=d)), "gemm"),
    ("einsum implicit output", lambda d: torch.einsum("ij,jk", t(2, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("einsum operand list", lambda d: torch.einsum("ij,jk->ik", [t(2, 8, dtype=d), t(8, 3, dtype=d)]), "gemm"),
    ("einsum sublists", lambda d: torch.einsum(t(2, 8, dtype=d), [0, 1], t(8, 3, dtype=d), [1, 2], [0, 2]), "gemm"),
    (
        "einsum sublists ellipsis",
        lambda d: torch.einsum(t(2, 3, 8, dtype=d), [..., 0, 1], t(2, 8, 4, dtype=d), [..., 1, 2], [..., 0, 2]),
        "bgemm",
    ),
    (
        "einsum three operands",
        lambda d: torch.einsum("bn,anm,bm->ba", t(2, 5, dtype=d), t(3, 5, 4, dtype=d), t(2, 4, dtype=d)),
        "gemm",
    ),
    # tensordot and addbmm run one 2-D GEMM
    ("torch.tensordot", lambda d: torch.tensordot(t(2, 3, 8, dtype=d), t(8, 4, dtype=d), dims=1), "gemm"),
    (
        "torch.tensordot dims lists",
        lambda d: torch.tensordot(t(3, 8, dtype=d), t(4, 8, dtype=d), dims=([1], [1])),
        "gemm",
    ),
    ("torch.addbmm", lambda d: torch.addbmm(t(3, 3, dtype=d), t(2, 3, 8, dtype=d), t(2, 8, 3, dtype=d)), "gemm"),
    ("Tensor.addbmm", lambda d: t(3, 3, dtype=d).addbmm(t(2, 3, 8, dtype=d), t(2, 8, 3, dtype=d)), "gemm"),
    ("Tensor.addbmm_", lambda d: t(3, 3, dtype=d).addbmm_(t(2, 3, 8, dtype=d), t(2, 8, 3, dtype=d)), "gemm"),
]


@pytest.mark.parametrize(("name", "call", "kind"), CALLS, ids=[c[0] for c in CALLS])
def test_p100_bf16_raises_the_platform_error(name: str, call: Callable[[Any], Any], kind: str) -> None:
    with Interceptor(profiles.load("p100"), audit=False), pytest.raises(RuntimeError) as info:
        call(torch.bfloat16)
    assert type(info.value) is RuntimeError
    assert str(info.value) == P100_TEXT[kind]


@pytest.mark.parametrize(("name", "call", "kind"), CALLS, ids=[c[0] for c in CALLS])
def test_qwen_bf16_raises_the_reported_error(name: str, call: Callable[[Any], Any], kind: str) -> None:
    with Interceptor(profiles.load("qwen-windows-cuda10"), audit=False), pytest.raises(RuntimeError) as info:
        call(torch.bfloat16)
    assert type(info.value) is RuntimeError
    assert str(info.value) == QWEN_TEXT[kind]


@pytest.mark.parametrize(("name", "call", "kind"), CALLS, ids=[c[0] for c in CALLS])
def test_fp32_runs_unchanged_under_p100(name: str, call: Callable[[Any], Any], kind: str) -> None:
    torch.manual_seed(1)
    expected = call(torch.float32)
    with Interceptor(profiles.load("p100"), audit=True) as ic:
        torch.manual_seed(1)
        got = call(torch.float32)
    torch.testing.assert_close(got, expected)
    assert [p for _, p in ic.executed] == ["fp32"]


@pytest.mark.parametrize(("name", "call", "kind"), CALLS, ids=[c[0] for c in CALLS])
def test_bf16_runs_without_a_profile_that_refuses_it(name: str, call: Callable[[Any], Any], kind: str) -> None:
    torch.manual_seed(1)
    expected = call(torch.bfloat16)
    with Interceptor(profiles.load("t4"), audit=False):  # t4: bf16 emulated, fp8 refused
        torch.manual_seed(1)
        got = call(torch.bfloat16)
    torch.testing.assert_close(got, expected)


NEW_ENTRY_POINTS = [
    c
    for c in CALLS
    if c[0].split()[0]
    in (
        "torch.mv",
        "Tensor.mv",
        "torch.addmv",
        "Tensor.addmv",
        "Tensor.addmv_",
        "einsum",
        "torch.tensordot",
        "torch.addbmm",
        "Tensor.addbmm",
        "Tensor.addbmm_",
    )
]


@pytest.mark.parametrize(("name", "call", "kind"), NEW_ENTRY_POINTS, ids=[c[0] for c in NEW_ENTRY_POINTS])
def test_each_entry_point_is_named_as_its_op(name: str, call: Callable[[Any], Any], kind: str) -> None:
    op = name.split()[0].split(".")[-1].rstrip("_")
    with Interceptor(profiles.load("p100"), audit=True) as ic:
        call(torch.float32)
    assert ic.executed == [(op, "fp32")]


def test_einsum_without_a_contraction_runs_and_is_not_recorded() -> None:
    bf16 = torch.bfloat16
    with Interceptor(profiles.load("p100"), audit=True) as ic:
        outer = torch.einsum("i,j->ij", t(4, dtype=bf16), t(3, dtype=bf16))  # RoPE's freqs: no GEMM
        torch.einsum("ij->ji", t(2, 3, dtype=bf16))
        torch.einsum("ii", t(3, 3, dtype=bf16))
        torch.einsum("bi,bi->bi", t(2, 3, dtype=bf16), t(2, 3, dtype=bf16))
        torch.einsum(t(2, 3, dtype=bf16), [0, 1], [1, 0])
    assert outer.shape == (4, 3)
    assert ic.executed == []


def test_einsum_and_friends_are_audited() -> None:
    with Interceptor(None, audit=True) as ic:
        torch.einsum("bhqd,bhkd->bhqk", t(1, 2, 4, 8, dtype=torch.bfloat16), t(1, 2, 5, 8, dtype=torch.bfloat16))
        torch.mv(t(3, 8, dtype=torch.float16), t(8, dtype=torch.float16))
        torch.tensordot(t(3, 8), t(8, 2), dims=1)
        torch.addbmm(t(3, 3, dtype=torch.float64), t(2, 3, 8, dtype=torch.float64), t(2, 8, 3, dtype=torch.float64))
        t(3, 8) @ t(8)
    assert ic.executed == [
        ("einsum", "bf16"),
        ("mv", "fp16"),
        ("tensordot", "fp32"),
        ("addbmm", "fp64"),
        ("matmul", "fp32"),
    ]


def test_einsum_under_autocast_computes_in_the_autocast_dtype() -> None:
    with Interceptor(profiles.load("qwen-windows-cuda10"), audit=False), torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError) as info:
            torch.einsum("bld,dh->blh", t(2, 3, 8), t(8, 4))
        assert str(info.value) == QWEN_GEMM


@pytest.mark.parametrize(
    "equation",
    [
        "ij,jk->ik",
        "ij,jk",
        "bij,bjk->bik",
        "bhqd,bhkd->bhqk",
        "bld,dh->blh",
        "i,j->ij",
        "ij->ji",
        "ii",
        "ii->i",
        "i,i->",
        "ij,j->i",
        "bi,bi->b",
        "bn,anm,bm->ba",
        "ij,jk,kl->il",
        "ab,ab,ab->",
        "ij,ij,jk->ik",
        "...ij,...jk->...ik",
        "...ij,...jk->ik",
        "i,i->i",
        "ij,ji->",
        "abc,abd->cd",
        "ab,bc,cd,de->ae",
        "ij,jk->ijk",
    ],
)
def test_einsum_kind_matches_what_torch_runs(equation: str) -> None:
    """The equation reading agrees with at::einsum: the first aten::bmm it runs, batched or not, or none."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Bmms(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[int] = []

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if func._schema.name == "aten::bmm":
                self.batches.append(args[0].shape[0])
            return func(*args, **(kwargs or {}))

    sizes = {label: 2 + i for i, label in enumerate("abcdefghijklmnopqrstuvwxyz")}
    operands = []
    for term in equation.split("->")[0].split(","):
        shape = [2, 3] if term.startswith("...") else []
        operands.append(torch.randn(*shape, *(sizes[c] for c in term.removeprefix("..."))))
    with torch.backends.opt_einsum.flags(enabled=False), Bmms() as log:
        torch.einsum(equation, *operands)
    real = None if not log.batches else "bgemm" if log.batches[0] > 1 else "gemm"
    assert intercept._einsum_kind(equation, len(operands)) == real


def test_new_entry_points_are_restored() -> None:
    einsum, tensordot, mv = torch.einsum, torch.tensordot, torch.mv
    with Interceptor(profiles.load("p100"), audit=False):
        assert torch.einsum is not einsum and torch.tensordot is not tensordot and torch.mv is not mv
        assert {"mv", "addmv", "addmv_", "addbmm", "addbmm_"} <= set(vars(torch.Tensor))
    assert (torch.einsum, torch.tensordot, torch.mv) == (einsum, tensordot, mv)
    assert torch.einsum is torch.functional.einsum
    assert not {"mv", "addmv", "addmv_", "addbmm", "addbmm_"} & set(vars(torch.Tensor))
    out = torch.einsum("ij,jk->ik", t(2, 2, dtype=torch.bfloat16), t(2, 2, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16


def test_simulated_error_is_the_platform_error_and_nothing_more() -> None:
    with Interceptor(profiles.load("p100"), audit=False), pytest.raises(RuntimeError) as info:
        nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))
    assert info.value.args == (P100_GEMM,)
    assert getattr(info.value, "__notes__", None) is None
    assert info.value.__cause__ is None


def _scaled_mm(dtype: Any) -> Any:
    a = t(16, 32).to(dtype)
    b = t(24, 32).to(dtype).t()
    one = torch.tensor(1.0)
    return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)


def test_a100_runs_bf16_and_refuses_fp8_scaled_mm() -> None:
    with Interceptor(profiles.load("a100"), audit=True) as ic:
        nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))
        _sdpa(torch.bfloat16)
        for dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
            with pytest.raises(RuntimeError) as info:
                _scaled_mm(dtype)
            assert type(info.value) is RuntimeError
            assert str(info.value) == SCALED_MM
    assert ic.executed == [("linear", "bf16"), ("sdpa", "bf16")]  # the refused ops did not run


def test_h100_runs_fp8_scaled_mm() -> None:
    expected = _scaled_mm(torch.float8_e4m3fn)
    with Interceptor(profiles.load("h100"), audit=True) as ic:
        got = _scaled_mm(torch.float8_e4m3fn)
    torch.testing.assert_close(got, expected)
    assert ic.executed == [("scaled_mm", "fp8_e4m3")]


def test_cpu_torch21_fp16() -> None:
    half = torch.float16
    with Interceptor(profiles.load("cpu-torch2.1"), audit=True) as ic:
        with pytest.raises(RuntimeError) as info:
            torch.addmm(t(3, dtype=half), t(2, 8, dtype=half), t(8, 3, dtype=half))
        assert str(info.value) == "\"addmm_impl_cpu_\" not implemented for 'Half'"
        with pytest.raises(RuntimeError) as info:
            nn.Linear(8, 4).half()(t(2, 8, dtype=half))
        assert str(info.value) == "\"addmm_impl_cpu_\" not implemented for 'Half'"
        with pytest.raises(RuntimeError) as info:
            torch.bmm(t(2, 3, 8, dtype=half), t(2, 8, 3, dtype=half))
        assert str(info.value) == "\"baddbmm_with_gemm\" not implemented for 'Half'"
        with pytest.raises(RuntimeError) as info:
            _sdpa(half)
        assert str(info.value) == "\"baddbmm_with_gemm\" not implemented for 'Half'"
        with pytest.raises(RuntimeError) as info:
            nn.Conv2d(2, 3, 3).half()(t(1, 2, 8, 8, dtype=half))
        assert str(info.value) == "\"slow_conv2d_cpu\" not implemented for 'Half'"
        with pytest.raises(NotImplementedError) as ninfo:
            _scaled_mm(torch.float8_e4m3fn)
        assert str(ninfo.value).startswith("Could not run 'aten::_scaled_mm' with arguments from the 'CPU' backend.")
        with pytest.raises(RuntimeError) as info:
            torch.mv(t(3, 8, dtype=half), t(8, dtype=half))
        assert str(info.value) == "\"addmv_impl_cpu\" not implemented for 'Half'"
        with pytest.raises(RuntimeError) as info:
            torch.einsum("bij,bjk->bik", t(2, 3, 8, dtype=half), t(2, 8, 3, dtype=half))
        assert str(info.value) == "\"baddbmm_with_gemm\" not implemented for 'Half'"
        nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))  # bf16 is emulated: it runs
        nn.ConvTranspose3d(2, 2, 2).half()(t(1, 2, 3, 3, 3, dtype=half))  # not covered: runs as torch does
    assert ic.executed == [("linear", "bf16"), ("conv_transpose3d", "fp16")]


def test_mps_profiles() -> None:
    with Interceptor(profiles.load("mps-macos13"), audit=False):
        with pytest.raises(TypeError) as info:
            nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))
        assert type(info.value) is TypeError
        assert str(info.value) == "MPS BFloat16 is only supported on MacOS 14 or newer"
        with pytest.raises(TypeError) as info:
            t(2, 8, dtype=torch.float64) @ t(8, 2, dtype=torch.float64)
        assert str(info.value) == (
            "Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64. "
            "Please use float32 instead."
        )
        nn.Linear(8, 4).half()(t(2, 8, dtype=torch.float16))
    with Interceptor(profiles.load("mps-macos14"), audit=False):
        nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))
        with pytest.raises(TypeError, match=r"^Cannot convert a MPS Tensor to float64 dtype"):
            torch.mm(t(2, 8, dtype=torch.float64), t(8, 2, dtype=torch.float64))


def test_autocast_dtype_is_the_computation_precision() -> None:
    linear = nn.Linear(8, 4)  # fp32 weights
    x = t(2, 8)
    with Interceptor(profiles.load("p100"), audit=False), torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError) as info:
            linear(x)
        assert str(info.value) == P100_GEMM
        # fp64 is never cast by autocast
        torch.mm(t(2, 8, dtype=torch.float64), t(8, 2, dtype=torch.float64))
    with Interceptor(None, audit=True) as ic:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            linear(x)
        linear(x)
    assert ic.executed == [("linear", "bf16"), ("linear", "fp32")]


def test_audit_records_each_op_and_precision_once_in_order() -> None:
    with Interceptor(None, audit=True) as ic:
        for _ in range(3):
            nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))
            t(2, 8, dtype=torch.bfloat16) @ t(8, 2, dtype=torch.bfloat16)
            _sdpa(torch.bfloat16)
            nn.Linear(8, 4)(t(2, 8))
            torch.bmm(t(2, 3, 8, dtype=torch.float16), t(2, 8, 3, dtype=torch.float16))
    assert ic.executed == [
        ("linear", "bf16"),
        ("matmul", "bf16"),
        ("sdpa", "bf16"),
        ("linear", "fp32"),
        ("bmm", "fp16"),
    ]


def test_without_audit_nothing_is_recorded() -> None:
    with Interceptor(profiles.load("t4"), audit=False) as ic:
        assert intercept.installed()  # t4 refuses fp8, so the wrappers are in
        nn.Linear(8, 4).bfloat16()(t(2, 8, dtype=torch.bfloat16))
    assert ic.executed == []


@pytest.mark.parametrize("profile", [None, "h100", "l4"])
def test_nothing_to_do_patches_nothing(profile: str | None) -> None:
    original = torch.matmul
    ic = Interceptor(profiles.load(profile) if profile else None, audit=False)
    assert not ic.needed
    with ic:
        assert not intercept.installed()
        assert torch.matmul is original
        assert intercept.active() is ic


def test_everything_is_restored_after_an_exception_inside() -> None:
    before = _snapshot()
    with pytest.raises(ZeroDivisionError), Interceptor(profiles.load("p100"), audit=True):
        assert intercept.installed()
        assert _snapshot() != before
        1 / 0  # noqa: B018
    assert _snapshot() == before
    assert "matmul" not in vars(torch.Tensor)
    assert "__matmul__" not in vars(torch.Tensor)


def test_simulated_error_propagates_and_restores() -> None:
    with (
        pytest.raises(RuntimeError, match=r"^at::cuda::blas::gemm"),
        Interceptor(profiles.load("qwen-windows-cuda10"), audit=False),
    ):
        torch.mm(t(2, 2, dtype=torch.bfloat16), t(2, 2, dtype=torch.bfloat16))
    assert not intercept.installed()


def test_nesting_the_innermost_decides() -> None:
    bf16 = t(2, 8, dtype=torch.bfloat16)
    outer = Interceptor(profiles.load("p100"), audit=False)
    inner = Interceptor(None, audit=True)
    with outer:
        with inner:
            assert intercept.active() is inner
            bf16 @ bf16.t()  # audit-only inside: runs
        assert intercept.installed()
        with pytest.raises(RuntimeError):
            bf16 @ bf16.t()
    assert inner.executed == [("matmul", "bf16")]


def test_reentering_the_same_interceptor() -> None:
    ic = Interceptor(profiles.load("p100"), audit=True)
    with ic:
        with ic:
            nn.Linear(8, 4)(t(2, 8))
        assert intercept.installed()
        assert intercept.active() is ic
        t(2, 8) @ t(8, 2)
    assert ic.executed == [("linear", "fp32"), ("matmul", "fp32")]


def test_a_wrapper_kept_after_exit_passes_through() -> None:
    with Interceptor(profiles.load("p100"), audit=False):
        kept = torch.mm
    assert kept is not torch.mm
    out = kept(t(2, 2, dtype=torch.bfloat16), t(2, 2, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16


def test_user_profile_file(tmp_path: Path) -> None:
    data = profiles.load("h100").to_json()
    data["name"] = "no-doubles"
    data["capabilities"]["support"]["fp64"] = {"support": "unsupported", "message": "no fp64 units"}
    data["errors"] = {
        "fp64": [
            {"ops": ["conv"], "type": "NotImplementedError", "message": "no fp64 conv"},
            {"ops": ["*"], "type": "ValueError", "message": "no fp64 at all"},
        ]
    }
    path = tmp_path / "no-doubles.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with Interceptor(profiles.load(str(path)), audit=False):
        with pytest.raises(NotImplementedError, match=r"^no fp64 conv$"):
            nn.Conv1d(1, 1, 2).double()(t(1, 1, 4, dtype=torch.float64))
        with pytest.raises(ValueError, match=r"^no fp64 at all$"):
            F.linear(t(2, 2, dtype=torch.float64), t(2, 2, dtype=torch.float64))


# -- a tiny transformers model ----------------------------------------------------
def _tiny_qwen(attn: str) -> Any:
    pytest.importorskip("transformers")
    return tiny_model("qwen3", attn_implementation=attn)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_tiny_model_bf16_raises_under_simulation_and_fp32_runs(attn: str) -> None:
    model = _tiny_qwen(attn)
    ids = torch.randint(0, 128, (1, 8))
    with torch.no_grad():
        expected = model(ids).logits
        with Interceptor(profiles.load("qwen-windows-cuda10"), audit=True) as ic:
            got = model(ids).logits
            with pytest.raises(RuntimeError) as info:
                model.to(torch.bfloat16)(ids)
    torch.testing.assert_close(got, expected)
    assert str(info.value) == QWEN_GEMM  # the first GEMM is the q projection
    attention = ("sdpa", "fp32") if attn == "sdpa" else ("matmul", "fp32")
    assert ic.executed == [("linear", "fp32"), attention]


def test_tiny_model_audit_in_bf16() -> None:
    model = _tiny_qwen("eager").to(torch.bfloat16)
    with torch.no_grad(), Interceptor(None, audit=True) as ic:
        model(torch.randint(0, 128, (1, 8)))
    assert ic.executed == [("linear", "bf16"), ("matmul", "bf16")]


# -- the dispatch-level backstop: GEMMs that never pass a Python entry point ------------
def _import_bound(d: Any) -> Any:
    from torch import matmul  # bound before (and independently of) any patch

    return matmul(t(2, 8, dtype=d), t(8, 3, dtype=d))


def _mha_fast_path(d: Any) -> Any:
    mha = nn.MultiheadAttention(8, 2, batch_first=True).to(d).eval()
    x = t(1, 4, 8, dtype=d)
    with torch.no_grad():  # eval + no_grad + batch_first: torch._native_multi_head_attention, all in C++
        return mha(x, x, x)[0]


def _backward(d: Any) -> Any:
    # addr's forward is elementwise; its backward runs grad.mv(vec2): a GEMV only the backward pass runs
    v = t(8, dtype=d).requires_grad_()
    torch.addr(t(8, 8, dtype=d), v, t(8, dtype=d)).sum().backward()
    return v.grad


def _chain_matmul(d: Any) -> Any:
    with warnings.catch_warnings():  # deprecated (once per process), and still there
        warnings.simplefilter("ignore", UserWarning)
        return torch.chain_matmul(t(2, 8, dtype=d), t(8, 8, dtype=d), t(8, 3, dtype=d))


# (name, call(dtype), the kind its first GEMM is)
ESCAPES: list[tuple[str, Callable[[Any], Any], str]] = [
    ("from torch import matmul", _import_bound, "gemm"),
    (
        "torch.linalg.multi_dot",
        lambda d: torch.linalg.multi_dot([t(2, 8, dtype=d), t(8, 8, dtype=d), t(8, 3, dtype=d)]),
        "gemm",
    ),
    ("torch.inner", lambda d: torch.inner(t(2, 8, dtype=d), t(3, 8, dtype=d)), "gemm"),
    ("torch.linalg.matmul", lambda d: torch.linalg.matmul(t(2, 8, dtype=d), t(8, 3, dtype=d)), "gemm"),
    ("F.bilinear", lambda d: F.bilinear(t(2, 8, dtype=d), t(2, 8, dtype=d), t(3, 8, 8, dtype=d)), "bgemm"),
    ("torch.chain_matmul", _chain_matmul, "gemm"),
    ("nn.MultiheadAttention fast path", _mha_fast_path, "gemm"),
    ("backward pass", _backward, "gemv"),
]


@pytest.mark.parametrize(("name", "call", "kind"), ESCAPES, ids=[c[0] for c in ESCAPES])
def test_gemms_below_the_entry_points_raise_the_platform_error(
    name: str, call: Callable[[Any], Any], kind: str
) -> None:
    with Interceptor(profiles.load("p100"), audit=False), pytest.raises(RuntimeError) as info:
        call(torch.bfloat16)
    assert type(info.value) is RuntimeError
    assert str(info.value) == P100_TEXT[kind]


@pytest.mark.parametrize(("name", "call", "kind"), ESCAPES, ids=[c[0] for c in ESCAPES])
def test_gemms_below_the_entry_points_run_where_the_platform_has_them(
    name: str, call: Callable[[Any], Any], kind: str
) -> None:
    torch.manual_seed(1)
    expected = call(torch.bfloat16)
    with Interceptor(profiles.load("a100"), audit=True) as ic:
        torch.manual_seed(1)
        got = call(torch.bfloat16)
    torch.testing.assert_close(got, expected)
    assert ic.executed and all(p == "bf16" for _, p in ic.executed)


def test_the_backward_pass_is_audited_and_marked() -> None:
    linear = nn.Linear(8, 4).to(torch.bfloat16)
    x = t(2, 8, dtype=torch.bfloat16)
    with Interceptor(None, audit=True) as ic:
        linear(x).sum().backward()
    assert ic.executed == [("linear", "bf16"), ("mm", "bf16")]
    forward = [c for c in ic.calls if not c.backward]
    backward = [c for c in ic.calls if c.backward]
    assert [(c.op, c.precision) for c in forward] == [("linear", "bf16")]
    assert {(c.op, c.precision) for c in backward} == {("mm", "bf16")}
    this_file = Path(__file__).resolve()
    for call in ic.calls:  # the first frame outside torch: here, for the forward and for .backward()
        assert call.site is not None and Path(call.site.file).resolve() == this_file
        assert call.site.function == "test_the_backward_pass_is_audited_and_marked"


def test_a_gemm_decided_by_a_wrapper_is_not_decided_again_below() -> None:
    with Interceptor(None, audit=True) as ic:
        nn.Linear(8, 4)(t(2, 8))  # linear -> addmm: one decision, named as the test wrote it
        torch.einsum("bld,dh->blh", t(2, 3, 8), t(8, 4))  # einsum -> bmm
        F.scaled_dot_product_attention(*(t(1, 2, 4, 8),) * 3)  # sdpa -> its CPU kernel
    assert ic.executed == [("linear", "fp32"), ("einsum", "fp32"), ("sdpa", "fp32")]


def test_each_call_site_is_recorded_once_in_first_run_order() -> None:
    a = t(4, 4, dtype=torch.bfloat16)

    def helper() -> Any:
        return a @ a

    with Interceptor(None, audit=True) as ic:
        for _ in range(3):
            helper()
            a @ a
    assert ic.executed == [("matmul", "bf16")]
    assert [(c.site.function if c.site else None) for c in ic.calls] == [
        "test_each_call_site_is_recorded_once_in_first_run_order.<locals>.helper"
        if hasattr(helper.__code__, "co_qualname")
        else "helper",
        "test_each_call_site_is_recorded_once_in_first_run_order",
    ]
    assert all(c.phase is None and c.fixture is None and not c.backward for c in ic.calls)


def test_phase_and_fixture_are_stamped_on_the_calls() -> None:
    ic = Interceptor(None, audit=True)
    ic.phase, ic.fixture = "setup", ("model", "session")
    with ic:
        t(2, 8) @ t(8, 2)
    ic.phase, ic.fixture = "call", None
    with ic:
        t(2, 8) @ t(8, 2)
    assert [(c.phase, c.fixture) for c in ic.calls] == [("setup", ("model", "session")), ("call", None)]


def test_a_refused_gemm_is_recorded_with_its_call_site_also_without_audit() -> None:
    with Interceptor(profiles.load("p100"), audit=False) as ic, pytest.raises(RuntimeError):
        torch.linalg.multi_dot([t(2, 2, dtype=torch.bfloat16)] * 3)
    assert ic.executed == [] and ic.calls == []
    assert [(c.op, c.precision) for c in ic.raised] == [("mm", "bf16")]
    assert ic.raised[0].site is not None and ic.raised[0].site.function.endswith("without_audit")


def test_hold_keeps_the_interception_in_until_release() -> None:
    intercept.hold()
    try:
        assert intercept.installed() and backstop.installed()
        original = vars(torch.Tensor)["__matmul__"]
        with Interceptor(profiles.load("p100"), audit=False):
            assert vars(torch.Tensor)["__matmul__"] is original  # no second install
            with pytest.raises(RuntimeError):
                t(2, 2, dtype=torch.bfloat16) @ t(2, 2, dtype=torch.bfloat16)
        t(2, 2, dtype=torch.bfloat16) @ t(2, 2, dtype=torch.bfloat16)  # held, but no interceptor: runs
        assert intercept.installed()
        assert intercept.coverage() is None
    finally:
        intercept.release()
    assert not intercept.installed() and not backstop.installed()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inductor's own imports
def test_compiled_code_meets_the_platform_error_when_it_runs() -> None:
    linear = nn.Linear(32, 32)

    def step(x: Any) -> Any:
        return torch.matmul(linear(x), x.t())

    compiled = torch.compile(step, fullgraph=True)  # fullgraph: the wrappers break no graph
    expected = step(t(16, 32))
    with Interceptor(profiles.load("p100"), audit=True) as ic:
        torch.testing.assert_close(compiled(t(16, 32)), expected)
        linear.to(torch.bfloat16)
        with pytest.raises(RuntimeError) as info:
            compiled(t(16, 32, dtype=torch.bfloat16))
    assert type(info.value) is RuntimeError
    assert str(info.value) == P100_GEMM
    assert ("addmm", "fp32") in ic.executed  # what inductor's compiled code ran


def test_a_convolution_below_the_entry_points_is_named_as_its_entry_point() -> None:
    from torch import conv2d  # bound at import

    half = torch.float16
    with Interceptor(profiles.load("cpu-torch2.1"), audit=False), pytest.raises(RuntimeError) as info:
        conv2d(t(1, 2, 8, 8, dtype=half), t(3, 2, 3, 3, dtype=half))
    assert str(info.value) == "\"slow_conv2d_cpu\" not implemented for 'Half'"  # the profile's conv2d entry
    conv = nn.ConvTranspose1d(2, 2, 2)
    with Interceptor(None, audit=True) as ic:
        conv(t(1, 2, 4).requires_grad_()).sum().backward()
    assert {(c.op, c.backward) for c in ic.calls} == {("conv_transpose1d", False), ("conv_transpose1d", True)}


def _scripted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.matmul(a, b) + a @ b + F.linear(a, b) + torch.mm(a, b) + torch.einsum("ij,jk->ik", [a, b])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_and_fx_see_the_ops_the_wrappers_stand_for() -> None:
    """The plugin holds the wrappers for a whole session (collection included): scripting and tracing still work."""
    a = t(2, 2)
    intercept.hold()
    try:
        scripted = torch.jit.script(_scripted)
        with Interceptor(None, audit=True):
            torch.testing.assert_close(scripted(a, a), _scripted(a, a))

            class Model(nn.Module):
                def forward(self, x: Any, y: Any) -> Any:
                    return torch.matmul(x, y)

            graph = torch.fx.symbolic_trace(Model()).graph
    finally:
        intercept.release()
    assert [n.op for n in graph.nodes] == ["placeholder", "placeholder", "call_function", "output"]
