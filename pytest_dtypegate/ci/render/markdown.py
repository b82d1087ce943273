"""The matrix as GitHub-flavoured markdown: a pull-request comment, a step summary."""

from __future__ import annotations

from ..github import md_code, md_text
from ..model import Matrix
from .legend import LEGEND, MARKS, NOTHING, counts_line

__all__ = ["render_markdown"]


def render_markdown(matrix: Matrix) -> str:
    """One table, tests down and (leg, precision) across, then the legend and one line per leg."""
    lines = ["## dtypegate matrix", "", md_text(counts_line(matrix)), ""]
    columns = matrix.columns()
    if not columns:
        lines.append(md_text(NOTHING))
    else:
        header = ["test"] + [f"{md_text(leg)}<br>{md_text(col)}" for leg, col in columns]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        table = matrix.lookup()
        for test in matrix.tests():
            row = [md_code(test)]
            for leg, col in columns:
                cell = table.get((test, leg, col))
                row.append(f"{MARKS[cell.css]} {md_text(cell.text)}" if cell else "\u2014")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        legend = [f"{MARKS[key]} {label}" for key, label in LEGEND] + ["\u2014 not run"]
        lines.append(" \u00b7 ".join(legend))
    lines += ["", "**Legs**", ""]
    for run in matrix.legs:
        line = f"- **{md_text(run.label)}** ({md_code(run.source)}): {md_text(run.device())}"
        if run.support():
            line += "; " + md_text(", ".join(f"{n} {s}" for n, s in run.support()))
        env = run.environment
        line += md_text(f"; torch {env.get('torch') or 'not installed'}, Python {env.get('python', '?')}")
        lines.append(line)
    return "\n".join(lines) + "\n"
