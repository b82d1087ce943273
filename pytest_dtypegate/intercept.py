"""Op interception: raise a simulated platform's errors, record which GEMM precisions ran and where.

An :class:`Interceptor` wraps a stretch of code; the plugin enters one for each
test's setup, call and teardown, so fixtures of every scope are covered::

    with Interceptor(profile, audit=True) as interceptor:
        run_the_test()
    interceptor.executed   # [("linear", "bf16"), ("sdpa", "bf16"), ...]
    interceptor.calls      # the same, each with its call site, phase and fixture

A GEMM in a precision the profile marks unsupported raises the profile's
exception with its exact message instead of running (the platform's own type
and text, nothing added).  The precision is the deciding operand's dtype, or
the autocast dtype when ``torch.autocast`` is on for its device type, or
``tf32`` for an fp32 CUDA GEMM with TF32 allowed.

Two layers see the GEMMs, chosen by measurement (``benchmarks/bench_intercept.py``):

1. Entry-point wrappers (:data:`TARGETS`) replace the Python names of the GEMM
   family while an interceptor is installed: ``torch.mm addmm addbmm matmul mv
   addmv bmm baddbmm einsum tensordot _scaled_mm conv*``,
   ``torch.nn.functional.linear conv* conv_transpose*
   scaled_dot_product_attention`` and the ``torch.Tensor`` methods ``__matmul__
   matmul mm mv bmm addmm addmv addbmm baddbmm`` and their in-place twins.  They
   name the op as the test wrote it, read an einsum's equation (an equation that
   contracts nothing, ``"i,j->ij"``, runs no GEMM and passes; see
   :mod:`.einsum`) and decide a ``matmul``'s kind from its operands (``bgemm``
   when both are batched, ``gemv`` for a matrix times a vector, else ``gemm``).
   TorchScript reads each wrapper as the builtin op its original stands for,
   and an fx Proxy passes through untouched.
2. The dispatch-level backstop (:mod:`.backstop`): Python kernels on the
   backend dispatch keys of the aten GEMM ops, each calling the kernel it
   replaced.  It sees what reaches those kernels by any path: a name bound at
   import (``from torch import matmul``), the GEMMs torch composes in C++
   (``torch.linalg.multi_dot``, ``torch.inner``, ``torch.linalg.matmul``,
   ``F.bilinear``, ``torch.chain_matmul``), ``nn.MultiheadAttention``'s fast
   path, the backward pass, and code compiled by ``torch.compile`` (inductor
   calls the aten kernels for its GEMMs; while dynamo traces, the wrappers stand
   aside, so the compiled code meets the platform's error when it runs, as an
   eager run does).  A GEMM that a wrapper already decided is not decided again:
   the wrapper marks its thread while the op runs.

Why not a ``TorchDispatchMode`` (every aten op pays a Python round trip: 2.1x
on the tiny Qwen3 forward) or a ``TorchFunctionMode`` (every torch call pays
one, and it still misses the C++ composites and the backward pass): the two
layers cost one or two Python calls per GEMM and nothing for any other op.

Attribution: with ``audit``, every distinct GEMM is recorded once per call
site (the first frame outside torch and this plugin, :mod:`.callsites`), with
the test phase and the fixture (name and scope) it ran in, and whether it ran
in the backward pass.  A simulated error raised is recorded the same way in
:attr:`Interceptor.raised`.

Not covered: a GEMM torch runs below the aten ops (``torch.dot vdot outer``,
which run no GEMM, are not gated at all; a ``matmul`` of two vectors is gated
as a ``gemm``), custom kernels (Triton, C++ extensions) that never call the
aten GEMM ops, and an older torch without ``torch.library.get_kernel``, where
only the wrappers run (:func:`coverage` says so).  Outside an interceptor
nothing is patched, unless the plugin holds the installation for its session
(:func:`hold`), in which case an op with no interceptor active passes straight
through.

torch is imported lazily, only when an interceptor that has work to do starts.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NamedTuple, Optional

from . import backstop, callsites
from . import precisions as _p
from .einsum import first_gemm, operands_and_equation
from .profiles import OPS, ErrorSpec, Profile

__all__ = ["TARGETS", "Call", "Interceptor", "active", "coverage", "hold", "installed", "release"]

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
_USERS = 0  # entered interceptors (and holds) that need the patches
# what was replaced: (owner, attribute, whether owner defined it itself, original)
_PATCHES: list[tuple[Any, str, bool, Any]] = []
_DTYPES: dict[Any, str] = {}  # torch.dtype -> canonical precision, filled on first install
# (owner, attribute) -> (original, its wrapper): built once, put back in by every later install
# whose original is still the same object (a wrapper only reads the stack, so it is reusable)
_WRAPPERS: dict[tuple[str, str], tuple[Any, Any]] = {}
# autocast casts fp32 and its own targets (fp16, bf16), never fp64 or fp8
_AUTOCAST_ELIGIBLE = frozenset({"fp32"} | {p.autocast for p in _p.PRECISIONS.values() if p.autocast})
_MISSING = object()
# per thread: ``depth`` > 0 while an op already decided by a wrapper or the backstop runs
_LOCAL = threading.local()
_torch: Any = None  # the torch module, bound on first install
_tensor: Any = ()  # torch.Tensor, bound on first install (isinstance against () is always False)


def _no() -> bool:
    return False


def _no_task() -> int:
    return -1


_any_autocast: Callable[[], bool] = _no  # torch._C._is_any_autocast_enabled, bound on first install
_compiling: Callable[[], bool] = _no  # torch.compiler.is_compiling, bound on first install
_graph_task: Callable[[], int] = _no_task  # torch._C._current_graph_task_id: >= 0 in the backward pass
_BACKSTOP = False  # whether the dispatch-level backstop is in (torch.library.get_kernel exists)


class Call(NamedTuple):
    """One distinct GEMM an interceptor saw (or refused), and where it came from."""

    op: str
    precision: str
    site: Optional[callsites.Site]  # the first frame outside torch and this plugin
    phase: Optional[str] = None  # setup | call | teardown, as the plugin set it
    fixture: Optional[tuple[str, str]] = None  # (name, scope) of the fixture that ran it
    backward: bool = False  # ran in the autograd engine's backward pass


class Interceptor:
    """Raises ``profile``'s errors and (with ``audit``) records executed GEMM precisions.

    A context manager.  Entering and leaving restores everything, also when the
    body raises; interceptors nest (the innermost decides) and the same one may
    be entered again (the plugin enters one per test for each of its phases).
    ``executed`` lists ``(op, precision)`` pairs in first-run order, each once;
    ``calls`` lists each distinct :class:`Call` (op, precision, call site,
    phase, fixture, backward) in first-run order; ``raised`` the simulated
    errors raised, the same way (also without ``audit``).

    The plugin sets :attr:`phase` and :attr:`fixture` while a phase or a
    fixture runs, and :attr:`fixture_codes` (id of a fixture function's code
    object -> (name, scope)) so that a GEMM in a fixture's teardown is
    attributed to it.
    """

    def __init__(self, profile: Profile | None, *, audit: bool) -> None:
        self.profile = profile
        self.audit = audit
        self.executed: list[tuple[str, str]] = []
        self.calls: list[Call] = []
        self.raised: list[Call] = []
        self.phase: str | None = None
        self.fixture: tuple[str, str] | None = None
        self.fixture_codes: Mapping[int, tuple[str, str]] | None = None
        self._seen: set[tuple[str, str]] = set()
        self._calls_seen: set[tuple[Any, ...]] = set()
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

    # -- called by the wrappers and the backstop -----------------------------
    def _spec(self, precision: str, op: str, kind: str) -> ErrorSpec | None:
        key = (precision, op, kind)
        spec = self._specs.get(key, _MISSING)
        if spec is _MISSING:
            assert self.profile is not None
            spec = self.profile.error_for(precision, op, kind)
            self._specs[key] = spec
        return spec  # type: ignore[no-any-return]

    def _call(self, op: str, precision: str) -> tuple[str, str, Any, Any, Any, bool]:
        """The fields of a :class:`Call` for an op reaching the gate now (a plain tuple: cheaper to build)."""
        frame = sys._getframe(2)
        fixture = self.fixture
        if fixture is None and self.phase == "teardown" and self.fixture_codes:
            fixture = callsites.enclosing(frame, self.fixture_codes)
        return (op, precision, callsites.caller(frame), self.phase, fixture, _graph_task() >= 0)

    def _record(self, op: str, precision: str) -> None:
        key = (op, precision)
        if key not in self._seen:
            self._seen.add(key)
            self.executed.append(key)
        fields = self._call(op, precision)
        if fields not in self._calls_seen:  # a Call is a tuple: equal, and hashed alike, to its fields
            self._calls_seen.add(fields)
            self.calls.append(Call(*fields))

    def _refused(self, op: str, precision: str) -> None:
        call = Call(*self._call(op, precision))
        if call not in self.raised:
            self.raised.append(call)


def active() -> Interceptor | None:
    """The innermost entered interceptor, if any."""
    return _STACK[-1] if _STACK else None


def installed() -> bool:
    """Whether the wrappers are in place right now."""
    return bool(_PATCHES)


def coverage() -> str | None:
    """None when both layers are in; otherwise what the installed interception cannot see."""
    if not _PATCHES or _BACKSTOP:
        return None
    return (
        "this torch has no torch.library.get_kernel, so only the Python entry points of the GEMM family are "
        "intercepted: GEMMs torch composes in C++, the backward pass and compiled code run unchecked"
    )


def hold() -> None:
    """Keep the interception installed until :func:`release` (the plugin holds it for a session)."""
    global _USERS
    with _LOCK:
        if _USERS == 0:
            _install()
        _USERS += 1


def release() -> None:
    """Undo one :func:`hold`; the last user out takes the patches out."""
    global _USERS
    with _LOCK:
        if _USERS > 0:
            _USERS -= 1
            if _USERS == 0:
                _uninstall()


# -- the gate ------------------------------------------------------------------
def _precision(x: Any, kind: str | None) -> str | None:
    """The precision a GEMM whose deciding operand is ``x`` computes in (autocast applies above the kernels)."""
    if not isinstance(x, _tensor):  # not a tensor (an fx Proxy, a number): the op decides on its own
        return None
    name = _DTYPES.get(x.dtype)
    if name is None:
        return None
    if name in _AUTOCAST_ELIGIBLE and _any_autocast():
        device_type = x.device.type
        if _torch.is_autocast_enabled(device_type):
            return _DTYPES.get(_torch.get_autocast_dtype(device_type), name)
    return _tf32(x, name, kind)


def _tf32(x: Any, name: str, kind: str | None) -> str:
    if name == "fp32" and x.is_cuda:
        if kind == "conv":
            tf32 = bool(_torch.backends.cudnn.allow_tf32)
        else:
            tf32 = _torch.get_float32_matmul_precision() != "highest"
        if tf32:
            return "tf32"
    return name


def _matmul_kind(x: Any, y: Any) -> str:
    """matmul's kind: batched only when both operands are; a matrix times a vector is a gemv."""
    xd, yd = getattr(x, "ndim", 0), getattr(y, "ndim", 0)
    return "bgemm" if xd >= 3 and yd >= 3 else "gemv" if yd == 1 and xd >= 2 else "gemm"


def _decide(ic: Interceptor, op: str, kind: str, precision: str) -> None:
    """Raise the platform's error for ``precision``, or record the op; ``kind`` is already known."""
    __tracebackhide__ = True
    if precision in ic._unsupported:
        spec = ic._spec(precision, op, kind)
        if spec is not None:
            ic._refused(op, precision)
            raise spec.exception()  # the platform's own type and message, nothing added
    if ic.audit:
        ic._record(op, precision)


def _gate(ic: Interceptor, op: str, kind: str | None, x: Any, y: Any) -> None:
    __tracebackhide__ = True
    precision = _precision(x, kind)
    if precision is None:
        return
    if kind is None:
        if precision not in ic._unsupported and not ic.audit:
            return
        kind = _matmul_kind(x, y)
    _decide(ic, op, kind, precision)


def _gate_einsum(ic: Interceptor, args: tuple[Any, ...]) -> None:
    __tracebackhide__ = True
    found = operands_and_equation(args)
    if found is None:
        return
    equation, operands = found
    precision = _precision(operands[0], "gemm")
    if precision is None or (precision not in ic._unsupported and not ic.audit):
        return
    kind = first_gemm(equation, len(operands))
    if kind is None:  # a transpose, a diagonal, an outer product: no GEMM
        return
    _decide(ic, "einsum", kind, precision)


def _gate_kernel(ic: Interceptor, op: str, kind: str, x: Any) -> None:
    """The backstop's decision: below autocast, so the operand's dtype is the one the kernel computes in."""
    __tracebackhide__ = True
    try:
        name = _DTYPES.get(x.dtype)
    except AttributeError:
        return
    if name is not None:
        _decide(ic, op, kind, _tf32(x, name, kind))


def _quietly(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run an op already decided, with this thread marked so that nothing below decides it again."""
    local = _LOCAL
    local.depth = getattr(local, "depth", 0) + 1
    try:
        return fn(*args, **kwargs)
    finally:
        local.depth -= 1


def _deciding() -> Interceptor | None:
    """The interceptor that decides an op reaching a wrapper or kernel now, if any."""
    if not _STACK or getattr(_LOCAL, "depth", 0) > 0:
        return None
    ic = _STACK[-1]
    return ic if ic._unsupported or ic.audit else None


# -- the wrappers ----------------------------------------------------------------
def _finish(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Any:
    try:
        functools.update_wrapper(wrapper, original)
    except (AttributeError, TypeError):  # pragma: no cover - some builtins lack a field
        pass
    return wrapper


def _wrapper(original: Callable[..., Any], op: str, kind: str | None, index: int, keyword: str) -> Any:
    # while dynamo traces (torch.compile), a wrapper stands aside without reading the stack, so the
    # compiled graph holds no guard on it; the compiled code's GEMMs meet the backstop when they run
    if op == "einsum":  # operands and kind come from the equation

        def einsum(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if not _compiling():
                ic = _deciding()
                if ic is not None:
                    _gate_einsum(ic, args)
                    return _quietly(original, args, kwargs)
            return original(*args, **kwargs)

        return _finish(einsum, original)

    other = index + 1

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if not _compiling():
            ic = _deciding()
            if ic is not None:
                n = len(args)
                x = args[index] if n > index else kwargs.get(keyword)
                y = (args[other] if n > other else kwargs.get("other")) if kind is None else None
                _gate(ic, op, kind, x, y)
                return _quietly(original, args, kwargs)
        return original(*args, **kwargs)

    return _finish(wrapper, original)


def _script_alias(original: Any, wrapper: Any) -> None:
    """Let TorchScript read a wrapper as the builtin op it stands for (it resolves builtins by identity)."""
    try:
        from torch.jit import _builtins

        table: Any = _builtins
        name = table._find_builtin(original)
        if name is not None:
            table._register_builtin(wrapper, name)
    except Exception:  # pragma: no cover - a torch without that table: script compiles what it can
        pass


def _install() -> None:
    global _torch, _tensor, _any_autocast, _compiling, _graph_task, _BACKSTOP
    import importlib

    try:
        import torch
    except ImportError:  # no torch, no torch ops to intercept
        return

    _torch = torch
    _tensor = torch.Tensor
    _any_autocast = torch._C._is_any_autocast_enabled
    _compiling = getattr(getattr(torch, "compiler", None), "is_compiling", _no)
    _graph_task = getattr(torch._C, "_current_graph_task_id", _no_task)
    callsites.skip_dirs(torch, sys.modules[__package__ or "pytest_dtypegate"])
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
                _script_alias(original, cached[1])
            setattr(owner, attr, cached[1])
            done.append((owner, attr, owned, original))
        _BACKSTOP = backstop.install(torch, (_deciding, _gate_kernel, _quietly))
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
    global _BACKSTOP
    patches = list(_PATCHES)
    _PATCHES.clear()
    _restore(patches)
    if _BACKSTOP:
        backstop.uninstall()
        _BACKSTOP = False


def _einsum_kind(equation: str, n: int) -> str | None:
    """The kind of the first GEMM ``at::einsum`` runs (:func:`.einsum.first_gemm`)."""
    return first_gemm(equation, n)
