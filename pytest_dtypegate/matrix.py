"""Across runs: merge run reports into a matrix, render it, and gate a pull request on it.

``dtypegate matrix REPORT...`` merges the ``dtypegate.report/1`` documents of
several CI legs into one table: one row per test (the node id without its
precision parametrization id), one column per (leg, requested precision).
Only tests that carry dtypegate facts take part; the rest of a suite is not
the gate's business.  Renderings: markdown (PR comment, step summary), JSON
(``dtypegate.matrix/1``, for machines and as the gate's baseline) and one
self-contained HTML page.

``dtypegate gate REPORT...`` applies the pull-request policy to that matrix.

Pure module apart from the two ``*_main`` functions: no torch, no pytest.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import precisions as _p
from . import report as _r
from .capabilities import Capabilities, CapabilitiesError, Support

__all__ = [
    "COLOURS",
    "MATRIX_SCHEMA",
    "NO_PRECISION",
    "Cell",
    "ConfigError",
    "GatePolicy",
    "Leg",
    "Matrix",
    "MatrixError",
    "Violation",
    "add_gate_arguments",
    "add_matrix_arguments",
    "build_matrix",
    "evaluate_gate",
    "gate_main",
    "load_baseline",
    "load_gate_config",
    "load_matrix",
    "matrix_from_json",
    "matrix_main",
    "matrix_to_json",
    "mini_toml_table",
    "render",
    "render_html",
    "render_markdown",
    "resolve_policy",
    "row_name",
]

MATRIX_SCHEMA = "dtypegate.matrix/1"
#: The column of gated tests that take no precision parameter (marker-only tests).
NO_PRECISION = "-"
FORMATS = ("markdown", "json", "html")

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_BAD_INPUT = 2

#: Cell classes -> background colour, shared by the HTML page and its legend.
COLOURS: dict[str, str] = {
    "passed": "#9be9a8",  # green
    "downgraded": "#fff176",  # yellow: passed, in a fallback precision
    "failed": "#ff8a80",  # red: failed or error
    "skipped-hw": "#ffc46b",  # amber: the device cannot run it (unsupported, emulated, capability, unknown)
    "skipped": "#d0d7de",  # grey: skipped for another reason (duplicate, the test's own skip), xfailed
    "empty": "#ffffff",  # no such case on that leg
}
_MARKS: dict[str, str] = {
    "passed": "\U0001f7e9",  # green square
    "downgraded": "\U0001f7e8",  # yellow square
    "failed": "\U0001f7e5",  # red square
    "skipped-hw": "\U0001f7e7",  # orange square
    "skipped": "\u2b1c",  # white square
}
_LEGEND: tuple[tuple[str, str], ...] = (
    ("passed", "passed"),
    ("downgraded", "passed in a fallback precision (downgraded)"),
    ("failed", "failed or error (with the dtype error category when classified)"),
    ("skipped-hw", "skipped: the device cannot run it (unsupported, emulated, capability, unknown)"),
    ("skipped", "skipped for another reason (duplicate of a downgrade, the test's own skip), xfailed"),
)
_HW_SKIPS = ("unsupported", "emulated", "capability", "unknown")
_NOTHING = "No test in these reports used dtypegate (no precision parameter, no requires_* marker)."
_SUPPORT_CLASS = {"native": "passed", "emulated": "skipped-hw", "unsupported": "failed", "unknown": "skipped"}


class MatrixError(Exception):
    """Input the matrix or the gate cannot use (exit 2); one line naming the file."""


class ConfigError(MatrixError):
    """A bad gate policy: an unknown precision, a malformed ``[tool.dtypegate.gate]``."""


# -- the model -------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One test in one leg in one requested precision."""

    test: str
    leg: str
    column: str  # the requested precision, or NO_PRECISION
    nodeid: str
    outcome: str
    requested: str | None = None
    precision: str | None = None  # what ran
    support: str | None = None
    downgraded_from: str | None = None
    category: str | None = None  # effective dtype failure category (failed / error only)
    skip_kind: str | None = None
    reason: str | None = None

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
        if self.outcome == "skipped" and self.skip_kind in _HW_SKIPS:
            return "skipped-hw"
        return "skipped"

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "leg": self.leg,
            "column": self.column,
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "text": self.text,
            "requested": self.requested,
            "precision": self.precision,
            "support": self.support,
            "downgraded_from": self.downgraded_from,
            "category": self.category,
            "skip_kind": self.skip_kind,
            "reason": self.reason,
        }


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
        """The requested precisions in the order the runs asked for them (``-`` last), one order for all legs."""
        seen = list(dict.fromkeys(c.column for c in self.cells if c.column != NO_PRECISION))
        if any(c.column == NO_PRECISION for c in self.cells):
            seen.append(NO_PRECISION)
        return seen

    def lookup(self) -> dict[tuple[str, str, str], Cell]:
        return {(c.test, c.leg, c.column): c for c in self.cells}

    def leg(self, label: str) -> Leg | None:
        for leg in self.legs:
            if leg.label == label:
                return leg
        return None


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


def _cell_from_test(test: Mapping[str, Any], leg: str) -> Cell | None:
    if not test.get("gated"):
        return None
    entry = _r.ReportEntry.from_json(test)
    facts = entry.facts
    assert facts is not None  # gated
    requested = facts.requested
    column = requested or NO_PRECISION
    return Cell(
        test=row_name(entry.nodeid, requested),
        leg=leg,
        column=column,
        nodeid=entry.nodeid,
        outcome=entry.outcome,
        requested=requested,
        precision=facts.precision,
        support=facts.support,
        downgraded_from=facts.downgraded_from,
        category=_r.effective_category(entry.outcome, facts),
        skip_kind=facts.skip_kind,
        reason=entry.reason or facts.reason,
    )


def build_matrix(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> Matrix:
    """Merge ``(source file, report document)`` pairs (already loaded) into a :class:`Matrix`.

    Two reports with the same leg label are an error (:class:`MatrixError`
    naming both files): a label is a column's identity and the key the
    baseline compares by, so merging or renaming them silently would make the
    matrix lie.  Give each run its own ``--dtypegate-leg``.
    """
    legs: list[Leg] = []
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for source, document in reports:
        label = str(document["leg"])
        if label in seen:
            raise MatrixError(
                f"{seen[label]} and {source} both have the leg label {label!r}; give each run its own "
                "--dtypegate-leg (or merge only one of them)"
            )
        seen[label] = source
        caps = document.get("capabilities")
        legs.append(
            Leg(
                label=label,
                source=source,
                capabilities=dict(caps) if isinstance(caps, Mapping) else None,
                profile=document.get("profile"),
                environment=dict(document.get("environment") or {}),
                summary=dict(document.get("summary") or {}),
            )
        )
        taken: set[tuple[str, str]] = set()
        for test in document.get("tests", ()):
            cell = _cell_from_test(test, label)
            if cell is None:
                continue
            if (cell.test, cell.column) in taken:
                # two node ids fold onto one row (e.g. [bf16] and [bfloat16]): keep both, by node id
                cell = _replace_test(cell, cell.nodeid)
            taken.add((cell.test, cell.column))
            cells.append(cell)
    return Matrix(legs, cells)


def _replace_test(cell: Cell, test: str) -> Cell:
    data = {k: getattr(cell, k) for k in Cell.__dataclass_fields__}
    data["test"] = test
    return Cell(**data)


def _expand(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.json"))
            if not found:
                raise MatrixError(f"{raw}: a directory with no *.json reports in it")
            out.extend(found)
        else:
            out.append(raw)
    resolved: dict[str, str] = {}
    for name in out:
        key = os.path.realpath(name)
        if key in resolved:
            also = f" (also as {resolved[key]})" if resolved[key] != name else ""
            raise MatrixError(f"{name} is given twice{also}")
        resolved[key] = name
    return out


def load_matrix(paths: Sequence[str]) -> Matrix:
    """Load report files (or directories of them) and merge them; raises :class:`MatrixError`."""
    documents: list[tuple[str, Mapping[str, Any]]] = []
    for name in _expand(paths):
        try:
            documents.append((name, _r.load_report(name)))
        except _r.ReportError as exc:
            raise MatrixError(str(exc)) from None
    return build_matrix(documents)


# -- JSON ------------------------------------------------------------------------------
_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_MATRIX_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "legs", "columns", "tests", "cells"],
    "properties": {
        "schema": {"const": MATRIX_SCHEMA},
        "legs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["leg", "source"],
                "properties": {
                    "leg": {"type": "string", "minLength": 1},
                    "source": {"type": "string"},
                    "profile": _NULLABLE_STRING,
                    "capabilities": {"type": ["object", "null"]},
                    "environment": {"type": "object"},
                    "summary": {"type": "object"},
                },
            },
        },
        "columns": {"type": "array"},
        "tests": {"type": "array", "items": {"type": "string"}},
        "cells": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["test", "leg", "column", "nodeid", "outcome"],
                "properties": {
                    "test": {"type": "string"},
                    "leg": {"type": "string"},
                    "column": {"type": "string"},
                    "nodeid": {"type": "string"},
                    "outcome": {"enum": list(_r.OUTCOMES)},
                    "requested": _NULLABLE_STRING,
                    "precision": _NULLABLE_STRING,
                    "support": _NULLABLE_STRING,
                    "downgraded_from": _NULLABLE_STRING,
                    "category": _NULLABLE_STRING,
                    "skip_kind": _NULLABLE_STRING,
                    "reason": _NULLABLE_STRING,
                },
            },
        },
    },
}


def matrix_to_json(matrix: Matrix) -> dict[str, Any]:
    """The ``dtypegate.matrix/1`` document: legs, columns, tests (rows) and a flat list of cells."""
    return {
        "schema": MATRIX_SCHEMA,
        "legs": [leg.to_json() for leg in matrix.legs],
        "columns": [{"leg": leg, "precision": col} for leg, col in matrix.columns()],
        "tests": matrix.tests(),
        "cells": [cell.to_json() for cell in matrix.cells],
    }


def matrix_from_json(data: Any, name: str = "<matrix>") -> Matrix:
    """Rebuild a :class:`Matrix` from :func:`matrix_to_json` output; raises :class:`MatrixError`."""
    try:
        _r.check_schema(data, name, MATRIX_SCHEMA, "dtypegate matrix")
    except _r.ReportError as exc:
        raise MatrixError(str(exc)) from None
    problems = _r.validate(data, _MATRIX_JSON_SCHEMA)
    if problems:
        raise MatrixError(f"{name}: invalid dtypegate matrix: {problems[0]}")
    legs = [
        Leg(
            label=leg["leg"],
            source=leg["source"],
            capabilities=leg.get("capabilities"),
            profile=leg.get("profile"),
            environment=dict(leg.get("environment") or {}),
            summary=dict(leg.get("summary") or {}),
        )
        for leg in data["legs"]
    ]
    fields = [k for k in Cell.__dataclass_fields__ if k not in ("test", "leg", "column", "nodeid", "outcome")]
    cells = [
        Cell(
            test=c["test"], leg=c["leg"], column=c["column"], nodeid=c["nodeid"], outcome=c["outcome"],
            **{k: c.get(k) for k in fields},
        )
        for c in data["cells"]
    ]
    return Matrix(legs, cells)


def load_baseline(path: str) -> Matrix:
    """A previous run's matrix: ``dtypegate matrix --format json`` output, or a single run report."""
    try:
        data = _r.read_json_file(path, "dtypegate matrix")
    except _r.ReportError as exc:
        raise MatrixError(str(exc)) from None
    if isinstance(data, dict) and data.get("schema") == _r.SCHEMA:
        try:
            return build_matrix([(path, _r.parse_report(data, path))])
        except _r.ReportError as exc:
            raise MatrixError(str(exc)) from None
    return matrix_from_json(data, path)


# -- markdown --------------------------------------------------------------------------
def _counts_line(matrix: Matrix) -> str:
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


def render_markdown(matrix: Matrix) -> str:
    """The matrix as GitHub-flavoured markdown (PR comment, step summary)."""
    md_code, md_text = _r.md_code, _r.md_text
    lines = ["## dtypegate matrix", "", md_text(_counts_line(matrix)), ""]
    columns = matrix.columns()
    if not columns:
        lines.append(md_text(_NOTHING))
    else:
        header = ["test"] + [f"{md_text(leg)}<br>{md_text(col)}" for leg, col in columns]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        table = matrix.lookup()
        for test in matrix.tests():
            row = [md_code(test)]
            for leg, col in columns:
                cell = table.get((test, leg, col))
                row.append(f"{_MARKS[cell.css]} {md_text(cell.text)}" if cell else "\u2014")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        legend = [f"{_MARKS[key]} {label}" for key, label in _LEGEND] + ["\u2014 not run"]
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


# -- HTML ------------------------------------------------------------------------------
_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1f2328;
       background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
p.counts { margin: 0 0 16px; color: #57606a; }
table { border-collapse: collapse; }
table.matrix th, table.matrix td { border: 1px solid #8c959f; padding: 10px 14px; text-align: left;
                                    vertical-align: middle; }
table.matrix thead th { background: #f6f8fa; position: sticky; top: 0; }
table.matrix th.leg { text-align: center; }
table.matrix th.test { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                       font-weight: normal; background: #ffffff; white-space: nowrap; }
table.matrix td.cell { min-width: 11em; height: 2.4em; }
.legend { display: flex; flex-wrap: wrap; gap: 8px 20px; margin: 12px 0 20px; padding: 0; list-style: none; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 18px; height: 18px; border: 1px solid #8c959f; }
.legs { display: flex; flex-wrap: wrap; gap: 16px; }
.legcard { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 14px; min-width: 18em; }
.legcard h3 { margin: 0 0 6px; font-size: 15px; }
.legcard dl { display: grid; grid-template-columns: max-content auto; gap: 2px 10px; margin: 0 0 8px; }
.legcard dt { color: #57606a; }
.legcard dd { margin: 0; }
.chips { display: flex; flex-wrap: wrap; gap: 4px; }
.chip { padding: 1px 6px; border-radius: 10px; border: 1px solid #8c959f; font-size: 12px; }
table.details th, table.details td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left;
                                     vertical-align: top; }
table.details td.reason { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                          font-size: 12px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
"""


def _css() -> str:
    rules = [f".{key} {{ background: {colour}; }}" for key, colour in COLOURS.items()]
    return _CSS + "\n".join(rules) + "\n"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(matrix: Matrix, title: str = "dtypegate matrix") -> str:
    """One self-contained page: inline CSS, no scripts, no external resources."""
    columns = matrix.columns()
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_css()}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="counts">{_e(_counts_line(matrix))}</p>',
        '<ul class="legend">',
    ]
    for key, label in _LEGEND:
        out.append(f'<li><span class="swatch {key}"></span>{_e(label)}</li>')
    out.append('<li><span class="swatch empty"></span>\u2014 not run on that leg</li>')
    out.append("</ul>")
    if not columns:
        out.append(f"<p>{_e(_NOTHING)}</p>")
    else:
        spans = Counter(leg for leg, _ in columns)
        out.append('<table class="matrix">')
        out.append('<thead><tr><th rowspan="2" scope="col">test</th>')
        for leg in dict.fromkeys(leg for leg, _ in columns):
            out.append(f'<th class="leg" colspan="{spans[leg]}" scope="colgroup">{_e(leg)}</th>')
        out.append("</tr><tr>")
        for _, col in columns:
            out.append(f'<th scope="col">{_e(col)}</th>')
        out.append("</tr></thead>")
        out.append("<tbody>")
        table = matrix.lookup()
        for test in matrix.tests():
            out.append(f'<tr><th class="test" scope="row">{_e(test)}</th>')
            for leg, col in columns:
                cell = table.get((test, leg, col))
                attrs = f'data-test="{_e(test)}" data-leg="{_e(leg)}" data-precision="{_e(col)}"'
                if cell is None:
                    out.append(f'<td class="cell empty" {attrs}>\u2014</td>')
                    continue
                tip = f"{cell.nodeid}: {cell.reason}" if cell.reason else cell.nodeid
                out.append(f'<td class="cell {cell.css}" {attrs} title="{_e(tip)}">{_e(cell.text)}</td>')
            out.append("</tr>")
        out.append("</tbody></table>")
    out.append("<h2>Legs</h2>")
    out.append('<div class="legs">')
    for run in matrix.legs:
        env = run.environment
        out.append(f'<section class="legcard" data-leg="{_e(run.label)}"><h3>{_e(run.label)}</h3><dl>')
        rows = [
            ("device", run.device()),
            ("torch", env.get("torch") or "not installed"),
            ("python", env.get("python", "?")),
            ("platform", env.get("platform", "?")),
            ("report", run.source),
        ]
        summary = run.summary
        if summary:
            rows.append(("tests", ", ".join(f"{summary[k]} {k}" for k in ("total", *_r.OUTCOMES, "downgraded")
                                            if summary.get(k))))
        for key, value in rows:
            out.append(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>")
        out.append("</dl>")
        support = run.support()
        if support:
            out.append('<div class="chips">')
            for name, state in support:
                css = _SUPPORT_CLASS.get(state, "skipped")
                out.append(f'<span class="chip {css}">{_e(name)} {_e(state)}</span>')
            out.append("</div>")
        out.append("</section>")
    out.append("</div>")
    notable = [c for c in matrix.cells if c.css != "passed" and (c.reason or c.failed)]
    if notable:
        out.append("<h2>Why: failures, skips and downgrades</h2>")
        out.append(
            '<table class="details"><thead><tr><th>test</th><th>leg</th><th>precision</th>'
            "<th>result</th><th>reason</th></tr></thead><tbody>"
        )
        for c in notable:
            out.append(
                f'<tr><td><code>{_e(c.nodeid)}</code></td><td>{_e(c.leg)}</td><td>{_e(c.column)}</td>'
                f'<td class="{c.css}">{_e(c.text)}</td><td class="reason">{_e(c.reason or "")}</td></tr>'
            )
        out.append("</tbody></table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render(matrix: Matrix, fmt: str) -> str:
    if fmt == "markdown":
        return render_markdown(matrix)
    if fmt == "html":
        return render_html(matrix)
    if fmt == "json":
        return json.dumps(matrix_to_json(matrix), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


# -- the gate --------------------------------------------------------------------------
@dataclass(frozen=True)
class GatePolicy:
    require: tuple[str, ...] = ()
    require_native: tuple[str, ...] = ()
    baseline: str | None = None


@dataclass(frozen=True)
class Violation:
    kind: str  # required | required-native | dtype-failure | regression | vanished | missing-leg
    message: str
    test: str | None = None
    leg: str | None = None
    precision: str | None = None

    def line(self) -> str:
        """One line, whatever the reasons inside it held."""
        return f"{self.kind}: {self.message}".replace("\r", " ").replace("\n", " ")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "test": self.test, "leg": self.leg,
                "precision": self.precision}


def _where(cell: Cell) -> str:
    return f"{cell.test} [{cell.leg}, {cell.column}]"


def _per_leg(cells: Iterable[Cell], legs: Sequence[str]) -> str:
    groups: dict[str, Counter[str]] = {}
    for cell in cells:
        groups.setdefault(cell.leg, Counter())[cell.text] += 1
    parts = []
    for leg in legs:
        if leg in groups:
            texts = ", ".join(f"{n} {t}" for t, n in sorted(groups[leg].items()))
            parts.append(f"{leg}: {texts}")
    return "; ".join(parts)


def evaluate_gate(matrix: Matrix, policy: GatePolicy, baseline: Matrix | None = None) -> list[Violation]:
    """Every violation of ``policy`` (and of ``baseline``) in ``matrix``, in a stable order.

    - required P: no cell anywhere ran P and passed (``auto`` cells count for
      the precision they resolved to; a downgraded cell counts for what ran);
    - required-native P: no cell ran P natively (support ``native``, not a
      downgrade) and passed;
    - dtype failure: any failed or errored cell of category ``unsupported`` or
      ``mismatch`` (a policy ``fail`` counts as ``unsupported``);
    - regression / vanished: a cell that passed in the baseline now fails, or
      is gone from a leg this run has; missing leg: a baseline leg with passed
      cells has no report in this run at all.
    """
    out: list[Violation] = []
    legs = [leg.label for leg in matrix.legs]
    for name in policy.require:
        if any(c.precision == name and c.passed for c in matrix.cells):
            continue
        asked = [c for c in matrix.cells if c.column == name or c.precision == name]
        what = _per_leg(asked, legs) or f"no test asked for {name}"
        out.append(Violation("required", f"{name}: no leg ran {name} and passed ({what})", precision=name))
    for name in policy.require_native:
        native = [
            c for c in matrix.cells
            if c.precision == name and c.passed and not c.downgraded and c.support == Support.NATIVE.value
        ]
        if native:
            continue
        asked = [c for c in matrix.cells if c.column == name or c.precision == name]
        passed_other = [c for c in asked if c.passed]
        if passed_other:
            msg = f"{name}: ran only emulated or downgraded ({_per_leg(passed_other, legs)})"
        else:
            what = _per_leg(asked, legs) or f"no test asked for {name}"
            msg = f"{name}: no leg ran {name} natively and passed ({what})"
        out.append(Violation("required-native", msg, precision=name))
    for cell in matrix.cells:
        if cell.failed and cell.category in _r.DTYPE_FAILURE_CATEGORIES:
            reason = f": {cell.reason}" if cell.reason else ""
            out.append(Violation("dtype-failure", f"{_where(cell)}: {cell.text}{reason}", cell.test, cell.leg,
                                 cell.column))
    if baseline is not None:
        out.extend(_baseline_violations(matrix, baseline))
    return out


def _baseline_violations(matrix: Matrix, baseline: Matrix) -> list[Violation]:
    out: list[Violation] = []
    now = matrix.lookup()
    present = {leg.label for leg in matrix.legs}
    missing: Counter[str] = Counter()
    for cell in baseline.cells:
        if not cell.passed:
            continue
        if cell.leg not in present:
            missing[cell.leg] += 1
            continue
        current = now.get((cell.test, cell.leg, cell.column))
        if current is None:
            out.append(Violation("vanished", f"{_where(cell)}: passed in the baseline, missing from this run",
                                 cell.test, cell.leg, cell.column))
        elif current.failed:
            reason = f": {current.reason}" if current.reason else ""
            message = f"{_where(cell)}: passed in the baseline, now {current.text}{reason}"
            out.append(Violation("regression", message, cell.test, cell.leg, cell.column))
    for leg in (lg.label for lg in baseline.legs):
        if missing[leg]:
            out.append(Violation(
                "missing-leg",
                f"{leg}: {missing[leg]} cell{'s' if missing[leg] != 1 else ''} passed in the baseline, "
                "and this run has no report for that leg",
                leg=leg,
            ))
    return out


# -- policy from pyproject.toml ------------------------------------------------------------
GATE_TABLE = "tool.dtypegate.gate"
GATE_KEYS = ("require", "require-native", "baseline")


def _toml_loads() -> Callable[[str], dict[str, Any]] | None:
    """``tomllib.loads`` (3.11+), else ``tomli.loads`` if installed, else None (the mini reader)."""
    try:
        import tomllib

        return tomllib.loads
    except ImportError:  # pragma: no cover - Python < 3.11
        pass
    try:  # pragma: no cover - Python < 3.11 with tomli
        import tomli  # type: ignore[import-not-found,unused-ignore]

        loads: Callable[[str], dict[str, Any]] = tomli.loads
        return loads
    except ImportError:  # pragma: no cover
        return None


def _mini_toml_string(text: str, pos: int, where: str) -> tuple[str, int]:
    quote = text[pos]
    if text.startswith(quote * 3, pos):
        raise ConfigError(f"{where}: multi-line strings need tomli on this Python; use a one-line string")
    out: list[str] = []
    i = pos + 1
    escapes = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\n":
            break
        if char == "\\" and quote == '"':
            nxt = text[i + 1 : i + 2]
            if nxt not in escapes:
                raise ConfigError(f"{where}: unsupported escape \\{nxt} without tomli")
            out.append(escapes[nxt])
            i += 2
            continue
        out.append(char)
        i += 1
    raise ConfigError(f"{where}: unterminated string")


def _mini_toml_value(text: str, pos: int, where: str) -> tuple[Any, int]:
    """A string, a boolean or an array of strings, starting at ``pos``."""
    char = text[pos : pos + 1]
    if char in ('"', "'"):
        return _mini_toml_string(text, pos, where)
    for word, value in (("true", True), ("false", False)):
        if text.startswith(word, pos):
            return value, pos + len(word)
    if char == "[":
        items: list[Any] = []
        i = pos + 1
        while True:
            i = _mini_toml_skip(text, i, newlines=True)
            if i >= len(text):
                raise ConfigError(f"{where}: unterminated array")
            if text[i] == "]":
                return items, i + 1
            value, i = _mini_toml_value(text, i, where)
            items.append(value)
            i = _mini_toml_skip(text, i, newlines=True)
            if text[i : i + 1] == ",":
                i += 1
            elif text[i : i + 1] != "]":
                raise ConfigError(f"{where}: expected ',' or ']' in the array")
    raise ConfigError(f"{where}: only strings, booleans and arrays of strings are supported without tomli")


def _mini_toml_skip(text: str, i: int, *, newlines: bool) -> int:
    while i < len(text):
        char = text[i]
        if char in " \t" or (newlines and char in "\r\n"):
            i += 1
        elif char == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        else:
            break
    return i


def mini_toml_table(text: str, table: str, source: str = "pyproject.toml") -> dict[str, Any] | None:
    """Read one ``[a.b.c]`` table of simple ``key = value`` lines, for Pythons without tomllib or tomli.

    Values: strings, booleans, arrays of strings (over several lines too).
    Returns None when the table is absent.  Anything fancier in that table
    (inline tables, dotted keys, numbers, multi-line strings) is a
    :class:`ConfigError` that says to install tomli; other tables are skipped
    line by line, unread.
    """
    result: dict[str, Any] | None = None
    inside = False
    current = ""  # the table the lines belong to ("" before the first header)
    i = 0
    while True:
        i = _mini_toml_skip(text, i, newlines=True)
        if i >= len(text):
            return result
        end = text.find("\n", i)
        end = len(text) if end < 0 else end
        line = text[i:end].rstrip()
        where = f"{source}:{text.count(chr(10), 0, i) + 1}"
        if line.startswith("["):
            header = line.split("#", 1)[0].strip()
            name = None
            if header.startswith("[") and header.endswith("]"):
                inner = header[2:-2] if header.startswith("[[") else header[1:-1]
                name = ".".join(part.strip().strip("\"'") for part in inner.split("."))
                if header.startswith("[["):
                    name = f"[[{name}]]"  # an array of tables is never the table we read
            elif table.split(".")[-1] in header:
                raise ConfigError(f"{where}: malformed table header {header!r}")
            current = name or ""
            inside = name == table
            if inside and result is None:
                result = {}
            if name and name.startswith(table + "."):
                # a sub-table shows as a key holding a table, as tomllib has it (and the caller refuses it)
                result = {} if result is None else result
                result.setdefault(name[len(table) + 1 :].split(".")[0], {})
            i = end
            continue
        key, eq, _ = line.partition("=")
        key = key.strip()
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
            key = key[1:-1]
        if not inside or result is None:
            # the table spelled as a key of a parent table ([tool.dtypegate] gate = {...}, gate.require = ...)
            prefix = f"{current}." if current else ""
            full = prefix + key.replace(" ", "").replace('"', "").replace("'", "")
            if eq and (full == table or full.startswith(table + ".") or table.startswith(full + ".")):
                raise ConfigError(
                    f"{where}: cannot read {line!r} without tomli; write the policy as a [{table}] table"
                )
            i = end
            continue
        if not eq or not key or "." in key:
            raise ConfigError(
                f"{where}: cannot read {line!r} in [{table}] without tomli (expected key = value)"
            )
        pos = _mini_toml_skip(text, i + line.index("=") + 1, newlines=False)
        value, i = _mini_toml_value(text, pos, where)
        result[key] = value
        i = _mini_toml_skip(text, i, newlines=False)
        if i < len(text) and text[i] not in "\r\n":
            raise ConfigError(f"{where}: unexpected text after the value of {key!r}")


def _parse_precisions(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise ConfigError(f"{where}: expected a list of precision names, got {value!r}")
    names: list[str] = []
    for item in items:
        for part in item.replace(",", " ").split():
            try:
                name = _p.resolve(part, allow_auto=False)
            except _p.UnknownPrecisionError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if name not in names:
                names.append(name)
    if not names:
        raise ConfigError(f"{where}: empty precision list")
    return tuple(names)


def load_gate_config(path: str) -> GatePolicy:
    """The ``[tool.dtypegate.gate]`` table of a pyproject.toml as a :class:`GatePolicy`.

    Keys: ``require`` and ``require-native`` (lists of precision names, or
    one comma-separated string) and ``baseline`` (a path, relative to the
    file).  An unknown key is an error, not ignored.  A file without the
    table gives an empty policy.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    loads = _toml_loads()
    table: Any
    if loads is not None:
        try:
            data = loads(text)
        except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        table = data
        for part in GATE_TABLE.split("."):
            table = table.get(part) if isinstance(table, dict) else None
    else:  # pragma: no cover - exercised directly through mini_toml_table
        table = mini_toml_table(text, GATE_TABLE, path)
    if table is None:
        return GatePolicy()
    where = f"{path} [{GATE_TABLE}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(table) - set(GATE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(GATE_KEYS)}")
    baseline = table.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline):
        raise ConfigError(f"{where}: baseline must be a path string, got {baseline!r}")
    if baseline is not None and not os.path.isabs(baseline):
        baseline = os.path.join(os.path.dirname(path) or ".", baseline)
    return GatePolicy(
        require=_parse_precisions(table["require"], f"{where} require") if "require" in table else (),
        require_native=(
            _parse_precisions(table["require-native"], f"{where} require-native")
            if "require-native" in table else ()
        ),
        baseline=baseline,
    )


def resolve_policy(args: argparse.Namespace) -> GatePolicy:
    """The gate policy: the command line wins, key by key, over ``[tool.dtypegate.gate]``."""
    config = args.config
    if config is None and os.path.isfile("pyproject.toml"):
        config = "pyproject.toml"
    base = load_gate_config(config) if config is not None else GatePolicy()
    require = _parse_precisions(args.require, "--require") if args.require else base.require
    native = (
        _parse_precisions(args.require_native, "--require-native") if args.require_native else base.require_native
    )
    return GatePolicy(require=require, require_native=native, baseline=args.baseline or base.baseline)


# -- the subcommands -------------------------------------------------------------------
def add_matrix_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="run reports (--dtypegate-report files), or directories of them")
    parser.add_argument("--format", choices=FORMATS, default="markdown",
                        help="markdown (PR comment, step summary), json (machines, the gate's baseline) or "
                             "html (one self-contained page); default: markdown")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write here (atomically) instead of to standard output")


def _fail(command: str, message: str) -> int:
    sys.stderr.write(f"dtypegate {command}: error: {message}\n")
    return EXIT_BAD_INPUT


def matrix_main(args: argparse.Namespace) -> int:
    """``dtypegate matrix``: exit 0, or 2 for bad input (named on stderr, no traceback)."""
    try:
        matrix = load_matrix(args.reports)
    except MatrixError as exc:
        return _fail("matrix", str(exc))
    text = render(matrix, args.format)
    if args.output:
        try:
            _r.write_text_atomic(args.output, text)
        except OSError as exc:
            return _fail("matrix", f"{args.output}: cannot write it ({exc.strerror or exc})")
        sys.stderr.write(f"dtypegate matrix: wrote {args.output} ({len(matrix.legs)} legs, "
                         f"{len(matrix.tests())} tests)\n")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(_p.names(include_auto=False))
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="run reports (--dtypegate-report files), or directories of them")
    parser.add_argument("--require", action="append", metavar="P,...", default=None,
                        help=f"precisions some leg must run and pass ({names})")
    parser.add_argument("--require-native", action="append", metavar="P,...", default=None,
                        help="precisions some leg must run natively (not emulated, not downgraded) and pass")
    parser.add_argument("--baseline", metavar="FILE", default=None,
                        help="a previous matrix (dtypegate matrix --format json, e.g. from main): a cell "
                             "that passed there must not fail or vanish")
    parser.add_argument("--config", metavar="PYPROJECT", default=None,
                        help="read [tool.dtypegate.gate] from this file (default: ./pyproject.toml if "
                             "present); the command line wins")
    parser.add_argument("--json", action="store_true", help="print the verdict and violations as JSON")


def gate_main(args: argparse.Namespace) -> int:
    """``dtypegate gate``: exit 0 clean, 1 violations, 2 bad input."""
    try:
        policy = resolve_policy(args)
        matrix = load_matrix(args.reports)
        baseline = load_baseline(policy.baseline) if policy.baseline else None
    except MatrixError as exc:
        return _fail("gate", str(exc))
    violations = evaluate_gate(matrix, policy, baseline)
    scope = (f"{len(matrix.legs)} leg{'s' if len(matrix.legs) != 1 else ''}, {len(matrix.tests())} tests, "
             f"{len(matrix.cells)} cells")
    checked = (
        f"required: {', '.join(policy.require) or 'none'}; "
        f"required native: {', '.join(policy.require_native) or 'none'}; "
        f"baseline: {policy.baseline or 'none'}"
    )
    if violations:
        count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
        verdict = f"dtypegate gate: FAILED: {count} ({scope}; {checked})"
    else:
        verdict = f"dtypegate gate: passed ({scope}; {checked})"
    if args.json:
        document = {
            "verdict": "failed" if violations else "passed",
            "violations": [v.to_json() for v in violations],
            "policy": {"require": list(policy.require), "require_native": list(policy.require_native),
                       "baseline": policy.baseline},
            "legs": [leg.label for leg in matrix.legs],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        for violation in violations:
            sys.stdout.write(violation.line() + "\n")
        sys.stdout.write(verdict + "\n")
    return EXIT_FINDING if violations else EXIT_OK
