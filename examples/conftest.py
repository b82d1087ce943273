"""Fixtures for the example suite: a tiny Qwen3 causal LM, a prompt, an fp32 reference.

The plugin provides three fixtures; nothing here re-implements them:

- ``model_dtype``: the ``torch.dtype`` of this test case.  Every test that asks for it
  runs once per precision (``[bf16]``, ``[fp16]``, ``[fp32]``); where the device cannot
  run one, that case is skipped (or downgraded) with the reason.
- ``model_precision``: the record behind it: ``.name``, ``.requested``,
  ``.downgraded_from``, ``.support``, and the ``.rtol``/``.atol`` to compare with.
- ``model_device``: where tensors go (``cuda:0``, ``mps``, ``cpu``).
"""

from __future__ import annotations

import os

# Nothing in this suite downloads anything: the model is built from a config.
# Offline mode turns an accidental download into an immediate error.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from typing import Any

import pytest
import torch

from pytest_dtypegate.transformers import tiny_model

#: A fixed prompt of token ids (the tiny model has a 128-token vocabulary and no
#: tokenizer; 0, 1 and 2 are its pad, bos and eos ids, so the prompt avoids them).
PROMPT = [[5, 17, 42, 99, 7, 3, 64, 21]]


@pytest.fixture(autouse=True)
def fixed_seed() -> None:
    """Every test starts from the same RNG state, so sampling is reproducible."""
    torch.manual_seed(0)


@pytest.fixture
def model(model_dtype: torch.dtype, model_device: str) -> Any:
    """The tiny Qwen3 (hidden 64, 2 layers, 4 heads, 2 kv heads) in this case's precision.

    ``tiny_model`` draws the weights in fp32 from the seed and then casts them, so
    every precision gets the *same* model, rounded: the only difference a comparison
    with fp32 sees is the precision's own.  For ``amp_bf16``/``amp_fp16`` the weights
    stay fp32 and the plugin runs the test under ``torch.autocast``.
    """
    return tiny_model("qwen3", dtype=model_dtype, device=model_device, seed=0)


@pytest.fixture
def input_ids(model_device: str) -> torch.Tensor:
    return torch.tensor(PROMPT, device=model_device)


@pytest.fixture(scope="module")
def fp32_reference() -> Any:
    """The same model's output in fp32 on the CPU: what each precision is compared with.

    Module-scoped: computed once, outside any test's precision.  ``assert_close``
    moves it to the device of the tensor it is compared with.
    """
    reference = tiny_model("qwen3", dtype=torch.float32, device="cpu", seed=0)
    ids = torch.tensor(PROMPT)
    with torch.no_grad():
        return reference(ids, labels=ids)
