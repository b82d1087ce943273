"""The interceptor's dispatch-level backstop: Python kernels on the aten GEMM ops' backend keys.

While an interceptor is installed, each op of :data:`ATEN` that has a kernel for
a backend key in use (``CPU``, and ``CUDA``/``MPS``/``XPU`` where present) gets a
Python kernel there, registered with ``torch.library.Library("aten", "IMPL")``.
It asks the interceptor (through the three functions :mod:`.intercept` passes
to :func:`install`) and then calls the kernel it replaced, fetched with ``torch.library.get_kernel``
(the use that function documents).  Uninstalling destroys the library, which
puts the original kernels back.

The backend key sits below autograd and autocast, so the kernel sees the dtype
the GEMM really computes in, and it sees every path that ends in an aten GEMM:
names bound at import, the GEMMs torch composes in C++ (``multi_dot``,
``inner``, ``bilinear`` ...), the MultiheadAttention fast path, the backward
pass (the autograd engine calls ``mm``, ``convolution_backward``, the sdpa
backward kernels ...) and ``torch.compile``d code (inductor calls ``mm.out``,
``addmm.out`` ...; its tracing runs on fake tensors, which never reach a backend
kernel).  Each non-GEMM op costs nothing: only these kernels are replaced.

Registering the kernels takes well under a millisecond; the plugin keeps them in
for the session (:func:`pytest_dtypegate.intercept.hold`).  torch is passed in,
never imported here.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    #: What a kernel asks of the interceptor: the one deciding now (or None), its gate
    #: ``(interceptor, op, kind, operand)``, and ``quietly(fn, args, kwargs)`` to run the op undecided below.
    Hooks = tuple[Callable[[], Any], Callable[[Any, str, str, Any], None], Callable[..., Any]]

__all__ = ["ATEN", "KEYS", "install", "installed", "uninstall"]

# (aten op and overload, op name as the audit records it, kind, index of the operand whose dtype decides)
ATEN: tuple[tuple[str, str, str, int], ...] = (
    ("mm", "mm", "gemm", 0),
    ("mm.out", "mm", "gemm", 0),
    ("addmm", "addmm", "gemm", 1),
    ("addmm.out", "addmm", "gemm", 1),
    ("addmm_", "addmm", "gemm", 1),
    ("_addmm_activation", "addmm", "gemm", 1),
    ("_addmm_activation.out", "addmm", "gemm", 1),
    ("addbmm", "addbmm", "gemm", 1),
    ("addbmm.out", "addbmm", "gemm", 1),
    ("addbmm_", "addbmm", "gemm", 1),
    ("mv", "mv", "gemv", 0),
    ("mv.out", "mv", "gemv", 0),
    ("addmv", "addmv", "gemv", 1),
    ("addmv.out", "addmv", "gemv", 1),
    ("addmv_", "addmv", "gemv", 1),
    ("bmm", "bmm", "bgemm", 0),
    ("bmm.out", "bmm", "bgemm", 0),
    ("baddbmm", "baddbmm", "bgemm", 1),
    ("baddbmm.out", "baddbmm", "bgemm", 1),
    ("baddbmm_", "baddbmm", "bgemm", 1),
    ("_grouped_mm", "grouped_mm", "bgemm", 0),
    ("convolution", "conv", "conv", 0),  # named conv1d ... conv_transpose3d when it runs
    ("convolution.out", "conv", "conv", 0),
    ("convolution_backward", "conv", "conv", 0),
    ("convolution_backward.out", "conv", "conv", 0),
    ("_scaled_mm", "scaled_mm", "scaled_mm", 0),
    ("_scaled_mm.out", "scaled_mm", "scaled_mm", 0),
    ("_scaled_mm_v2", "scaled_mm", "scaled_mm", 0),
    ("_scaled_dot_product_flash_attention_for_cpu", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_flash_attention_for_cpu_backward", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_flash_attention", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_flash_attention_backward", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_efficient_attention", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_efficient_attention_backward", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_cudnn_attention", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_cudnn_attention_backward", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_fused_attention_overrideable", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_fused_attention_overrideable_backward", "sdpa", "sdpa", 0),
    ("_scaled_dot_product_attention_math_for_mps", "sdpa", "sdpa", 0),
)
#: Backend keys a kernel goes on: CPU always, the others when this torch has that device.
KEYS: tuple[str, ...] = ("CPU", "CUDA", "MPS", "XPU")

_LIB: Any = None  # the torch.library.Library holding the kernels while installed


def installed() -> bool:
    """Whether the kernels are in place."""
    return _LIB is not None


def _keys(torch: Any) -> list[str]:
    keys = ["CPU"]
    for key, module in (("CUDA", "cuda"), ("MPS", "mps"), ("XPU", "xpu")):
        backend = getattr(torch, module, None)
        try:
            if backend is not None and backend.is_available():
                keys.append(key)
        except Exception:  # a broken driver: the device is not in use
            continue
    return keys


#: Where ``transposed`` sits in the arguments of the convolution ops: the op is named as the entry point
#: that reaches it would be (conv2d, conv_transpose1d ...), from the input's rank, so that a profile's
#: per-op entries (cpu-torch2.1 words conv2d and conv3d differently) apply to it.
_TRANSPOSED = {"convolution": 6, "convolution.out": 6, "convolution_backward": 7, "convolution_backward.out": 7}


def _conv_name(args: tuple[Any, ...], transposed: int) -> str:
    dims = max(getattr(args[0], "ndim", 4) - 2, 1) if args else 2
    return f"conv_transpose{dims}d" if len(args) > transposed and args[transposed] else f"conv{dims}d"


def _kernel(original: Any, name: str, op: str, kind: str, index: int, hooks: Hooks) -> Any:
    call = original.call_boxed
    deciding, gate, quietly = hooks
    transposed = _TRANSPOSED.get(name)

    def kernel(keyset: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        ic = deciding()
        if ic is not None:
            named = op if transposed is None else _conv_name(args, transposed)
            gate(ic, named, kind, args[index] if len(args) > index else None)
            return quietly(call, (keyset, *args), kwargs)
        return call(keyset, *args, **kwargs)

    return kernel


def install(torch: Any, hooks: Hooks) -> bool:
    """Register the kernels; False (nothing done) on a torch without ``torch.library.get_kernel``."""
    global _LIB
    if _LIB is not None:
        return True
    library: Any = getattr(torch, "library", None)
    get_kernel = getattr(library, "get_kernel", None)
    has_kernel = getattr(torch._C, "_dispatch_has_computed_kernel_for_dispatch_key", None)
    if library is None or get_kernel is None or has_kernel is None:
        return False
    lib = library.Library("aten", "IMPL")
    try:
        with warnings.catch_warnings():
            # "Overriding a previously registered kernel": that is the point, and the original stays reachable
            warnings.simplefilter("ignore")
            for key in _keys(torch):
                for name, op, kind, index in ATEN:
                    qualified = f"aten::{name}"
                    try:
                        if not has_kernel(qualified, key):
                            continue
                    except RuntimeError:  # an op this torch does not have
                        continue
                    kernel = _kernel(get_kernel(qualified, key), name, op, kind, index, hooks)
                    lib.impl(name, kernel, key, with_keyset=True)
    except BaseException:
        lib._destroy()
        raise
    _LIB = lib
    return True


def uninstall() -> None:
    """Remove the kernels: the replaced ones are in charge again."""
    global _LIB
    lib, _LIB = _LIB, None
    if lib is not None:
        lib._destroy()
