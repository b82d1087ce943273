"""Advice in context: the fix for one classified failure, given the test and the device.

Pure module: imports neither torch nor pytest.  :func:`advise` gives the fix
lines; :func:`format_section` the text of the report's ``dtypegate`` section.
A classification from the general reader says so in its last line (instead of
a catalogue entry and its source); one whose message was longer than what
classification reads says how much was left out.
"""

from __future__ import annotations

from .. import precisions as _p
from ..capabilities import Capabilities, Support
from ..facts import Category
from .classifier import GENERAL, Classification, label
from .typenames import canonical, dtype_key

__all__ = ["TRACKER", "advise", "format_section"]

#: Where to report a kernel the probe missed (no host name: the project's own tracker).
TRACKER = "the pytest-dtypegate issue tracker"
#: The order the device line lists precisions in, after the error's own: those ``auto`` picks from, best
#: first, then the other hardware precisions.
_DEVICE_ORDER: tuple[str, ...] = _p.AUTO_ORDER + tuple(x for x in _p.HARDWARE if x not in _p.AUTO_ORDER)


def _storage(name: str | None) -> str | None:
    """The precision tensors of ``name`` are held in: amp_bf16 and tf32 hold fp32."""
    found = canonical(name)
    if found is None:
        return None
    return _p.resolve(_p.PRECISIONS[found].storage, allow_auto=False)


def shown_precision(c: Classification, requested: str | None) -> str | None:
    """The precision a failure is reported under: an overflow is the test's own precision where the test ran in
    one (the message may name an upcast copy, or none: "probability tensor contains either inf, nan ..."), any
    other failure the precision its message names."""
    if c.category == Category.NONFINITE:
        return _storage(requested) or c.precision
    return c.precision


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
        return (
            f"the fp32 {noun} ({roles}) {verb} most likely not cast to {'/'.join(lows)}: tensors made "
            "without dtype= and buffers kept in fp32 stay fp32 when the model is cast"
        )
    return None


def _advise_unsupported(
    c: Classification,
    capabilities: Capabilities | None,
    declared: bool,
    probe_usable: bool,
    on_unsupported: str,
    requested: str | None,
) -> list[str]:
    lines: list[str] = []
    where = _where(capabilities)
    precision = c.precision
    if declared and probe_usable:
        name = precision or canonical(requested) or "this precision"
        lines.append(
            f"dtypegate's probe called {name} usable on {where}, but this kernel has none: the probe "
            f"missed it (a gap in pytest-dtypegate). Please report it: open an issue at {TRACKER} "
            "with the output of `dtypegate probe --json` and this error text"
        )
        if (
            precision
            and capabilities is not None
            and not capabilities.error
            and capabilities.support_of(precision) is Support.EMULATED
        ):
            lines.append(
                f"{precision} is only emulated on {where}, and emulated precisions may lack fused "
                "kernels such as this one: set `dtypegate_allow_emulated = false` to skip them"
            )
    if c.advice:
        lines.append(c.advice)
    if precision and precision != "fp32" and not declared:
        lines.append(
            f"declare the precision so the gate can skip or downgrade the test where the device lacks "
            f"it: mark the test `{_p.PRECISIONS[precision].declare}`, or take the dtype from the `model_dtype` "
            "fixture instead of hard-coding it"
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
    return lines


def _advise_mismatch(c: Classification, requested: str | None) -> list[str]:
    lines: list[str] = []
    which = _uncast(c, requested)
    if which:
        lines.append(which)
    if c.advice:
        lines.append(c.advice)
    lines.append(
        "this is a bug in the code under test, not a missing kernel: the gate does not skip it, and it "
        "fails on every device"
    )
    return lines


def _advise_nonfinite(
    c: Classification, capabilities: Capabilities | None, declared: bool, requested: str | None
) -> list[str]:
    lines: list[str] = []
    where = _where(capabilities)
    precision = _storage(requested) or c.precision
    if c.advice:
        lines.append(c.advice)
    if precision in ("fp16", None):  # an overflow whose precision neither message nor test names is most often fp16's
        if capabilities is not None and not capabilities.error:
            if capabilities.support_of("bf16") is Support.NATIVE:
                lines.append(f"bf16 is native on {where} and has fp32's range: run this test in bf16")
            else:
                lines.append(f"{where} has no native bf16: run this test in fp32")
        else:
            lines.append("run this test in bf16 (same range as fp32) where the device has it, else fp32")
    elif precision == "bf16":
        lines.append("bf16 has fp32's range, so look for a real overflow or a 0/0 first; fp32 tells which")
    if not declared:
        lines.append(
            'state the precisions this test may run in, e.g. `@dtypes("bf16", "fp32")` with the '
            "`model_dtype` fixture, so the gate runs it only where it is stable"
        )
    return lines


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
    if c.category == Category.UNSUPPORTED:
        return _advise_unsupported(c, capabilities, declared, probe_usable, on_unsupported, requested)
    if c.category == Category.MISMATCH:
        return _advise_mismatch(c, requested)
    return _advise_nonfinite(c, capabilities, declared, requested)


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
    precision = shown_precision(c, requested)
    lines: list[str] = []
    if c.category == Category.MISMATCH:
        sides = " vs ".join(x for x in (c.precision, c.other) if x)
        lines.append(f"category: mismatch ({sides})" if sides else "category: mismatch")
        if len(c.operands) >= 2:
            first = c.operands[0]
            odd = next((o for o in c.operands if dtype_key(o.written) != dtype_key(first.written)), None)
            if odd is not None:
                met = f"mismatch: {label(first.precision, first.written)} met {label(odd.precision, odd.written)}"
                which = _uncast(c, requested)
                lines.append(f"{met}: {which}" if which else met)
    else:
        lines.append(f"category: {c.category} ({precision or 'precision unknown'})")
    lines.append(f"what: {c.summary}")
    if c.cut:
        lines.append(
            f"note: the message is longer than dtypegate reads; {c.cut} characters in its middle were not read"
        )
    if capabilities is not None:
        lines.append(_device_line(c, capabilities))
    for line in advise(
        c,
        capabilities=capabilities,
        declared=declared,
        probe_usable=probe_usable,
        on_unsupported=on_unsupported,
        requested=requested,
    ):
        if c.category == Category.MISMATCH and line == _uncast(c, requested):
            continue  # already on the mismatch line
        lines.append(f"fix: {line}")
    if c.layer == GENERAL:
        lines.append(
            f"recognized: by the general reader, family {c.family}: no catalogue entry matches this wording, so "
            f"the fixes are the family's advice; report the message at {TRACKER} so it can get an entry"
        )
    else:
        lines.append(f"entry: {c.entry} (source: {c.source})")
    return "\n".join(lines)
