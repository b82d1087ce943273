"""The GPU tier: the probe against the real device.  Runs only where CUDA is present.

On a machine without CUDA every test here is skipped, saying so.  On a GPU
machine run it with ``pytest tests/gpu -v``.
"""

from __future__ import annotations

import pytest

from pytest_dtypegate import Support
from pytest_dtypegate.probe import run_child

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="GPU tier: no CUDA device here (torch.cuda.is_available() is False)"
    ),
]


@pytest.fixture(scope="module")
def probed():  # type: ignore[no-untyped-def]
    return run_child("cuda:0", timeout=300)


def test_probe_reports_the_real_compute_capability(probed) -> None:  # type: ignore[no-untyped-def]
    assert probed.error is None, probed.error
    assert probed.capability == torch.cuda.get_device_capability(0)
    assert probed.name == torch.cuda.get_device_name(0)
    assert probed.torch_version == torch.__version__


def test_bf16_and_tf32_native_exactly_from_ampere(probed) -> None:  # type: ignore[no-untyped-def]
    major, _ = torch.cuda.get_device_capability(0)
    want = Support.NATIVE if major >= 8 else Support.EMULATED
    bf16 = probed.support_of("bf16")
    assert bf16 in (want, Support.UNSUPPORTED)
    assert probed.support_of("tf32") is want
    # the classic trap: torch's own flag says yes on pre-Ampere cards
    if major < 8:
        assert torch.cuda.is_bf16_supported() or bf16 is Support.UNSUPPORTED


def test_fp8_follows_sm89(probed) -> None:  # type: ignore[no-untyped-def]
    cap = torch.cuda.get_device_capability(0)
    state = probed.support_of("fp8_e4m3")
    if cap >= (8, 9):
        assert state is Support.NATIVE, probed.of("fp8_e4m3")
    else:
        assert state is not Support.NATIVE


def test_fp16_and_fp32_run(probed) -> None:  # type: ignore[no-untyped-def]
    assert probed.support_of("fp32") is Support.NATIVE
    assert probed.support_of("fp16") is Support.NATIVE


def test_model_dtype_on_the_real_gpu(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import torch

        def test_linear(model_dtype, model_device):
            lin = torch.nn.Linear(64, 64).to(model_device, model_dtype)
            x = torch.randn(8, 64, device=model_device, dtype=model_dtype)
            assert lin(x).dtype == model_dtype
        """
    )
    result = pytester.runpytest("-rs")
    major, _ = torch.cuda.get_device_capability(0)
    if major >= 8:
        result.assert_outcomes(passed=3)
    else:
        result.assert_outcomes(passed=2, skipped=1)
