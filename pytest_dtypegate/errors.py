"""The error catalogue and the classifier: which failures are dtype errors, and how to fix them.

Pure module: imports neither torch nor pytest.  The catalogue is data: a tuple
of :class:`Entry` records, each with a compiled pattern, the category, how to
read the precision(s) out of the message, and a ``source`` saying where the
real text comes from.  :func:`classify` tries the entries in order on one
text, or on every exception of an exception's chain.

Categories:

- ``unsupported``: the device or the torch build has no kernel for a precision;
- ``mismatch``: two tensors of different dtypes met inside the code under test
  (a bug in that code, not a device limit);
- ``nonfinite``: a low precision overflowed (fp16 NaN/inf reaching sampling).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import precisions as _p
from .capabilities import Capabilities, Support

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "MISMATCH",
    "NONFINITE",
    "UNSUPPORTED",
    "Classification",
    "Entry",
    "Operand",
    "add_cli_arguments",
    "advise",
    "classify",
    "cli_main",
    "exception_text",
    "format_section",
    "read_precision",
]

UNSUPPORTED = "unsupported"
MISMATCH = "mismatch"
NONFINITE = "nonfinite"
CATEGORIES: tuple[str, ...] = (UNSUPPORTED, MISMATCH, NONFINITE)

#: Where to report a kernel the probe missed (no host name: the project's own tracker).
TRACKER = "the pytest-dtypegate issue tracker"

# ---------------------------------------------------------------------------
# Reading type names
# ---------------------------------------------------------------------------

#: The precisions a tensor can be stored in (what an error message can name).
_STORAGE: tuple[str, ...] = ("bf16", "fp16", "fp32", "fp8_e4m3", "fp8_e5m2", "fp64")
#: Precisions that are "low": their absence is what the gate is about.
_LOW: frozenset[str] = frozenset({"bf16", "fp16", "fp8_e4m3", "fp8_e5m2"})

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


def _normalise(token: str) -> str:
    """The device-free type name: ``torch.cuda.HalfTensor`` -> ``Half``."""
    t = token.strip().strip("'\"`").rstrip(".,;:")
    for prefix in ("struct ", "class "):
        if t.startswith(prefix):
            t = t[len(prefix):]
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
    if not name or name.isdigit():
        return None
    try:
        canonical = _p.resolve(name, allow_auto=False)
    except _p.UnknownPrecisionError:
        return None
    return canonical if canonical in _STORAGE else None


def _dtype_key(token: str) -> str:
    """What decides whether two type names are the same dtype (device ignored)."""
    return read_precision(token) or _normalise(token).lower()


def _is_float(token: str) -> bool:
    return read_precision(token) is not None or bool(_OTHER_FLOATS.match(_normalise(token)))


# ---------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One known error text.

    ``roles`` name the pattern's groups that hold type names: for a mismatch,
    the operands in order (a group ``<role>_name``, when present, gives the
    operand's label as the message writes it); for the other categories, the
    type whose kernel is missing.  ``scan`` finds more type names after the
    match (the arguments of a cuBLAS call).  ``accept`` limits the precisions
    an entry is about: a message naming only others is not a dtype error.
    ``need_precision``: without a readable precision the text is not one.
    ``precision`` is the fixed precision for a text that names none.
    """

    id: str
    pattern: re.Pattern[str]
    category: str
    source: str
    summary: str
    advice: str
    roles: tuple[str, ...] = ()
    precision: str | None = None
    scan: re.Pattern[str] | None = None
    accept: frozenset[str] | None = None
    need_precision: bool = False
    op: str | None = None


@dataclass(frozen=True)
class Operand:
    """One side of a mismatch: its label, the type as the message wrote it, the precision."""

    role: str
    written: str
    precision: str | None


@dataclass(frozen=True)
class Classification:
    """What :func:`classify` says about one error text."""

    category: str  # "unsupported" | "mismatch" | "nonfinite"
    precision: str | None  # canonical name, e.g. "bf16"
    other: str | None = None  # for mismatch: the other side's precision
    entry: str = ""  # catalogue entry id
    summary: str = ""  # one line: what happened, in plain words
    advice: str = ""  # generic fix (context-free)
    source: str = ""  # citation of the catalogue entry
    op: str | None = None  # kernel/op named in the message when there is one
    operands: tuple[Operand, ...] = field(default=())  # mismatch sides, as the message named them

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "precision": self.precision,
            "other": self.other,
            "entry": self.entry,
            "summary": self.summary,
            "advice": self.advice,
            "source": self.source,
            "op": self.op,
            "operands": [
                {"role": o.role, "written": o.written, "precision": o.precision} for o in self.operands
            ],
        }


# A type name as messages print it: "c10::BFloat16", "float", "struct c10::Half", "N3c108BFloat16E".
_T = r"(?:struct |class )?[\w:.<>]+"
# A ScalarType name or a torch dtype string: "BFloat16", "torch.bfloat16" (meta and fake-tensor checks).
_W = r"[\w.:]+"
_FLASH_DTYPE_WARNING = (
    r"to all be of dtype: \{(?P<allowed>[^}]*)\}\. Got Query dtype: (?P<query>[\w:]+), "
    r"Key dtype: (?P<key>[\w:]+), and Value dtype: (?P<value>[\w:]+)"
)

_rx = re.compile

_UNSUPPORTED_ENTRIES: tuple[Entry, ...] = (
    Entry(
        id="cuda-blas-not-implemented",
        # Linux:   at::cuda::blas::gemm: not implemented for N3c108BFloat16E
        # Windows: at::cuda::blas::gemm: not implemented for struct c10::BFloat16
        # newer:   at::cuda::blas::gemm: not implemented for input type N3c108BFloat16E and output type ...
        pattern=_rx(
            rf"at::cuda::blas::(?P<op>\w+)(?:<[^>]*>)?: not implemented for (?:input type )?(?P<dtype>{_T})"
        ),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        source=(
            "pytorch/pytorch aten/src/ATen/cuda/CUDABlas.h and CUDABlas.cpp (generic gemm/bgemm template, "
            "typeid name); https://github.com/QwenLM/Qwen3/issues/755 (Windows form), "
            "https://github.com/pytorch/pytorch/issues/67682 (mangled form)"
        ),
        summary="cuBLAS has no {precision} {op} in this torch build on this GPU",
        advice="run the model in a precision the GPU has kernels for (fp16 or fp32 before Ampere)",
    ),
    Entry(
        id="aten-dispatch-not-implemented",
        # "addmm_impl_cpu_" not implemented for 'Half'   (RuntimeError up to torch 2.7,
        # NotImplementedError from torch 2.8: pytorch/pytorch#155470)
        pattern=_rx(r"\"(?P<op>[^\"\s]+)\" not implemented for '(?P<dtype>\w+)'"),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        accept=frozenset({"bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "fp64"}),
        source=(
            "pytorch/pytorch aten/src/ATen/Dispatch.h (AT_DISPATCH_SWITCH default case); "
            "https://github.com/pytorch/pytorch/pull/155470 (NotImplementedError since torch 2.8)"
        ),
        summary="the ATen kernel {op} has no {precision} version on this device",
        advice="run this op in a precision it has a kernel for, or move it to a device that has one",
    ),
    Entry(
        id="cublas-status-not-supported",
        # CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmStridedBatchedExFix(handle, ...,
        #   a, CUDA_R_16BF, ...)` ; ... when calling cublasLtMatmul with ... abcType 14 computeType 68 ...
        # Only a low-precision GEMM counts: an fp32-only call (CUDA_R_32F, cublasSgemm, abcType 0) is not
        # a dtype error.
        pattern=_rx(r"(?:CUBLAS|HIPBLAS)_STATUS_NOT_SUPPORTED when calling `?(?P<op>\w+)"),
        category=UNSUPPORTED,
        scan=_rx(r"\b(CUDA_R_\w+|HIPBLAS_R_\w+|HIP_R_\w+|cublas[SDH]gemm)|\b(?:abc|ab|a|b|c|d)Type (\d+)\b"),
        accept=_LOW,
        need_precision=True,
        source=(
            "pytorch/pytorch aten/src/ATen/cuda/CUDABlas.cpp (TORCH_CUDABLAS_CHECK, cublasLtMatmul checks); "
            "https://github.com/pytorch/pytorch/pull/57903, "
            "https://github.com/billwuhao/ComfyUI_ACE-Step/issues/10"
        ),
        summary="cuBLAS refused a {precision} GEMM ({op}) on this GPU",
        advice="run the GEMMs in fp16 or fp32 on GPUs without {precision} tensor cores",
    ),
    Entry(
        id="scaled-mm-capability",
        # torch 2.2: "torch._scaled_mm is only supported on devices with compute capability >= 9.0)"
        # torch 2.3+: "... only supported on CUDA devices with compute capability >= 9.0 or 8.9"
        # torch 2.4+: "... or 8.9, or ROCm MI300+"
        pattern=_rx(
            r"torch\.(?P<op>_scaled_(?:grouped_)?mm) is only supported on (?:CUDA )?devices with compute capa"
        ),
        category=UNSUPPORTED,
        precision="fp8_e4m3",
        source=(
            "pytorch/pytorch aten/src/ATen/native/cuda/Blas.cpp (_scaled_mm_out_cuda); "
            "https://github.com/pytorch/pytorch/issues/118703, https://github.com/pytorch/pytorch/pull/164251"
        ),
        summary="fp8 matmul (torch.{op}) needs an sm_89+ GPU (Ada, Hopper) or ROCm MI300+",
        advice="keep fp8 weights but compute in bf16/fp16 on older GPUs (dequantise before the matmul)",
    ),
    Entry(
        id="scaled-mm-no-backend",
        # NotImplementedError: Could not run 'aten::_scaled_mm' with arguments from the 'CPU' backend. ...
        pattern=_rx(r"Could not run 'aten::(?P<op>_scaled_(?:grouped_)?mm\w*)' with arguments from the "
                    r"'(?P<backend>\w+)' backend"),
        category=UNSUPPORTED,
        precision="fp8_e4m3",
        source=(
            "pytorch/pytorch aten/src/ATen/core/dispatch/OperatorEntry.cpp (reportError); "
            "https://github.com/pollockjj/ComfyUI-MultiGPU/issues/108"
        ),
        summary="this torch build has no fp8 matmul (aten::{op}) for the {backend} backend",
        advice="run fp8 models on a CUDA sm_89+ or ROCm MI300+ device, or dequantise to bf16/fp16",
    ),
    Entry(
        id="torch-without-fp8",
        # AttributeError: module 'torch' has no attribute '_scaled_mm'      (torch before 2.1)
        # AttributeError: module 'torch' has no attribute 'float8_e4m3fn'   (torch before 2.1)
        pattern=_rx(
            r"module 'torch' has no attribute '(?P<missing>(?P<op>_scaled_mm)|(?P<dtype>float8_e4m3fn|float8_e5m2))'"
        ),
        category=UNSUPPORTED,
        roles=("dtype",),
        precision="fp8_e4m3",
        source=(
            "https://github.com/pytorch/pytorch/issues/108411 (torch._scaled_mm and the float8 dtypes "
            "arrived in torch 2.1)"
        ),
        summary="this torch is older than 2.1 and has no fp8 (torch.{missing} is missing)",
        advice="upgrade torch for fp8, or dequantise fp8 weights to bf16/fp16",
    ),
    Entry(
        id="flash-attn-bf16-arch",
        pattern=_rx(r"bfloat16 is only supported on Ampere GPUs or newer"),
        category=UNSUPPORTED,
        precision="bf16",
        op="flash_attn",
        source="Dao-AILab/flash-attention csrc/flash_attn/flash_api.cpp (mha_fwd)",
        summary="FlashAttention's bf16 kernels need an Ampere (sm_80) or newer GPU",
        advice="use fp16 with FlashAttention before Ampere, or another attention implementation",
    ),
    Entry(
        id="flash-attn-arch",
        pattern=_rx(r"FlashAttention only supports Ampere GPUs or newer"),
        category=UNSUPPORTED,
        op="flash_attn",
        source=(
            "Dao-AILab/flash-attention csrc/flash_attn/flash_api.cpp (mha_fwd, mha_varlen_fwd); "
            "transformers attn_implementation='flash_attention_2' on pre-Ampere GPUs"
        ),
        summary="FlashAttention 2 has no kernels for GPUs older than Ampere (sm_80)",
        advice=(
            "use attn_implementation='sdpa' or 'eager' on this GPU, or mark the test "
            "`@requires_capability(8, 0)` so the gate skips it where it cannot run"
        ),
    ),
    Entry(
        id="flash-attn-dtype",
        pattern=_rx(r"FlashAttention only supports? fp16 and bf16 data type"),
        category=UNSUPPORTED,
        precision="fp32",
        op="flash_attn",
        source="Dao-AILab/flash-attention csrc/flash_attn/flash_api.cpp (mha_fwd)",
        summary="FlashAttention has fp16 and bf16 kernels only and was given another dtype (usually fp32)",
        advice="run the model in fp16/bf16 (take it from model_dtype) or use attn_implementation='sdpa'",
    ),
    Entry(
        id="sdpa-no-kernel",
        # RuntimeError: No available kernel. Aborting execution.  preceded by the per-backend warnings
        # ("Flash attention kernel not used because:" ... "Expected query, key and value to all be of
        # dtype: {Half, BFloat16}. Got Query dtype: float, ...").  Without such a dtype warning in the
        # text the missing kernel may be about shapes or masks, so it is not classified.
        pattern=_rx(
            r"(?s)^(?=.*No available kernel\. Aborting execution)(?=.*" + _FLASH_DTYPE_WARNING + r")"
        ),
        category=UNSUPPORTED,
        roles=("query", "key", "value"),
        op="scaled_dot_product_attention",
        source=(
            "pytorch/pytorch aten/src/ATen/native/transformers/cuda/sdp_utils.cpp (select_sdp_backend, "
            "check_tensor_dtype)"
        ),
        summary="no fused SDPA kernel accepts {precision} on this device, and the math fallback was disabled",
        advice="allow the math SDPA backend for this precision, or run attention in an accepted dtype",
    ),
    Entry(
        id="sdpa-dtype-warning",
        # UserWarning: Expected query, key and value to all be of dtype: {Half, BFloat16}. Got Query
        # dtype: float, Key dtype: float, and Value dtype: float instead.  (an error under
        # filterwarnings = error)
        pattern=_rx(_FLASH_DTYPE_WARNING),
        category=UNSUPPORTED,
        roles=("query", "key", "value"),
        op="scaled_dot_product_attention",
        source="pytorch/pytorch aten/src/ATen/native/transformers/sdp_utils_cpp.h (check_tensor_dtype)",
        summary="a fused SDPA kernel does not accept {precision} inputs (it takes {allowed})",
        advice="give attention inputs in a dtype the fused kernels take, or let SDPA fall back to math",
    ),
    Entry(
        id="triton-fp8-arch",
        # ValueError("type fp8e4nv not supported in this architecture. The supported fp8 dtypes are
        # ('fp8e4b15', 'fp8e5')")
        pattern=_rx(
            r"type (?P<dtype>fp8\w+) not supported in this architecture\. The supported fp8 dtypes are"
        ),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        op="triton",
        source=(
            "triton-lang/triton python/triton/language/semantic.py (fp8 type check); "
            "https://github.com/vllm-project/vllm/issues/18182"
        ),
        summary="Triton cannot compile {precision} ({written}) for this GPU architecture (needs sm_89+)",
        advice="use bf16/fp16 kernels on this GPU (or fp8_e5m2, which Triton supports on sm_80+)",
    ),
    Entry(
        id="triton-fp8e4nv-assert",
        # AssertionError: fp8e4nv data type is not supported on CUDA arch < 89
        pattern=_rx(r"(?P<dtype>fp8e4nv) data type is not supported on CUDA arch < 89"),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        op="triton",
        source="triton-lang/triton python/triton/language/semantic.py (cast: builder.options.allow_fp8e4nv)",
        summary="Triton's {precision} ({written}) needs CUDA arch sm_89 or newer",
        advice="use bf16/fp16 kernels on this GPU",
    ),
    Entry(
        id="triton-ptx-bf16",
        # ptxas ... error   : Feature '.bf16' requires .target sm_80 or higher
        # ptxas ... error   : Feature 'cvt.bf16.f32' requires .target sm_80 or higher
        pattern=_rx(r"Feature '(?:\.bf16|cvt[^']*\.bf16[^']*)' requires \.target sm_80 or higher"),
        category=UNSUPPORTED,
        precision="bf16",
        op="triton",
        source="https://github.com/pytorch/pytorch/issues/118581 (Internal Triton PTX codegen error on V100)",
        summary="Triton generated bf16 PTX that this GPU (older than sm_80) cannot run",
        advice="use fp16 or fp32 for compiled (torch.compile / Triton) code on this GPU",
    ),
    Entry(
        id="mps-bf16",
        # torch 2.0-2.2: TypeError: BFloat16 is not supported on MPS
        # torch 2.3+:    TypeError: MPS BFloat16 is only supported on MacOS 14 or newer
        pattern=_rx(
            r"(?:MPS BFloat16 is only supported on MacOS 14 or newer|BFloat16 is not supported on MPS)"
        ),
        category=UNSUPPORTED,
        precision="bf16",
        source=(
            "pytorch/pytorch aten/src/ATen/mps/EmptyTensor.cpp (empty_mps); "
            "https://github.com/QwenLM/Qwen/issues/497, https://github.com/pytorch/torchchat/issues/616"
        ),
        summary="MPS has no bf16 on this macOS (it needs macOS 14 or newer)",
        advice="use fp16 or fp32 on MPS before macOS 14",
    ),
    Entry(
        id="mps-dtype-convert",
        # TypeError: Trying to convert BFloat16 to the MPS backend but it does not have support for
        # that dtype.
        pattern=_rx(
            r"Trying to convert (?P<dtype>\w+) to the MPS backend but it does not have support for that dtype"
        ),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        source=(
            "pytorch/pytorch aten/src/ATen/native/mps/OperationUtils.mm (getMPSDataType); "
            "https://github.com/pytorch/pytorch/issues/104191"
        ),
        summary="the MPS backend has no {precision} ({written}) type",
        advice="use fp16 or fp32 on MPS",
    ),
    Entry(
        id="mps-float64",
        # TypeError: Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support
        # float64. Please use float32 instead.
        pattern=_rx(
            r"Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64"
        ),
        category=UNSUPPORTED,
        precision="fp64",
        source="pytorch/pytorch aten/src/ATen/mps/EmptyTensor.cpp (MPS_ERROR_DOUBLE_NOT_SUPPORTED)",
        summary="MPS has no float64",
        advice="use fp32 on MPS (numpy arrays default to float64: convert with .float())",
    ),
    Entry(
        id="autocast-bf16-device",
        # RuntimeError: Current CUDA Device does not support bfloat16. Please switch dtype to float16.
        pattern=_rx(r"Current (?P<device>\w+) Device does not support bfloat16"),
        category=UNSUPPORTED,
        precision="bf16",
        op="torch.autocast",
        source="pytorch/pytorch torch/amp/autocast_mode.py (autocast.__init__)",
        summary="torch.autocast(dtype=torch.bfloat16) was asked for on a {device} device without bf16",
        advice="autocast to float16 on this device (the amp_fp16 precision)",
    ),
    Entry(
        id="autocast-dtype-unsupported",
        # UserWarning: In CPU autocast, but the target dtype is not supported. Disabling autocast.
        #   CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.
        # UserWarning: In MPS autocast, but the target dtype torch.bfloat16 is not supported on macOS
        #   versions below 14. Disabling autocast.
        # (warnings: errors under filterwarnings = error)
        pattern=_rx(
            r"In (?P<device>\w+) autocast, but the target dtype (?:(?P<dtype>torch\.\w+) )?is not supported"
        ),
        category=UNSUPPORTED,
        roles=("dtype",),
        op="torch.autocast",
        source="pytorch/pytorch torch/amp/autocast_mode.py (autocast.__init__); verified with torch 2.13 CPU",
        summary="torch.autocast on {device} does not take the requested dtype and was disabled",
        advice="autocast only to bfloat16 or float16 (amp_bf16 / amp_fp16); run fp32 without autocast",
    ),
    Entry(
        id="transformers-bf16-gpu",
        # ValueError: Your setup doesn't support bf16/gpu. You need to assign use_cpu if you want to train
        # the model on CPU. You need Ampere+ GPU with cuda>=11.0.
        pattern=_rx(r"Your setup doesn't support bf16/gpu"),
        category=UNSUPPORTED,
        precision="bf16",
        op="TrainingArguments",
        source="huggingface/transformers src/transformers/training_args.py (TrainingArguments.__post_init__)",
        summary="transformers' TrainingArguments(bf16=True) needs a GPU with bf16 (Ampere or newer)",
        advice="pass fp16=True (or neither) to TrainingArguments on this GPU",
    ),
    Entry(
        id="transformers-tf32",
        # ValueError: --tf32 requires Ampere or a newer GPU arch, cuda>=11 and torch>=1.7
        pattern=_rx(r"--tf32 requires Ampere or a newer GPU arch"),
        category=UNSUPPORTED,
        precision="tf32",
        op="TrainingArguments",
        source="huggingface/transformers src/transformers/training_args.py (TrainingArguments.__post_init__)",
        summary="transformers' TrainingArguments(tf32=True) needs an Ampere or newer GPU",
        advice="leave tf32 off on this GPU",
    ),
    Entry(
        id="vllm-bf16-capability",
        # ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your
        # Tesla T4 GPU has compute capability 7.5.
        pattern=_rx(r"Bfloat16 is only supported on GPUs with compute capability of at least 8\.0"),
        category=UNSUPPORTED,
        precision="bf16",
        op="vllm",
        source="https://github.com/vllm-project/vllm/issues/946, https://github.com/vllm-project/vllm/issues/1157",
        summary="vLLM refuses bf16 on a GPU older than Ampere (sm_80)",
        advice="pass dtype='half' (fp16) to vLLM on this GPU",
    ),
    Entry(
        id="linalg-low-precision",
        # RuntimeError: linalg.inv: Low precision dtypes not supported. Got BFloat16
        # meta: linalg.inv_ex: Low precision dtypes not supported. Got torch.float16
        pattern=_rx(rf"(?:(?P<op>[\w.]+): )?Low precision dtypes not supported\. Got (?P<dtype>{_W})"),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        source=(
            "pytorch/pytorch aten/src/ATen/native/LinearAlgebraUtils.h (checkFloatingOrComplex); "
            "verified with torch 2.13 CPU"
        ),
        summary="{op} has no {precision} kernel: linear algebra needs fp32 or fp64",
        advice="upcast to fp32 for the linear-algebra step (x.float()) and cast the result back",
    ),
    Entry(
        id="fft-unsupported-dtype",
        # RuntimeError: Unsupported dtype Half   (torch.fft on the CPU, or on a GPU without fp16 FFTs)
        pattern=_rx(r"Unsupported dtype (?P<dtype>Half|BFloat16)\b"),
        category=UNSUPPORTED,
        roles=("dtype",),
        need_precision=True,
        op="torch.fft",
        source=(
            "pytorch/pytorch aten/src/ATen/native/SpectralOps.cpp (promote_type_fft); "
            "verified with torch 2.13 CPU"
        ),
        summary="torch.fft has no {precision} kernel here",
        advice="upcast to fp32 for the FFT (x.float()) and cast the result back",
    ),
)

_MISMATCH_ADVICE = (
    "cast the operand that kept its old dtype (x.to(model_dtype)), or run the code under torch.autocast"
)

_MISMATCH_ENTRIES: tuple[Entry, ...] = (
    Entry(
        id="matmul-expected-same-dtype",
        # CPU:  expected m1 and m2 to have the same dtype, but got: c10::BFloat16 != float
        # CUDA: expected mat1 and mat2 to have the same dtype, but got: float != c10::BFloat16
        pattern=_rx(
            rf"expected (?P<a_name>m1|mat1|a) and (?P<b_name>m2|mat2|b) to have the same dtype, "
            rf"but got: (?P<a>{_T}) != (?P<b>{_T})"
        ),
        category=MISMATCH,
        roles=("a", "b"),
        op="matmul",
        source=(
            "pytorch/pytorch aten/src/ATen/native/LinearAlgebra.cpp (addmm_impl_cpu_) and "
            "aten/src/ATen/native/cuda/Blas.cpp (addmm_out_cuda_impl); verified with torch 2.13 CPU"
        ),
        summary="a matmul got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="addmm-must-have-same-dtype",
        # mat1 and mat2 must have the same dtype, but got BFloat16 and Float
        # self and mat2 must have the same dtype, but got BFloat16 and Float   (the bias of F.linear)
        # older torch: mat1 and mat2 must have the same dtype
        pattern=_rx(
            r"(?P<a_name>self|mat1|input) and (?P<b_name>mat2) must have the same dtype"
            rf"(?:, but got (?P<a>{_W}) and (?P<b>{_W}))?"
        ),
        category=MISMATCH,
        roles=("a", "b"),
        op="addmm",
        source=(
            "pytorch/pytorch aten/src/ATen/native/LinearAlgebra.cpp (ADDMM_META); "
            "verified with torch 2.13 CPU"
        ),
        summary="a linear layer / addmm got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="expected-scalar-type",
        # RuntimeError: expected scalar type Float but found BFloat16   (conv, bmm, older matmul paths)
        # meta / fake tensors (torch.compile): expected scalar type torch.bfloat16 but found torch.float32
        pattern=_rx(rf"expected scalar type (?P<expected>{_W}) but found (?P<found>{_W})"),
        category=MISMATCH,
        roles=("expected", "found"),
        source=(
            "pytorch/pytorch aten/src/ATen/templates/TensorBody.h / TensorMethods.cpp (data_ptr type "
            "check); verified with torch 2.13 CPU (conv2d, bmm)"
        ),
        summary="a kernel expected {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="found-dtype-expected",
        # RuntimeError: Found dtype Float but expected Half   (TensorIterator, e.g. a loss backward)
        pattern=_rx(rf"Found dtype (?P<found>{_W}) but expected (?P<expected>{_W})"),
        category=MISMATCH,
        roles=("expected", "found"),
        source="pytorch/pytorch aten/src/ATen/TensorIterator.cpp (compute_types)",
        summary="an elementwise op found {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="conv-input-type",
        # Input type (float) and bias type (c10::BFloat16) should be the same
        # Input type (torch.FloatTensor) and weight type (torch.cuda.HalfTensor) should be the same or ...
        # The same dtype on two devices (torch.FloatTensor vs torch.cuda.FloatTensor) is a device
        # mismatch and is not classified.
        pattern=_rx(
            r"Input type \((?P<input>[^)]+)\) and (?P<b_name>weight|bias) type \((?P<b>[^)]+)\) "
            r"should be the same"
        ),
        category=MISMATCH,
        roles=("input", "b"),
        op="convolution",
        source=(
            "pytorch/pytorch aten/src/ATen/native/Convolution.cpp (check_input_same_type_as_parameters); "
            "verified with torch 2.13 CPU (conv2d bias)"
        ),
        summary="a convolution got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="sdpa-same-dtype",
        # Expected query, key, and value to have the same dtype, but got query.dtype: float key.dtype:
        # c10::BFloat16 and value.dtype: float instead.
        pattern=_rx(
            rf"Expected query, key, and value to have the same dtype, but got query\.dtype: (?P<query>{_T}) "
            rf"key\.dtype: (?P<key>{_T}) and value\.dtype: (?P<value>{_T})"
        ),
        category=MISMATCH,
        roles=("query", "key", "value"),
        op="scaled_dot_product_attention",
        source=(
            "pytorch/pytorch aten/src/ATen/native/transformers/attention.cpp (validate_sdpa_input); "
            "verified with torch 2.13 CPU"
        ),
        summary="attention got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="sdpa-dtype-warning-mixed",
        # the fused-kernel dtype warning (see sdpa-dtype-warning) when q, k and v differ
        pattern=_rx(_FLASH_DTYPE_WARNING),
        category=MISMATCH,
        roles=("query", "key", "value"),
        op="scaled_dot_product_attention",
        source="pytorch/pytorch aten/src/ATen/native/transformers/sdp_utils_cpp.h (check_tensor_dtype)",
        summary="attention got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="flash-attn-same-dtype",
        # RuntimeError: query and key must have the same dtype
        pattern=_rx(r"query and (?P<b_name>key|value) must have the same dtype"),
        category=MISMATCH,
        op="flash_attn",
        source="Dao-AILab/flash-attention csrc/flash_attn/flash_api.cpp (mha_fwd)",
        summary="FlashAttention got query and {b_name} in different dtypes",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="mixed-dtype-cpu",
        # RuntimeError: mixed dtype (CPU): expect parameter to have scalar type of Float
        # RuntimeError: mixed dtype (CPU): all inputs must share same datatype.
        pattern=_rx(
            r"mixed dtype \(CPU\): (?:expect parameter to have scalar type of (?P<input>\w+)"
            r"|all inputs must share same datatype)"
        ),
        category=MISMATCH,
        roles=("input",),
        op="normalization",
        source=(
            "pytorch/pytorch aten/src/ATen/native/cpu/mixed_data_type.h (check_mixed_data_type); "
            "verified with torch 2.13 CPU (layer_norm, batch_norm, group_norm)"
        ),
        summary="a normalization layer's parameters and its input have different dtypes",
        advice="cast the normalization layer with the model (model.to(model_dtype)), or the input to it",
    ),
    Entry(
        id="index-put-dtype",
        # Index put requires the source and destination dtypes match, got Float for the destination
        # and BFloat16 for the source.
        pattern=_rx(
            r"Index put requires the source and destination dtypes match, got (?P<destination>\w+) "
            r"for the destination and (?P<source>\w+) for the source"
        ),
        category=MISMATCH,
        roles=("destination", "source"),
        op="index_put_",
        source=(
            "pytorch/pytorch aten/src/ATen/native/TensorAdvancedIndexing.cpp (index_put_); "
            "verified with torch 2.13 CPU"
        ),
        summary="an indexed assignment wrote {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="expected-dtype-for-arg",
        # expected dtype float for `end` but got dtype c10::BFloat16   (torch.lerp)
        pattern=_rx(rf"expected dtype (?P<self>{_T}) for `(?P<arg_name>\w+)` but got dtype (?P<arg>{_T})"),
        category=MISMATCH,
        roles=("self", "arg"),
        op="lerp",
        source="pytorch/pytorch aten/src/ATen/native/Lerp.cpp (lerp meta); verified with torch 2.13 CPU",
        summary="an op got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="baddbmm-input-dtypes",
        # Input dtypes must be the same, got: input float, batch1: c10::BFloat16, batch2: float
        # meta: Input dtypes must be the same, got: input: torch.float32, batch1: torch.bfloat16, ...
        pattern=_rx(
            rf"Input dtypes must be the same, got: input:? (?P<input>{_T}), batch1: (?P<batch1>{_T}), "
            rf"batch2: (?P<batch2>{_T})"
        ),
        category=MISMATCH,
        roles=("input", "batch1", "batch2"),
        op="baddbmm",
        source=(
            "pytorch/pytorch aten/src/ATen/native/LinearAlgebra.cpp (baddbmm meta); "
            "verified with torch 2.13 CPU"
        ),
        summary="a batched matmul got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="rnn-input-dtype",
        # ValueError: RNN input dtype (torch.bfloat16) does not match weight dtype (torch.float32). ...
        pattern=_rx(
            r"RNN input dtype \((?P<input>[\w.]+)\) does not match weight dtype \((?P<weight>[\w.]+)\)"
        ),
        category=MISMATCH,
        roles=("input", "weight"),
        op="rnn",
        source="pytorch/pytorch torch/nn/modules/rnn.py (RNNBase.check_input); verified with torch 2.13 CPU",
        summary="a recurrent layer got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
    Entry(
        id="rnn-input-type-legacy",
        # ValueError: input must have the type torch.float32, got type torch.bfloat16   (older torch)
        pattern=_rx(r"input must have the type (?P<weight>torch\.\w+), got type (?P<input>torch\.\w+)"),
        category=MISMATCH,
        roles=("input", "weight"),
        op="rnn",
        source="pytorch/pytorch torch/nn/modules/rnn.py (RNNBase.check_input, older torch 2.x wording)",
        summary="a recurrent layer got {operands}",
        advice=_MISMATCH_ADVICE,
    ),
)

_NONFINITE_ENTRIES: tuple[Entry, ...] = (
    Entry(
        id="multinomial-nonfinite",
        # RuntimeError: probability tensor contains either `inf`, `nan` or element < 0
        # (transformers generate() sampling an fp16 model whose logits overflowed)
        pattern=_rx(r"probability tensor contains either `?inf`?, `?nan`? or element < 0"),
        category=NONFINITE,
        precision="fp16",
        op="torch.multinomial",
        source=(
            "pytorch/pytorch aten/src/ATen/native/Distributions.cpp (multinomial); verified with torch 2.13 "
            "CPU; transformers generate() with do_sample=True in fp16"
        ),
        summary="sampling met inf/NaN probabilities: the logits overflowed, typically in fp16",
        advice="compute the logits in bf16 or fp32 (fp16 overflows past 65504)",
    ),
    Entry(
        id="anomaly-nan",
        # RuntimeError: Function 'DivBackward0' returned nan values in its 0th output.
        pattern=_rx(r"Function '(?P<op>\w+)' returned nan values in its \d+th output"),
        category=NONFINITE,
        source="pytorch/pytorch torch/csrc/autograd/engine.cpp (anomaly mode); verified with torch 2.13 CPU",
        summary="autograd anomaly detection saw {op} produce NaN",
        advice="look for an overflow in low precision (fp16) or a 0/0; try bf16 or fp32",
    ),
)

#: The catalogue, in the order :func:`classify` tries it.
CATALOGUE: tuple[Entry, ...] = _UNSUPPORTED_ENTRIES + _MISMATCH_ENTRIES + _NONFINITE_ENTRIES


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------

_SCAN_WINDOW = 2000  # how far after a cuBLAS status the call's arguments are looked for


class _Fields(dict[str, str]):
    """str.format_map values: a missing or empty key reads as a neutral word."""

    def __missing__(self, key: str) -> str:
        return {"precision": "this precision", "op": "this op", "device": "this"}.get(key, "?")


def _label(p: str | None, written: str) -> str:
    w = written.strip()
    return f"{w} ({p})" if p and w != p else (p or w)


def _apply(entry: Entry, text: str) -> Classification | None:
    m = entry.pattern.search(text)
    if m is None:
        return None
    groups = {k: v for k, v in m.groupdict().items() if v is not None}
    found: list[Operand] = []
    for role in entry.roles:
        if role in groups:
            label = groups.get(f"{role}_name", role)
            found.append(Operand(label, groups[role].strip(), read_precision(groups[role])))
    if entry.scan is not None:
        window = text[m.start():m.start() + _SCAN_WINDOW]
        for sm in entry.scan.finditer(window):
            token = sm.group(1) or sm.group(2)
            found.append(Operand("operand", token, read_precision(token)))

    other: str | None = None
    operands: tuple[Operand, ...] = ()
    if entry.category == MISMATCH:
        if found:
            if not all(_is_float(o.written) for o in found):
                return None  # integers or bools: not a precision mismatch
            keys = [_dtype_key(o.written) for o in found]
            if len(found) > 1 and len(set(keys)) < 2:
                return None  # same dtype: the message is about devices (or something else)
            precision = found[0].precision
            odd = next((o for o, k in zip(found, keys) if k != keys[0]), None)
            other = odd.precision if odd else None
            operands = tuple(found)
        else:
            precision = None
    else:
        read = [o.precision for o in found if o.precision]
        if entry.accept is not None:
            read = [p for p in read if p in entry.accept]
        if len(entry.roles) > 1 and len({_dtype_key(o.written) for o in found}) > 1:
            return None  # the operands differ: a mismatch entry describes it
        if found and not read and (entry.need_precision or entry.accept is not None):
            return None
        if entry.need_precision and not read:
            return None
        precision = read[0] if read else entry.precision

    op = groups.get("op") or entry.op
    fields = _Fields({k: v for k, v in groups.items() if v})
    if precision:
        fields["precision"] = precision
    if op:
        fields["op"] = op
    if found:
        fields["written"] = found[0].written
    fields["operands"] = _describe_operands(operands) if operands else "operands of different dtypes"
    return Classification(
        category=entry.category,
        precision=precision,
        other=other,
        entry=entry.id,
        summary=entry.summary.format_map(fields),
        advice=entry.advice.format_map(fields),
        source=entry.source,
        op=op,
        operands=operands,
    )


def _describe_operands(operands: tuple[Operand, ...]) -> str:
    return ", ".join(f"{o.role} {_label(o.precision, o.written)}" for o in operands)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, then its causes and contexts (and a group's members), each once."""
    out: list[BaseException] = []
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        e = queue.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                queue.append(nxt)
        members = getattr(e, "exceptions", None)
        if isinstance(members, (tuple, list)):
            queue.extend(x for x in members if isinstance(x, BaseException))
    return out


def _message(exc: BaseException) -> str:
    try:
        msg = str(exc)
    except Exception:  # a broken __str__ must not break the report
        msg = repr(exc)
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        extra = [n for n in notes if isinstance(n, str)]
        if extra:
            msg = "\n".join([msg, *extra]) if msg else "\n".join(extra)
    return msg


def exception_text(exc: BaseException) -> list[str]:
    """``"TypeName: message"`` for the exception and each one in its chain, outermost first."""
    out = []
    for e in _chain(exc):
        msg = _message(e)
        name = type(e).__name__
        out.append(f"{name}: {msg}" if msg else name)
    return out


def _classify_text(text: str) -> Classification | None:
    for entry in CATALOGUE:
        found = _apply(entry, text)
        if found is not None:
            return found
    return None


def classify(text_or_exception: str | BaseException) -> Classification | None:
    """Classify an error text or exception; ``None`` when it is not a dtype error.

    For an exception every member of its chain (``__cause__``, ``__context__``)
    is tried, outermost first, as ``"TypeName: message"``.
    """
    if isinstance(text_or_exception, BaseException):
        for text in exception_text(text_or_exception):
            found = _classify_text(text)
            if found is not None:
                return found
        return None
    if isinstance(text_or_exception, str):
        return _classify_text(text_or_exception)
    raise TypeError(f"classify() takes an error text or an exception, not {type(text_or_exception).__name__}")


# ---------------------------------------------------------------------------
# Advice in context
# ---------------------------------------------------------------------------

_MARKERS = {"bf16": "@requires_bf16", "fp16": "@requires_fp16", "tf32": "@requires_tf32",
            "fp8_e4m3": "@requires_fp8", "fp8_e5m2": "@requires_fp8"}
#: The order the device line lists precisions in (the error's precision comes first).
_DEVICE_ORDER: tuple[str, ...] = ("bf16", "fp16", "fp32", "tf32", "fp8_e4m3", "fp8_e5m2", "fp64")


def _marker(precision: str) -> str:
    return _MARKERS.get(precision, f'@requires_dtype("{precision}")')


def _canonical(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return _p.resolve(name, allow_auto=False)
    except _p.UnknownPrecisionError:
        return None


def _storage(name: str | None) -> str | None:
    """The precision tensors of ``name`` are held in: amp_bf16 and tf32 hold fp32."""
    canonical = _canonical(name)
    if canonical is None:
        return None
    return _p.resolve(_p.PRECISIONS[canonical].storage, allow_auto=False)


def _where(caps: Capabilities | None) -> str:
    return caps.label() if caps is not None else "this device"


def _alternatives(precision: str, caps: Capabilities | None) -> list[str]:
    """The fallbacks of ``precision`` that the device runs, native ones first."""
    chain = list(_p.PRECISIONS[precision].fallback)
    if caps is None or caps.error:
        return chain
    native = [x for x in chain if caps.support_of(x) is Support.NATIVE]
    runs = [x for x in chain if caps.support_of(x) is Support.EMULATED]
    return native + runs


def _uncast(c: Classification, requested: str | None) -> str | None:
    """Which operand of a mismatch most likely kept its old dtype, in words."""
    sides = [o for o in c.operands if o.precision]
    if len(sides) < 2:
        return None
    target = _storage(requested)
    if target and any(o.precision == target for o in sides):
        stale = [o for o in sides if o.precision != target]
        if stale:
            names = " and ".join(f"the {o.precision} operand ({o.role})" for o in stale)
            verb = "was" if len(stale) == 1 else "were"
            return f"{names} {verb} not cast to {target}, the precision the test runs in"
    fp32 = [o for o in sides if o.precision == "fp32"]
    if len(fp32) == 1 or (fp32 and len(fp32) < len(sides)):
        lows = sorted({o.precision for o in sides if o.precision != "fp32" and o.precision})
        roles = " and ".join(o.role for o in fp32)
        noun = "operand" if len(fp32) == 1 else "operands"
        verb = "was" if len(fp32) == 1 else "were"
        return (f"the fp32 {noun} ({roles}) {verb} most likely not cast to {'/'.join(lows)}: tensors made "
                "without dtype= and buffers kept in fp32 stay fp32 when the model is cast")
    return None


def advise(
    c: Classification,
    *,
    capabilities: Capabilities | None = None,
    declared: bool = False,
    probe_usable: bool = False,
    on_unsupported: str = "skip",
    requested: str | None = None,
) -> list[str]:
    """The fix lines for one classified failure, in the context of the test and the device.

    ``declared``: the test declared the precision (a ``requires_*`` marker or
    ``model_dtype``); ``probe_usable``: the gate's probe called it usable on
    this device; ``requested``: the precision the test ran in.
    """
    lines: list[str] = []
    where = _where(capabilities)
    if c.category == UNSUPPORTED:
        precision = c.precision
        if declared and probe_usable:
            name = precision or _canonical(requested) or "this precision"
            lines.append(
                f"dtypegate's probe called {name} usable on {where}, but this kernel has none: the probe "
                f"missed it (a gap in pytest-dtypegate). Please report it: open an issue at {TRACKER} "
                "with the output of `dtypegate probe --json` and this error text"
            )
            if (precision and capabilities is not None and not capabilities.error
                    and capabilities.support_of(precision) is Support.EMULATED):
                lines.append(
                    f"{precision} is only emulated on {where}, and emulated precisions may lack fused "
                    "kernels such as this one: set `dtypegate_allow_emulated = false` to skip them"
                )
        if c.advice:
            lines.append(c.advice)
        if precision and precision != "fp32" and not declared:
            lines.append(
                f"declare the precision so the gate can skip or downgrade the test where the device lacks "
                f"it: mark the test `{_marker(precision)}`, or take the dtype from the `model_dtype` fixture "
                "instead of hard-coding it"
            )
        if precision:
            alts = _alternatives(precision, capabilities)
            if alts:
                lines.append(f"use {' or '.join(alts)} on {where} instead of {precision}")
                if on_unsupported != "downgrade":
                    lines.append(
                        "or set `dtypegate_on_unsupported = downgrade` to run declared tests in their "
                        f"fallback precision ({alts[0]}) where {precision} is missing"
                    )
    elif c.category == MISMATCH:
        which = _uncast(c, requested)
        if which:
            lines.append(which)
        if c.advice:
            lines.append(c.advice)
        lines.append(
            "this is a bug in the code under test, not a missing kernel: the gate does not skip it, and it "
            "fails on every device"
        )
    else:  # NONFINITE
        precision = _storage(requested) or c.precision
        if c.advice:
            lines.append(c.advice)
        if precision == "fp16":
            if capabilities is not None and not capabilities.error:
                if capabilities.support_of("bf16") is Support.NATIVE:
                    lines.append(f"bf16 is native on {where} and has fp32's range: run this test in bf16")
                else:
                    lines.append(f"{where} has no native bf16: run this test in fp32")
            else:
                lines.append("run this test in bf16 (same range as fp32) where the device has it, else fp32")
        elif precision == "bf16":
            lines.append(
                "bf16 has fp32's range, so look for a real overflow or a 0/0 first; fp32 tells which"
            )
        if not declared:
            lines.append(
                'state the precisions this test may run in, e.g. `@dtypes("bf16", "fp32")` with the '
                "`model_dtype` fixture, so the gate runs it only where it is stable"
            )
    return lines


def _device_line(c: Classification, caps: Capabilities) -> str:
    head = f"device: {caps.label()}"
    if caps.profile:
        head += f" [simulated: {caps.profile}]"
    if caps.error:
        return f"{head}: probe failed: {caps.error}"
    first = [x for x in (c.precision, c.other) if x]
    order = first + [x for x in _DEVICE_ORDER if x not in first]
    return head + " [" + ", ".join(f"{x} {caps.support_of(x).value}" for x in order) + "]"


def format_section(
    c: Classification,
    *,
    capabilities: Capabilities | None,
    declared: bool,
    probe_usable: bool,
    on_unsupported: str = "skip",
    requested: str | None = None,
) -> str:
    """The text of the ``dtypegate`` report section for one failure."""
    precision = c.precision
    if c.category == NONFINITE:
        precision = _storage(requested) or precision
    lines: list[str] = []
    if c.category == MISMATCH:
        sides = " vs ".join(x for x in (c.precision, c.other) if x)
        lines.append(f"category: mismatch ({sides})" if sides else "category: mismatch")
        if len(c.operands) >= 2:
            first = c.operands[0]
            odd = next((o for o in c.operands if _dtype_key(o.written) != _dtype_key(first.written)), None)
            if odd is not None:
                met = (f"mismatch: {_label(first.precision, first.written)} met "
                       f"{_label(odd.precision, odd.written)}")
                which = _uncast(c, requested)
                lines.append(f"{met}: {which}" if which else met)
    else:
        lines.append(f"category: {c.category} ({precision or 'precision unknown'})")
    lines.append(f"what: {c.summary}")
    if capabilities is not None:
        lines.append(_device_line(c, capabilities))
    for line in advise(c, capabilities=capabilities, declared=declared, probe_usable=probe_usable,
                       on_unsupported=on_unsupported, requested=requested):
        if c.category == MISMATCH and line == _uncast(c, requested):
            continue  # already on the mismatch line
        lines.append(f"fix: {line}")
    lines.append(f"entry: {c.entry} (source: {c.source})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# `dtypegate explain`
# ---------------------------------------------------------------------------


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``dtypegate explain [--json] TEXT``."""
    parser.add_argument(
        "text",
        metavar="TEXT",
        nargs="+",
        help="the error message (quote it); several words are joined; '-' reads it from stdin",
    )
    parser.add_argument("--json", action="store_true", help="print the classification as JSON")


def _read_text(words: list[str]) -> str:
    if words == ["-"]:
        return sys.stdin.read()
    return " ".join(words)


_UNKNOWN = "not a dtype error I know"


def _unclassified_json() -> dict[str, Any]:
    """``explain --json`` for a text the catalogue has no entry for: the classified keys, null or empty."""
    return {
        "category": None,
        "precision": None,
        "other": None,
        "entry": None,
        "summary": f"{_UNKNOWN}: dtypegate's catalogue has no entry for this message",
        "advice": None,
        "source": None,
        "op": None,
        "operands": [],
        "fixes": [],
        "message": _UNKNOWN,
    }


def cli_main(args: argparse.Namespace) -> int:
    """Run ``dtypegate explain``: 0 classified, 1 not a dtype error, 2 bad input."""
    try:
        text = _read_text(list(args.text))
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"dtypegate explain: cannot read the error text from stdin: {exc}\n")
        return 2
    if not text.strip():
        where = "stdin was empty" if list(args.text) == ["-"] else "the error text is empty"
        sys.stderr.write(
            f"dtypegate explain: {where}; pass the error message as TEXT, or - to read it from stdin\n"
        )
        return 2
    found = classify(text)
    if found is None:
        if args.json:
            print(json.dumps(_unclassified_json(), indent=2, sort_keys=True))
        else:
            print(f"{_UNKNOWN}: dtypegate's catalogue has no entry for this message")
        return 1
    if args.json:
        data = found.to_json()
        data["fixes"] = advise(found)
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(format_section(found, capabilities=None, declared=False, probe_usable=False))
    return 0
