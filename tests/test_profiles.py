"""The built-in simulated hardware profiles, their loader, and `dtypegate profiles`."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_dtypegate import profiles
from pytest_dtypegate.capabilities import Support
from pytest_dtypegate.cli import profiles as cli
from pytest_dtypegate.precisions import HARDWARE as COMPUTE_PRECISIONS
from pytest_dtypegate.profiles import EXCEPTION_TYPES, ProfileError

BUILTIN = [
    "a100",
    "cpu-torch2.1",
    "h100",
    "l4",
    "mps-macos13",
    "mps-macos14",
    "p100",
    "qwen-windows-cuda10",
    "t4",
    "v100",
]

SCALED_MM = "torch._scaled_mm is only supported on CUDA devices with compute capability >= 9.0 or 8.9, or ROCm MI300+"
P100_GEMM = (
    "CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmEx( handle, opa, opb, m, n, k, &falpha, "
    "a, CUDA_R_16BF, lda, b, CUDA_R_16BF, ldb, &fbeta, c, CUDA_R_16BF, ldc, compute_type, "
    "CUBLAS_GEMM_DEFAULT_TENSOR_OP)`"
)
P100_BGEMM = (
    "CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmStridedBatchedEx(handle, opa, opb, "
    "(int)m, (int)n, (int)k, (void*)&falpha, a, CUDA_R_16BF, (int)lda, stridea, b, CUDA_R_16BF, (int)ldb, "
    "strideb, (void*)&fbeta, c, CUDA_R_16BF, (int)ldc, stridec, (int)num_batches, compute_type, "
    "CUBLAS_GEMM_DEFAULT_TENSOR_OP)`"
)
MPS_BF16 = "MPS BFloat16 is only supported on MacOS 14 or newer"
MPS_FP64 = (
    "Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64. "
    "Please use float32 instead."
)

# name: (device name, sm or backend, {precision: support}) as the issue states them
FACTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "p100": ("Tesla P100-PCIE-16GB", "sm_60", {"bf16": "unsupported", "fp16": "native", "tf32": "emulated"}),
    "v100": ("Tesla V100-SXM2-32GB", "sm_70", {"bf16": "emulated", "fp16": "native", "fp8_e4m3": "unsupported"}),
    "t4": ("Tesla T4", "sm_75", {"bf16": "emulated", "fp16": "native", "fp8_e5m2": "unsupported"}),
    "a100": (
        "NVIDIA A100-SXM4-40GB",
        "sm_80",
        {"bf16": "native", "tf32": "native", "fp8_e4m3": "unsupported", "fp8_e5m2": "unsupported"},
    ),
    "l4": ("NVIDIA L4", "sm_89", {"fp8_e4m3": "native", "fp8_e5m2": "native", "bf16": "native"}),
    "h100": ("NVIDIA H100 80GB HBM3", "sm_90", {p: "native" for p in COMPUTE_PRECISIONS}),
    "mps-macos13": ("Apple M1", "mps", {"bf16": "unsupported", "fp64": "unsupported", "fp16": "native"}),
    "mps-macos14": ("Apple M1", "mps", {"bf16": "native", "fp64": "unsupported", "fp16": "native"}),
    "cpu-torch2.1": (
        "x86-64 CPU (AVX2; no AVX512-BF16, AVX512-FP16 or AMX)",
        "cpu",
        {"fp16": "unsupported", "bf16": "emulated", "fp32": "native"},
    ),
    "qwen-windows-cuda10": ("NVIDIA GeForce GTX 1080 Ti", "sm_61", {"bf16": "unsupported", "fp16": "native"}),
}

# (profile, precision, op, kind) -> (exception type, exact message): the error catalogue's ground truth
ERRORS: dict[tuple[str, str, str, str], tuple[str, str]] = {
    ("p100", "bf16", "linear", "gemm"): ("RuntimeError", P100_GEMM),
    ("p100", "bf16", "conv2d", "conv"): ("RuntimeError", P100_GEMM),
    ("p100", "bf16", "bmm", "bgemm"): ("RuntimeError", P100_BGEMM),
    ("p100", "bf16", "sdpa", "sdpa"): ("RuntimeError", P100_BGEMM),
    ("p100", "fp8_e4m3", "scaled_mm", "scaled_mm"): ("RuntimeError", SCALED_MM),
    ("v100", "fp8_e5m2", "scaled_mm", "scaled_mm"): ("RuntimeError", SCALED_MM),
    ("t4", "fp8_e4m3", "scaled_mm", "scaled_mm"): ("RuntimeError", SCALED_MM),
    ("a100", "fp8_e4m3", "scaled_mm", "scaled_mm"): ("RuntimeError", SCALED_MM),
    ("mps-macos13", "bf16", "linear", "gemm"): ("TypeError", MPS_BF16),
    ("mps-macos13", "fp64", "matmul", "gemm"): ("TypeError", MPS_FP64),
    ("mps-macos14", "fp64", "sdpa", "sdpa"): ("TypeError", MPS_FP64),
    ("mps-macos14", "fp8_e4m3", "scaled_mm", "scaled_mm"): (
        "TypeError",
        "Trying to convert Float8_e4m3fn to the MPS backend but it does not have support for that dtype.",
    ),
    ("mps-macos13", "fp8_e5m2", "mm", "gemm"): (
        "TypeError",
        "Trying to convert Float8_e5m2 to the MPS backend but it does not have support for that dtype.",
    ),
    ("cpu-torch2.1", "fp16", "addmm", "gemm"): ("RuntimeError", "\"addmm_impl_cpu_\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "linear", "gemm"): ("RuntimeError", "\"addmm_impl_cpu_\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "bmm", "bgemm"): ("RuntimeError", "\"baddbmm_with_gemm\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "sdpa", "sdpa"): ("RuntimeError", "\"baddbmm_with_gemm\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "conv2d", "conv"): ("RuntimeError", "\"slow_conv2d_cpu\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "conv1d", "conv"): ("RuntimeError", "\"slow_conv2d_cpu\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "conv3d", "conv"): ("RuntimeError", "\"slow_conv3d_cpu\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "conv_transpose2d", "conv"): (
        "RuntimeError",
        "\"slow_conv_transpose2d_out_cpu\" not implemented for 'Half'",
    ),
    ("cpu-torch2.1", "fp8_e4m3", "scaled_mm", "scaled_mm"): (
        "NotImplementedError",
        "Could not run 'aten::_scaled_mm' with arguments from the 'CPU' backend. This could be because the "
        "operator doesn't exist for this backend, or was omitted during the selective/custom build process "
        "(if using custom build).",
    ),
    ("cpu-torch2.1", "fp8_e5m2", "mm", "gemm"): (
        "RuntimeError",
        "\"addmm_impl_cpu_\" not implemented for 'Float8_e5m2'",
    ),
    ("qwen-windows-cuda10", "bf16", "linear", "gemm"): (
        "RuntimeError",
        "at::cuda::blas::gemm: not implemented for struct c10::BFloat16",
    ),
    ("qwen-windows-cuda10", "bf16", "matmul", "bgemm"): (
        "RuntimeError",
        "at::cuda::blas::bgemm: not implemented for struct c10::BFloat16",
    ),
    ("qwen-windows-cuda10", "fp8_e4m3", "scaled_mm", "scaled_mm"): (
        "AttributeError",
        "module 'torch' has no attribute '_scaled_mm'",
    ),
    # the entry points added later: mv/addmv (gemv), einsum, tensordot, addbmm
    ("p100", "bf16", "mv", "gemv"): ("RuntimeError", P100_GEMM),  # CUDABlas.cpp: bf16 gemv runs a gemm
    ("p100", "bf16", "addmv", "gemv"): ("RuntimeError", P100_GEMM),
    ("p100", "bf16", "einsum", "gemm"): ("RuntimeError", P100_GEMM),
    ("p100", "bf16", "einsum", "bgemm"): ("RuntimeError", P100_BGEMM),
    ("p100", "bf16", "tensordot", "gemm"): ("RuntimeError", P100_GEMM),
    ("p100", "bf16", "addbmm", "gemm"): ("RuntimeError", P100_GEMM),
    ("qwen-windows-cuda10", "bf16", "mv", "gemv"): (
        "RuntimeError",
        "at::cuda::blas::gemv: not implemented for struct c10::BFloat16",
    ),
    ("qwen-windows-cuda10", "bf16", "matmul", "gemv"): (
        "RuntimeError",
        "at::cuda::blas::gemv: not implemented for struct c10::BFloat16",
    ),
    ("qwen-windows-cuda10", "bf16", "einsum", "gemm"): (
        "RuntimeError",
        "at::cuda::blas::gemm: not implemented for struct c10::BFloat16",
    ),
    ("qwen-windows-cuda10", "bf16", "einsum", "bgemm"): (
        "RuntimeError",
        "at::cuda::blas::bgemm: not implemented for struct c10::BFloat16",
    ),
    ("qwen-windows-cuda10", "bf16", "tensordot", "gemm"): (
        "RuntimeError",
        "at::cuda::blas::gemm: not implemented for struct c10::BFloat16",
    ),
    ("cpu-torch2.1", "fp16", "mv", "gemv"): ("RuntimeError", "\"addmv_impl_cpu\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp16", "tensordot", "gemm"): ("RuntimeError", "\"addmm_impl_cpu_\" not implemented for 'Half'"),
    ("cpu-torch2.1", "fp8_e4m3", "mv", "gemv"): (
        "RuntimeError",
        "\"addmm_impl_cpu_\" not implemented for 'Float8_e4m3fn'",
    ),  # no gemv entry: gemm covers it
    ("mps-macos13", "bf16", "einsum", "bgemm"): ("TypeError", MPS_BF16),
    ("mps-macos13", "bf16", "addmv", "gemv"): ("TypeError", MPS_BF16),
}

VALID: dict[str, Any] = {
    "schema": "dtypegate.profile/1",
    "name": "my-gpu",
    "description": "a lab machine",
    "sources": ["https://example.org/lab-notes", {"ref": "nvidia-smi", "supports": "the name"}],
    "capabilities": {
        "device": "cuda:0",
        "name": "Lab GPU",
        "backend": "cuda",
        "capability": [7, 5],
        "torch_version": "2.4.0",
        "support": {
            "fp32": "native",
            "tf32": "emulated",
            "fp16": "native",
            "bf16": "unsupported",
            "fp8_e4m3": "unsupported",
            "fp8_e5m2": "unsupported",
            "fp64": "native",
        },
    },
    "errors": {
        "bf16": {"type": "RuntimeError", "message": "no bf16 here"},
        "fp8_e4m3": [{"ops": ["scaled_mm"], "type": "NotImplementedError", "message": "no fp8"}],
        "fp8_e5m2": [{"ops": ["*"], "type": "NotImplementedError", "message": "no fp8"}],
    },
}


def _write(tmp_path: Path, data: Any, name: str = "my.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _variant(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(VALID))
    for dotted, value in changes.items():
        keys = dotted.split("__")
        target = data
        for key in keys[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return data


_DELETE = object()


# -- built-ins ----------------------------------------------------------------
def test_names_lists_every_builtin_sorted() -> None:
    assert profiles.names() == BUILTIN
    assert [p.name for p in profiles.builtin()] == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profile_loads_with_its_facts(name: str) -> None:
    p = profiles.load(name)
    device_name, where, states = FACTS[name]
    caps = p.capabilities
    assert p.name == name
    assert caps.source == "profile"
    assert caps.profile == name
    assert caps.name == device_name
    assert p.where == where
    for precision, state in states.items():
        assert caps.support_of(precision) is Support(state), precision
    assert p.description
    assert caps.torch_version


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profile_cites_sources_and_covers_each_unsupported_precision(name: str) -> None:
    p = profiles.load(name)
    assert len(p.sources) >= 3
    assert all(s.ref for s in p.sources)
    assert all(s.supports for s in p.sources), "each source says what it supports"
    unsupported = {n for n in COMPUTE_PRECISIONS if p.capabilities.support_of(n) is Support.UNSUPPORTED}
    assert p.unsupported == unsupported
    for precision in unsupported:
        specs = p.errors[precision]
        assert specs
        for spec in specs:
            exc = spec.exception()
            assert type(exc) is EXCEPTION_TYPES[spec.type]
            assert str(exc) == spec.message
        ev = p.capabilities.of(precision)
        assert ev.message in {s.message for s in specs}, "the evidence quotes one of the errors"


@pytest.mark.parametrize("name", ["p100", "qwen-windows-cuda10", "mps-macos13", "cpu-torch2.1"])
def test_unsupported_low_precision_covers_every_gemm_kind(name: str) -> None:
    p = profiles.load(name)
    low = "fp16" if name == "cpu-torch2.1" else "bf16"
    for op, kind in [
        ("linear", "gemm"),
        ("bmm", "bgemm"),
        ("conv2d", "conv"),
        ("sdpa", "sdpa"),
        ("matmul", "gemm"),
        ("matmul", "bgemm"),
        ("conv1d", "conv"),
        ("mm", "gemm"),
        ("matmul", "gemv"),
        ("mv", "gemv"),
        ("addmv", "gemv"),
        ("einsum", "gemm"),
        ("einsum", "bgemm"),
        ("tensordot", "gemm"),
        ("addbmm", "gemm"),
    ]:
        assert p.error_for(low, op, kind) is not None, (op, kind)


def test_every_op_has_a_known_kind() -> None:
    assert set(profiles.OPS.values()) - {None} <= set(profiles.KINDS)
    assert set(profiles.KIND_PARENT) <= set(profiles.KINDS)
    assert set(profiles.KIND_PARENT.values()) <= set(profiles.KINDS)


def _gemv_profile(tmp_path: Path, entries: list[dict[str, Any]]) -> profiles.Profile:
    return profiles.load(str(_write(tmp_path, _variant(errors__bf16=entries))))


def test_a_gemm_entry_covers_gemv_ops(tmp_path: Path) -> None:
    p = _gemv_profile(tmp_path, [{"ops": ["gemm"], "type": "RuntimeError", "message": "no bf16 gemm"}])
    for op in ("mv", "addmv", "matmul"):
        spec = p.error_for("bf16", op, "gemv")
        assert spec is not None and spec.message == "no bf16 gemm"
    assert p.error_for("bf16", "bmm", "bgemm") is None


def test_a_gemv_entry_listed_first_gives_gemv_its_own_text(tmp_path: Path) -> None:
    p = _gemv_profile(
        tmp_path,
        [
            {"ops": ["gemv"], "type": "RuntimeError", "message": "no bf16 gemv"},
            {"ops": ["gemm"], "type": "RuntimeError", "message": "no bf16 gemm"},
        ],
    )
    assert p.error_for("bf16", "mv", "gemv") == profiles.ErrorSpec(frozenset({"gemv"}), "RuntimeError", "no bf16 gemv")
    assert p.error_for("bf16", "mm", "gemm") == profiles.ErrorSpec(frozenset({"gemm"}), "RuntimeError", "no bf16 gemm")
    # entries are tried in order: a gemm entry listed first takes the gemv ops too
    p = _gemv_profile(
        tmp_path,
        [
            {"ops": ["gemm"], "type": "RuntimeError", "message": "no bf16 gemm"},
            {"ops": ["gemv"], "type": "RuntimeError", "message": "no bf16 gemv"},
        ],
    )
    spec = p.error_for("bf16", "mv", "gemv")
    assert spec is not None and spec.message == "no bf16 gemm"


def test_a_gemv_entry_does_not_cover_gemm_ops(tmp_path: Path) -> None:
    p = _gemv_profile(tmp_path, [{"ops": ["gemv"], "type": "RuntimeError", "message": "no bf16 gemv"}])
    assert p.error_for("bf16", "mv", "gemv") is not None
    assert p.error_for("bf16", "mm", "gemm") is None
    assert p.error_for("bf16", "einsum", "gemm") is None


@pytest.mark.parametrize(("key", "expected"), list(ERRORS.items()), ids=["-".join(k) for k in ERRORS])
def test_error_catalogue_texts(key: tuple[str, str, str, str], expected: tuple[str, str]) -> None:
    name, precision, op, kind = key
    spec = profiles.load(name).error_for(precision, op, kind)
    assert spec is not None
    assert (spec.type, spec.message) == expected


def test_errors_only_for_the_ops_they_name() -> None:
    a100 = profiles.load("a100")
    assert a100.error_for("fp8_e4m3", "matmul", "gemm") is None
    assert a100.error_for("bf16", "linear", "gemm") is None
    cpu = profiles.load("cpu-torch2.1")
    assert cpu.error_for("fp16", "conv_transpose3d", "conv") is None


def test_header_line_of_a_simulated_profile() -> None:
    line = profiles.load("t4").capabilities.summary_line()
    assert line.startswith("simulating t4 (sm_75): Tesla T4 [torch 2.5.1]: fp32 native, tf32 emulated, ")
    assert "bf16 emulated" in line
    assert (
        profiles.load("mps-macos13")
        .capabilities.summary_line()
        .startswith("simulating mps-macos13 (mps): Apple M1 [torch 2.5.1]: fp32 native")
    )


def test_support_summary() -> None:
    assert profiles.load("p100").support_summary() == (
        "native: fp32 fp16 fp64; emulated: tf32; unsupported: bf16 fp8_e4m3 fp8_e5m2"
    )


@pytest.mark.parametrize("name", BUILTIN)
def test_to_json_round_trips(name: str) -> None:
    p = profiles.load(name)
    again = profiles.parse(json.loads(json.dumps(p.to_json())), "round trip")
    assert again.to_json() == p.to_json()
    assert again.capabilities == p.capabilities
    assert dict(again.errors) == dict(p.errors)


def test_builtin_file_name_must_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, profiles.load("t4").to_json(), "t5.json")
    monkeypatch.setattr(profiles, "_data_files", lambda: {"t5": path})
    profiles._builtin.cache_clear()
    try:
        with pytest.raises(ProfileError) as info:
            profiles.load("t5")
    finally:
        profiles._builtin.cache_clear()
    assert str(info.value) == f"built-in profile 't5' ({path}): 'name' is 't4' but the file is t5.json"


def test_loader_and_simulate_import_no_torch() -> None:
    code = (
        "import sys\n"
        "from pytest_dtypegate import profiles, intercept\nfrom pytest_dtypegate.cli import profiles as _\n"
        "profiles.builtin()\n"
        "with intercept.Interceptor(None, audit=False):\n"
        "    pass\n"
        "with intercept.Interceptor(profiles.load('h100'), audit=False):\n"
        "    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_simulation_without_torch_is_a_no_op() -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # import torch raises ImportError\n"
        "from pytest_dtypegate import profiles, intercept\n"
        "with intercept.Interceptor(profiles.load('p100'), audit=True) as ic:\n"
        "    assert not intercept.installed()\n"
        "assert ic.executed == [] and not intercept.installed()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- loading files --------------------------------------------------------------
def test_user_profile_file_loads_by_path(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    p = profiles.load(str(path))
    assert p.name == "my-gpu"
    assert p.path == str(path)
    assert p.capabilities.profile == "my-gpu"
    assert p.capabilities.source == "profile"
    assert p.capabilities.sm == "sm_75"
    assert [s.ref for s in p.sources] == ["https://example.org/lab-notes", "nvidia-smi"]
    assert p.error_for("bf16", "conv2d", "conv") == profiles.ErrorSpec(frozenset({"*"}), "RuntimeError", "no bf16 here")
    assert p.error_for("fp8_e4m3", "mm", "gemm") is None
    assert p.error_for("fp8_e4m3", "scaled_mm", "scaled_mm") is not None


def test_relative_json_path_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, VALID, "lab.json")
    monkeypatch.chdir(tmp_path)
    assert profiles.load("lab.json").name == "my-gpu"


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError) as info:
        profiles.load("x100")
    assert str(info.value) == (
        "unknown profile 'x100'; known profiles: a100, cpu-torch2.1, h100, l4, mps-macos13, mps-macos14, "
        "p100, qwen-windows-cuda10, t4, v100 (or give the path of a profile .json file)"
    )
    assert isinstance(info.value, ValueError)


def test_empty_name() -> None:
    with pytest.raises(ProfileError, match=r"^--dtypegate-simulate: expected a profile name or file, got ''$"):
        profiles.load("")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ProfileError) as info:
        profiles.load(str(path))
    assert str(info.value) == f"profile file {str(path)!r}: no such file"


def test_bad_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, '{\n  "schema": "dtypegate.profile/1",\n  "name": "x"\n  "capabilities": {}\n}\n')
    with pytest.raises(ProfileError) as info:
        profiles.load(str(path))
    assert str(info.value) == (
        f"profile file {str(path)!r}: not valid JSON (line 4, column 3: Expecting ',' delimiter)"
    )
    assert info.value.where == f"profile file {str(path)!r}"


MALFORMED: list[tuple[Any, str]] = [
    ([1, 2], "a profile must be a JSON object, got a list"),
    (_variant(schema=_DELETE), "missing key 'schema'"),
    (_variant(name=_DELETE), "missing key 'name'"),
    (_variant(capabilities=_DELETE), "missing key 'capabilities'"),
    (_variant(capabilities__device=_DELETE), "missing key 'capabilities.device'"),
    (_variant(capabilities__support=_DELETE), "missing key 'capabilities.support'"),
    (_variant(schema="dtypegate.profile/9"), "unknown schema 'dtypegate.profile/9' (expected 'dtypegate.profile/1')"),
    (
        _variant(colour="red"),
        "unknown key 'colour' in the profile; allowed: schema, name, description, sources, notes, capabilities, errors",
    ),
    (_variant(name=5), "'name' must be a non-empty string without spaces, got 5"),
    (_variant(name="my gpu"), "'name' must be a non-empty string without spaces, got 'my gpu'"),
    (_variant(description=["x"]), "'description' must be a string, got a list"),
    (_variant(sources="https://example.org"), "'sources' must be a list, got a string"),
    (_variant(sources=[3]), "sources[0] must be a string or an object with 'ref', got a number"),
    (_variant(sources=[{"supports": "x"}]), "sources[0] needs a non-empty string 'ref'"),
    (_variant(capabilities=[]), "'capabilities' must be an object, got a list"),
    (_variant(capabilities__capability="7.5"), "'capabilities.capability' must be [major, minor] or null, got '7.5'"),
    (
        _variant(capabilities__capability=[7, 5, 0]),
        "'capabilities.capability' must be [major, minor] or null, got [7, 5, 0]",
    ),
    (_variant(capabilities__name=7), "'capabilities.name' must be a string, got a number"),
    (_variant(capabilities__support=["fp32"]), "'capabilities.support' must be an object, got a list"),
    (
        _variant(capabilities__cuda="12.1"),
        "unknown key 'cuda' in capabilities; allowed: device, name, backend, capability, torch_version, support, extra",
    ),
    (
        _variant(capabilities__support__bf17="native"),
        "capabilities: support: unknown precision 'bf17'; valid names: fp32, tf32, fp16, bf16, fp8_e4m3, "
        "fp8_e5m2, fp64, amp_bf16, amp_fp16",
    ),
    (
        _variant(capabilities__support__fp16="maybe"),
        "capabilities: support['fp16']: 'maybe' is not a support state; valid: native, emulated, unsupported, unknown",
    ),
    (
        _variant(capabilities__support__fp64=_DELETE),
        "capabilities.support does not state fp64; a profile states every compute precision: fp32, tf32, fp16, "
        "bf16, fp8_e4m3, fp8_e5m2, fp64",
    ),
    (
        _variant(errors__bf16=_DELETE),
        "capabilities.support marks bf16 unsupported but 'errors' has no entry for bf16; say what the platform raises",
    ),
    (
        _variant(errors__fp16={"type": "RuntimeError", "message": "x"}),
        "errors['fp16']: fp16 is native in capabilities.support; errors belong to unsupported precisions only",
    ),
    (
        _variant(errors__bf17={"type": "RuntimeError", "message": "x"}),
        "errors: unknown precision 'bf17'; valid names: fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, fp64, "
        "amp_bf16, amp_fp16",
    ),
    (
        _variant(errors__amp_bf16={"type": "RuntimeError", "message": "x"}),
        "errors['amp_bf16']: errors are keyed by compute precision; use 'bf16'",
    ),
    (_variant(errors=[]), "'errors' must be an object, got a list"),
    (_variant(errors__bf16=[]), "errors['bf16'] is an empty list"),
    (_variant(errors__bf16="boom"), "errors['bf16'] must be an object with 'type' and 'message', got a string"),
    (_variant(errors__bf16={"message": "x"}), "missing key 'type' in errors['bf16']"),
    (_variant(errors__bf16={"type": "RuntimeError"}), "missing key 'message' in errors['bf16']"),
    (
        _variant(errors__bf16={"type": "CudaError", "message": "x"}),
        "errors['bf16']: unknown exception type 'CudaError'; valid: RuntimeError, TypeError, ValueError, "
        "NotImplementedError, AttributeError",
    ),
    (
        _variant(errors__bf16={"type": "RuntimeError", "message": ""}),
        "errors['bf16']: 'message' must be a non-empty string",
    ),
    (
        _variant(errors__fp8_e4m3=[{"ops": ["dot"], "type": "RuntimeError", "message": "x"}]),
        "errors['fp8_e4m3'][0]: unknown op 'dot'; valid: mm, addmm, addbmm, linear, tensordot, matmul, einsum, mv, "
        "addmv, bmm, baddbmm, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, sdpa, "
        "scaled_mm, gemm, gemv, bgemm, conv, *",
    ),
    (
        _variant(errors__fp8_e4m3=[{"ops": "mm", "type": "RuntimeError", "message": "x"}]),
        "errors['fp8_e4m3'][0]: 'ops' must be a non-empty list of op names",
    ),
    (
        _variant(errors__bf16={"type": "RuntimeError", "message": "x", "status": 7}),
        "unknown key 'status' in errors['bf16']; allowed: ops, type, message, source",
    ),
]


@pytest.mark.parametrize(("data", "problem"), MALFORMED, ids=[m[1][:40] for m in MALFORMED])
def test_malformed_profile_file(tmp_path: Path, data: Any, problem: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ProfileError) as info:
        profiles.load(str(path))
    assert str(info.value) == f"profile file {str(path)!r}: {problem}"
    assert info.value.problem == problem


# -- dtypegate profiles -----------------------------------------------------------
def _run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="dtypegate profiles")
    cli.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(parser.parse_args(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_lists_every_profile() -> None:
    code, out, err = _run([])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "a100                 NVIDIA A100-SXM4-40GB (sm_80)"
    assert lines[1] == "                     native: fp32 tf32 fp16 bf16 fp64; unsupported: fp8_e4m3 fp8_e5m2"
    assert lines[2] == (
        "                     NVIDIA A100 (Ampere, sm_80): bf16 and TF32 tensor cores; no fp8 "
        "(torch._scaled_mm refuses it)"
    )
    for name in BUILTIN:
        p = profiles.load(name)
        assert f"{name:<19}  {p.capabilities.name} ({p.where})" in lines
        assert f"{' ' * 21}{p.support_summary()}" in lines
    assert lines[-2:] == [
        "Use one with --dtypegate-simulate NAME (or a path to a profile .json file);",
        "`dtypegate profiles NAME` shows the errors it raises and its sources.",
    ]


def test_cli_json_lists_every_profile() -> None:
    code, out, _ = _run(["--json"])
    assert code == 0
    data = json.loads(out)
    assert [d["name"] for d in data] == BUILTIN
    assert data[BUILTIN.index("t4")]["capabilities"]["capability"] == [7, 5]


def test_cli_shows_one_profile_with_its_errors() -> None:
    code, out, _ = _run(["cpu-torch2.1"])
    assert code == 0
    assert out.startswith("cpu-torch2.1: x86-64 CPU with a torch 2.1 CPU build: no fp16 GEMM kernels")
    assert "    fp16      unsupported\n" in out
    assert "    bf16      emulated (bf16 GEMM kernels exist on CPU, but without AVX512-BF16/AMX" in out
    assert "    fp16 gemm: RuntimeError: \"addmm_impl_cpu_\" not implemented for 'Half'\n" in out
    assert "  sources\n    - https://github.com/huggingface/transformers/issues/27769: " in out


def test_cli_json_for_one_profile_and_a_file(tmp_path: Path) -> None:
    code, out, _ = _run(["--json", str(_write(tmp_path, VALID))])
    assert code == 0
    assert json.loads(out)["name"] == "my-gpu"


def test_cli_unknown_name_is_bad_input() -> None:
    code, out, err = _run(["x100"])
    assert (code, out) == (2, "")
    assert err == (
        "dtypegate profiles: unknown profile 'x100'; known profiles: a100, cpu-torch2.1, h100, l4, "
        "mps-macos13, mps-macos14, p100, qwen-windows-cuda10, t4, v100 (or give the path of a profile .json "
        "file)\n"
    )


def test_cli_malformed_file_is_bad_input(tmp_path: Path) -> None:
    path = _write(tmp_path, _variant(name=_DELETE))
    code, _, err = _run([str(path)])
    assert code == 2
    assert err == f"dtypegate profiles: profile file {str(path)!r}: missing key 'name'\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
        ('{"schema": "dtypegate.profile/1", "name": ' + "1" * 5000 + "}", "not valid JSON (Exceeds the limit"),
        ('{"schema": "dtypegate.profile/1", "name": NaN}', "not valid JSON (NaN is not a JSON number)"),
        ('{"schema": "dtypegate.profile/1", "name": -Infinity}', "not valid JSON (-Infinity is not a JSON number)"),
    ],
)
def test_pathological_profile_files_are_profile_errors(tmp_path: Path, text: str, problem: str) -> None:
    # B 8: these used to be a RecursionError or ValueError traceback
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        profiles.load(str(path))
    assert info.value.problem.startswith(problem)


def test_a_profile_extra_that_is_not_json_data_is_refused(tmp_path: Path) -> None:
    data = profiles.load("t4").to_json()
    data["capabilities"]["extra"] = {"clocks": [1.5, 1e999]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")  # 1e999 is written as Infinity
    with pytest.raises(ProfileError) as info:
        profiles.load(str(path))
    assert info.value.problem == "not valid JSON (Infinity is not a JSON number)"
