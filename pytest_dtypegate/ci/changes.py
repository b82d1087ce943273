"""What changed against the baseline: the part of the pull-request view a reviewer reads first.

Cells are compared by (row, leg, precision column), on the legs this run has
(a baseline leg with no report in this run is the gate's ``missing-leg``).
Pure: :mod:`.render.prview` words it, :mod:`.pr_gate` decides what is a violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Cell, Matrix

__all__ = ["KINDS", "Change", "Changes", "compare"]

#: The kinds of change, in the order the pull-request view lists them, with their headings.
KINDS: tuple[tuple[str, str], ...] = (
    ("new-failure", "new failures"),
    ("fixed", "fixed"),
    ("newly-skipped", "newly skipped"),
    ("lost-native", "lost native coverage"),
    ("vanished", "vanished tests"),
    ("new", "new tests"),
)


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    before: Cell | None
    after: Cell | None

    @property
    def cell(self) -> Cell:
        cell = self.after or self.before
        assert cell is not None
        return cell

    def line(self) -> str:
        """``tests/t.py::test_x [v100, bf16]: passed -> failed (unsupported): the reason``."""
        cell = self.cell
        was = self.before.text if self.before is not None else "not run"
        now = self.after.text if self.after is not None else "missing"
        reason = self.after.reason if self.after is not None and self.after.reason else None
        return f"{cell.label}: {was} -> {now}" + (f": {reason}" if reason else "")


@dataclass
class Changes:
    """The changes of each kind, in matrix order; ``baseline`` is False when there was none to compare with."""

    baseline: bool
    by_kind: dict[str, list[Change]] = field(default_factory=lambda: {kind: [] for kind, _ in KINDS})

    def __len__(self) -> int:
        return sum(len(items) for kind, items in self.by_kind.items() if kind != "new")


def _ran(cell: Cell) -> bool:
    return cell.outcome in ("passed", "xpassed")


def _kind(before: Cell, after: Cell) -> str | None:
    if after.failed and not before.failed:
        return "new-failure"
    if before.failed and _ran(after):
        return "fixed"
    if _ran(before) and after.outcome == "skipped":
        return "newly-skipped"
    if before.native and _ran(after) and not after.native:
        return "lost-native"
    return None


def compare(matrix: Matrix, baseline: Matrix | None) -> Changes:
    """Every change of ``matrix`` against ``baseline`` (empty when there is none)."""
    if baseline is None:
        return Changes(baseline=False)
    out = Changes(baseline=True)
    before = baseline.lookup()
    present = {leg.label for leg in matrix.legs}
    known = {leg.label for leg in baseline.legs}
    seen: set[tuple[str, str, str]] = set()
    for cell in matrix.cells:
        key = (cell.test, cell.leg, cell.column)
        seen.add(key)
        old = before.get(key)
        if old is None:
            if cell.leg in known:
                out.by_kind["new"].append(Change("new", None, cell))
            continue
        kind = _kind(old, cell)
        if kind is not None:
            out.by_kind[kind].append(Change(kind, old, cell))
    for cell in baseline.cells:
        key = (cell.test, cell.leg, cell.column)
        if cell.leg in present and key not in seen:
            out.by_kind["vanished"].append(Change("vanished", cell, None))
    return out
