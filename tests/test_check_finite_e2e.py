"""--dtypegate-check-finite through pytest: fp16 overflow is found at the layer, not at sampling."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

SUITE = """
import pytest
import torch


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(8, 8)
        torch.nn.init.constant_(self.up.weight, 4000.0)  # fine in fp32 and bf16, overflows fp16

    def forward(self, x):
        return torch.softmax(self.up(x), dim=-1)


@pytest.mark.dtypes("fp16", "fp32")
def test_outputs(model_dtype):
    Model().to(model_dtype)(torch.ones(1, 8, dtype=model_dtype) * 10)


@pytest.mark.dtypes("fp16")
def test_sampling(model_dtype):
    probs = Model().to(model_dtype)(torch.ones(1, 8, dtype=model_dtype) * 10)
    torch.multinomial(probs.float(), 1)
"""


def test_overflow_fails_only_with_the_check(pytester: pytest.Pytester, fake_device) -> None:  # type: ignore[no-untyped-def]
    fake_device("a100")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)  # only the sampling test notices, far from the cause
    result = pytester.runpytest("-p", "no:randomly", "--dtypegate-check-finite")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_outputs[[]fp16]*",
            "nonfinite: fp16 output of Linear (up) has 8 inf, 0 nan values; fp16 overflows above 65504*",
        ]
    )
    # the sampling failure keeps its own error and gains the layer that overflowed first
    result.stdout.fnmatch_lines(["*probability tensor contains either `inf`, `nan` or element < 0*"])
    text = result.stdout.str()
    starts = [line for line in text.splitlines() if line.startswith("nonfinite: fp16 output of Linear (up)")]
    assert len(starts) == 2  # the failure of test_outputs, the section of test_sampling
    result.stdout.fnmatch_lines(["*- Captured dtypegate call -*", "nonfinite: fp16 output of Linear (up)*"])
    result.stdout.fnmatch_lines(["dtype failures: nonfinite (fp16): 2"])
