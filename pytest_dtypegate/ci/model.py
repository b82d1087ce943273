"""The matrix of runs: one cell per (test, leg, requested precision), and how run reports merge into it.

Rows are tests (the node id without its precision's parametrization id),
columns are (leg, requested precision).  Only tests that carry dtypegate facts
take part; the rest of a suite is not the gate's business.  Pure: no files, no
rendering (:mod:`.render`), no verdict (:mod:`.pr_gate`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import precisions as _p
from ..capabilities import Capabilities, CapabilitiesError, Support
from ..facts import SkipKind
from .files import InputError
from .runreport import ReportEntry, effective_category

__all__ = ["MATRIX_SCHEMA", "NO_PRECISION", "Cell", "Leg", "Matrix", "build_matrix", "row_name"]

MATRIX_SCHEMA = "dtypegate.matrix/1"
#: The column of gated tests that take no precision parameter (marker-only tests).
NO_PRECISION = "-"
#: Skips that are the device's doing (every kind but a duplicate of a sibling case).
DEVICE_SKIPS = frozenset(kind.value for kind in SkipKind if kind is not SkipKind.DUPLICATE)


@dataclass(frozen=True)
class Cell:
    """One test in one leg in one requested precision."""

    test: str
    leg: str
    column: str  # the requested precision, or NO_PRECISION
    nodeid: str
    outcome: str
    requested: str | None = None
    precision: str | None = None  # what ran
    support: str | None = None
    downgraded_from: str | None = None
    category: str | None = None  # effective failure category (failed / error only)
    skip_kind: str | None = None
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")

    @property
    def downgraded(self) -> bool:
        return bool(self.downgraded_from)

    @property
    def label(self) -> str:
        """``tests/t.py::test_gen [v100, bf16]``: the cell in a violation or a message."""
        return f"{self.test} [{self.leg}, {self.column}]"

    @property
    def text(self) -> str:
        """``passed``, ``passed (downgraded to fp16)``, ``failed (unsupported)``, ``skipped (emulated)``..."""
        details: list[str] = []
        if self.failed and self.category:
            details.append(self.category)
        if self.downgraded and self.precision:
            details.append(f"downgraded to {self.precision}")
        elif self.requested == _p.AUTO and self.precision and self.outcome != "skipped":
            details.append(f"as {self.precision}")
        if self.outcome == "skipped" and self.skip_kind:
            details.append(self.skip_kind)
        ran = self.outcome in ("passed", "failed", "error", "xpassed")
        if ran and self.support == Support.EMULATED.value:
            details.append("emulated")
        return self.outcome + (f" ({', '.join(details)})" if details else "")

    @property
    def css(self) -> str:
        """The colour class: passed, downgraded, failed, skipped-hw or skipped."""
        if self.failed:
            return "failed"
        if self.outcome in ("passed", "xpassed"):
            return "downgraded" if self.downgraded else "passed"
        if self.outcome == "skipped" and self.skip_kind in DEVICE_SKIPS:
            return "skipped-hw"
        return "skipped"

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "leg": self.leg,
            "column": self.column,
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "text": self.text,
            "requested": self.requested,
            "precision": self.precision,
            "support": self.support,
            "downgraded_from": self.downgraded_from,
            "category": self.category,
            "skip_kind": self.skip_kind,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Leg:
    """One run (one report) of the matrix."""

    label: str
    source: str  # the report file it came from
    capabilities: dict[str, Any] | None = None
    profile: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def caps(self) -> Capabilities | None:
        if not self.capabilities:
            return None
        try:
            return Capabilities.from_json(self.capabilities)
        except CapabilitiesError:
            return None

    def device(self) -> str:
        """``Tesla V100-SXM2-16GB (sm_70), simulated profile v100``, or what is known."""
        caps = self.caps()
        text = caps.label() if caps is not None else "no device probed"
        if self.profile:
            text += f", simulated profile {self.profile}"
        return text

    def support(self) -> list[tuple[str, str]]:
        """(precision, support) for every registered precision, when the device was probed."""
        caps = self.caps()
        if caps is None:
            return []
        return [(name, caps.support_of(name).value) for name in _p.PRECISIONS]

    def to_json(self) -> dict[str, Any]:
        return {
            "leg": self.label,
            "source": self.source,
            "device": self.device(),
            "profile": self.profile,
            "capabilities": self.capabilities,
            "environment": self.environment,
            "summary": self.summary,
        }


@dataclass
class Matrix:
    legs: list[Leg]
    cells: list[Cell]

    def tests(self) -> list[str]:
        """Row names in first-seen order (legs in input order, tests in run order)."""
        return list(dict.fromkeys(cell.test for cell in self.cells))

    def columns(self) -> list[tuple[str, str]]:
        """(leg, precision) pairs holding a cell: legs in input order, precisions in :meth:`precisions` order."""
        present = {(c.leg, c.column) for c in self.cells}
        order = self.precisions()
        out: list[tuple[str, str]] = []
        for leg in self.legs:
            out.extend((leg.label, name) for name in order if (leg.label, name) in present)
        return out

    def precisions(self) -> list[str]:
        """The requested precisions in the order the runs asked for them (``-`` last), one order for all legs."""
        seen = list(dict.fromkeys(c.column for c in self.cells if c.column != NO_PRECISION))
        if any(c.column == NO_PRECISION for c in self.cells):
            seen.append(NO_PRECISION)
        return seen

    def lookup(self) -> dict[tuple[str, str, str], Cell]:
        return {(c.test, c.leg, c.column): c for c in self.cells}


def row_name(nodeid: str, requested: str | None) -> str:
    """The row of a test: its node id without the precision's parametrization id.

    ``tests/test_m.py::test_gen[bf16]`` -> ``tests/test_m.py::test_gen``;
    ``...::test_gen[small-bf16]`` -> ``...::test_gen[small]``.  The id part
    that names the requested precision (its canonical name or an alias) is
    dropped; a node id without one is returned unchanged.
    """
    if not requested:
        return nodeid
    head, sep, tail = nodeid.partition("::")
    start = tail.find("[") if sep else -1
    if start < 0 or not tail.endswith("]"):
        return nodeid
    ids = tail[start + 1 : -1].split("-")
    for index, part in enumerate(ids):
        if _same_precision(part, requested):
            rest = ids[:index] + ids[index + 1 :]
            base = f"{head}::{tail[:start]}"
            return f"{base}[{'-'.join(rest)}]" if rest else base
    return nodeid


def _same_precision(part: str, requested: str) -> bool:
    if part.lower() == requested.lower():
        return True
    try:
        return _p.resolve(part) == _p.resolve(requested)
    except _p.UnknownPrecisionError:
        return False


def _cell_from_test(test: Mapping[str, Any], leg: str) -> Cell | None:
    if not test.get("gated"):
        return None
    entry = ReportEntry.from_json(test)
    facts = entry.facts
    assert facts is not None  # gated
    requested = facts.requested
    return Cell(
        test=row_name(entry.nodeid, requested),
        leg=leg,
        column=requested or NO_PRECISION,
        nodeid=entry.nodeid,
        outcome=entry.outcome,
        requested=requested,
        precision=facts.precision,
        support=facts.support,
        downgraded_from=facts.downgraded_from,
        category=effective_category(entry.outcome, facts),
        skip_kind=facts.skip_kind,
        reason=entry.reason or facts.reason,
    )


def build_matrix(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> Matrix:
    """Merge ``(source file, report document)`` pairs (already loaded) into a :class:`Matrix`.

    Two reports with the same leg label are an error (:class:`InputError`
    naming both files): a label is a column's identity and the key the
    baseline compares by, so merging or renaming them silently would make the
    matrix lie.  Give each run its own ``--dtypegate-leg``.
    """
    legs: list[Leg] = []
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for source, document in reports:
        label = str(document["leg"])
        if label in seen:
            raise InputError(
                f"{seen[label]} and {source} both have the leg label {label!r}; give each run its own "
                "--dtypegate-leg (or merge only one of them)"
            )
        seen[label] = source
        caps = document.get("capabilities")
        legs.append(
            Leg(
                label=label,
                source=source,
                capabilities=dict(caps) if isinstance(caps, Mapping) else None,
                profile=document.get("profile"),
                environment=dict(document.get("environment") or {}),
                summary=dict(document.get("summary") or {}),
            )
        )
        taken: set[tuple[str, str]] = set()
        for test in document.get("tests", ()):
            cell = _cell_from_test(test, label)
            if cell is None:
                continue
            if (cell.test, cell.column) in taken:
                # two node ids fold onto one row (e.g. [bf16] and [bfloat16]): keep both, by node id
                cell = dataclasses.replace(cell, test=cell.nodeid)
            taken.add((cell.test, cell.column))
            cells.append(cell)
    return Matrix(legs, cells)
