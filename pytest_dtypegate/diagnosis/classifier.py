"""The classifier: which failures are dtype errors, read with the catalogue's entries.

Pure module: imports neither torch nor pytest.  :func:`classify` tries the
catalogue's entries in order on one text, or on every exception of an
exception's chain; the catalogue is read on the first call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..facts import Category
from .loader import Entry, catalogue
from .typenames import dtype_key, is_float, read_precision

__all__ = ["Classification", "Operand", "classify", "exception_text", "label"]

_SCAN_WINDOW = 2000  # how far after a cuBLAS status the call's arguments are looked for


@dataclass(frozen=True)
class Operand:
    """One side of a mismatch: its label, the type as the message wrote it, the precision."""

    role: str
    written: str
    precision: str | None


@dataclass(frozen=True)
class Classification:
    """What :func:`classify` says about one error text."""

    category: str  # a Category value: "unsupported" | "mismatch" | "nonfinite"
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
            "operands": [{"role": o.role, "written": o.written, "precision": o.precision} for o in self.operands],
        }


class _Fields(dict[str, str]):
    """str.format_map values: a missing or empty key reads as a neutral word."""

    def __missing__(self, key: str) -> str:
        return {"precision": "this precision", "op": "this op", "device": "this"}.get(key, "?")


def label(precision: str | None, written: str) -> str:
    """An operand as the report names it: ``c10::BFloat16 (bf16)``, or just ``bf16``."""
    w = written.strip()
    return f"{w} ({precision})" if precision and w != precision else (precision or w)


def _describe_operands(operands: tuple[Operand, ...]) -> str:
    return ", ".join(f"{o.role} {label(o.precision, o.written)}" for o in operands)


def _apply(entry: Entry, text: str) -> Classification | None:
    m = entry.pattern.search(text)
    if m is None:
        return None
    groups = {k: v for k, v in m.groupdict().items() if v is not None}
    found: list[Operand] = []
    for role in entry.roles:
        if role in groups:
            name = groups.get(f"{role}_name", role)
            found.append(Operand(name, groups[role].strip(), read_precision(groups[role])))
    if entry.scan is not None:
        window = text[m.start() : m.start() + _SCAN_WINDOW]
        for sm in entry.scan.finditer(window):
            token = next((g for g in sm.groups() if g), sm.group(0))
            found.append(Operand("operand", token, read_precision(token)))

    other: str | None = None
    operands: tuple[Operand, ...] = ()
    if entry.category is Category.MISMATCH:
        if found:
            if not all(is_float(o.written) for o in found):
                return None  # integers or bools: not a precision mismatch
            keys = [dtype_key(o.written) for o in found]
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
        if len(entry.roles) > 1 and len({dtype_key(o.written) for o in found}) > 1:
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
        category=entry.category.value,
        precision=precision,
        other=other,
        entry=entry.id,
        summary=entry.summary.format_map(fields),
        advice=entry.advice.format_map(fields),
        source=entry.source,
        op=op,
        operands=operands,
    )


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
    for entry in catalogue():
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
