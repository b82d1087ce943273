"""What every rendering of the matrix shares: the cell classes, their colours and marks, the counts line."""

from __future__ import annotations

from collections import Counter

from ..model import Cell, Matrix

__all__ = [
    "COLOURS",
    "LEGEND",
    "MARKS",
    "NOTHING",
    "STATES",
    "STATE_CLASS",
    "SUPPORT_CLASS",
    "counts_line",
    "coverage",
    "coverage_text",
    "state",
]

#: Cell classes -> background colour, shared by the HTML page and its legend.
COLOURS: dict[str, str] = {
    "passed": "#9be9a8",  # green
    "downgraded": "#fff176",  # yellow: passed, in a fallback precision
    "failed": "#ff8a80",  # red: failed or error
    "skipped-hw": "#ffc46b",  # amber: the device cannot run it (unsupported, emulated, capability, unknown)
    "skipped": "#d0d7de",  # grey: skipped for another reason (duplicate, the test's own skip), xfailed
    "empty": "#ffffff",  # no such case on that leg
}
#: Cell classes -> the square markdown shows.
MARKS: dict[str, str] = {
    "passed": "\U0001f7e9",  # green square
    "downgraded": "\U0001f7e8",  # yellow square
    "failed": "\U0001f7e5",  # red square
    "skipped-hw": "\U0001f7e7",  # orange square
    "skipped": "\u2b1c",  # white square
}
LEGEND: tuple[tuple[str, str], ...] = (
    ("passed", "passed"),
    ("downgraded", "passed in a fallback precision (downgraded)"),
    ("failed", "failed or error (with the dtype error category when classified)"),
    ("skipped-hw", "skipped: the device cannot run it (unsupported, emulated, capability, unknown)"),
    ("skipped", "skipped for another reason (duplicate of a downgrade, the test's own skip), xfailed"),
)
#: Support states -> the cell class their chip is coloured like.
SUPPORT_CLASS: dict[str, str] = {
    "native": "passed",
    "emulated": "skipped-hw",
    "unsupported": "failed",
    "unknown": "skipped",
}
NOTHING = "No test in these reports used dtypegate (no precision parameter, no requires_* marker)."


def counts_line(matrix: Matrix) -> str:
    """``2 legs, 3 tests, 12 cells: 9 passed, 1 downgraded, ...``."""
    by = Counter(cell.css for cell in matrix.cells)
    parts = [
        f"{len(matrix.legs)} leg{'s' if len(matrix.legs) != 1 else ''}",
        f"{len(matrix.tests())} test{'s' if len(matrix.tests()) != 1 else ''}",
        f"{len(matrix.cells)} cell{'s' if len(matrix.cells) != 1 else ''}",
    ]
    detail = [
        f"{by[key]} {label}"
        for key, label in (
            ("passed", "passed"),
            ("downgraded", "downgraded"),
            ("failed", "failed"),
            ("skipped-hw", "skipped by the hardware"),
            ("skipped", "skipped otherwise"),
        )
        if by[key]
    ]
    return ", ".join(parts) + (": " + ", ".join(detail) if detail else "")


#: What a cell shows in the "what ran where" summary, in the order it lists them.
STATES: tuple[str, ...] = ("native", "emulated", "ran", "downgraded", "skipped by the device", "skipped", "failed")
#: State -> the cell class its count is coloured like.
STATE_CLASS: dict[str, str] = {
    "native": "passed",
    "emulated": "skipped-hw",
    "ran": "passed",
    "downgraded": "downgraded",
    "skipped by the device": "skipped-hw",
    "skipped": "skipped",
    "failed": "failed",
}


def state(cell: Cell) -> str:
    """How a cell ran, for the summary: natively, emulated, downgraded, skipped or failed."""
    if cell.failed:
        return "failed"
    if cell.outcome in ("passed", "xpassed"):
        if cell.downgraded:
            return "downgraded"
        if cell.support == "native":
            return "native"
        return "emulated" if cell.support == "emulated" else "ran"
    return "skipped by the device" if cell.css == "skipped-hw" else "skipped"


def coverage(matrix: Matrix) -> dict[tuple[str, str], Counter[str]]:
    """(leg, precision column) -> how many of its cells ran natively, emulated, downgraded, skipped, failed."""
    out: dict[tuple[str, str], Counter[str]] = {}
    for cell in matrix.cells:
        key = (cell.leg, cell.column)
        counts = out.get(key)
        if counts is None:
            counts = out[key] = Counter()
        counts[state(cell)] += 1
    return out


def coverage_text(counts: Counter[str]) -> str:
    """``412 native, 3 emulated, 200 skipped``."""
    return ", ".join(f"{counts[name]} {name}" for name in STATES if counts[name])
