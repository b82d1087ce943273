"""The terminal summary: what ran in which precision, what was skipped and downgraded, and why."""

from __future__ import annotations

from collections import Counter

from .capabilities import Capabilities
from .facts import TestFacts, Verdict

__all__ = ["summary_lines"]


def summary_lines(
    capabilities: Capabilities | None, results: dict[str, TestFacts], outcomes: dict[str, str]
) -> list[str]:
    """Lines for the ``dtypegate`` section; empty when the gate had nothing to do."""
    if capabilities is None and not results:
        return []
    lines: list[str] = []
    if capabilities is not None:
        lines.append("device: " + capabilities.summary_line())
        if capabilities.error:
            lines.append(
                "WARNING: dtypegate could not tell what this device supports, so no test was gated: "
                "each ran as asked and its own result stands"
            )
    ran: Counter[str] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    downgraded: Counter[tuple[str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    for nodeid, facts in results.items():
        outcome = outcomes.get(nodeid, "passed")
        label = f"[{facts.requested}]" if facts.requested else "(markers)"
        if facts.decision == Verdict.SKIP:
            skipped[(label, facts.reason or "")] += 1
            continue
        if facts.precision and outcome in ("passed", "failed"):
            ran[facts.precision] += 1
        if facts.downgraded_from and facts.precision:
            downgraded[(facts.downgraded_from, facts.precision)] += 1
        if facts.category:
            failed[(facts.category, facts.error_precision or "?")] += 1
    if ran:
        lines.append("ran: " + ", ".join(f"{name} {count}" for name, count in sorted(ran.items())))
    for (name, precision), count in sorted(downgraded.items()):
        lines.append(f"downgraded: {name} -> {precision}: {count} test{'s' if count != 1 else ''}")
    for (label, reason), count in sorted(skipped.items()):
        lines.append(f"skipped {label}: {count} test{'s' if count != 1 else ''}: {reason}")
    for (category, precision), count in sorted(failed.items()):
        lines.append(f"dtype failures: {category} ({precision}): {count}")
    return lines
