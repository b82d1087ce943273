"""The general reader's wordings that the final part of the corpus missed when it was first scored
(tests/corpus/dtype_errors.toml, split final): a refusal with a word between "not" and "supported", "un-supported",
a bare "Invalid scalar type" or "Data type not supported", a device "without native FP16 support", C++ checks on
``scalar_type()``, a list of what is supported followed by what was given, and a loss scale at zero; with the
look-alikes of each.

Every text here is written for this test, in the shape of the family's real messages (the real ones are the
corpus's), so that the reader is held to the family and not to the texts it was tuned on."""

from __future__ import annotations

import pytest

from pytest_dtypegate.diagnosis import Classification, classify


def general(text: str) -> Classification:
    c = classify(text)
    assert c is not None, text
    assert c.layer == "general", c
    return c


@pytest.mark.parametrize(
    ("text", "category", "precision", "other"),
    [
        # a word between "not" and "supported", spelt right or not
        ("RuntimeError: BFloat16 tensors are not presently supported for gloo reductions", "unsupported", "bf16", None),
        ("ValueError: Float8 inputs are not currenlty supported by this kernel", "unsupported", "fp8_e4m3", None),
        ("TypeError: torch.float16 is not fully supported on this backend", "unsupported", "fp16", None),
        # "un-supported", and a type refusal that names nothing
        ("RuntimeError: un-supported dtype: torch.float16", "unsupported", "fp16", None),
        ("NotImplementedError: Un-supported data type bfloat16 in quantize()", "unsupported", "bf16", None),
        ("RuntimeError: Invalid scalar type", "unsupported", None, None),
        ("E   RuntimeError: Data type not supported", "unsupported", None, None),
        ("ValueError: Unsupported data type", "unsupported", None, None),
        # a device or build without a precision
        ("RuntimeError: this device does not have BF16 support", "unsupported", "bf16", None),
        ("[W] Running fp16 layers on hardware without native FP16 support is slow", "unsupported", "fp16", None),
        ("the platform has no float16 support", "unsupported", "fp16", None),
        # C++ checks: one type required (the refused one unnamed), or two tensors' types equal
        ("RuntimeError: Expected x.scalar_type() == at::kHalf to be true, but got false.", "unsupported", None, None),
        (
            "RuntimeError: Expected w.scalar_type() == torch::kBFloat16 || w.scalar_type() == torch::kHalf to be true",
            "unsupported",
            None,
            None,
        ),
        ("RuntimeError: Expected input.dtype() == weight.dtype() to be true, but got false.", "mismatch", None, None),
        ("AssertionError: q.dtype == k.dtype", "mismatch", None, None),
        # a list of what is supported that names no precision, then what was given
        ("ValueError: this kernel only supports 32-bit floats, but got torch.float16", "unsupported", "fp16", None),
        ("TypeError: Quantization only accepts 16/32-bit floats, but was given bfloat16", "unsupported", "bf16", None),
        # a loss or gradient scale that reached zero
        ("Step 200  loss nan  fp16 loss scale: 0.0", "nonfinite", "fp16", None),
        ("WARNING trainer: grad_scale=0 after 40 skipped steps", "nonfinite", "fp16", None),
    ],
)
def test_the_final_parts_wordings(text: str, category: str, precision: str | None, other: str | None) -> None:
    c = general(text)
    assert (c.category, c.precision, c.other) == (category, precision, other)


@pytest.mark.parametrize(
    "text",
    [
        # a type refusal about a type that is not a float precision, or about no type at all
        "Tensor type not supported",
        "RuntimeError: Invalid scalar type for a torch.BoolTensor on this backend",
        "RuntimeError: Unsupported data type: Long",
        "RuntimeError: un-supported device: mps",
        "the card does not have tensor core support",
        "RuntimeError: Expected index.scalar_type() == at::kLong to be true, but got false.",
        "ValueError: Blockwise quantization only supports 16/32-bit floats, but got torch.uint8",
        # a loss scale that is not zero
        "Step 200  loss 2.31  fp16 loss scale: 0.5",
        "grad_scale=0.0625",
        "loss scale: 0.001",
    ],
)
def test_look_alikes_of_the_final_parts_wordings(text: str) -> None:
    assert classify(text) is None
