"""Op interception: raise a simulated platform's errors, record which GEMM precisions ran.

An :class:`Interceptor` wraps one test's call phase::

    with Interceptor(profile, audit=True) as interceptor:
        run_the_test()
    interceptor.executed   # [("linear", "bf16"), ("sdpa", "bf16"), ...]

While one is active, the Python entry points of the GEMM family are replaced by
thin wrappers (see :data:`TARGETS`): ``torch.mm addmm matmul bmm baddbmm
_scaled_mm conv*``, ``torch.nn.functional.linear conv* conv_transpose*
scaled_dot_product_attention`` and the ``torch.Tensor`` methods ``__matmul__
matmul mm bmm addmm baddbmm addmm_ baddbmm_``.  That covers ``nn.Linear``,
``nn.Conv*``, transformers' eager and sdpa attention and ``a @ b``.  A wrapper
works out the precision the op computes in (the input's dtype, or the
autocast dtype when ``torch.autocast`` is on for that device type) and, when
the profile marks it unsupported, raises the profile's exception with its
exact message instead of running the op.

Why wrappers and not a ``TorchFunctionMode`` or ``TorchDispatchMode``: a mode
sees every op, so every elementwise op pays a Python round trip; the wrappers
cost nothing outside the GEMM family.  ``benchmarks/bench_intercept.py``
measures the three side by side.

Not covered: a GEMM reached without going through those names (``from torch
import matmul`` bound before the interceptor started, ``torch._C._nn.linear``
called directly, ``einsum``, code compiled by ``torch.compile``), and the
backward pass, which runs in C++.  Outside an interceptor nothing is patched.

torch is imported lazily, only when an interceptor that has work to do starts.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .profiles import OPS, ErrorSpec, Profile

__all__ = ["TARGETS", "Interceptor", "active", "installed"]

# (owner, attribute, op name, kind, positional index of the operand that decides
# the precision, its keyword name).  kind None means "matmul": gemm or bgemm by
# the operands' ranks.  owner is a dotted name resolved when patches go in.
TARGETS: tuple[tuple[str, str, str, str | None, int, str], ...] = (
    ("torch", "mm", "mm", "gemm", 0, "input"),
    ("torch", "addmm", "addmm", "gemm", 1, "mat1"),
    ("torch", "matmul", "matmul", None, 0, "input"),
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
    ("torch.Tensor", "bmm", "bmm", "bgemm", 0, "self"),
    ("torch.Tensor", "addmm", "addmm", "gemm", 1, "mat1"),
    ("torch.Tensor", "addmm_", "addmm", "gemm", 1, "mat1"),
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
_AUTOCAST_ELIGIBLE = frozenset({"fp32", "fp16", "bf16"})  # autocast casts these, never fp64 or fp8
_MISSING = object()
_torch: Any = None  # the torch module, bound on first install
_any_autocast: Callable[[], bool] = bool  # torch._C._is_any_autocast_enabled, bound on first install


class Interceptor:
    """Raises ``profile``'s errors and (with ``audit``) records executed GEMM precisions.

    A context manager, entered around one test's call phase.  Entering and
    leaving restores everything, also when the body raises; interceptors nest
    (the innermost decides) and the same one may be entered again.
    ``executed`` lists ``(op, precision)`` pairs in first-run order, each once;
    ``simulated`` lists the ``(op, precision)`` pairs it raised for.
    """

    def __init__(self, profile: Profile | None, *, audit: bool) -> None:
        self.profile = profile
        self.audit = audit
        self.executed: list[tuple[str, str]] = []
        self.simulated: list[tuple[str, str]] = []
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

    def _fail(self, spec: ErrorSpec, precision: str, op: str) -> Exception:
        # The platform's own type and message, nothing added (no note either: a test's
        # pytest.raises(match=...) must see what it would see there).  The report
        # learns that it was simulated from ``simulated``.
        if (op, precision) not in self.simulated:
            self.simulated.append((op, precision))
        return spec.exception()

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
        if kind is None:  # matmul: batched only when both operands are
            kind = "bgemm" if getattr(x, "ndim", 0) >= 3 and getattr(y, "ndim", 0) >= 3 else "gemm"
        spec = ic._spec(precision, op, kind)
        if spec is not None:
            raise ic._fail(spec, precision, op)
    if ic.audit:
        ic._record(op, precision)


def _wrapper(original: Callable[..., Any], op: str, kind: str | None, index: int, keyword: str) -> Any:
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

    try:
        functools.update_wrapper(wrapper, original)
    except (AttributeError, TypeError):  # pragma: no cover - some builtins lack a field
        pass
    wrapper.__dtypegate_original__ = original  # type: ignore[attr-defined]
    return wrapper


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
        from . import precisions as _p

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
            setattr(owner, attr, _wrapper(original, op, kind, index, keyword))
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
