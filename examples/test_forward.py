"""The forward pass in every precision, and how far each one is from fp32.

Run:  pytest examples -v -rs
"""

from __future__ import annotations

from typing import Any

import torch

from pytest_dtypegate import assert_close, dtype_tolerance


def test_forward(model: Any, input_ids: torch.Tensor, model_dtype: torch.dtype) -> None:
    # `model_dtype` is this case's torch.dtype: the weights are stored in it
    assert model.dtype == model_dtype
    with torch.no_grad():
        logits = model(input_ids).logits
    assert logits.shape == (1, input_ids.shape[1], model.config.vocab_size)
    assert torch.isfinite(logits).all()


# The built-in tolerances are torch.testing's per-op ones (bf16: rtol 1.6e-2, atol
# 1e-5): right for one matmul, too tight for logits that went through a whole model,
# where the error adds up and values near zero make rtol useless.  This marker sets
# this test's `model_precision.rtol/atol` per precision (measured on this model: the
# largest logit differs from fp32 by ~4e-3 in bf16 and ~6e-4 in fp16, on logits of
# magnitude ~0.5).  Project-wide values go in the `dtypegate_tolerance` ini option.
@dtype_tolerance(
    bf16=(2e-2, 1e-2),
    fp16=(2e-3, 2e-3),
    amp_bf16=(2e-2, 1e-2),
    amp_fp16=(2e-3, 2e-3),
    tf32=(2e-3, 2e-3),
)
def test_logits_match_fp32(model: Any, input_ids: torch.Tensor, model_precision: Any, fp32_reference: Any) -> None:
    with torch.no_grad():
        logits = model(input_ids).logits
    # Compared in fp32 with model_precision's rtol/atol; a failure names the precision
    # and the tolerances it used.  Passing the record (not logits.dtype) matters for
    # amp_* and tf32, whose logits dtype does not say which precision ran.
    assert_close(logits, fp32_reference.logits, model_precision)


def test_loss_matches_fp32(model: Any, input_ids: torch.Tensor, model_precision: Any, fp32_reference: Any) -> None:
    # A mean over many tokens averages the rounding out: the loss meets the built-in
    # (per-op) tolerances without a marker.
    with torch.no_grad():
        loss = model(input_ids, labels=input_ids).loss
    assert_close(loss, fp32_reference.loss, model_precision)
