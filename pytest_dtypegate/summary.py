"""The terminal summary: what ran in which precision, what was skipped and downgraded, and why."""

from __future__ import annotations

from collections import Counter

from .capabilities import Capabilities
from .facts import TestFacts, Verdict

__all__ = ["loud_lines", "summary_lines"]


def _tests(count: int) -> str:
    return f"{count} test{'s' if count != 1 else ''}"


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
        lines.append(f"downgraded: {name} -> {precision}: {_tests(count)}")
    for (label, reason), count in sorted(skipped.items()):
        lines.append(f"skipped {label}: {_tests(count)}: {reason}")
    for (category, precision), count in sorted(failed.items()):
        lines.append(f"dtype failures: {category} ({precision}): {count}")
    return lines


def loud_lines(
    what_ran: str,
    results: dict[str, TestFacts],
    outcomes: dict[str, str],
    *,
    simulating: bool,
    audit: bool,
    gap: str | None,
) -> list[str]:
    """What simulation, audit and strict did to every test, ours or not (the section's second half).

    ``what_ran`` names the options in force; ``gap`` is what the installed interception cannot see.
    """
    lines: list[str] = []
    total = len(outcomes)
    gated = sum(1 for facts in results.values() if facts.decision != Verdict.NONE.value)
    lines.append(
        f"{what_ran}: {_tests(total)}, {gated} of them with dtypegate's markers or fixtures"
        + ("" if gated else "; the options applied to every test all the same")
    )
    if simulating:
        met = {nodeid: facts for nodeid, facts in results.items() if facts.simulated}
        if met:
            kinds = Counter(f"{e.get('op')} {e.get('precision')}" for f in met.values() for e in f.simulated)
            survived = sum(1 for nodeid in met if outcomes.get(nodeid) in ("passed", "skipped", "xfailed"))
            lines.append(
                f"simulated errors: {_tests(len(met))} met one ({', '.join(sorted(kinds))})"
                + (
                    f"; {survived} of them passed or skipped all the same: the test or a library caught the error"
                    if survived
                    else ""
                )
            )
        else:
            lines.append("simulated errors: none raised")
    if audit:
        per: Counter[str] = Counter()
        for facts in results.values():
            per.update({entry.rpartition(":")[2] for entry in facts.audit})
        if per:
            ran = ", ".join(f"{name} in {_tests(count)}" for name, count in sorted(per.items()))
            lines.append(f"audit: GEMMs ran in {ran}")
        else:
            lines.append("audit: no GEMM ran")
        ignored: Counter[str] = Counter()
        for facts in results.values():
            ignored.update({str(site["ignored"]) for site in facts.sites if site.get("ignored")})
        for pattern, count in sorted(ignored.items()):
            lines.append(f"not blamed by strict (dtypegate_strict_ignore): {pattern}: {_tests(count)}")
    if gap:
        lines.append(f"WARNING: {gap}")
    return lines
