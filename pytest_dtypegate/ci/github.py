"""GitHub output: the step summary, ``::error`` annotations, and escaping for markdown and workflow commands.

The plugin calls :func:`publish_github` at the end of a run; the markdown
matrix (:mod:`.render.markdown`) escapes with :func:`md_code` and :func:`md_text`.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any, TextIO

from ..capabilities import Capabilities, CapabilitiesError
from ..facts import TestFacts, Verdict
from ..text import printable
from .runreport import OUTCOMES, effective_category, is_dtype_failure

__all__ = [
    "escape_data",
    "escape_property",
    "github_annotations",
    "md_code",
    "md_text",
    "publish_github",
    "step_summary",
]

#: Most dtype failures the step summary lists by name.
SUMMARY_FAILURE_LIMIT = 10


# -- escaping ----------------------------------------------------------------------------------
def md_code(text: str) -> str:
    """``text`` as a markdown code span that is safe inside a table cell (control characters escaped)."""
    text = printable(" ".join(text.split()))
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def md_text(text: str) -> str:
    """Plain text for markdown: one line, table-safe, no HTML or link syntax."""
    out = []
    for char in printable(" ".join(text.split())):
        if char in "\\`*_[]<>|#!~&":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def escape_data(text: str) -> str:
    """Escape a workflow command's message: ``%``, ``\\r``, ``\\n``; other control characters and lone
    surrogates as :func:`~pytest_dtypegate.text.printable` does (so nothing in it starts another command)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(text)


def escape_property(text: str) -> str:
    """Escape a workflow command property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# -- the step summary ---------------------------------------------------------------------------
def _capabilities_line(document: Mapping[str, Any]) -> str | None:
    data = document.get("capabilities")
    if not data:
        return None
    try:
        return Capabilities.from_json(data).summary_line()
    except CapabilitiesError:
        return str(data.get("name") or data.get("device"))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _test_category(test: Mapping[str, Any]) -> str | None:
    facts = None
    if test.get("gated"):
        facts = TestFacts(decision=test.get("decision") or Verdict.RUN.value, category=test.get("category"))
    return effective_category(str(test.get("outcome")), facts)


def step_summary(document: Mapping[str, Any]) -> str:
    """Compact markdown for ``$GITHUB_STEP_SUMMARY``: the device, counts per precision, dtype failures."""
    summary = document.get("summary", {})
    tests = list(document.get("tests", ()))
    lines = [f"### dtypegate: {md_text(str(document.get('leg')))}", ""]
    caps_line = _capabilities_line(document)
    env = document.get("environment", {})
    lines.append(f"{md_text(caps_line) if caps_line else 'no device was probed (no test used the gate)'}  ")
    lines.append(
        md_text(
            f"Python {env.get('python', '?')}, torch {env.get('torch') or 'not installed'}, "
            f"pytest {env.get('pytest', '?')}"
        )
    )
    lines.append("")
    counts = [_plural(summary.get("total", len(tests)), "test")]
    counts += [f"{summary[o]} {o}" for o in OUTCOMES if summary.get(o)]
    if summary.get("downgraded"):
        counts.append(f"{summary['downgraded']} downgraded")
    failures = summary.get("dtype_failures", 0)
    counts.append(_plural(failures, "dtype failure") if failures else "no dtype failures")
    lines.append("**" + counts[0] + "**: " + ", ".join(counts[1:]))
    by_precision: dict[str, Counter[str]] = {}
    for test in tests:
        if not test.get("gated") or not test.get("requested"):
            continue
        row = by_precision.setdefault(str(test["requested"]), Counter())
        outcome = test["outcome"]
        if outcome in ("passed", "xpassed"):
            row["passed"] += 1
        elif outcome in ("failed", "error"):
            row["failed"] += 1
        else:
            row["skipped"] += 1
        if test.get("downgraded_from"):
            row["downgraded"] += 1
    if by_precision:
        lines += ["", "| precision | passed | failed | skipped | downgraded |", "|---|---:|---:|---:|---:|"]
        for name, row in by_precision.items():
            lines.append(
                f"| {md_text(name)} | {row['passed']} | {row['failed']} | {row['skipped']} | {row['downgraded']} |"
            )
    failed = [t for t in tests if is_dtype_failure(_test_category(t))]
    if failed:
        lines += ["", "**dtype failures**", ""]
        for test in failed[:SUMMARY_FAILURE_LIMIT]:
            precision = test.get("error_precision") or test.get("precision") or test.get("requested") or "?"
            reason = f": {md_text(test['reason'])}" if test.get("reason") else ""
            lines.append(
                f"- {md_code(test['nodeid'])}: {md_text(str(_test_category(test)))} ({md_text(str(precision))}){reason}"
            )
        if len(failed) > SUMMARY_FAILURE_LIMIT:
            lines.append(f"- ... and {len(failed) - SUMMARY_FAILURE_LIMIT} more (see the JSON report)")
    return "\n".join(lines) + "\n"


# -- annotations ----------------------------------------------------------------------------------
def github_annotations(document: Mapping[str, Any]) -> list[str]:
    """``::error`` workflow commands, one per test that failed with a classified error.

    A test counts when it failed or errored and its category is set (or the
    policy failed it, which counts as ``unsupported``).  The message names the
    precision, the category, the leg, the test and its one-line failure.
    """
    out: list[str] = []
    leg = str(document.get("leg"))
    for test in document.get("tests", ()):
        category = _test_category(test)
        if category is None:
            continue
        precision = test.get("error_precision") or test.get("precision") or test.get("requested")
        head = f"{precision} {category}" if precision else category
        message = f"{head} on {leg}: {test['nodeid']}"
        if test.get("reason"):
            message += f": {test['reason']}"
        props: list[str] = []
        loc = test.get("location")
        if loc:
            props.append(f"file={escape_property(str(loc['file']))}")
            if loc.get("line") is not None:
                props.append(f"line={int(loc['line'])}")
        props.append("title=dtypegate")
        out.append(f"::error {','.join(props)}::{escape_data(message)}")
    return out


def publish_github(
    document: Mapping[str, Any], environ: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> bool:
    """On GitHub Actions: append the step summary and print the annotations.

    Appends :func:`step_summary` to ``$GITHUB_STEP_SUMMARY`` and writes each of
    :func:`github_annotations` to ``stream`` (stdout), where the runner picks them up.

    Does nothing (returns False) unless ``GITHUB_ACTIONS`` is ``true``.  The
    summary file is opened for append, as GitHub expects; an unwritable one is
    reported on ``stream`` as a ``::warning::`` instead of failing the run.
    """
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") != "true":
        return False
    out = sys.stdout if stream is None else stream
    target = env.get("GITHUB_STEP_SUMMARY")
    if target:
        try:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(step_summary(document) + "\n")
        except OSError as exc:
            out.write(f"::warning title=dtypegate::{escape_data(f'cannot append to {target}: {exc}')}\n")
    for line in github_annotations(document):
        out.write(line + "\n")
    out.flush()
    return True
