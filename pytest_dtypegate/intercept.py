"""Op interception: raise a simulated platform's errors, record which GEMM precisions ran.

An :class:`Interceptor` wraps one test's call phase::

    with Interceptor(profile, audit=True) as interceptor:
        run_the_test()
    interceptor.executed   # [("linear", "bf16"), ("sdpa", "bf16"), ...]

While one is active, the Python entry points of the GEMM family are replaced by
thin wrappers (see :data:`TARGETS`): ``torch.mm addmm addbmm matmul mv addmv
bmm baddbmm einsum tensordot _scaled_mm conv*``, ``torch.nn.functional.linear
conv* conv_transpose* scaled_dot_product_attention`` and the ``torch.Tensor``
methods ``__matmul__ matmul mm mv bmm addmm addmv addbmm baddbmm`` and their
in-place twins ``addmm_ addmv_ addbmm_ baddbmm_``.  That covers ``nn.Linear``,
``nn.Conv*``, transformers' eager and sdpa attention, ``a @ b`` and the
einsum contractions of attention and RoPE code.  A wrapper works out the
precision the op computes in (the input's dtype, or the autocast dtype when
``torch.autocast`` is on for that device type) and, when the profile marks it
unsupported, raises the profile's exception with its exact message instead of
running the op.

The kind a profile entry is matched by (:data:`~pytest_dtypegate.profiles.KINDS`)
is fixed per op, except for ``matmul`` (``bgemm`` when both operands are
batched, ``gemv`` for a matrix times a vector, else ``gemm``) and ``einsum``,
which reads its equation the way ``at::einsum`` contracts it, operand pairs
from left to right: an equation that contracts no label shared by two
operands (``"i,j->ij"``, ``"ij->ji"``, ``"ii"``) runs no GEMM and passes; the
first pair that does is a ``bgemm`` when a label both keep survives into the
result (``"bhqd,bhkd->bhqk"``) and a ``gemm`` otherwise (``"bld,dh->blh"``,
which cuBLAS gets as one GEMM).  Label sizes are not looked at (a size-1
label broadcasts instead of contracting), and with ``opt_einsum`` installed
torch may pair the operands of a three-or-more-operand einsum in another
order, so the first GEMM may be another one.

Why wrappers and not a ``TorchFunctionMode`` or ``TorchDispatchMode``: a mode
sees every op, so every elementwise op pays a Python round trip; the wrappers
cost nothing outside the GEMM family.  ``benchmarks/bench_intercept.py``
measures the three side by side.  The wrappers are built on the first install
and put back by later ones, so entering an interceptor costs a few ``setattr``.

Not covered: a GEMM reached without going through those names (``from torch
import matmul`` bound before the interceptor started, ``torch._C._nn.linear``
or ``torch.functional.einsum`` called directly, ``torch.linalg.matmul``, the
ops whose GEMMs torch calls from C++: ``torch.inner chain_matmul
linalg.multi_dot``, ``F.bilinear``), code compiled by ``torch.compile``, and
the backward pass, which runs in C++.  Vector products that run no GEMM
(``torch.dot vdot outer ger``) are not intercepted; a ``matmul`` of two
vectors (a dot) is gated as a ``gemm``.  Outside an interceptor nothing is
patched.

torch is imported lazily, only when an interceptor that has work to do starts.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from . import precisions as _p
from .profiles import OPS, ErrorSpec, Profile

__all__ = ["TARGETS", "Interceptor", "active", "installed"]

# (owner, attribute, op name, kind, positional index of the operand that decides
# the precision, its keyword name).  kind None means "decided per call": matmul
# by the operands' ranks, einsum by its equation.  owner is a dotted name
# resolved when patches go in.
TARGETS: tuple[tuple[str, str, str, str | None, int, str], ...] = (
    ("torch", "mm", "mm", "gemm", 0, "input"),
    ("torch", "addmm", "addmm", "gemm", 1, "mat1"),
    ("torch", "addbmm", "addbmm", "gemm", 1, "batch1"),
    ("torch", "tensordot", "tensordot", "gemm", 0, "a"),
    ("torch", "matmul", "matmul", None, 0, "input"),
    ("torch", "einsum", "einsum", None, 1, "operands"),
    ("torch", "mv", "mv", "gemv", 0, "input"),
    ("torch", "addmv", "addmv", "gemv", 1, "mat"),
    ("torch", "bmm", "bmm", "bgemm", 0, "input"),
    ("torch", "baddbmm", "baddbmm", "bgemm", 1, "batch1"),
    ("torch", "_scaled_mm", "scaled_mm", "scaled_mm", 0, "self"),
    ("torch", "conv1d", "conv1d", "conv", 0, "input"),
    ("torch", "conv2d", "conv2d", "conv", 0, "input"),
    ("torch", "conv3d", "conv3d", "conv", 0, "input"),
    ("torch", "conv_transpose1d", "conv_transpose1d", "conv", 0, "input"),
    ("torch", "conv_transpose2d", "conv_transpose2d", "conv", 0, "input"),
    ("torch", "conv_transpose3d", "conv_transpose3d", "conv", 0, "input"),
    ("torch.nn.functional", "linear", "linear", "gemm", 0, "input"),
    ("torch.nn.functional", "conv1d", "conv1d", "conv", 0, "input"),
    ("torch.nn.functional", "conv2d", "conv2d", "conv", 0, "input"),
    ("torch.nn.functional", "conv3d", "conv3d", "conv", 0, "input"),
    ("torch.nn.functional", "conv_transpose1d", "conv_transpose1d", "conv", 0, "input"),
    ("torch.nn.functional", "conv_transpose2d", "conv_transpose2d", "conv", 0, "input"),
    ("torch.nn.functional", "conv_transpose3d", "conv_transpose3d", "conv", 0, "input"),
    ("torch.nn.functional", "scaled_dot_product_attention", "sdpa", "sdpa", 0, "query"),
    ("torch.Tensor", "__matmul__", "matmul", None, 0, "self"),
    ("torch.Tensor", "matmul", "matmul", None, 0, "self"),
    ("torch.Tensor", "mm", "mm", "gemm", 0, "self"),
    ("torch.Tensor", "mv", "mv", "gemv", 0, "self"),
    ("torch.Tensor", "bmm", "bmm", "bgemm", 0, "self"),
    ("torch.Tensor", "addmm", "addmm", "gemm", 1, "mat1"),
    ("torch.Tensor", "addmm_", "addmm", "gemm", 1, "mat1"),
    ("torch.Tensor", "addmv", "addmv", "gemv", 1, "mat"),
    ("torch.Tensor", "addmv_", "addmv", "gemv", 1, "mat"),
    ("torch.Tensor", "addbmm", "addbmm", "gemm", 1, "batch1"),
    ("torch.Tensor", "addbmm_", "addbmm", "gemm", 1, "batch1"),
    ("torch.Tensor", "baddbmm", "baddbmm", "bgemm", 1, "batch1"),
    ("torch.Tensor", "baddbmm_", "baddbmm", "bgemm", 1, "batch1"),
)
assert all(t[2] in OPS for t in TARGETS)

_LOCK = threading.RLock()
_STACK: list[Interceptor] = []  # entered interceptors, innermost last
_USERS = 0  # entered interceptors that need the patches
# what was replaced: (owner, attribute, whether owner defined it itself, original)
_PATCHES: list[tuple[Any, str, bool, Any]] = []
_DTYPES: dict[Any, str] = {}  # torch.dtype -> canonical precision, filled on first install
# (owner, attribute) -> (original, its wrapper): built once, put back in by every later install
# whose original is still the same object (a wrapper only reads the stack, so it is reusable)
_WRAPPERS: dict[tuple[str, str], tuple[Any, Any]] = {}
# autocast casts fp32 and its own targets (fp16, bf16), never fp64 or fp8
_AUTOCAST_ELIGIBLE = frozenset({"fp32"} | {p.autocast for p in _p.PRECISIONS.values() if p.autocast})
_MISSING = object()
_torch: Any = None  # the torch module, bound on first install
_any_autocast: Callable[[], bool] = bool  # torch._C._is_any_autocast_enabled, bound on first install


class Interceptor:
    """Raises ``profile``'s errors and (with ``audit``) records executed GEMM precisions.

    A context manager, entered around one test's call phase.  Entering and
    leaving restores everything, also when the body raises; interceptors nest
    (the innermost decides) and the same one may be entered again.
    ``executed`` lists ``(op, precision)`` pairs in first-run order, each once.
    """

    def __init__(self, profile: Profile | None, *, audit: bool) -> None:
        self.profile = profile
        self.audit = audit
        self.executed: list[tuple[str, str]] = []
        self._seen: set[tuple[str, str]] = set()
        self._unsupported: frozenset[str] = profile.unsupported if profile is not None else frozenset()
        self._specs: dict[tuple[str, str, str], Any] = {}

    @property
    def needed(self) -> bool:
        """Whether this interceptor has anything to do (otherwise nothing is patched)."""
        return bool(self._unsupported) or self.audit

    def __enter__(self) -> Interceptor:
        global _USERS
        with _LOCK:
            if self.needed:
                if _USERS == 0:
                    _install()
                _USERS += 1
            _STACK.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _USERS
        with _LOCK:
            for i in range(len(_STACK) - 1, -1, -1):
                if _STACK[i] is self:
                    del _STACK[i]
                    break
            if self.needed:
                _USERS -= 1
                if _USERS == 0:
                    _uninstall()

    # -- called by the wrappers -------------------------------------------
    def _spec(self, precision: str, op: str, kind: str) -> ErrorSpec | None:
        key = (precision, op, kind)
        spec = self._specs.get(key, _MISSING)
        if spec is _MISSING:
            assert self.profile is not None
            spec = self.profile.error_for(precision, op, kind)
            self._specs[key] = spec
        return spec  # type: ignore[no-any-return]

    def _record(self, op: str, precision: str) -> None:
        key = (op, precision)
        if key not in self._seen:
            self._seen.add(key)
            self.executed.append(key)


def active() -> Interceptor | None:
    """The innermost entered interceptor, if any."""
    return _STACK[-1] if _STACK else None


def installed() -> bool:
    """Whether the wrappers are in place right now."""
    return bool(_PATCHES)


# -- the gate ------------------------------------------------------------------
def _precision(x: Any, kind: str | None) -> str | None:
    """The precision a GEMM whose deciding operand is ``x`` computes in."""
    try:
        name = _DTYPES.get(x.dtype)
    except AttributeError:  # not a tensor: the op will complain on its own
        return None
    if name is None:
        return None
    if name in _AUTOCAST_ELIGIBLE and _any_autocast():
        device_type = x.device.type
        if _torch.is_autocast_enabled(device_type):
            return _DTYPES.get(_torch.get_autocast_dtype(device_type), name)
    if name == "fp32" and x.is_cuda:
        if kind == "conv":
            tf32 = bool(_torch.backends.cudnn.allow_tf32)
        else:
            tf32 = _torch.get_float32_matmul_precision() != "highest"
        if tf32:
            return "tf32"
    return name


def _gate(ic: Interceptor, op: str, kind: str | None, x: Any, y: Any) -> None:
    __tracebackhide__ = True
    precision = _precision(x, kind)
    if precision is None:
        return
    if precision in ic._unsupported:
        if kind is None:  # matmul: batched only when both operands are; a matrix times a vector is a gemv
            xd, yd = getattr(x, "ndim", 0), getattr(y, "ndim", 0)
            kind = "bgemm" if xd >= 3 and yd >= 3 else "gemv" if yd == 1 and xd >= 2 else "gemm"
        spec = ic._spec(precision, op, kind)
        if spec is not None:
            raise spec.exception()  # the platform's own type and message, nothing added
    if ic.audit:
        ic._record(op, precision)


def _subscripts(sublist: Any) -> str:
    """One operand's labels in einsum's sublist format, as equation letters (as torch converts them)."""
    out = []
    for s in sublist:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, int) and 0 <= s < 52:
            out.append(chr(ord("A") + s) if s < 26 else chr(ord("a") + s - 26))
        else:
            raise ValueError(s)
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _einsum_kind(equation: str, n: int) -> str | None:
    """The kind of the first GEMM ``at::einsum`` runs for ``equation`` on ``n`` operands; None if it runs none.

    Follows ``at::einsum``'s pairwise contraction, left to right: a label is
    summed by a pair's bmm when both sides have it and neither the output nor a
    later operand does; the labels both sides keep are that bmm's batch.
    """
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.replace("...", ".").split(",")
    if n < 2 or len(terms) != n:  # one operand runs no GEMM; a miscount makes einsum raise on its own
        return None
    if arrow:
        out = frozenset(rhs.replace("...", "."))
    else:  # implicit output: the ellipsis and the labels written once
        counts = Counter(label for term in terms for label in term)
        out = frozenset(label for label, k in counts.items() if k == 1) | {"."}
    ops = [frozenset(term) for term in terms]
    left = ops[0]
    for i in range(1, n):
        right = ops[i]
        keep = out.union(*ops[i + 1:])
        shared = left & right
        if shared - keep:
            return "bgemm" if shared & keep else "gemm"
        left = (left | right) & keep
    return None


def _gate_einsum(ic: Interceptor, args: tuple[Any, ...]) -> None:
    __tracebackhide__ = True
    if len(args) < 2:
        return  # einsum raises its own error
    equation: Any = args[0]
    if isinstance(equation, str):
        operands: Any = args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = operands[0]
    else:  # sublist format: operand, sublist, operand, sublist, ..., [output sublist]
        try:
            equation = ",".join(_subscripts(s) for s in args[1::2])
            if len(args) % 2:
                equation += "->" + _subscripts(args[-1])
        except (TypeError, ValueError):  # not a sublist: einsum raises its own error
            return
        operands = args[:-1:2] if len(args) % 2 else args[::2]
    if not operands:
        return
    precision = _precision(operands[0], "gemm")
    if precision is None or (precision not in ic._unsupported and not ic.audit):
        return
    kind = _einsum_kind(equation, len(operands))
    if kind is None:  # a transpose, a diagonal, an outer product: no GEMM
        return
    if precision in ic._unsupported:
        spec = ic._spec(precision, "einsum", kind)
        if spec is not None:
            raise spec.exception()
    if ic.audit:
        ic._record("einsum", precision)


def _finish(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Any:
    try:
        functools.update_wrapper(wrapper, original)
    except (AttributeError, TypeError):  # pragma: no cover - some builtins lack a field
        pass
    return wrapper


def _einsum_wrapper(original: Callable[..., Any]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if _STACK:
            ic = _STACK[-1]
            if ic._unsupported or ic.audit:
                _gate_einsum(ic, args)
        return original(*args, **kwargs)

    return _finish(wrapper, original)


def _wrapper(original: Callable[..., Any], op: str, kind: str | None, index: int, keyword: str) -> Any:
    if op == "einsum":  # operands and kind come from the equation
        return _einsum_wrapper(original)
    if kind is None:
        other = index + 1

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if _STACK:
                ic = _STACK[-1]
                if ic._unsupported or ic.audit:
                    n = len(args)
                    _gate(
                        ic, op, None,
                        args[index] if n > index else kwargs.get(keyword),
                        args[other] if n > other else kwargs.get("other"),
                    )
            return original(*args, **kwargs)

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if _STACK:
                ic = _STACK[-1]
                if ic._unsupported or ic.audit:
                    _gate(ic, op, kind, args[index] if len(args) > index else kwargs.get(keyword), None)
            return original(*args, **kwargs)

    return _finish(wrapper, original)


def _install() -> None:
    global _torch, _any_autocast
    import importlib

    try:
        import torch
    except ImportError:  # no torch, no torch ops to intercept
        return

    _torch = torch
    _any_autocast = torch._C._is_any_autocast_enabled
    if not _DTYPES:
        for prec in _p.PRECISIONS.values():
            if prec.autocast is None and not prec.tf32 and hasattr(torch, prec.storage):
                _DTYPES[getattr(torch, prec.storage)] = prec.name
    done: list[tuple[Any, str, bool, Any]] = []
    try:
        for owner_name, attr, op, kind, index, keyword in TARGETS:
            owner: Any = torch.Tensor if owner_name == "torch.Tensor" else importlib.import_module(owner_name)
            original = getattr(owner, attr, None)
            if original is None:  # an older torch without this entry point
                continue
            owned = attr in vars(owner)
            cached = _WRAPPERS.get((owner_name, attr))
            if cached is None or cached[0] is not original:
                cached = (original, _wrapper(original, op, kind, index, keyword))
                _WRAPPERS[(owner_name, attr)] = cached
            setattr(owner, attr, cached[1])
            done.append((owner, attr, owned, original))
    except BaseException:
        _restore(done)
        raise
    _PATCHES.extend(done)


def _restore(patches: list[tuple[Any, str, bool, Any]]) -> None:
    for owner, attr, owned, original in reversed(patches):
        if owned:
            setattr(owner, attr, original)
        else:
            try:
                delattr(owner, attr)
            except AttributeError:  # pragma: no cover - someone removed it already
                pass


def _uninstall() -> None:
    patches = list(_PATCHES)
    _PATCHES.clear()
    _restore(patches)
