"""The Qwen bf16 report as projects write the test today: hard-coded ``torch.bfloat16``.

The report (QwenLM/Qwen3#755): on a GPU without bf16 GEMMs (a Pascal card, a CUDA 10
build of torch on Windows),

    model = AutoModelForCausalLM.from_pretrained(name, dtype=torch.bfloat16).cuda()
    model.generate(input_ids, max_new_tokens=..., do_sample=False)

ends in ``RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16``.
The test below is that call on a tiny Qwen3, with no marker and no ``model_dtype``, so
the gate does not know it needs bf16.  Simulate the machine from the report:

    pytest examples/qwen_report.py --dtypegate-simulate qwen-windows-cuda10

and it fails with the real Qwen text plus the plugin's ``dtypegate`` section, which says
what the error means and how to fix it.  Without ``--dtypegate-simulate`` it passes on a
CPU or a GPU with bf16 kernels.

The fix is in test_generate.py: declare the precision, with ``@requires_bf16``
(``test_bf16_generate_as_reported``: skipped there, with the reason) or by taking the
dtype from ``model_dtype`` (``test_greedy_generate``: its ``[bf16]`` case is skipped,
``[fp16]`` and ``[fp32]`` run).

This file is not named ``test_*.py``, so ``pytest examples`` does not collect it (it
fails on purpose under the simulation); it runs when named on the command line.
"""

from __future__ import annotations

import torch

from pytest_dtypegate.transformers import tiny_model

MAX_NEW_TOKENS = 8


def test_qwen_bf16_generate(model_device: str, input_ids: torch.Tensor) -> None:
    model = tiny_model("qwen3", dtype=torch.bfloat16, device=model_device)
    out = model.generate(input_ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    assert out.shape == (1, input_ids.shape[1] + MAX_NEW_TOKENS)
