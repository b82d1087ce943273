"""Reading type names as error messages write them: ``BFloat16``, ``c10::Half``, ``CUDA_R_16BF`` ...

Pure module: imports neither torch nor pytest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .. import precisions as _p

__all__ = ["canonical", "dtype_key", "is_float", "read_precision"]

#: Type names as error messages write them -> canonical precision.  Names not
#: listed here go through :func:`pytest_dtypegate.precisions.resolve` (which
#: knows ``torch.bfloat16``, ``float16``, ``half`` ...).
_TYPE_NAMES: Mapping[str, str] = {
    # ATen ScalarType names (c10/core/ScalarType.h), as in "not implemented for 'BFloat16'"
    "BFloat16": "bf16",
    "Half": "fp16",
    "Float": "fp32",
    "Double": "fp64",
    "Float8_e4m3fn": "fp8_e4m3",
    "Float8_e5m2": "fp8_e5m2",
    # C++ type names: caffe2::TypeMeta names ("c10::BFloat16 != float") and MSVC typeid
    # names ("struct c10::BFloat16"; the prefix is stripped before the lookup)
    "float": "fp32",
    "double": "fp64",
    "c10::BFloat16": "bf16",
    "c10::Half": "fp16",
    "at::BFloat16": "bf16",
    "at::Half": "fp16",
    "c10::Float8_e4m3fn": "fp8_e4m3",
    "c10::Float8_e5m2": "fp8_e5m2",
    # Itanium-mangled typeid names (Linux, macOS): "gemm: not implemented for N3c108BFloat16E"
    "N3c108BFloat16E": "bf16",
    "N3c104HalfE": "fp16",
    "N3c1013Float8_e4m3fnE": "fp8_e4m3",
    "N3c1011Float8_e5m2E": "fp8_e5m2",
    "f": "fp32",
    "d": "fp64",
    # cuBLAS cudaDataType_t names (library_types.h) and their hipBLAS twins
    "CUDA_R_16BF": "bf16",
    "CUDA_R_16F": "fp16",
    "CUDA_R_32F": "fp32",
    "CUDA_R_64F": "fp64",
    "CUDA_R_8F_E4M3": "fp8_e4m3",
    "CUDA_R_8F_E5M2": "fp8_e5m2",
    "HIP_R_16BF": "bf16",
    "HIPBLAS_R_16B": "bf16",
    "HIP_R_16F": "fp16",
    "HIPBLAS_R_16F": "fp16",
    "HIP_R_32F": "fp32",
    "HIPBLAS_R_32F": "fp32",
    "HIP_R_64F": "fp64",
    "HIPBLAS_R_64F": "fp64",
    # cudaDataType_t values as cuBLASLt messages print them ("abcType 14"):
    # CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14,
    # CUDA_R_8F_E4M3 = 28, CUDA_R_8F_E5M2 = 29 (library_types.h)
    "0": "fp32",
    "1": "fp64",
    "2": "fp16",
    "14": "bf16",
    "28": "fp8_e4m3",
    "29": "fp8_e5m2",
    # the legacy cuBLAS GEMMs name their type in the function name
    "cublasSgemm": "fp32",
    "cublasDgemm": "fp64",
    "cublasHgemm": "fp16",
    # Triton's type names (triton.language): fp8e4nv is float8_e4m3fn, fp8e5 is float8_e5m2
    "fp8e4nv": "fp8_e4m3",
    "fp8e5": "fp8_e5m2",
}

# Legacy type strings: "torch.cuda.HalfTensor", "CUDABFloat16Type", "CPUFloatType".
_LEGACY_TENSOR = re.compile(r"^torch\.(?:[a-z]+\.)?(?P<st>\w+?)Tensor$")
_LEGACY_TYPE = re.compile(r"^(?:CPU|CUDA|MPS|XPU|HIP|Meta)(?P<st>\w+)Type$")
# Float formats that are floats but have no canonical name here (ROCm fnuz fp8, Triton's fp8e4b15).
_OTHER_FLOATS = re.compile(r"^(?:float8_\w+|fp8e4b15|fp8e4b8|fp8e5b16)$", re.IGNORECASE)


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
    names (``fp8e4nv``) and torch dtype strings (``torch.bfloat16``).
    """
    name = _normalise(token)
    if name in _TYPE_NAMES:
        return _TYPE_NAMES[name]
    found = canonical(name)
    return found if found in _p.STORAGE else None


def dtype_key(token: str) -> str:
    """What decides whether two type names are the same dtype (device ignored)."""
    return read_precision(token) or _normalise(token).lower()


def is_float(token: str) -> bool:
    """Whether a type name is a floating-point type (one with a precision name, or another float format)."""
    return read_precision(token) is not None or bool(_OTHER_FLOATS.match(_normalise(token)))
