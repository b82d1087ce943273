"""The plugin through real pytest runs (pytester), with fake devices described through the hook."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

MODEL_TEST = """
import torch

def test_matmul(model_dtype, model_precision, model_device):
    x = torch.ones(4, 4, dtype=model_dtype, device=model_device)
    assert (x @ x).dtype == model_dtype
    assert model_precision.dtype == model_dtype
    assert model_precision.requested in ("bf16", "fp16", "fp32")
"""


def test_model_dtype_is_parametrized_with_readable_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MODEL_TEST)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["test_*.py::test_matmul[[]bf16]", "test_*.py::test_matmul[[]fp16]", "test_*.py::test_matmul[[]fp32]"]
    )


def test_precision_list_from_cli_ini_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndtypegate_dtypes = fp32 half\n")
    pytester.makepyfile(
        """
        import pytest

        def test_a(model_dtype):
            pass

        @pytest.mark.dtypes("bfloat16", "fp64")
        def test_b(model_dtype):
            pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_a[[]fp32]", "*test_a[[]fp16]", "*test_b[[]bf16]", "*test_b[[]fp64]"])
    result = pytester.runpytest("--collect-only", "-q", "--dtypegate-dtypes=tf32")
    result.stdout.fnmatch_lines(["*test_a[[]tf32]", "*test_b[[]bf16]"])


def test_v100_skips_bf16_with_reason_in_summary(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(MODEL_TEST)
    result = pytester.runpytest("-rs", "--dtypegate-device=cpu")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "dtypegate: Tesla V100-SXM2-16GB (sm_70) *: fp32 native, tf32 emulated, fp16 native, bf16 emulated, *",
            "*- dtypegate -*",
            "ran: fp16 1, fp32 1",
            "skipped [[]bf16]: 1 test: bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+",
            "SKIPPED [[]1] test_v100_skips_bf16_with_reason_in_summary.py:3: "
            "bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+",
        ]
    )


def test_a100_runs_all_three(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makepyfile(MODEL_TEST)
    result = pytester.runpytest("--dtypegate-device=cpu")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["ran: bf16 1, fp16 1, fp32 1"])


def test_mps_like_device_skips_bf16_with_the_probe_evidence(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("mps")
    pytester.makepyfile(MODEL_TEST)
    result = pytester.runpytest("-rs", "--dtypegate-device=cpu")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED * bf16 is unsupported on Apple M1 (mps): alloc raised TypeError: BFloat16 is not supported on MPS*"]
    )


def test_cpu_table_runs_emulated_unless_disallowed(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("cpu")
    pytester.makepyfile(MODEL_TEST)
    pytester.runpytest().assert_outcomes(passed=3)
    result = pytester.runpytest("-rs", "--dtypegate-allow-emulated=false")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*fp16 is emulated on Intel Xeon (cpu): native fp16 on CPU needs AVX512-FP16*"])


def test_downgrade_is_visible_to_the_test_and_in_the_summary(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(
        """
        import pytest
        import torch

        @pytest.mark.dtypes("bf16")
        def test_one(model_dtype, model_precision):
            assert model_dtype is torch.float16
            assert model_precision.name == "fp16"
            assert model_precision.requested == "bf16"
            assert model_precision.downgraded_from == "bf16"
            assert model_precision.rtol == 1e-3

        def test_all(model_dtype):
            pass
        """
    )
    result = pytester.runpytest("-rs", "--dtypegate-on-unsupported=downgrade")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "downgraded: bf16 -> fp16: 1 test",
            "*bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+; its fallback fp16 "
            "already runs as this test's own [[]fp16] case, so the downgrade would duplicate it",
        ]
    )


def test_on_unsupported_fail_fails_cleanly(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(MODEL_TEST)
    result = pytester.runpytest("-p", "no:randomly", "--dtypegate-on-unsupported", "fail")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_markers_on_class_and_module_apply_to_every_test(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(
        """
        import pytest
        from pytest_dtypegate import requires_bf16, requires_capability, requires_dtype, requires_fp16

        pytestmark = requires_fp16

        @requires_bf16
        class TestBf16:
            def test_a(self):
                pass

            def test_b(self):
                pass

        def test_fp16_only():
            pass

        @requires_capability(7)
        def test_volta():
            pass

        @requires_capability(8, 6)
        def test_ampere_86():
            pass

        @requires_dtype("fp16", native=True)
        def test_native_fp16():
            pass

        @requires_dtype("tf32")
        def test_tf32():
            pass
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=3, skipped=4)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [[]1] *.py:8: bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+",
            "SKIPPED [[]1] *.py:11: bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+",
            "SKIPPED [[]1] *requires compute capability sm_86+; Tesla V100-SXM2-16GB (sm_70) is sm_70",
            "SKIPPED [[]1] *tf32 is emulated on Tesla V100-SXM2-16GB (sm_70): native tf32 needs sm_80+",
        ]
    )


def test_strict_markers_accepts_all_our_markers(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.requires_bf16
        @pytest.mark.requires_fp16
        @pytest.mark.requires_tf32
        @pytest.mark.requires_dtype("fp16")
        @pytest.mark.requires_capability(8, 0)
        @pytest.mark.dtypes("fp32")
        @pytest.mark.dtype_tolerance(fp32=(1e-5, 1e-6))
        def test_a(model_dtype):
            pass

        @pytest.mark.requires_fp8
        def test_fp8():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.requires_dtype(*names, native=False): *", "@pytest.mark.requires_capability(major, minor=0): *"]
    )


def test_auto_runs_the_best_native_precision(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(
        """
        import pytest
        import torch

        @pytest.mark.dtypes("auto")
        def test_auto(model_dtype, model_precision):
            assert model_dtype is torch.float16
            assert (model_precision.name, model_precision.requested) == ("fp16", "auto")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_tf32_is_on_for_the_test_only_and_restored_after_failure(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makepyfile(
        """
        import pytest
        import torch

        @pytest.mark.dtypes("tf32")
        def test_tf32_fails(model_dtype):
            assert model_dtype is torch.float32
            assert torch.backends.cuda.matmul.allow_tf32
            assert torch.get_float32_matmul_precision() == "high"
            raise RuntimeError("boom")

        def test_after():
            assert not torch.backends.cuda.matmul.allow_tf32
            assert torch.get_float32_matmul_precision() == "highest"
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: boom"])


def test_user_parametrized_model_dtype_is_respected(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(
        """
        import pytest
        import torch

        @pytest.mark.parametrize("model_dtype", [torch.bfloat16, torch.float32], indirect=True)
        def test_a(model_dtype):
            pass
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)


def test_custom_decide_hook(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    pytester.makeconftest(
        """
        from pytest_dtypegate import Capabilities
        from pytest_dtypegate.policy import Skip

        def pytest_dtypegate_probe(config, device):
            return Capabilities(device="cuda:0", name="NVIDIA A100-SXM4-40GB", capability=(8, 0),
                                support={"fp32": "native", "fp16": "native", "bf16": "native"})

        def pytest_dtypegate_decide(config, item, request, capabilities):
            if "gemma" in item.name and request.precision == "fp16":
                return Skip("gemma overflows in fp16: never run it", request.precision)
            return None
        """
    )
    pytester.makepyfile("def test_gemma(model_dtype):\n    pass\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * gemma overflows in fp16: never run it"])


def test_capabilities_fixture(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(
        """
        def test_caps(dtypegate_capabilities):
            assert dtypegate_capabilities.capability == (7, 0)
            assert dtypegate_capabilities.support_of("bf16").value == "emulated"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest("-p", "no:dtypegate")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'model_dtype' not found*"])
