"""Qwen3 under transformers' own common model tests: the glue the transformers sdist does not ship.

``run.py`` copies this file into the extracted suite as
``tests/models/qwen3/test_modeling_qwen3.py``.  Every test it collects comes from
``ModelTesterMixin`` in the sdist's ``tests/test_modeling_common.py``, run as
transformers wrote it; this module only says which model to build and with which
inputs (a two-layer Qwen3 small enough for a CPU), the part that transformers
keeps in ``tests/causal_lm_tester.py`` and ``tests/models/qwen3/``, which its
sdist leaves out.  Not collected by this project's own test run (the name does not
start with ``test_``).
"""

from __future__ import annotations

import unittest
from typing import Any

import torch
from transformers import (
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3ForQuestionAnswering,
    Qwen3ForSequenceClassification,
    Qwen3ForTokenClassification,
    Qwen3Model,
)
from transformers.testing_utils import torch_device

from ...test_modeling_common import ModelTesterMixin, ids_tensor  # type: ignore[import-not-found]


class Qwen3Tester:
    """Builds a tiny Qwen3 config and a batch of token ids, the two things the mixin asks of a tester."""

    def __init__(self, parent: unittest.TestCase) -> None:
        self.parent = parent
        self.batch_size = 3
        self.seq_length = 7
        self.is_training = True
        self.vocab_size = 99
        self.hidden_size = 32
        self.num_hidden_layers = 2
        self.num_attention_heads = 2
        self.num_key_value_heads = 2
        self.num_labels = 3
        self.num_choices = 4

    def get_config(self) -> Qwen3Config:
        return Qwen3Config(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=37,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            head_dim=self.hidden_size // self.num_attention_heads,
            max_position_embeddings=512,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            num_labels=self.num_labels,
        )

    def prepare_config_and_inputs_for_common(self) -> tuple[Qwen3Config, dict[str, Any]]:
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        mask = torch.tril(torch.ones_like(input_ids)).to(torch_device)
        return self.get_config(), {"input_ids": input_ids, "attention_mask": mask}


class Qwen3ModelTest(ModelTesterMixin, unittest.TestCase):  # type: ignore[misc]
    all_model_classes = (
        Qwen3Model,
        Qwen3ForCausalLM,
        Qwen3ForSequenceClassification,
        Qwen3ForTokenClassification,
        Qwen3ForQuestionAnswering,
    )

    def setUp(self) -> None:
        self.model_tester = Qwen3Tester(self)
