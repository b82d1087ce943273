from __future__ import annotations

import json

import pytest

from pytest_dtypegate import Capabilities, Support
from pytest_dtypegate.capabilities import (
    CapabilitiesError,
    cpu_support,
    cuda_support,
    native_hint,
    rocm_support,
)


def v100() -> Capabilities:
    return Capabilities(
        device="cuda:0",
        name="Tesla V100-SXM2-16GB",
        backend="cuda",
        capability=(7, 0),
        support={"fp32": "native", "fp16": "native", "bf16": "emulated"},
    )


def test_constructed_like_the_issue_says() -> None:
    caps = v100()
    assert caps.support_of("bf16") is Support.EMULATED
    assert caps.support_of("bfloat16") is Support.EMULATED
    assert caps.support_of("fp16") is Support.NATIVE
    # not named: unsupported, with the reason recorded
    assert caps.support_of("fp8_e4m3") is Support.UNSUPPORTED
    assert caps.of("fp64").message == "not listed in the device's capabilities"
    assert caps.label() == "Tesla V100-SXM2-16GB (sm_70)"
    assert caps.sm == "sm_70"


def test_support_values_and_strings_mix() -> None:
    caps = Capabilities(device="cpu", support={"fp32": Support.NATIVE, "torch.float16": "Emulated"})
    assert caps.support_of("fp16") is Support.EMULATED
    assert caps.backend == "cpu"
    assert caps.label() == "cpu"


def test_autocast_precision_follows_hardware_precision() -> None:
    caps = v100()
    assert caps.support_of("amp_bf16") is Support.EMULATED
    assert caps.support_of("amp_fp16") is Support.NATIVE


def test_error_makes_everything_unknown() -> None:
    caps = Capabilities(device="cuda:0", error="the probe did not finish within 60 s")
    ev = caps.of("fp32")
    assert ev.support is Support.UNKNOWN
    assert ev.message == "the probe did not finish within 60 s"
    assert "probe failed: the probe did not finish within 60 s" in caps.summary_line()


def test_json_round_trip_keeps_everything() -> None:
    caps = Capabilities(
        device="cuda:0",
        name="Tesla P100-PCIE-16GB",
        capability=(6, 0),
        torch_version="2.13.0",
        support={"fp32": "native", "bf16": {"support": "unsupported", "op": "matmul", "message": "RuntimeError: x"}},
        source="probe",
        extra={"cuda": "12.1"},
    )
    again = Capabilities.loads(caps.dumps())
    assert again == caps
    assert again.of("bf16").op == "matmul"
    assert json.loads(caps.dumps())["schema"] == "dtypegate.capabilities/1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device": ""}, "device must be a non-empty string, got ''"),
        ({"device": "cuda:0", "capability": "8"}, "capability must be a (major, minor) pair of ints, got '8'"),
        ({"device": "cpu", "support": {"bf17": "native"}}, "support: unknown precision 'bf17'"),
        (
            {"device": "cpu", "support": {"bf16": "fast"}},
            "support['bf16']: 'fast' is not a support state; valid: native, emulated, unsupported, unknown",
        ),
        ({"device": "cpu", "support": ["bf16"]}, "support must be a mapping"),
    ],
)
def test_bad_construction_is_explained(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CapabilitiesError) as info:
        Capabilities(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "capabilities must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"schema": "other/1", "device": "cpu"}', "unknown capabilities schema 'other/1'"),
        ('{"name": "x"}', "capabilities: missing 'device'"),
    ],
)
def test_bad_json_is_explained(text: str, message: str) -> None:
    with pytest.raises(CapabilitiesError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Capabilities.loads(text)


def test_cuda_rules_follow_compute_capability() -> None:
    assert cuda_support("bf16", (7, 0)) is Support.EMULATED
    assert cuda_support("bf16", (8, 0)) is Support.NATIVE
    assert cuda_support("tf32", (7, 5)) is Support.EMULATED
    assert cuda_support("fp8_e4m3", (8, 0)) is Support.EMULATED
    assert cuda_support("fp8_e4m3", (8, 9)) is Support.NATIVE
    assert cuda_support("fp16", (6, 0)) is Support.NATIVE
    assert cuda_support("amp_bf16", (9, 0)) is Support.NATIVE


def test_rocm_and_cpu_rules() -> None:
    assert rocm_support("bf16", "gfx90a:sramecc+:xnack-") is Support.NATIVE
    assert rocm_support("bf16", "gfx906") is Support.EMULATED
    assert rocm_support("fp8_e4m3", "gfx942") is Support.NATIVE
    assert cpu_support("bf16", ["avx2", "avx512_bf16"]) is Support.NATIVE
    assert cpu_support("bf16", ["avx2"]) is Support.EMULATED
    assert cpu_support("fp16", ["fphp", "asimdhp"]) is Support.NATIVE
    assert cpu_support("fp32", []) is Support.NATIVE


def test_native_hints() -> None:
    assert native_hint("bf16", "cuda") == "native bf16 needs sm_80+"
    assert native_hint("fp8_e5m2", "cuda") == "native fp8_e5m2 needs sm_89+"
    assert native_hint("fp32", "cuda") is None
    assert "macOS 14" in (native_hint("bf16", "mps") or "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"flags": {"avx512_bf16"}}, "extra['flags']: a set is not JSON data (use a sorted list)"),
        ({"clock": float("nan")}, "extra['clock']: nan is not JSON data (use null, or a string such as 'nan')"),
        ({"a": [1, float("-inf")]}, "extra['a'][1]: -inf is not JSON data"),
        ({1: "x"}, "extra: the key 1 is not a string (JSON object keys are strings)"),
        ({"big": 10**30}, "extra['big']: the integer 100000000000000000000000... is too large for JSON data"),
        ({"obj": object()}, "extra['obj']: a object is not JSON data"),
    ],
)
def test_extra_must_be_json_data(extra: dict[object, object], message: str) -> None:
    # B 6: such an extra used to crash the writing of the run report at the end of the session
    with pytest.raises(CapabilitiesError) as info:
        Capabilities(device="cpu", support={"fp32": "native"}, extra=extra)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)


def test_deep_extra_is_refused_without_recursion() -> None:
    deep: object = 1
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CapabilitiesError, match=r"nested more than 32 levels deep$"):
        Capabilities(device="cpu", extra={"x": deep})


def test_loads_refuses_nan_and_pathological_json() -> None:
    for text, message in [
        ('{"device": "cpu", "extra": {"x": NaN}}', "not valid JSON: NaN is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
        ('{"device": "cpu", "extra": {"x": ' + "7" * 5000 + "}}", "not valid JSON: Exceeds the limit"),
    ]:
        with pytest.raises(CapabilitiesError) as info:
            Capabilities.loads(text)
        assert str(info.value).startswith(message)
