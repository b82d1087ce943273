"""Comparison tolerances per precision, ``assert_close``, and the runtime contexts.

Where a test's ``(rtol, atol)`` comes from, first match wins:

1. the ``dtype_tolerance`` marker on the test: ``@dtype_tolerance(bf16=(2e-2, 1e-2))``;
2. the ``dtypegate_tolerance`` ini line: ``dtypegate_tolerance = bf16:2e-2,1e-2 fp16:2e-3,1e-3``;
3. the built-in value in :data:`pytest_dtypegate.precisions.PRECISIONS` (``torch.testing``'s
   per-op defaults: tight for one matmul, usually too tight for a whole model's logits).

:func:`resolve` answers that for one precision; :func:`tolerance_scope` makes the same
answer apply to :func:`assert_close` calls made inside it (the plugin enters it around
each test), so ``assert_close(out, ref, "bf16")`` and ``model_precision.rtol`` agree.

The runtime contexts (:func:`precision_context`) are the part of a precision that is not a
storage dtype: TF32 matmul for ``tf32``, ``torch.autocast`` for ``amp_bf16``/``amp_fp16``.

No torch at module level: it is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import precisions as _p

__all__ = [
    "INI_NAME",
    "MARKER_NAME",
    "Tolerance",
    "assert_close",
    "lookup",
    "parse_ini",
    "parse_marker",
    "precision_context",
    "resolve",
    "tolerance_scope",
]

MARKER_NAME = "dtype_tolerance"
INI_NAME = "dtypegate_tolerance"
_EXAMPLE = "bf16=(1.6e-2, 1e-5)"
_INI_EXAMPLE = "bf16:1.6e-2,1e-5"

Table = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Tolerance:
    """One precision's ``rtol``/``atol`` and where they came from (for messages)."""

    precision: str
    rtol: float
    atol: float
    source: str  # "dtype_tolerance marker" | "dtypegate_tolerance ini" | "built-in" | ...

    def describe(self) -> str:
        """``rtol=0.016, atol=1e-05 (bf16 built-in)``."""
        return f"rtol={self.rtol:g}, atol={self.atol:g} ({self.precision} {self.source})"


# -- validation ---------------------------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    out = float(value)
    if not math.isfinite(out) or out < 0:
        return None
    return out


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        return None
    rtol, atol = _number(value[0]), _number(value[1])
    if rtol is None or atol is None:
        return None
    return rtol, atol


def _canonical(key: Any, where: str) -> str:
    try:
        return _p.resolve(key, allow_auto=False)
    except _p.UnknownPrecisionError as exc:
        if isinstance(key, str) and key.strip().lower() == _p.AUTO:
            raise ValueError(
                f"{where}'auto' cannot have a tolerance (it resolves to bf16, fp16 or fp32 per device); "
                f"give those instead"
            ) from None
        raise ValueError(f"{where}{exc}") from None


def parse_marker(args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> Table:
    """Validate a ``dtype_tolerance`` marker's arguments; canonical name -> (rtol, atol).

    Keys may be aliases (``bfloat16=``); values are ``(rtol, atol)`` pairs of finite
    numbers >= 0.  Raises ``ValueError`` naming the bad part, for example
    ``bf16=(0.01,) is not an (rtol, atol) pair of numbers >= 0, e.g. bf16=(1.6e-2, 1e-5)``
    (the plugin prefixes ``@dtype_tolerance:`` and the test's id).
    """
    if args:
        raise ValueError(
            f"{MARKER_NAME} takes keyword arguments only, such as {MARKER_NAME}({_EXAMPLE}); "
            f"got positional {tuple(args)!r}"
        )
    if not kwargs:
        raise ValueError(f"{MARKER_NAME} needs at least one precision=(rtol, atol), e.g. {MARKER_NAME}({_EXAMPLE})")
    out: Table = {}
    given: dict[str, str] = {}
    for key, value in kwargs.items():
        name = _canonical(key, "")
        pair = _pair(value)
        if pair is None:
            raise ValueError(f"{key}={value!r} is not an (rtol, atol) pair of numbers >= 0, e.g. {_EXAMPLE}")
        if name in out:
            raise ValueError(f"{name} is given twice ({given[name]}= and {key}=)")
        out[name] = pair
        given[name] = key
    return out


_ENTRY = re.compile(r"\s*([^\s:,]+)\s*:\s*([^\s:,]+)\s*,\s*([^\s:,]+)(?=\s|$)")


def parse_ini(lines: str | Sequence[str] | None) -> Table:
    """Parse the ``dtypegate_tolerance`` ini value: ``NAME:RTOL,ATOL`` entries.

    Entries are separated by whitespace or newlines (any ini type works: ``string``,
    ``args``, ``linelist``)::

        dtypegate_tolerance =
            bf16:2e-2,1e-2
            fp16:2e-3,1e-3

    Names may be aliases.  An empty value gives ``{}``.  Raises ``ValueError`` naming
    the bad entry: not ``NAME:RTOL,ATOL``, an unknown precision, a value that is not a
    finite number >= 0, or a precision given twice (the plugin adds the option's name
    and where the value came from).
    """
    if lines is None:
        return {}
    text = lines if isinstance(lines, str) else " ".join(str(line) for line in lines)
    out: Table = {}
    pos = 0
    while True:
        rest = text[pos:]
        if not rest.strip():
            return out
        m = _ENTRY.match(text, pos)
        if m is None:
            bad = rest.split()[0]
            raise ValueError(f"{bad!r} is not NAME:RTOL,ATOL (e.g. {_INI_EXAMPLE})")
        entry = m.group(0).strip()
        name = _canonical(m.group(1), f"in {entry!r}: ")
        values: list[float] = []
        for label, raw in (("rtol", m.group(2)), ("atol", m.group(3))):
            try:
                number = _number(float(raw))
            except ValueError:
                number = None
            if number is None:
                raise ValueError(f"in {entry!r}: {label} {raw!r} is not a finite number >= 0")
            values.append(number)
        if name in out:
            raise ValueError(f"{name} is given twice")
        out[name] = (values[0], values[1])
        pos = m.end()


# -- resolution -----------------------------------------------------------------
def lookup(
    precision: Any,
    marker_kwargs: Mapping[str, Any] | None = None,
    ini: Mapping[str, tuple[float, float]] | None = None,
) -> Tolerance:
    """The :class:`Tolerance` for ``precision``: marker > ini > built-in.

    ``marker_kwargs`` are the ``dtype_tolerance`` marker's keyword arguments as written
    (validated here, so a bad marker raises ``ValueError``); ``ini`` is
    :func:`parse_ini`'s result.
    """
    name = _p.resolve(precision, allow_auto=False)
    if marker_kwargs:
        table = parse_marker((), marker_kwargs)
        if name in table:
            return Tolerance(name, *table[name], f"{MARKER_NAME} marker")
    if ini and name in ini:
        rtol, atol = ini[name]
        return Tolerance(name, float(rtol), float(atol), f"{INI_NAME} ini")
    rec = _p.PRECISIONS[name]
    return Tolerance(name, rec.rtol, rec.atol, "built-in")


def resolve(
    precision: Any,
    marker_kwargs: Mapping[str, Any] | None = None,
    ini: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[float, float]:
    """``(rtol, atol)`` for ``precision`` (name, alias, dtype): marker > ini > built-in.

    Give it the precision that actually runs (after a downgrade, the fallback).
    """
    tol = lookup(precision, marker_kwargs, ini)
    return tol.rtol, tol.atol


@dataclass(frozen=True)
class _Scope:
    marker: Table
    ini: Table


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("dtypegate_tolerance_scope", default=None)


@contextlib.contextmanager
def tolerance_scope(
    marker_kwargs: Mapping[str, Any] | None = None,
    ini: Mapping[str, tuple[float, float]] | None = None,
) -> Iterator[None]:
    """Make :func:`assert_close` use the marker/ini tolerances while active.

    The plugin enters it around each test with that test's ``dtype_tolerance``
    keyword arguments and the parsed ini table, so an ``assert_close`` that names a
    precision (or infers it from a dtype) agrees with ``model_precision.rtol/atol``.
    """
    scope = _Scope(parse_marker((), marker_kwargs) if marker_kwargs else {}, dict(ini or {}))
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _scoped_lookup(precision: Any) -> Tolerance:
    scope = _SCOPE.get()
    if scope is None:
        return lookup(precision)
    name = _p.resolve(precision, allow_auto=False)
    if name in scope.marker:
        return Tolerance(name, *scope.marker[name], f"{MARKER_NAME} marker")
    return lookup(name, None, scope.ini)


# -- assert_close ---------------------------------------------------------------
def _from_record(precision: Any) -> Tolerance | None:
    """A ``model_precision``-like record (``.name``, ``.rtol``, ``.atol``) that is not a Precision."""
    if isinstance(precision, (str, _p.Precision)):
        return None
    rtol, atol, name = (getattr(precision, a, None) for a in ("rtol", "atol", "name"))
    if _number(rtol) is None or _number(atol) is None or not isinstance(name, str):
        return None
    return Tolerance(name, float(rtol), float(atol), "from model_precision")  # type: ignore[arg-type]


def _pick(actual: Any, precision: Any) -> Tolerance:
    if precision is not None:
        record = _from_record(precision)
        if record is not None:
            return record
        try:
            return _scoped_lookup(precision)
        except _p.UnknownPrecisionError as exc:
            raise ValueError(f"assert_close: {exc}") from None
    dtype = getattr(actual, "dtype", None)
    try:
        tol = _scoped_lookup(dtype)
    except _p.UnknownPrecisionError:
        raise ValueError(
            f"assert_close: cannot take a precision from actual's dtype ({dtype}); "
            f"pass precision= (e.g. model_precision) or rtol= and atol="
        ) from None
    return Tolerance(tol.precision, tol.rtol, tol.atol, f"{tol.source}, from actual.dtype")


def assert_close(
    actual: Any,
    expected: Any,
    precision: Any = None,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    msg: str | None = None,
) -> None:
    """Assert ``actual`` is close to ``expected`` within a precision's tolerances.

    ``precision`` is a name or alias (``"bf16"``), a ``torch.dtype``, a
    :class:`~pytest_dtypegate.precisions.Precision`, or the ``model_precision``
    fixture's record (whose ``rtol``/``atol`` are used as they are).  When it is
    ``None`` the precision is ``actual``'s dtype -- pass it explicitly when ``actual``
    was upcast (``logits.float()``) or comes from an ``amp_*``/``tf32`` run.  ``rtol``
    and ``atol`` override the precision's values one by one.

    Both sides are upcast (to at least float32) and ``expected`` is moved to
    ``actual``'s device before ``torch.testing.assert_close`` compares them.  On
    failure the ``AssertionError`` names the precision and the tolerances used.
    """
    import torch

    tol = _pick(actual, precision)
    if rtol is not None or atol is not None:
        for label, value in (("rtol", rtol), ("atol", atol)):
            if value is not None and _number(value) is None:
                raise ValueError(f"assert_close: {label}={value!r} is not a finite number >= 0")
        tol = Tolerance(
            tol.precision,
            tol.rtol if rtol is None else float(rtol),
            tol.atol if atol is None else float(atol),
            "explicit" if rtol is not None and atol is not None else f"{tol.source}, partly explicit",
        )

    a = actual if isinstance(actual, torch.Tensor) else torch.as_tensor(actual)
    e = expected if isinstance(expected, torch.Tensor) else torch.as_tensor(expected, device=a.device)
    if e.device != a.device:
        e = e.to(a.device)
    if a.is_complex() or e.is_complex():
        wide = torch.complex128 if torch.complex128 in (a.dtype, e.dtype) else torch.complex64
    else:
        wide = torch.float64 if torch.float64 in (a.dtype, e.dtype) else torch.float32
    try:
        torch.testing.assert_close(a.to(wide), e.to(wide), rtol=tol.rtol, atol=tol.atol)
    except AssertionError as exc:
        head = f"{tol.precision} comparison failed with {tol.describe()}, compared in {str(wide)[6:]}"
        if tol.source.startswith("built-in") and "explicit" not in tol.source:
            head += (
                f"; the built-in tolerances are per-op, usually too tight for a whole model: widen them "
                f"with @{MARKER_NAME}({tol.precision}=(rtol, atol)) or the {INI_NAME} ini option"
            )
        text = f"{head}\n{exc}"
        if msg:
            text = f"{msg}\n{text}"
        raise AssertionError(text) from None


# -- runtime contexts -----------------------------------------------------------------
# The TF32 switches.  torch >= 2.9 keeps them as per-backend `fp32_precision` strings
# and still honours the legacy booleans; reading a legacy value after a new-style
# write raises ("mix of the legacy and new APIs").  So: save every value that is
# readable; switch TF32 on the legacy way (as documented) unless the session already
# uses the new API, then the new way; write back legacy first, new second, which
# restores the exact state (tests/test_tolerances.py checks each starting state).
_LEGACY_TF32 = ("cuda.matmul.allow_tf32", "cudnn.allow_tf32")
_NEW_TF32 = (
    "fp32_precision",
    "cuda.matmul.fp32_precision",
    "cudnn.fp32_precision",
    "cudnn.conv.fp32_precision",
    "cudnn.rnn.fp32_precision",
    "mkldnn.fp32_precision",
    "mkldnn.matmul.fp32_precision",
    "mkldnn.conv.fp32_precision",
    "mkldnn.rnn.fp32_precision",
)


def _backends_get(torch: Any, path: str) -> Any:
    return operator.attrgetter(path)(torch.backends)


def _backends_set(torch: Any, path: str, value: Any) -> None:
    owner, _, attr = path.rpartition(".")
    setattr(operator.attrgetter(owner)(torch.backends) if owner else torch.backends, attr, value)


def _tf32_snapshot(torch: Any) -> dict[str, Any]:
    saved: dict[str, Any] = {}
    try:
        saved["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    except RuntimeError:
        pass  # unreadable after a new-API write
    for path in (*_LEGACY_TF32, *_NEW_TF32):
        try:
            saved[path] = _backends_get(torch, path)
        except (AttributeError, RuntimeError):
            continue  # not in this torch, or unreadable after a new-API write
    return saved


def _tf32_enable(torch: Any, saved: Mapping[str, Any]) -> None:
    if "float32_matmul_precision" in saved and all(path in saved for path in _LEGACY_TF32):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
    else:
        # the session already uses the new API, whose state the legacy calls cannot read:
        # the same switches, new style (what set_float32_matmul_precision("high") sets)
        for path in ("cuda.matmul.fp32_precision", "cudnn.conv.fp32_precision", "mkldnn.matmul.fp32_precision"):
            _backends_set(torch, path, "tf32")


def _tf32_restore(torch: Any, saved: Mapping[str, Any]) -> None:
    for path in _LEGACY_TF32:
        if path in saved:
            _backends_set(torch, path, saved[path])
    if "float32_matmul_precision" in saved:
        torch.set_float32_matmul_precision(saved["float32_matmul_precision"])
    for path in _NEW_TF32:
        if path in saved:
            _backends_set(torch, path, saved[path])


@contextlib.contextmanager
def _tf32() -> Iterator[None]:
    import torch

    saved = _tf32_snapshot(torch)
    try:
        _tf32_enable(torch, saved)
        yield
    finally:
        _tf32_restore(torch, saved)


def precision_context(name: Any, device: str) -> contextlib.AbstractContextManager[None]:
    """The runtime part of a precision, for the test body on ``device``.

    - ``tf32``: ``torch.backends.cuda.matmul.allow_tf32 = True``,
      ``torch.backends.cudnn.allow_tf32 = True`` and
      ``torch.set_float32_matmul_precision("high")``; every previous value is restored
      on exit, also when the body raises.
    - ``amp_bf16`` / ``amp_fp16``: ``torch.autocast(device_type, dtype=bfloat16/float16)``
      with ``device_type`` taken from ``device`` (``"cuda:0"`` -> ``"cuda"``).
    - every other precision: nothing (its dtype is the weights' storage dtype).

    ``name`` is a precision name, alias or record (not ``auto``: resolve it first).
    """
    rec = _p.get(name)
    if rec.tf32:
        return _tf32()
    if rec.autocast is not None:
        import torch

        device_type = str(device).split(":", 1)[0]
        autocast: contextlib.AbstractContextManager[None] = torch.autocast(
            device_type=device_type, dtype=_p.torch_dtype(rec.autocast)
        )
        return autocast
    return contextlib.nullcontext()
