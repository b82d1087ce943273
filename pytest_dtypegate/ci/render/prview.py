"""The pull-request view: ``dtypegate gate --format github``, a comment body and a step summary.

What changed against the baseline comes first (new failures, fixed, newly
skipped, lost native coverage, vanished tests), then the violations, then what
ran where.  Each list is cut to :data:`ITEM_LIMIT` lines and the whole body to
:data:`BUDGET` characters (GitHub takes 65,536 per comment); what is cut is
counted, and the body says where the full matrix is.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..changes import KINDS, Changes
from ..github import md_text
from ..model import Matrix
from ..pr_gate import GateRules, Violation
from .legend import coverage, coverage_text

__all__ = ["BUDGET", "ITEM_LIMIT", "render_prview"]

#: Lines per list; the rest is counted.
ITEM_LIMIT = 25
#: Characters the whole body may take (under GitHub's 65,536 per comment).
BUDGET = 60_000


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _changes(changes: Changes) -> list[str]:
    lines = ["### Changes against the baseline", ""]
    if not changes.baseline:
        return [
            *lines,
            "No baseline was given, so nothing to compare with: pass `--baseline` (the matrix of "
            "your main branch, `dtypegate matrix --format json`) to see what this change does.",
            "",
        ]
    counts = " \u00b7 ".join(f"{len(changes.by_kind[kind])} {title}" for kind, title in KINDS)
    lines += [f"**{counts}**", ""]
    if not len(changes):
        lines += ["Nothing changed in the cells this run shares with the baseline.", ""]
    for kind, title in KINDS:
        items = changes.by_kind[kind]
        if not items or kind == "new":
            continue
        lines += [f"**{title[0].upper() + title[1:]}** ({len(items)})", ""]
        for change in items[:ITEM_LIMIT]:
            lines.append(f"- {md_text(change.line())}")
        if len(items) > ITEM_LIMIT:
            lines.append(f"- ... and {len(items) - ITEM_LIMIT} more")
        lines.append("")
    return lines


def _violations(violations: Sequence[Violation]) -> list[str]:
    if not violations:
        return ["### Violations", "", "None.", ""]
    lines = [f"### Violations ({len(violations)})", ""]
    for violation in violations[:ITEM_LIMIT]:
        lines.append(f"- **{md_text(violation.kind)}**: {md_text(violation.message)}")
    if len(violations) > ITEM_LIMIT:
        lines.append(f"- ... and {len(violations) - ITEM_LIMIT} more (`dtypegate gate` prints every one)")
    return [*lines, ""]


def _coverage(matrix: Matrix) -> list[str]:
    counts = coverage(matrix)
    precisions = matrix.precisions()
    if not precisions:
        return []
    lines = ["### What ran where", ""]
    lines.append("| leg | " + " | ".join(md_text(p) for p in precisions) + " |")
    lines.append("|---|" + "---|" * len(precisions))
    for leg in matrix.legs:
        row = [md_text(coverage_text(counts[(leg.label, p)])) if (leg.label, p) in counts else "\u2014"
               for p in precisions]  # fmt: skip
        probe = " (not probed)" if leg.probe_error else ""
        lines.append(f"| {md_text(leg.label)}{probe} | " + " | ".join(row) + " |")
    return [*lines, ""]


def render_prview(
    matrix: Matrix,
    rules: GateRules,
    violations: Sequence[Violation],
    changes: Changes,
    artifact: str | None = None,
) -> str:
    """The comment body; see the module's docstring for its order and limits."""
    verdict = f"\u274c failed: {_plural(len(violations), 'violation')}" if violations else "\u2705 passed"
    scope = (
        f"{_plural(len(matrix.legs), 'leg')}, {_plural(len(matrix.tests()), 'test')}, "
        f"{_plural(len(matrix.cells), 'cell')}; required: {', '.join(rules.require) or 'none'}; "
        f"required native: {', '.join(rules.require_native) or 'none'}"
    )
    lines = [f"## dtypegate gate: {verdict}", "", md_text(scope), ""]
    lines += _changes(changes) + _violations(violations) + _coverage(matrix)
    if artifact:
        lines.append(f"The full matrix: {md_text(artifact)}")
    body = "\n".join(lines) + "\n"
    if len(body) > BUDGET:
        where = md_text(artifact or "the matrix artifact")
        cut = body[: BUDGET - 200].rsplit("\n", 1)[0]
        body = f"{cut}\n\n> Cut here to stay under GitHub's comment limit; the full matrix: {where}\n"
    return body
