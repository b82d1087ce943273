"""The classifier: which failures are dtype errors, read in two layers.

1. The catalogue (``loader``): exact entries with cited sources and specific
   advice.  Each entry is tried on the text as it is, then (its tolerant twin)
   on the normalized text: prefixes stripped, frames dropped, quotes gone,
   case ignored.  The first entry in catalogue order wins.
2. The general reader (``general``): the shape of a dtype error in any wording,
   for text no entry reads.  Its hits say so (``layer="general"``) and carry
   their family's advice.

The catalogue wins wherever it matches: over an exception's whole chain, or a
text's whole set of messages, before the general reader reads any of it.  What
is read of one message is bounded (``normalize.bound``), and every regex runs
in linear time, so classification is linear in the message's length.

Pure module: imports neither torch nor pytest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..facts import Category
from . import general
from .lexicon import side_order
from .loader import Entry, catalogue
from .normalize import MAX_LOG, blocks, bound, canonical, printable, segments
from .typenames import dtype_key, is_float, read_precision

__all__ = ["Classification", "Finding", "Operand", "classify", "diagnose_log", "exception_text", "label"]

_SCAN_WINDOW = 2000  # how far after a cuBLAS status the call's arguments are looked for
#: The layers a classification comes from.
CATALOGUE = "catalogue"
GENERAL = "general"


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
    precision: str | None  # canonical name, e.g. "bf16"; for a mismatch the low-precision side
    other: str | None = None  # for mismatch: the other (higher-precision) side
    entry: str = ""  # catalogue entry id ("general:<family>" for the general reader)
    summary: str = ""  # one line: what happened, in plain words
    advice: str = ""  # generic fix (context-free)
    source: str = ""  # citation of the catalogue entry, or what the general reader recognized
    op: str | None = None  # kernel/op named in the message when there is one
    operands: tuple[Operand, ...] = field(default=())  # mismatch sides, as the message named them
    layer: str = CATALOGUE  # "catalogue" (an exact entry) or "general" (the general reader)
    family: str | None = None  # the general reader's family ("collective", "compiler" ...)
    cut: int = 0  # characters of the message that were not read (0: all of it)

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
            "layer": self.layer,
            "family": self.family,
            "cut": self.cut,
        }


class _Fields(dict[str, str]):
    """str.format_map values: a missing or empty key reads as a neutral word."""

    def __missing__(self, key: str) -> str:
        return {"precision": "this precision", "op": "this op", "device": "this", "other": "another precision"}.get(
            key, "?"
        )


def label(precision: str | None, written: str) -> str:
    """An operand as the report names it: ``c10::BFloat16 (bf16)``, or just ``bf16``."""
    w = written.strip()
    return f"{w} ({precision})" if precision and w != precision else (precision or w)


def _describe_operands(operands: tuple[Operand, ...]) -> str:
    return ", ".join(f"{o.role} {label(o.precision, o.written)}" for o in operands)


def _sides(found: Sequence[Operand]) -> tuple[str | None, str | None]:
    """A mismatch's (precision, other): the lower side first (``lexicon.side_order``), in whatever order printed."""
    keys = [dtype_key(o.written) for o in found]
    first = found[0]
    odd = next((o for o, k in zip(found, keys) if k != keys[0]), None)
    if odd is None:
        return first.precision, None
    if first.precision and odd.precision and side_order(odd.precision) < side_order(first.precision):
        return odd.precision, first.precision
    return first.precision, odd.precision


def _apply(entry: Entry, text: str, *, tolerant: bool = False) -> Classification | None:
    pattern = entry.tolerant if tolerant and entry.tolerant is not None else entry.pattern
    m = pattern.search(text)
    if m is None:
        return None
    groups = {k: printable(v) for k, v in m.groupdict().items() if v is not None}
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
            precision, other = _sides(found)
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


def _catalogue_raw(text: str) -> Classification | None:
    for entry in catalogue():
        if entry.keyword is not None and entry.keyword not in text:
            continue
        found = _apply(entry, text)
        if found is not None:
            return found
    return None


def _catalogue_tolerant(text: str) -> Classification | None:
    loose = canonical("\n".join(b.text for b in blocks(text)))
    lowered = loose.lower()
    for entry in catalogue():
        if entry.tolerant_keyword is not None and entry.tolerant_keyword not in lowered:
            continue
        found = _apply(entry, loose, tolerant=True)
        if found is not None:
            return found
    return None


def _from_hit(hit: general.Hit) -> Classification:
    family = hit.family
    operands = tuple(Operand("operand", printable(m.written), m.precision) for m in hit.operands)
    fields = _Fields(phrase=printable(hit.phrase), where=printable(hit.where))
    if hit.precision:
        fields["precision"] = hit.precision
    if hit.other:
        fields["other"] = hit.other
    if operands:
        fields["written"] = operands[0].written
        fields["operands"] = _describe_operands(operands)
    else:
        fields["operands"] = "operands of different dtypes"
    mismatch = hit.category is Category.MISMATCH and len(operands) >= 2
    return Classification(
        category=hit.category.value,
        precision=hit.precision,
        other=hit.other,
        entry=f"general:{family.id}",
        summary=(family.unnamed if hit.precision is None and family.unnamed else family.summary).format_map(fields),
        advice=family.advice.format_map(fields),
        source=family.source,
        op=None,
        operands=operands if mismatch else (),
        layer=GENERAL,
        family=family.id,
    )


def _named_by_general(found: Classification, text: str) -> Classification:
    """A catalogue answer that names no precision, given the types the general reader reads in the same text, when
    it reads the same category there: "query and key must have the same dtype, got torch.bfloat16 and
    torch.float16" (the entry's pattern stops before the types).  The entry's summary and advice stand."""
    if found.precision is not None:
        return found
    hit = general.read(blocks(text))
    if hit is None or hit.category.value != found.category or hit.precision is None:
        return found
    operands = tuple(Operand("operand", printable(m.written), m.precision) for m in hit.operands)
    mismatch = hit.category is Category.MISMATCH and len(operands) >= 2
    return dataclasses.replace(found, precision=hit.precision, other=hit.other, operands=operands if mismatch else ())


def _classify_texts(texts: Iterable[str]) -> Classification | None:
    """The catalogue over every text first (as written, then tolerant), then the general reader."""
    read = [bound(t) for t in texts]
    for reader in (_catalogue_raw, _catalogue_tolerant):
        for text, cut in read:
            found = reader(text)
            if found is not None:
                found = _named_by_general(found, text)
                return dataclasses.replace(found, cut=cut) if cut else found
    for text, cut in read:
        hit = general.read(blocks(text))
        if hit is not None:
            found = _from_hit(hit)
            return dataclasses.replace(found, cut=cut) if cut else found
    return None


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


def classify(text_or_exception: str | BaseException) -> Classification | None:
    """Classify an error text or exception; ``None`` when it is not a dtype error.

    For an exception every member of its chain (``__cause__``, ``__context__``)
    is read, outermost first, as ``"TypeName: message"``; the catalogue reads
    the whole chain before the general reader does.
    """
    if isinstance(text_or_exception, BaseException):
        return _classify_texts(exception_text(text_or_exception))
    if isinstance(text_or_exception, str):
        return _classify_texts([text_or_exception])
    raise TypeError(f"classify() takes an error text or an exception, not {type(text_or_exception).__name__}")


@dataclass(frozen=True)
class Finding:
    """One distinct dtype error of a log: how it classifies, where it first appears, how often."""

    classification: Classification
    line: int
    count: int = 1


def _key(c: Classification) -> tuple[Any, ...]:
    return (c.layer, c.entry, c.category, c.precision, c.other, c.op)


def diagnose_log(text: str) -> tuple[list[Finding], int]:
    """Each distinct dtype error in a log (several tracebacks, failure sections, summary lines), in order of
    first appearance, and how many characters of the log were not read (beyond ``normalize.MAX_LOG``).

    A text that holds one error classifies as :func:`classify` would.
    """
    cut = max(0, len(text) - MAX_LOG)
    text = text[:MAX_LOG]
    parts = segments(text)
    if len(parts) <= 1:
        found = classify(text)
        return ([Finding(found, parts[0].line if parts else 1)] if found is not None else []), cut
    findings: dict[tuple[Any, ...], Finding] = {}
    for part in parts:
        found = classify(part.text)
        if found is None:
            continue
        key = _key(found)
        if key in findings:
            first = findings[key]
            findings[key] = dataclasses.replace(first, count=first.count + 1)
        else:
            findings[key] = Finding(found, part.line)
    return list(findings.values()), cut
