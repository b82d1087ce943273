"""The same small model suite under simulated platforms, end to end with real torch on the CPU."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

SUITE = """
import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(32, 96)
        self.out = torch.nn.Linear(32, 32)

    def forward(self, x):
        q, k, v = self.qkv(x).view(2, 8, 3, 2, 16).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(2, 8, 32))


def test_block(model_dtype, model_device):
    torch.manual_seed(0)
    block = Block().to(model_device, model_dtype)
    x = torch.randn(2, 8, 32, device=model_device, dtype=model_dtype)
    assert block(x).dtype == model_dtype


def test_hardcoded_bf16(model_device):
    # the kind of test a pull request adds: bf16 without telling the gate
    block = Block().to(model_device, torch.bfloat16)
    block(torch.randn(2, 8, 32, device=model_device, dtype=torch.bfloat16))
"""

CASES = {
    # profile: (outcomes, header fragment, bf16 skip reason, the error the hard-coded test meets or None)
    "p100": (
        {"passed": 2, "skipped": 1, "failed": 1},
        "dtypegate: simulating p100 (sm_60): Tesla P100-PCIE-16GB *bf16 unsupported*",
        "bf16 is unsupported on Tesla P100-PCIE-16GB (sm_60) [[]simulated: p100]: *",
        "*CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemm*CUDA_R_16BF*",
    ),
    "v100": (
        {"passed": 3, "skipped": 1},
        "dtypegate: simulating v100 (sm_70): Tesla V100-SXM2-32GB *bf16 emulated*",
        "bf16 is emulated on Tesla V100-SXM2-32GB (sm_70) [[]simulated: v100]: native bf16 needs sm_80+",
        None,
    ),
    "a100": (
        {"passed": 4},
        "dtypegate: simulating a100 (sm_80): NVIDIA A100-SXM4-40GB *bf16 native*",
        None,
        None,
    ),
    "mps-macos13": (
        {"passed": 2, "skipped": 1, "failed": 1},
        "dtypegate: simulating mps-macos13 (mps): Apple M1 *bf16 unsupported*",
        "bf16 is unsupported on Apple M1 (mps) [[]simulated: mps-macos13]: *",
        "*TypeError: MPS BFloat16 is only supported on MacOS 14 or newer",
    ),
    "qwen-windows-cuda10": (
        {"passed": 2, "skipped": 1, "failed": 1},
        "dtypegate: simulating qwen-windows-cuda10 (sm_61): NVIDIA GeForce GTX 1080 Ti *bf16 unsupported*",
        "bf16 is unsupported on NVIDIA GeForce GTX 1080 Ti (sm_61) [[]simulated: qwen-windows-cuda10]: *",
        "*RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16",
    ),
}


@pytest.mark.parametrize("profile", list(CASES))
def test_small_model_suite_under_a_simulated_platform(pytester: pytest.Pytester, profile: str) -> None:
    outcomes, header, skip_reason, error = CASES[profile]
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("-rs", "-p", "no:randomly", f"--dtypegate-simulate={profile}")
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines([header])
    if skip_reason:
        result.stdout.fnmatch_lines([f"SKIPPED [[]1] *: {skip_reason}"])
    if error:
        # the platform's own error text, and the gate's explanation of it
        result.stdout.fnmatch_lines(
            [
                error,
                "*- dtypegate -*",
                "category: unsupported (bf16)*",
                "device: * [[]simulated: *",
            ]
        )
        assert "requires_bf16" in result.stdout.str() or "model_dtype" in result.stdout.str()
    else:
        result.stdout.no_fnmatch_line("category: *")
    # model_device stays the real device: the tensors really ran on this CPU
    result.stdout.no_fnmatch_line("*Torch not compiled with CUDA*")


def test_downgrade_under_a_simulated_v100(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import torch

        @pytest.mark.dtypes("bf16")
        def test_generate(model_dtype, model_precision):
            assert model_dtype is torch.float16
            assert model_precision.downgraded_from == "bf16"
            torch.nn.Linear(8, 8).to(model_dtype)(torch.ones(2, 8, dtype=model_dtype))
        """
    )
    result = pytester.runpytest("--dtypegate-simulate=v100", "--dtypegate-on-unsupported=downgrade")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["downgraded: bf16 -> fp16: 1 test"])


def test_unknown_profile_is_a_usage_error_listing_the_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("--dtypegate-simulate=x100")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: dtypegate: unknown profile 'x100'; known profiles: a100, cpu-torch2.1, h100, l4, mps-macos13, *"]
    )


def test_malformed_profile_file_is_a_usage_error_naming_the_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    bad = pytester.path / "myboard.json"
    bad.write_text('{"schema": "dtypegate.profile/1", "name": "myboard",\n  "capabilities": {"device": "cuda:0"\n')
    result = pytester.runpytest(f"--dtypegate-simulate={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: dtypegate: profile file '{bad}': not valid JSON (line *"])
    assert "Traceback" not in result.stderr.str()


def test_user_profile_file_drives_the_run(pytester: pytest.Pytester) -> None:
    import json

    from pytest_dtypegate.profiles import load

    data = load("t4").to_json()
    data["name"] = "our-t4-runner"
    path = pytester.path / "our-t4.json"
    path.write_text(json.dumps(data))
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest("-rs", f"--dtypegate-simulate={path}")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["dtypegate: simulating our-t4-runner (sm_75): Tesla T4*"])


STRICT_SUITE = """
import torch


def test_declared(model_dtype):
    torch.nn.Linear(8, 8).to(model_dtype)(torch.ones(2, 8, dtype=model_dtype))


def test_sneaky():
    # a hard-coded bf16 GEMM that the gate was never told about
    a = torch.ones(4, 4, dtype=torch.bfloat16)
    assert (a @ a).dtype is torch.bfloat16
"""


def test_audit_strict_catches_an_undeclared_bf16_gemm_under_t4(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STRICT_SUITE)
    result = pytester.runpytest("-rs", "--dtypegate-simulate=t4", "--dtypegate-strict")
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*dtypegate strict: matmul ran in bf16, which is emulated on Tesla T4 (sm_75), but the test does not "
            "declare bf16.*",
        ]
    )


def test_audit_strict_passes_the_same_test_under_a100(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STRICT_SUITE)
    result = pytester.runpytest("--dtypegate-simulate=a100", "--dtypegate-strict")
    result.assert_outcomes(passed=4)


def test_audit_records_executed_precisions_in_user_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STRICT_SUITE)
    result = pytester.runpytest("--dtypegate-audit", "--junitxml=out.xml", "--dtypegate-dtypes=fp16")
    result.assert_outcomes(passed=2)
    xml = (pytester.path / "out.xml").read_text()
    assert "matmul:bf16" in xml
    assert "linear:fp16" in xml
