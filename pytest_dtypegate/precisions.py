"""Precision names, aliases, torch dtypes, fallback chains and default tolerances.

Pure module: imports neither pytest nor torch at module level.  ``torch_dtype``
imports torch lazily, only when a caller needs the real dtype object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AUTO",
    "AUTO_ORDER",
    "DEFAULT_DTYPES",
    "HARDWARE",
    "LOW",
    "PRECISIONS",
    "STORAGE",
    "Precision",
    "UnknownPrecisionError",
    "get",
    "names",
    "parse_list",
    "resolve",
    "torch_dtype",
]

AUTO = "auto"
#: ``auto`` resolves to the first of these that the device runs natively.
AUTO_ORDER: tuple[str, ...] = ("bf16", "fp16", "fp32")
#: The precisions ``model_dtype`` runs when nothing else is configured.
DEFAULT_DTYPES: tuple[str, ...] = ("bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Precision:
    """One precision a test can run in.

    ``storage`` is the attribute name of the ``torch.dtype`` the weights are
    held in.  ``tf32`` and ``amp_*`` are fp32 storage run differently: with
    TF32 matmul enabled, or under ``torch.autocast`` with ``autocast``.
    ``low`` marks the precisions whose overflow and rounding the gate watches;
    ``marker`` is the decorator that declares the precision on a test.
    """

    name: str
    storage: str
    fallback: tuple[str, ...]
    rtol: float
    atol: float
    description: str
    tf32: bool = False
    autocast: str | None = None  # the compute precision under autocast
    low: bool = False
    marker: str | None = None

    @property
    def declare(self) -> str:
        """How a test declares this precision: ``@requires_bf16``, else ``@requires_dtype("fp64")``."""
        return f"@{self.marker}" if self.marker else f'@requires_dtype("{self.name}")'

    @property
    def hardware(self) -> str:
        """The precision whose device support decides whether this one runs."""
        return self.autocast or self.name


# Tolerances: fp16/bf16/fp32/fp64 are torch.testing.assert_close's defaults
# (torch/testing/_comparison.py, _DTYPE_PRECISIONS).  assert_close has no fp8 or
# tf32 entry; ours follow the mantissa width: tf32 keeps 10 bits like fp16,
# e4m3 keeps 3 bits (2**-3), e5m2 keeps 2 bits (2**-2).
_TABLE: tuple[Precision, ...] = (
    Precision("fp32", "float32", (), 1.3e-6, 1e-5, "IEEE float32"),
    Precision(
        "tf32", "float32", ("fp32",), 1e-3, 1e-5, "float32 storage, TF32 matmul", tf32=True, marker="requires_tf32"
    ),
    Precision("fp16", "float16", ("fp32",), 1e-3, 1e-5, "IEEE float16 (half)", low=True, marker="requires_fp16"),
    Precision("bf16", "bfloat16", ("fp16", "fp32"), 1.6e-2, 1e-5, "bfloat16", low=True, marker="requires_bf16"),
    Precision(
        "fp8_e4m3",
        "float8_e4m3fn",
        ("bf16", "fp16", "fp32"),
        0.125,
        1e-2,
        "float8 e4m3fn",
        low=True,
        marker="requires_fp8",
    ),
    Precision(
        "fp8_e5m2", "float8_e5m2", ("bf16", "fp16", "fp32"), 0.25, 1e-2, "float8 e5m2", low=True, marker="requires_fp8"
    ),
    Precision("fp64", "float64", ("fp32",), 1e-7, 1e-7, "IEEE float64 (double)"),
    Precision(
        "amp_bf16",
        "float32",
        ("amp_fp16", "fp32"),
        1.6e-2,
        1e-5,
        "float32 weights under torch.autocast(bfloat16)",
        autocast="bf16",
        low=True,
    ),
    Precision(
        "amp_fp16",
        "float32",
        ("fp32",),
        1e-3,
        1e-5,
        "float32 weights under torch.autocast(float16)",
        autocast="fp16",
        low=True,
    ),
)

PRECISIONS: dict[str, Precision] = {p.name: p for p in _TABLE}
#: Precisions a device supports or lacks in hardware (what the probe measures), registry order.
HARDWARE: tuple[str, ...] = tuple(p.name for p in _TABLE if p.autocast is None)
#: Precisions that name a dtype tensors are stored in (tf32 and amp_* hold fp32).
STORAGE: tuple[str, ...] = tuple(p.name for p in _TABLE if p.autocast is None and not p.tf32)
#: Low precisions: where overflow and rounding are the test's concern.
LOW: frozenset[str] = frozenset(p.name for p in _TABLE if p.low)

_ALIASES: dict[str, str] = {
    "float32": "fp32",
    "float": "fp32",
    "f32": "fp32",
    "single": "fp32",
    "tensorfloat32": "tf32",
    "tensor_float32": "tf32",
    "float16": "fp16",
    "half": "fp16",
    "f16": "fp16",
    "bfloat16": "bf16",
    "float8_e4m3fn": "fp8_e4m3",
    "float8_e4m3": "fp8_e4m3",
    "e4m3": "fp8_e4m3",
    "fp8": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2",
    "e5m2": "fp8_e5m2",
    "float64": "fp64",
    "double": "fp64",
    "f64": "fp64",
    "autocast_bf16": "amp_bf16",
    "autocast_fp16": "amp_fp16",
}


class UnknownPrecisionError(ValueError):
    """A name that is neither a precision nor an alias of one."""

    def __init__(self, value: object, *, allow_auto: bool = True) -> None:
        self.value = value
        valid = ", ".join(names(include_auto=allow_auto))
        super().__init__(f"unknown precision {value!r}; valid names: {valid}")


def names(*, include_auto: bool = True) -> list[str]:
    """The canonical names, in registry order (``auto`` last)."""
    out = list(PRECISIONS)
    if include_auto:
        out.append(AUTO)
    return out


def resolve(value: Any, *, allow_auto: bool = True) -> str:
    """Return the canonical name for a name, alias or ``torch.dtype``.

    Accepts ``"bf16"``, ``"bfloat16"``, ``"torch.bfloat16"``, ``torch.bfloat16``
    and so on, case-insensitively.  Raises :class:`UnknownPrecisionError`.
    """
    if isinstance(value, Precision):
        return value.name
    if not isinstance(value, str):
        # a torch.dtype prints as "torch.bfloat16"; checked without importing torch
        if type(value).__name__ == "dtype" and type(value).__module__ == "torch":
            text = str(value)
        else:
            raise UnknownPrecisionError(value, allow_auto=allow_auto)
    else:
        text = value
    key = text.strip().lower()
    if key.startswith("torch."):
        key = key[len("torch.") :]
    if key == AUTO and allow_auto:
        return AUTO
    if key in PRECISIONS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownPrecisionError(value, allow_auto=allow_auto)


def get(value: Any) -> Precision:
    """The :class:`Precision` record for a name, alias or dtype (not ``auto``)."""
    return PRECISIONS[resolve(value, allow_auto=False)]


def parse_list(value: str | list[str] | tuple[str, ...], *, allow_auto: bool = True) -> tuple[str, ...]:
    """Parse ``"bf16, fp16 fp32"`` (or a list of such strings) into canonical names.

    Order is kept, duplicates are dropped.  Raises :class:`UnknownPrecisionError`
    for the first bad name (``auto`` too, unless ``allow_auto``) and ``ValueError``
    for an empty list.
    """
    parts: list[str] = []
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        parts.extend(p for p in item.replace(",", " ").split() if p)
    out: list[str] = []
    for part in parts:
        name = resolve(part, allow_auto=allow_auto)
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("empty precision list")
    return tuple(out)


def torch_dtype(value: Any) -> Any:
    """The ``torch.dtype`` that holds tensors of this precision (imports torch)."""
    import torch

    return getattr(torch, get(value).storage)
