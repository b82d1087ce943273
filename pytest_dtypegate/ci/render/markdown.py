"""The matrix as GitHub-flavoured markdown: a pull-request comment, a step summary.

GitHub takes at most 1 MiB per step summary (and 65,536 characters per
comment).  When the whole table fits in ``budget`` bytes it is shown whole;
otherwise the page shows what ran where (leg x precision counts), the
failures, the rows that are not passed everywhere as far as they fit, and says
what it left out and where the full matrix is (``artifact``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..github import md_code, md_text
from ..model import Cell, Matrix
from .legend import LEGEND, MARKS, NOTHING, counts_line, coverage, coverage_text

__all__ = ["BUDGET", "render_markdown"]

#: Bytes the markdown may take: under GitHub's 1 MiB step-summary limit, with room for a heading around it.
BUDGET = 1_000_000
#: Failures listed by name when the table is cut.
FAILURE_LIMIT = 50
_ARTIFACT = "the HTML and JSON matrix (`dtypegate matrix --format html` / `--format json`)"


def _size(lines: list[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def _row(test: str, columns: list[tuple[str, str]], table: dict[tuple[str, str, str], Cell]) -> str:
    row = [md_code(test)]
    for leg, col in columns:
        cell = table.get((test, leg, col))
        row.append(f"{MARKS[cell.css]} {md_text(cell.text)}" if cell else "\u2014")
    return "| " + " | ".join(row) + " |"


def _rows(matrix: Matrix, tests: list[str], columns: list[tuple[str, str]]) -> Iterator[str]:
    table = matrix.lookup()
    for test in tests:
        yield _row(test, columns, table)


def _legs(matrix: Matrix) -> list[str]:
    lines = ["", "**Legs**", ""]
    for run in matrix.legs:
        line = f"- **{md_text(run.label)}** ({md_code(run.source)}): {md_text(run.device())}"
        if run.support():
            line += "; " + md_text(", ".join(f"{n} {s}" for n, s in run.support()))
        env = run.environment
        line += md_text(f"; torch {env.get('torch') or 'not installed'}, Python {env.get('python', '?')}")
        if run.probe_error:
            line += md_text(f"; the device could not be probed: {run.probe_error}")
        lines.append(line)
    return lines


def _coverage(matrix: Matrix) -> list[str]:
    counts = coverage(matrix)
    precisions = matrix.precisions()
    lines = ["**What ran where** (cells per leg and precision)", ""]
    lines.append("| leg | " + " | ".join(md_text(p) for p in precisions) + " |")
    lines.append("|---|" + "---|" * len(precisions))
    for leg in matrix.legs:
        row = [md_text(coverage_text(counts[(leg.label, p)])) if (leg.label, p) in counts else "\u2014"
               for p in precisions]  # fmt: skip
        lines.append(f"| {md_text(leg.label)} | " + " | ".join(row) + " |")
    return lines


def render_markdown(matrix: Matrix, budget: int = BUDGET, artifact: str | None = None) -> str:
    """One table, tests down and (leg, precision) across, then the legend and one line per leg.

    Over ``budget`` bytes, the table keeps the rows with a failure, skip or
    downgrade first and as many as fit, and the page names what it left out.
    """
    head = ["## dtypegate matrix", "", md_text(counts_line(matrix)), ""]
    columns = matrix.columns()
    legs = _legs(matrix)
    if not columns:
        return "\n".join([*head, md_text(NOTHING), *legs]) + "\n"
    header = ["test"] + [f"{md_text(leg)}<br>{md_text(col)}" for leg, col in columns]
    table_head = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    legend = ["", " \u00b7 ".join([f"{MARKS[key]} {label}" for key, label in LEGEND] + ["\u2014 not run"])]
    tests = matrix.tests()
    fixed = _size(head) + _size(table_head) + _size(legend) + _size(legs)
    lines: list[str] = []
    used = fixed
    for line in _rows(matrix, tests, columns):
        used += len(line.encode("utf-8")) + 1
        if used > budget:
            break
        lines.append(line)
    else:
        return "\n".join([*head, *table_head, *lines, *legend, *legs]) + "\n"
    return _cut(matrix, head, table_head, legend, legs, budget, artifact)


def _cut(
    matrix: Matrix,
    head: list[str],
    table_head: list[str],
    legend: list[str],
    legs: list[str],
    budget: int,
    artifact: str | None,
) -> str:
    columns = matrix.columns()
    tests = matrix.tests()
    notable: dict[str, int] = {}
    for cell in matrix.cells:
        if cell.css != "passed":
            rank = 0 if cell.failed else 1
            notable[cell.test] = min(rank, notable.get(cell.test, 2))
    ordered = sorted(notable, key=lambda test: notable[test])  # failures first, then skips and downgrades
    failed = [c for c in matrix.cells if c.failed]
    out = [*head, *_coverage(matrix), ""]
    if failed:
        shown = failed[:FAILURE_LIMIT]
        title = (
            f"**Failures** ({len(failed)})"
            if len(failed) == len(shown)
            else (f"**Failures** (the first {len(shown)} of {len(failed)})")
        )
        out += [title, ""]
        for cell in shown:
            reason = f": {md_text(cell.reason)}" if cell.reason else ""
            out.append(f"- {md_code(cell.nodeid)} [{md_text(cell.leg)}]: {md_text(cell.text)}{reason}")
        out.append("")
    where = md_text(artifact) if artifact else _ARTIFACT
    note_size = 600 + len(where.encode("utf-8"))
    used = _size(out) + _size(table_head) + _size(legend) + _size(legs) + note_size
    rows: list[str] = []
    for line in _rows(matrix, ordered, columns):
        used += len(line.encode("utf-8")) + 1
        if used > budget:
            break
        rows.append(line)
    passed_everywhere = len(tests) - len(notable)
    out.append(
        f"**The matrix**: the {len(rows)} of {len(notable)} tests with a failure, skip or downgrade that fit "
        f"(failures first); {passed_everywhere} tests passed on every leg."
    )
    out += ["", *table_head, *rows, ""]
    left = len(tests) - len(rows)
    out.append(
        f"> Left out here: {left} of {len(tests)} rows, to stay under GitHub's 1 MiB step-summary limit "
        f"({len(matrix.cells)} cells in all). The full matrix is in {where}."
    )
    return "\n".join([*out, *legend, *legs]) + "\n"
