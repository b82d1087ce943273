"""What every rendering of the matrix shares: the cell classes, their colours and marks, the counts line."""

from __future__ import annotations

from collections import Counter

from ..model import Matrix

__all__ = ["COLOURS", "LEGEND", "MARKS", "NOTHING", "SUPPORT_CLASS", "counts_line"]

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
