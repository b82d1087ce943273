"""The pure policy, driven by a V100-like, an A100-like, an MPS-like and a CPU table."""

from __future__ import annotations

import pytest
from devices import A100, CPU, MPS, V100

from pytest_dtypegate import Capabilities, Support
from pytest_dtypegate.policy import Downgrade, Fail, Request, Requirement, Run, Settings, Skip, decide, usable

SKIP = Settings()
DOWN = Settings(on_unsupported="downgrade")
FAIL = Settings(on_unsupported="fail")
ALL = ("bf16", "fp16", "fp32")


def req(p: str | None, siblings: tuple[str, ...] = ALL, **kw: object) -> Request:
    return Request(p, siblings if p else (), **kw)  # type: ignore[arg-type]


def test_v100_skips_emulated_bf16_with_the_documented_reason() -> None:
    d = decide(req("bf16"), V100, SKIP)
    assert d == Skip("bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+", "bf16", "emulated")
    assert decide(req("fp16"), V100, SKIP) == Run("fp16", "fp16", V100.support_of("fp16"))


def test_v100_downgrade_to_a_sibling_is_a_duplicate_skip() -> None:
    d = decide(req("bf16"), V100, DOWN)
    assert isinstance(d, Skip) and d.kind == "duplicate"
    assert d.reason.startswith("bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+; ")
    assert "fallback fp16 already runs as this test's own [fp16] case" in d.reason


def test_v100_downgrade_when_fallback_is_not_a_sibling() -> None:
    d = decide(req("bf16", ("bf16",)), V100, DOWN)
    assert isinstance(d, Downgrade)
    assert (d.precision, d.requested) == ("fp16", "bf16")


def test_allow_emulated_true_runs_bf16_on_v100() -> None:
    d = decide(req("bf16"), V100, Settings(allow_emulated="true"))
    assert isinstance(d, Run) and d.precision == "bf16"


def test_on_unsupported_fail() -> None:
    d = decide(req("bf16"), V100, FAIL)
    assert isinstance(d, Fail) and d.reason.startswith("bf16 is emulated on Tesla V100")


def test_a100_runs_everything_it_lists_and_not_fp8() -> None:
    for p in ("bf16", "fp16", "fp32", "tf32"):
        assert isinstance(decide(req(p), A100, SKIP), Run)
    d = decide(req("fp8_e4m3", ("fp8_e4m3",)), A100, SKIP)
    assert isinstance(d, Skip)
    assert d.reason == (
        "fp8_e4m3 is unsupported on NVIDIA A100-SXM4-40GB (sm_80): not listed in the device's "
        "capabilities (native fp8_e4m3 needs sm_89+)"
    )
    d = decide(req("fp8_e4m3", ("fp8_e4m3",)), A100, DOWN)
    assert isinstance(d, Downgrade) and d.precision == "bf16"


def test_mps_bf16_unsupported_names_the_failing_op() -> None:
    d = decide(req("bf16"), MPS, SKIP)
    assert isinstance(d, Skip) and d.kind == "unsupported"
    assert d.reason == (
        "bf16 is unsupported on Apple M1 (mps): alloc raised TypeError: BFloat16 is not supported "
        "on MPS (bf16 on MPS needs macOS 14+ on Apple silicon)"
    )
    assert isinstance(decide(req("fp64", ("fp64",)), MPS, DOWN), Downgrade)


def test_cpu_allows_emulated_by_default_but_not_when_false() -> None:
    assert isinstance(decide(req("bf16"), CPU, SKIP), Run)
    d = decide(req("bf16"), CPU, Settings(allow_emulated="false"))
    assert isinstance(d, Skip) and "bf16 is emulated on Intel Xeon (cpu)" in d.reason


@pytest.mark.parametrize(("caps", "best"), [(V100, "fp16"), (A100, "bf16"), (MPS, "fp16"), (CPU, "fp32")])
def test_auto_resolves_to_best_native(caps: Capabilities, best: str) -> None:
    d = decide(req("auto", ("auto",)), caps, SKIP)
    assert isinstance(d, Run) and d.precision == best and d.requested == "auto"


def test_requires_markers() -> None:
    bf16 = (Requirement("bf16"),)
    assert isinstance(decide(Request(requires=bf16), A100, SKIP), Run)
    d = decide(Request(requires=bf16), V100, SKIP)
    assert isinstance(d, Skip) and d.reason.startswith("bf16 is emulated on Tesla V100")
    native = (Requirement("bf16", native=True),)
    d = decide(Request(requires=native), CPU, SKIP)
    assert isinstance(d, Skip) and d.reason.endswith("the test requires native bf16")
    assert isinstance(decide(Request(requires=native), CPU, Settings(allow_emulated="true")), Skip)


def test_requires_capability() -> None:
    r = Request(min_capability=(8, 0))
    assert isinstance(decide(r, A100, SKIP), Run)
    d = decide(r, V100, SKIP)
    assert d == Skip("requires compute capability sm_80+; Tesla V100-SXM2-16GB (sm_70) is sm_70", None, "capability")
    d = decide(r, MPS, SKIP)
    assert (
        isinstance(d, Skip)
        and d.reason == "requires CUDA compute capability sm_80+; Apple M1 (mps) is not a CUDA device"
    )


def test_probe_failure_runs_the_test_as_asked() -> None:
    """Fail closed: an unknown table never turns a test into a skip; its own result stands."""
    caps = Capabilities(device="cuda:0", error="the probe crashed (signal 11)")
    for settings in (SKIP, Settings("fail", "auto"), Settings("downgrade", "false")):
        assert decide(req("bf16"), caps, settings) == Run("bf16", "bf16", Support.UNKNOWN)
        assert decide(req("fp32"), caps, settings) == Run("fp32", "fp32", Support.UNKNOWN)
    marked = Request(None, (), (Requirement("bf16", native=True),), (9, 0))
    assert decide(marked, caps, SKIP) == Run(None)
    assert decide(req("auto", siblings=("bf16",)), caps, SKIP) == Run("fp32", "auto", Support.UNKNOWN)
    assert decide(req("auto", siblings=("fp32",)), caps, SKIP) == Skip(
        "auto resolves to fp32 on cuda:0, which already runs as this test's own [fp32] case", "auto", "duplicate"
    )


def test_one_unknown_precision_runs_and_the_known_ones_are_gated() -> None:
    caps = Capabilities(
        device="cuda:0",
        name="X",
        backend="cuda",
        capability=(7, 0),
        support={"fp32": "native", "bf16": "unknown", "fp16": "unsupported"},
    )
    assert decide(req("bf16"), caps, SKIP) == Run("bf16", "bf16", Support.UNKNOWN)
    assert decide(Request(None, (), (Requirement("bf16"),)), caps, SKIP) == Run(None)
    assert isinstance(decide(req("fp16"), caps, SKIP), Skip)


def test_usable_and_settings_validation() -> None:
    assert usable("fp16", V100, SKIP)
    assert not usable("bf16", V100, SKIP)
    with pytest.raises(ValueError, match="on_unsupported must be one of skip, downgrade, fail"):
        Settings(on_unsupported="ignore")
    with pytest.raises(ValueError, match="allow_emulated must be one of auto, true, false"):
        Settings(allow_emulated="yes")


def test_auto_that_resolves_to_a_sibling_is_a_duplicate() -> None:
    d = decide(req("auto", ("auto", "fp32")), CPU, SKIP)
    assert d == Skip(
        "auto resolves to fp32 on Intel Xeon (cpu), which already runs as this test's own [fp32] case",
        "auto",
        "duplicate",
    )


def test_declared_and_strict_audit() -> None:
    from pytest_dtypegate.policy import declared, undeclared_gemm

    request = Request("amp_bf16", ("amp_bf16",), (Requirement("fp16"),))
    ran = decide(request, A100, SKIP)
    assert declared(request, ran) == {"fp32", "fp64", "fp16", "amp_bf16", "bf16"}
    assert declared(None, None) == {"fp32", "fp64"}
    found = undeclared_gemm([("linear", "fp16"), ("matmul", "bf16")], declared(None, None), V100)
    assert found is not None and found[0] == "bf16"
    assert found[1].startswith(
        "dtypegate strict: matmul ran in bf16, which is emulated on Tesla V100-SXM2-16GB (sm_70)"
    )
    assert undeclared_gemm([("matmul", "bf16")], declared(None, None), A100) is None  # native: fine
