"""Reading the plugin's markers: pure functions over ``(name, args, kwargs)`` triples.

The plugin hands over the markers of a test (its own, its class's, its
module's, closest first); everything that checks and interprets them lives here,
so it is unit-testable without pytest.  Bad arguments raise
:class:`MarkerError` with a message the plugin shows as a collection error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import precisions as _p
from .policy import Requirement

__all__ = ["MARKERS", "NAMES", "SHORTHAND", "Mark", "MarkerError", "parse_dtypes", "parse_requirements"]

#: Registered with pytest, one signature-style help line each.
MARKERS = (
    "requires_bf16: run only where bf16 is usable on the gated device (see dtypegate_allow_emulated)",
    "requires_fp16: run only where fp16 is usable on the gated device",
    "requires_tf32: run only where TF32 matmul is usable on the gated device",
    "requires_fp8: run only where fp8 (e4m3) is usable on the gated device",
    "requires_dtype(*names, native=False): run only where every named precision is usable "
    "(native=True: only where it is native)",
    "requires_capability(major, minor=0): run only on a CUDA device of at least this compute capability",
    "dtypes(*names): the precisions model_dtype runs for this test, class or module",
    "dtype_tolerance(**precision_to_rtol_atol): override model_precision.rtol/atol, e.g. bf16=(2e-2, 1e-3)",
)
NAMES = frozenset(line.split(":")[0].split("(")[0] for line in MARKERS)
SHORTHAND = {"requires_bf16": "bf16", "requires_fp16": "fp16", "requires_tf32": "tf32", "requires_fp8": "fp8_e4m3"}

Mark = tuple[str, Sequence[Any], Mapping[str, Any]]


class MarkerError(ValueError):
    """A marker used with arguments that make no sense."""


def _precision(marker: str, value: Any, *, allow_auto: bool = False) -> str:
    try:
        return _p.resolve(value, allow_auto=allow_auto)
    except _p.UnknownPrecisionError as exc:
        raise MarkerError(f"@{marker}: {exc}") from None


def _capability(args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[int, int]:
    values = list(args) + [kwargs[k] for k in ("major", "minor") if k in kwargs]
    extra = set(kwargs) - {"major", "minor"}
    if (
        extra
        or not 1 <= len(values) <= 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
    ):
        shown = ", ".join(repr(a) for a in args) + (f" {dict(kwargs)!r}" if kwargs else "")
        raise MarkerError(
            f"@requires_capability expects integers (major, minor=0), e.g. requires_capability(8, 0); got {shown}"
        )
    return (values[0], values[1] if len(values) > 1 else 0)


def parse_requirements(marks: Iterable[Mark]) -> tuple[tuple[Requirement, ...], tuple[int, int] | None]:
    """The ``requires_*`` markers of a test: the precisions it needs and the least compute capability."""
    requires: list[Requirement] = []
    min_cap: tuple[int, int] | None = None
    for name, args, kwargs in marks:
        if name in SHORTHAND:
            if args or kwargs:
                raise MarkerError(f"@{name} takes no arguments, got {tuple(args) or dict(kwargs)!r}")
            requires.append(Requirement(SHORTHAND[name]))
        elif name == "requires_dtype":
            extra = set(kwargs) - {"native"}
            if extra:
                raise MarkerError(f"@requires_dtype got unexpected keyword(s) {', '.join(sorted(extra))}")
            native = kwargs.get("native", False)
            if not isinstance(native, bool):
                raise MarkerError(f"@requires_dtype: native must be True or False, got {native!r}")
            if not args:
                raise MarkerError("@requires_dtype needs at least one precision name")
            requires.extend(Requirement(_precision(name, arg), native) for arg in args)
        elif name == "requires_capability":
            cap = _capability(args, kwargs)
            if min_cap is None or cap > min_cap:
                min_cap = cap
    return tuple(dict.fromkeys(requires)), min_cap


def parse_dtypes(args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """The precision list of a ``@dtypes(...)`` marker."""
    if kwargs:
        raise MarkerError(f"@dtypes takes precision names only, got keywords {', '.join(kwargs)}")
    if not args:
        raise MarkerError("@dtypes needs at least one precision name")
    return tuple(dict.fromkeys(_precision("dtypes", arg, allow_auto=True) for arg in args))
