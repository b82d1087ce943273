"""``model.generate()`` in every precision: the call from the Qwen bf16 report.

The report (QwenLM/Qwen3#755): on a GPU without bf16 GEMMs,

    model = AutoModelForCausalLM.from_pretrained(name, dtype=torch.bfloat16).cuda()
    model.generate(input_ids, max_new_tokens=..., do_sample=False)

ends in ``RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16``.
Here the precision comes from ``model_dtype``, so on such a device the ``[bf16]`` case
is skipped with the reason, and ``[fp16]``/``[fp32]`` still run.  See it without the
GPU:  pytest examples -rs --dtypegate-simulate qwen-windows-cuda10
"""

from __future__ import annotations

from typing import Any

import torch

from pytest_dtypegate import requires_bf16
from pytest_dtypegate.transformers import tiny_model

MAX_NEW_TOKENS = 8


def test_greedy_generate(model: Any, input_ids: torch.Tensor) -> None:
    # exactly the reported call
    out = model.generate(input_ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)

    prompt_len = input_ids.shape[1]
    assert out.shape == (1, prompt_len + MAX_NEW_TOKENS)
    assert torch.equal(out[:, :prompt_len], input_ids)  # the prompt comes back first
    # Greedy decoding's first token is the argmax of the forward pass in the same
    # precision.  (Do not compare the generated *tokens* with fp32's: a random model
    # has near-ties between logits, and one rounding flips them.  Compare logits
    # with a tolerance instead, as test_forward.py does.)
    with torch.no_grad():
        first = model(input_ids).logits[0, -1].argmax()
    assert out[0, prompt_len] == first


def test_sampling_generate(model: Any, input_ids: torch.Tensor) -> None:
    # Sampling is where an fp16 overflow usually surfaces, as "probability tensor
    # contains either `inf`, `nan` or element < 0" far from the layer that overflowed;
    # run with --dtypegate-check-finite to have the first non-finite layer named.
    kwargs = {"max_new_tokens": MAX_NEW_TOKENS, "do_sample": True, "top_k": 20, "temperature": 0.8}
    torch.manual_seed(1234)
    first = model.generate(input_ids, **kwargs)
    torch.manual_seed(1234)
    second = model.generate(input_ids, **kwargs)

    assert first.shape == (1, input_ids.shape[1] + MAX_NEW_TOKENS)
    assert torch.equal(first, second)  # same seed, same precision: same tokens
    assert int(first.max()) < model.config.vocab_size


@requires_bf16
def test_bf16_generate_as_reported(model_device: str, input_ids: torch.Tensor) -> None:
    # A test that must run in bf16 (no model_dtype: it is not parametrized).  Without
    # @requires_bf16 this is the Qwen report itself on a GPU without bf16 GEMMs; with
    # it the gate skips the test there and says why, and runs it everywhere else.
    model = tiny_model("qwen3", dtype=torch.bfloat16, device=model_device)
    out = model.generate(input_ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    assert out.shape == (1, input_ids.shape[1] + MAX_NEW_TOKENS)
