"""Decide, for one test item, whether it runs, runs downgraded, is skipped or fails.

Pure: ``decide`` takes a :class:`Request` (what the item asks for), the
:class:`~pytest_dtypegate.capabilities.Capabilities` and the :class:`Settings`,
and returns a frozen decision.  No pytest, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

from . import precisions as _p
from .capabilities import Capabilities, Support, native_hint
from .facts import SkipKind, Verdict

__all__ = [
    "ALLOW_EMULATED",
    "ON_UNSUPPORTED",
    "Decision",
    "Downgrade",
    "Fail",
    "Request",
    "Requirement",
    "Run",
    "Settings",
    "Skip",
    "decide",
    "declared",
    "explain",
    "undeclared_gemm",
    "usable",
]

ON_UNSUPPORTED = ("skip", "downgrade", "fail")
ALLOW_EMULATED = ("auto", "true", "false")


@dataclass(frozen=True)
class Requirement:
    """One ``requires_*`` marker: a precision, optionally native only."""

    precision: str
    native: bool = False


@dataclass(frozen=True)
class Request:
    """What one test item asks of the device."""

    precision: str | None = None  # the model_dtype parameter, canonical, or None
    siblings: tuple[str, ...] = ()  # the item's whole model_dtype list
    requires: tuple[Requirement, ...] = ()
    min_capability: tuple[int, int] | None = None


@dataclass(frozen=True)
class Settings:
    on_unsupported: str = "skip"
    allow_emulated: str = "auto"

    def __post_init__(self) -> None:
        if self.on_unsupported not in ON_UNSUPPORTED:
            raise ValueError(f"on_unsupported must be one of {', '.join(ON_UNSUPPORTED)}")
        if self.allow_emulated not in ALLOW_EMULATED:
            raise ValueError(f"allow_emulated must be one of {', '.join(ALLOW_EMULATED)}")


@dataclass(frozen=True)
class Run:
    """Run as requested; ``precision`` is what runs (``auto`` resolved)."""

    precision: str | None
    requested: str | None = None
    support: Support | None = None
    verdict: Verdict = field(default=Verdict.RUN, init=False)


@dataclass(frozen=True)
class Downgrade:
    """Run in ``precision`` instead of ``requested``, which the device cannot run."""

    precision: str
    requested: str
    reason: str
    support: Support | None = None
    verdict: Verdict = field(default=Verdict.DOWNGRADE, init=False)


@dataclass(frozen=True)
class Skip:
    reason: str
    requested: str | None = None
    kind: SkipKind = SkipKind.UNSUPPORTED
    verdict: Verdict = field(default=Verdict.SKIP, init=False)


@dataclass(frozen=True)
class Fail:
    reason: str
    requested: str | None = None
    verdict: Verdict = field(default=Verdict.FAIL, init=False)


Decision = Union[Run, Downgrade, Skip, Fail]


def _emulated_ok(caps: Capabilities, settings: Settings) -> bool:
    if settings.allow_emulated == "true":
        return True
    if settings.allow_emulated == "false":
        return False
    # auto: on the CPU every ATen kernel has bf16/fp16 variants and emulation is
    # only slow; on an accelerator emulation means missing fused kernels.
    return caps.backend == "cpu"


def usable(precision: str, caps: Capabilities, settings: Settings, *, native: bool = False) -> bool:
    """Whether ``precision`` may run on ``caps`` under ``settings``."""
    state = caps.support_of(precision)
    if state is Support.NATIVE:
        return True
    if state is Support.EMULATED:
        return not native and _emulated_ok(caps, settings)
    return False


def explain(precision: str, caps: Capabilities, *, native: bool = False) -> str:
    """``bf16 is emulated on Tesla V100-SXM2-16GB (sm_70): native bf16 needs sm_80+``."""
    ev = caps.of(precision)
    head = f"{precision} is {ev.support.value} on {caps.label()}"
    if caps.profile:
        head += f" [simulated: {caps.profile}]"
    if ev.support is Support.UNKNOWN:
        return f"{head}: {ev.message or 'the probe could not tell'}"
    if ev.support is Support.UNSUPPORTED:
        detail = ev.message or "no kernel"
        if ev.op:
            detail = f"{ev.op} raised {detail}"
        hint = native_hint(precision, caps.backend)
        return f"{head}: {detail}" + (f" ({hint})" if hint else "")
    hint = native_hint(precision, caps.backend)
    if ev.support is Support.EMULATED:
        tail = hint or "no hardware units for it"
        if native:
            return f"{head}: {tail}; the test requires native {precision}"
        return f"{head}: {tail}"
    return head


def _best_native(caps: Capabilities) -> str:
    for name in _p.AUTO_ORDER:
        if caps.support_of(name) is Support.NATIVE:
            return name
    return "fp32"


def _auto(request: Request, caps: Capabilities, best: str) -> Decision:
    if best in request.siblings:
        return Skip(
            f"auto resolves to {best} on {caps.label()}, which already runs as this test's own [{best}] case",
            _p.AUTO,
            SkipKind.DUPLICATE,
        )
    return Run(best, _p.AUTO, caps.support_of(best))


def _kind(state: Support) -> SkipKind:
    return SkipKind.EMULATED if state is Support.EMULATED else SkipKind.UNSUPPORTED


def decide(request: Request, caps: Capabilities, settings: Settings) -> Decision:
    """The policy: run / downgrade / skip / fail for one item.

    Fail closed: where the device's support is unknown (the probe failed, or it
    could not tell for one precision), the test runs as asked and its own result
    stands; the header, the summary and the report say that the gate could not tell.
    """
    requested = request.precision
    if caps.error:
        if requested == _p.AUTO:
            return _auto(request, caps, "fp32")
        return Run(requested, requested, Support.UNKNOWN if requested else None)

    def refuse(reason: str, kind: SkipKind) -> Decision:
        if settings.on_unsupported == "fail":
            return Fail(reason, requested)
        return Skip(reason, requested, kind)

    if request.min_capability is not None:
        major, minor = request.min_capability
        need = f"sm_{major}{minor}+"
        if caps.capability is None:
            return refuse(
                f"requires CUDA compute capability {need}; {caps.label()} is not a CUDA device",
                SkipKind.CAPABILITY,
            )
        if caps.capability < request.min_capability:
            return refuse(f"requires compute capability {need}; {caps.label()} is {caps.sm}", SkipKind.CAPABILITY)

    for req in request.requires:
        support = caps.support_of(req.precision)
        if support is not Support.UNKNOWN and not usable(req.precision, caps, settings, native=req.native):
            return refuse(explain(req.precision, caps, native=req.native), _kind(support))

    if requested is None:
        return Run(None)
    if requested == _p.AUTO:
        return _auto(request, caps, _best_native(caps))
    support = caps.support_of(requested)
    if support is Support.UNKNOWN or usable(requested, caps, settings):
        return Run(requested, requested, support)

    reason = explain(requested, caps)
    kind = _kind(caps.support_of(requested))
    if settings.on_unsupported != "downgrade":
        return refuse(reason, kind)
    for candidate in _p.PRECISIONS[requested].fallback:
        if not usable(candidate, caps, settings):
            continue
        if candidate in request.siblings:
            return Skip(
                f"{reason}; its fallback {candidate} already runs as this test's own "
                f"[{candidate}] case, so the downgrade would duplicate it",
                requested,
                SkipKind.DUPLICATE,
            )
        return Downgrade(candidate, requested, reason, caps.support_of(candidate))
    return Skip(f"{reason}; no fallback precision is usable either", requested, kind)


def declared(request: Request | None, decision: Decision | None) -> frozenset[str]:
    """The precisions a test told the gate about: fp32/fp64, its requires_* markers, and what it ran in."""
    out = {"fp32", "fp64"}
    if request is not None:
        out.update(r.precision for r in request.requires)
    if isinstance(decision, (Run, Downgrade)) and decision.precision:
        out.add(decision.precision)
        out.add(_p.PRECISIONS[decision.precision].hardware)
    return frozenset(out)


def undeclared_gemm(
    executed: Sequence[tuple[str, str] | tuple[str, str, str | None]],
    declared_precisions: frozenset[str],
    caps: Capabilities,
) -> tuple[str, str] | None:
    """Strict audit: (precision, reason) when a test ran a GEMM in an undeclared, non-native precision.

    ``executed`` holds ``(op, precision)`` pairs, or ``(op, precision, where)``
    where ``where`` says where the op was called (``tests/test_m.py:12 in
    test_generate``); the reason names it, and the marker that declares the
    precision.
    """
    for entry in executed:
        op, precision = entry[0], entry[1]
        if precision in declared_precisions:
            continue
        support = caps.support_of(precision)
        if support is Support.NATIVE:
            continue
        where = entry[2] if len(entry) > 2 else None
        known = _p.PRECISIONS.get(precision)
        marker = known.declare if known is not None else f'@requires_dtype("{precision}")'
        return precision, (
            f"dtypegate strict: {op} ran in {precision}, which is {support.value} on {caps.label()}, "
            f"but the test does not declare {precision}."
            + (f" Called at {where}." if where else "")
            + f" Declare it ({marker}, or take the precision from model_dtype) so the gate can skip or "
            "downgrade it where it cannot run; a library's own capability check belongs in "
            "dtypegate_strict_ignore."
        )
    return None
