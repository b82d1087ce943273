"""The matrix of runs: one cell per (test, leg, precision column), and how run reports merge into it.

Rows are tests (the node id without its precision's parametrization id),
columns are (leg, requested precision); a gated test that takes no precision
parameter but requires one (``@requires_bf16``) stands in that precision's
column, one that names none in ``-``.  Only tests that carry dtypegate facts
take part; the rest of a suite is not the gate's business.  Pure: no files, no
rendering (:mod:`.render`), no verdict (:mod:`.pr_gate`).

Built for the scale of a big model suite (20 legs x 20,000 tests): a cell is
a small tuple, and every string that repeats across cells and legs (row
names, columns, reasons) is held once.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

from .. import precisions as _p
from ..capabilities import Capabilities, CapabilitiesError, Support
from ..facts import SkipKind, TestFacts
from .files import InputError
from .runreport import effective_category

__all__ = [
    "CELL_FIELDS",
    "MATRIX_SCHEMA",
    "NO_PRECISION",
    "Cell",
    "Leg",
    "Matrix",
    "MatrixBuilder",
    "build_matrix",
    "cells_by_leg",
    "file_of",
    "row_name",
]

MATRIX_SCHEMA = "dtypegate.matrix/2"
#: The earlier matrix format, still read as a baseline.
MATRIX_SCHEMA_1 = "dtypegate.matrix/1"
#: The column of gated tests that neither take a precision parameter nor require one.
NO_PRECISION = "-"
#: Skips that are the device's doing (every kind but a duplicate of a sibling case).
DEVICE_SKIPS = frozenset(kind.value for kind in SkipKind if kind is not SkipKind.DUPLICATE)


class Cell(NamedTuple):
    """One test in one leg in one precision column."""

    test: str
    leg: str
    column: str  # the requested precision, the required one of a marker-only test, or NO_PRECISION
    nodeid: str
    outcome: str
    requested: Optional[str] = None
    precision: Optional[str] = None  # what ran
    support: Optional[str] = None
    downgraded_from: Optional[str] = None
    category: Optional[str] = None  # effective failure category (failed / error only)
    skip_kind: Optional[str] = None
    reason: Optional[str] = None

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
    def native(self) -> bool:
        """Passed in the precision asked, natively: what ``--require-native`` wants."""
        return self.passed and not self.downgraded and self.support == Support.NATIVE.value

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
        """The cell as one object (``dtypegate.matrix/1``'s form, and the gate's ``--json``)."""
        out: dict[str, Any] = dict(zip(self._fields[:5], self[:5]))
        out["text"] = self.text
        out.update(zip(self._fields[5:], self[5:]))
        return out


#: The fields of a cell in order: ``dtypegate.matrix/2`` writes each cell as an array of them.
CELL_FIELDS: tuple[str, ...] = Cell._fields


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

    @property
    def probe_error(self) -> str | None:
        """Why the device could not be probed, when it could not (its tests then ran ungated)."""
        error = (self.capabilities or {}).get("error")
        return error if isinstance(error, str) and error else None

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
        """The precision columns in the order the runs asked for them (``-`` last), one order for all legs."""
        seen = list(dict.fromkeys(c.column for c in self.cells if c.column != NO_PRECISION))
        if any(c.column == NO_PRECISION for c in self.cells):
            seen.append(NO_PRECISION)
        return seen

    def lookup(self) -> dict[tuple[str, str, str], Cell]:
        return {(c.test, c.leg, c.column): c for c in self.cells}


def file_of(test: str) -> str:
    """The file part of a row name or node id: ``tests/t.py::T::test_x`` -> ``tests/t.py``."""
    return test.split("::", 1)[0]


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


def _required_column(requires: Any) -> str:
    """The column of a marker-only test: the first precision it requires (``native:bf16`` -> ``bf16``)."""
    for item in requires or ():
        name = str(item).split(":", 1)[-1]
        try:
            return _p.resolve(name, allow_auto=False)
        except _p.UnknownPrecisionError:
            continue
    return NO_PRECISION


# the keys of a report's test entry the matrix reads, in this order
_TEST_KEYS = (
    "nodeid", "outcome", "gated", "requested", "precision", "decision", "support", "downgraded_from",
    "skip_kind", "category", "reason", "decision_reason", "requires",
)  # fmt: skip


def _test_values(tests: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """The :data:`_TEST_KEYS` of each test entry: a dict, or a typed record of the fast reader."""
    pick: Any = None
    for test in tests:
        if isinstance(test, Mapping):
            get = test.get
            yield tuple(get(key) for key in _TEST_KEYS)
            continue
        if pick is None:
            import msgspec

            names = type(test).__struct_fields__
            pick = (operator.itemgetter(*(names.index(key) for key in _TEST_KEYS)), msgspec.structs.astuple)
        yield pick[0](pick[1](test))


class MatrixBuilder:
    """Merges reports one at a time (so only one report's document is in memory), sharing repeated strings.

    Two reports with the same leg label are an error (:class:`InputError`
    naming both files): a label is a column's identity and the key the
    baseline compares by, so merging or renaming them silently would make the
    matrix lie.  Give each run its own ``--dtypegate-leg``.
    """

    def __init__(self) -> None:
        self.legs: list[Leg] = []
        self.cells: list[Cell] = []
        self._seen: dict[str, str] = {}
        self._strings: dict[str, str] = {}
        self._rows: dict[tuple[str, Optional[str]], str] = {}

    def share(self, text: Optional[str]) -> Optional[str]:
        """One object per distinct string: 400,000 cells name a few thousand rows and reasons."""
        if text is None:
            return None
        return self._strings.setdefault(text, text)

    def add_leg(self, leg: Leg) -> None:
        if leg.label in self._seen:
            raise InputError(
                f"{self._seen[leg.label]} and {leg.source} both have the leg label {leg.label!r}; give each run "
                "its own --dtypegate-leg (or merge only one of them)"
            )
        self._seen[leg.label] = leg.source
        self.legs.append(leg)

    def add_report(self, source: str, document: Mapping[str, Any]) -> None:
        """One run report (already checked); its ``tests`` may be dicts or the fast reader's typed records."""
        caps = document.get("capabilities")
        label = str(document["leg"])
        self.add_leg(
            Leg(
                label=label,
                source=source,
                capabilities=dict(caps) if isinstance(caps, Mapping) else None,
                profile=document.get("profile"),
                environment=dict(document.get("environment") or {}),
                summary=dict(document.get("summary") or {}),
            )
        )
        leg = self.share(label)
        assert leg is not None
        taken: set[tuple[str, str]] = set()
        share, rows, cells, new = self._strings.setdefault, self._rows, self.cells, tuple.__new__
        for nodeid, outcome, gated, requested, precision, decision, support, downgraded_from, skip_kind, category, \
                reason, decision_reason, requires in _test_values(document.get("tests", ())):  # fmt: skip
            if not gated:
                continue
            key = (nodeid, requested)
            row = rows.get(key)
            if row is None:
                name = row_name(nodeid, requested)
                row = rows[key] = share(name, name)
            column = share(requested, requested) if requested else _required_column(requires)
            if outcome in ("failed", "error"):
                category = effective_category(outcome, TestFacts(decision=decision or "run", category=category))
            else:
                category = None
            if (row, column) in taken:
                # two node ids fold onto one row (e.g. [bf16] and [bfloat16]): keep both, by node id
                row = share(nodeid, nodeid)
            taken.add((row, column))
            why = reason or decision_reason
            cells.append(
                new(  # Cell(...) without its Python-level __new__: 400,000 of them add up
                    Cell,
                    (
                        row,
                        leg,
                        column,
                        share(nodeid, nodeid),
                        outcome,
                        requested and column,
                        precision and (column if precision == requested else share(precision, precision)),
                        support,
                        downgraded_from
                        and (column if downgraded_from == requested else share(downgraded_from, downgraded_from)),
                        category,
                        skip_kind,
                        why and share(why, why),
                    ),
                )
            )

    def matrix(self) -> Matrix:
        return Matrix(self.legs, self.cells)


def build_matrix(reports: Iterable[tuple[str, Mapping[str, Any]]]) -> Matrix:
    """Merge ``(source file, report document)`` pairs (already loaded) into a :class:`Matrix`, in order.

    ``reports`` may be a generator, so that each document can be dropped once merged.
    See :class:`MatrixBuilder` for duplicate leg labels.
    """
    builder = MatrixBuilder()
    for source, document in reports:
        builder.add_report(source, document)
    return builder.matrix()


def cells_by_leg(cells: Sequence[Cell]) -> dict[str, list[Cell]]:
    """The cells grouped by leg, in order."""
    out: dict[str, list[Cell]] = {}
    for cell in cells:
        out.setdefault(cell.leg, []).append(cell)
    return out
