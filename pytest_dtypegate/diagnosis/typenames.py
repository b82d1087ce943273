"""Reading type names as error messages write them: ``BFloat16``, ``c10::Half``, ``CUDA_R_16BF`` ...

The spellings are the lexicon's data (``lexicon.toml``: each precision's exact
``names`` and the ``[scan]`` tokens); names not listed there go through
:func:`pytest_dtypegate.precisions.resolve` (which knows ``torch.bfloat16``,
``float16``, ``half`` ...).  This is the catalogue's strict reader: a close
relative such as ROCm's ``Float8_e4m3fnuz`` is a float without a precision
name here (the general reader files it under fp8, see ``lexicon``).

Pure module: imports neither torch nor pytest.
"""

from __future__ import annotations

import re

from .. import precisions as _p
from .lexicon import lexicon, mangled

__all__ = ["canonical", "dtype_key", "is_float", "read_precision"]

# Legacy type strings: "torch.cuda.HalfTensor", "CUDABFloat16Type", "CPUFloatType".
_LEGACY_TENSOR = re.compile(r"^torch\.(?:[a-z]{1,20}\.)?(?P<st>\w{1,40}?)Tensor$")
_LEGACY_TYPE = re.compile(r"^(?:CPU|CUDA|MPS|XPU|HIP|Meta)(?P<st>\w{1,40})Type$")
# Float formats that are floats but have no canonical name here (ROCm fnuz fp8, Triton's fp8e4b15).
_OTHER_FLOATS = re.compile(r"^(?:float8_\w{1,20}|fp8e4b15|fp8e4b8|fp8e5b16)$", re.IGNORECASE)


def canonical(name: str | None) -> str | None:
    """The canonical precision for a precision name or alias (``torch.bfloat16``, ``half``), or ``None``."""
    if not name:
        return None
    try:
        return _p.resolve(name, allow_auto=False)
    except _p.UnknownPrecisionError:
        return None


def _normalise(token: str) -> str:
    """The device-free type name: ``torch.cuda.HalfTensor`` -> ``Half``."""
    t = token.strip().strip("'\"`").rstrip(".,;:")
    for prefix in ("struct ", "class "):
        if t.startswith(prefix):
            t = t[len(prefix) :]
    for legacy in (_LEGACY_TENSOR, _LEGACY_TYPE):
        m = legacy.match(t)
        if m:
            return m.group("st")
    return t


def read_precision(token: str) -> str | None:
    """The canonical precision a type name in an error message stands for, or ``None``.

    Knows ATen ScalarType names (``BFloat16``), C++ names (``c10::Half``,
    ``struct c10::BFloat16``, mangled ``N3c108BFloat16E``), cuBLAS enums
    (``CUDA_R_16BF``), legacy tensor types (``torch.cuda.HalfTensor``), Triton
    names (``fp8e4nv``), torch dtype strings (``torch.bfloat16``) and a mangled
    wrapper's template argument (``N11onnxruntime17PrimitiveDataTypeIfEE``).
    """
    name = _normalise(token)
    strict = lexicon().strict
    if name in strict:
        return strict[name]
    found = canonical(name)
    if found is None and name[:1] in "N_":
        wrapped = mangled(name)
        found = wrapped.precision if wrapped is not None else None
    return found if found in _p.STORAGE else None


def dtype_key(token: str) -> str:
    """What decides whether two type names are the same dtype (device ignored)."""
    return read_precision(token) or _normalise(token).lower()


def is_float(token: str) -> bool:
    """Whether a type name is a floating-point type (one with a precision name, or another float format)."""
    return read_precision(token) is not None or bool(_OTHER_FLOATS.match(_normalise(token)))
