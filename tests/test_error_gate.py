"""Dtype errors inside tests are explained through pytest, end to end, with real torch on the CPU."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

PLANTED_MODULE = """
import torch


class Head(torch.nn.Module):
    # the bug: the bias is created in fp32 and never follows the model's dtype
    def __init__(self, dtype):
        super().__init__()
        self.proj = torch.nn.Linear(16, 16).to(dtype)
        self.scale = torch.ones(16, 16)

    def forward(self, x):
        return self.proj(x) @ self.scale
"""


def test_planted_mismatch_is_classified_and_stays_a_failure(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makepyfile(mymodel=PLANTED_MODULE)
    pytester.makepyfile(
        test_model="""
        import torch
        from mymodel import Head

        def test_head(model_dtype):
            head = Head(model_dtype)
            x = torch.randn(2, 16, dtype=model_dtype)
            assert head(x).shape == (2, 16)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert out.count("- dtypegate -") >= 2
    result.stdout.fnmatch_lines(
        [
            "*test_head[[]bf16]*",
            "*- dtypegate -*",
            "category: mismatch*",
        ]
    )
    assert "bf16" in out and "fp32" in out
    # the summary counts the dtype failures by category
    result.stdout.fnmatch_lines(["dtype failures: mismatch (bf16): 1", "dtype failures: mismatch (fp16): 1"])


def test_unsupported_error_with_declared_usable_precision_says_the_probe_missed_it(
    pytester: pytest.Pytester,
    fake_device,  # type: ignore[no-untyped-def]
) -> None:
    fake_device("a100")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dtypes("bf16")
        def test_kernel(model_dtype):
            raise RuntimeError("at::cuda::blas::gemm: not implemented for struct c10::BFloat16")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- dtypegate -*", "category: unsupported*bf16*"])
    text = result.stdout.str()
    assert "dtypegate probe --json" in text  # how to report the probe's gap


def test_non_dtype_errors_get_no_section(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makepyfile(
        """
        import torch

        def test_shapes(model_dtype):
            torch.ones(2, 3, dtype=model_dtype) @ torch.ones(4, 5, dtype=model_dtype)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*mat1 and mat2 shapes cannot be multiplied*"])
    result.stdout.no_fnmatch_line("*- dtypegate -*category*")
    result.stdout.no_fnmatch_line("category: *")


def test_project_hook_extends_the_catalogue(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from pytest_dtypegate import Capabilities
        from pytest_dtypegate.errors import Classification

        def pytest_dtypegate_probe(config, device):
            return Capabilities(device="cpu", support={"fp32": "native", "bf16": "native", "fp16": "native"})

        def pytest_dtypegate_classify_error(config, text):
            if "MyKernelError" in text:
                return Classification(category="unsupported", precision="bf16", entry="my-kernel",
                                      summary="our fused kernel has no bf16 variant",
                                      advice="use the reference path for bf16")
            return None
        """
    )
    pytester.makepyfile(
        """
        class MyKernelError(Exception):
            pass

        def test_fused(model_dtype):
            raise MyKernelError("fused_rope: no kernel")
        """
    )
    result = pytester.runpytest("--dtypegate-dtypes=bf16")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- dtypegate -*", "category: unsupported*bf16*"])
    assert "our fused kernel has no bf16 variant" in result.stdout.str()
