"""Tolerances and autocast precisions through real pytest runs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


def test_tolerance_precedence_marker_then_ini_then_built_in(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makeini("[pytest]\ndtypegate_tolerance = bf16:2e-2,1e-3 fp16:5e-3,5e-4\n")
    pytester.makepyfile(
        """
        import pytest
        import torch
        from pytest_dtypegate import assert_close

        EXPECTED = {"bf16": (2e-2, 1e-3), "fp16": (5e-3, 5e-4), "fp32": (1.3e-6, 1e-5)}

        def test_ini_and_built_in(model_precision):
            assert (model_precision.rtol, model_precision.atol) == EXPECTED[model_precision.name]

        @pytest.mark.dtype_tolerance(bf16=(0.5, 0.25))
        def test_marker_wins(model_precision, model_dtype):
            want = (0.5, 0.25) if model_precision.name == "bf16" else EXPECTED[model_precision.name]
            assert (model_precision.rtol, model_precision.atol) == want
            if model_precision.name == "bf16":
                # assert_close inside the test uses the same (marker) tolerances
                assert_close(torch.tensor([1.3], dtype=model_dtype), torch.tensor([1.0]))
        """
    )
    pytester.runpytest().assert_outcomes(passed=6)


def test_bad_tolerance_ini_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndtypegate_tolerance = bf16:1e-2\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: dtypegate: invalid tolerance 'bf16:1e-2' (from ini option dtypegate_tolerance in tox.ini): 'bf16:1e-2' is not "
            "NAME:RTOL,ATOL*"
        ]
    )
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.dtype_tolerance(bf16=(0.01,))\ndef test_a(model_dtype):\n    pass\n"
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["In test_bad_tolerance_ini_and_marker.py::test_a: @dtype_tolerance: bf16=(0.01,) *"])


AMP_SUITE = """
import pytest
import torch

@pytest.mark.dtypes("amp_bf16", "amp_fp16")
def test_amp(model_dtype, model_precision, model_device):
    assert model_dtype is torch.float32  # weights stay fp32
    assert torch.is_autocast_enabled(model_device.split(":")[0])
    out = torch.nn.Linear(8, 8)(torch.ones(2, 8))
    assert out.dtype == {"amp_bf16": torch.bfloat16, "amp_fp16": torch.float16}[model_precision.name]

def test_after():
    assert not torch.is_autocast_enabled("cpu")
"""


def test_autocast_precisions_run_under_autocast_and_are_restored(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("cpu")
    pytester.makepyfile(AMP_SUITE)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_autocast_precisions_are_gated_like_the_others(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("v100")
    pytester.makepyfile(AMP_SUITE)
    result = pytester.runpytest("-rs", "-p", "no:randomly", "--dtypegate-device=cpu")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED * amp_bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+"]
    )
