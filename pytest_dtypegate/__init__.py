"""pytest-dtypegate: precision-aware pytest plugin and CI gate for PyTorch model tests.

Nothing heavy is imported here: no torch, no transformers.
"""

from __future__ import annotations

from typing import Any

import pytest

from .capabilities import Capabilities, Evidence, Support
from .policy import Decision, Downgrade, Fail, Request, Requirement, Run, Settings, Skip
from .precisions import PRECISIONS, Precision, UnknownPrecisionError

__version__ = "0.1.0"

# The markers, importable as decorators: @requires_bf16, @dtypes("bf16", "fp32") ...
# They are looked up on pytest.mark when first imported (see __getattr__), so
# importing this package never trips --strict-markers where the plugin is off.
_MARKERS = frozenset(
    (
        "requires_bf16",
        "requires_fp16",
        "requires_tf32",
        "requires_fp8",
        "requires_dtype",
        "requires_capability",
        "dtypes",
        "dtype_tolerance",
    )
)

__all__ = [
    "PRECISIONS",
    "Capabilities",
    "Classification",
    "Decision",
    "Downgrade",
    "Evidence",
    "Fail",
    "Precision",
    "Request",
    "Requirement",
    "Run",
    "Settings",
    "Skip",
    "Support",
    "UnknownPrecisionError",
    "__version__",
    "assert_close",
    "classify",
    "dtype_tolerance",
    "dtypes",
    "requires_bf16",
    "requires_capability",
    "requires_dtype",
    "requires_fp8",
    "requires_fp16",
    "requires_tf32",
]

_LAZY = {
    "classify": ("diagnosis", "classify"),
    "Classification": ("diagnosis", "Classification"),
    "assert_close": ("tolerances", "assert_close"),
}


def __getattr__(name: str) -> Any:
    if name in _MARKERS:
        return getattr(pytest.mark, name)
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
