"""The matrix as one self-contained HTML page, usable at the size of a big model suite.

Nothing is fetched: the style (``ci/assets/matrix.css``) and the script
(``ci/assets/matrix.js``) are inline.  The page reads top down:

1. what ran where: per leg and precision, how many cells ran natively,
   emulated, downgraded, were skipped or failed (static HTML);
2. the failures, with their reasons (static; the first :data:`FAILURE_LIMIT`);
3. the matrix, drawn by the script from compact data in the page: rows with a
   failure, skip or downgrade first, the rows that passed on every leg
   collapsed per file, a filter by text, outcome and leg, the header and the
   test column sticky, rows added as the reader scrolls;
4. one card per leg: the device, its support table, the environment.

Without JavaScript the first, second and fourth parts still show.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from ...text import printable
from ..files import scrub
from ..model import Matrix, file_of
from ..runreport import OUTCOMES
from .legend import COLOURS, LEGEND, NOTHING, STATE_CLASS, STATES, SUPPORT_CLASS, counts_line, coverage

__all__ = ["FAILURE_LIMIT", "render_html", "render_html_chunks"]

#: Failures listed in the page's static part; the matrix below filters to all of them.
FAILURE_LIMIT = 200


def _asset(name: str) -> str:
    return resources.files("pytest_dtypegate.ci").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _css() -> str:
    """The page's style sheet: the shipped file, then one background rule per cell class."""
    rules = [f".{key} {{ background: {colour}; }}" for key, colour in COLOURS.items()]
    return "\n" + _asset("matrix.css") + "\n".join(rules) + "\n"


@functools.cache
def _script() -> str:
    return _asset("matrix.js")


def _e(text: object) -> str:
    """Text for HTML: control characters and lone surrogates escaped (:func:`~pytest_dtypegate.text.printable`)."""
    return html.escape(printable(text), quote=True)


def _json_for_script(value: Any) -> str:
    """JSON that cannot end the ``<script>`` element it sits in, whatever strings it holds."""
    text = json.dumps(scrub(value), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _data(matrix: Matrix) -> dict[str, Any]:
    """The matrix for the script: legs, columns, files, and per row one kind index per column."""
    columns = matrix.columns()
    legs = [leg.label for leg in matrix.legs]
    leg_index = {label: i for i, label in enumerate(legs)}
    column_index = {column: i for i, column in enumerate(columns)}
    kinds: dict[tuple[str, str], int] = {("empty", "\u2014"): 0}
    reasons: dict[str, int] = {}
    files: dict[str, int] = {}
    rows: dict[str, list[Any]] = {}
    for test in matrix.tests():
        file = file_of(test)
        rest = test[len(file) + 2 :] if test.startswith(file + "::") else test
        rows[test] = [files.setdefault(file, len(files)), rest, [0] * len(columns), {}]
    for cell in matrix.cells:
        row = rows[cell.test]
        at = column_index[(cell.leg, cell.column)]
        row[2][at] = kinds.setdefault((cell.css, cell.text), len(kinds))
        tip = (
            cell.reason
            if cell.nodeid == f"{cell.test}[{cell.column}]" or cell.nodeid == cell.test
            else (f"{cell.nodeid}: {cell.reason}" if cell.reason else cell.nodeid)
        )
        if tip:
            row[3][str(at)] = reasons.setdefault(tip, len(reasons))
    return {
        "legs": legs,
        "columns": [[leg_index[leg], precision] for leg, precision in columns],
        "kinds": [list(kind) for kind in kinds],
        "reasons": list(reasons),
        "files": list(files),
        "rows": list(rows.values()),
    }


def _summary(matrix: Matrix) -> Iterator[str]:
    counts = coverage(matrix)
    precisions = matrix.precisions()
    yield "<h2>What ran where</h2>"
    yield '<table class="summary"><thead><tr><th scope="col">leg</th>'
    yield "".join(f'<th scope="col">{_e(p)}</th>' for p in precisions) + "</tr></thead><tbody>"
    for leg in matrix.legs:
        yield f'<tr><th scope="row">{_e(leg.label)}</th>'
        for precision in precisions:
            found = counts.get((leg.label, precision))
            if not found:
                yield '<td class="none">\u2014</td>'
                continue
            chips = "".join(
                f'<span class="count {STATE_CLASS[name]}">{found[name]} {_e(name)}</span>'
                for name in STATES
                if found[name]
            )
            yield f"<td>{chips}</td>"
        yield "</tr>"
    yield "</tbody></table>"
    unprobed = [leg for leg in matrix.legs if leg.probe_error]
    for leg in unprobed:
        yield (
            f'<p class="warning">{_e(leg.label)}: the device could not be probed ({_e(leg.probe_error)}); '
            "its tests ran as asked, ungated.</p>"
        )


def _failures(matrix: Matrix) -> Iterator[str]:
    failed = [c for c in matrix.cells if c.failed]
    if not failed:
        return
    shown = failed[:FAILURE_LIMIT]
    more = (
        f" (the first {len(shown)} of {len(failed)}: filter the matrix by \u201cfailed\u201d for all)"
        if (len(shown) < len(failed))
        else f" ({len(failed)})"
    )
    yield f"<h2>Failures{_e(more)}</h2>"
    yield (
        '<table class="details"><thead><tr><th>test</th><th>leg</th><th>precision</th>'
        "<th>result</th><th>reason</th></tr></thead><tbody>"
    )
    for c in shown:
        yield (
            f"<tr><td><code>{_e(c.nodeid)}</code></td><td>{_e(c.leg)}</td><td>{_e(c.column)}</td>"
            f'<td class="{c.css}">{_e(c.text)}</td><td class="reason">{_e(c.reason or "")}</td></tr>'
        )
    yield "</tbody></table>"


def _legs(matrix: Matrix) -> Iterator[str]:
    yield "<h2>Legs</h2>"
    yield '<div class="legs">'
    for run in matrix.legs:
        env = run.environment
        yield f'<section class="legcard" data-leg="{_e(run.label)}"><h3>{_e(run.label)}</h3><dl>'
        rows = [
            ("device", run.device()),
            ("torch", env.get("torch") or "not installed"),
            ("python", env.get("python", "?")),
            ("platform", env.get("platform", "?")),
            ("report", run.source),
        ]
        if run.probe_error:
            rows.append(("probe", f"failed: {run.probe_error}"))
        summary = run.summary
        if summary:
            counted = ("total", *OUTCOMES, "downgraded")
            rows.append(("tests", ", ".join(f"{summary[k]} {k}" for k in counted if summary.get(k))))
        for key, value in rows:
            yield f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>"
        yield "</dl>"
        support = run.support()
        if support:
            yield '<div class="chips">'
            for name, state in support:
                css = SUPPORT_CLASS.get(state, "skipped")
                yield f'<span class="chip {css}">{_e(name)} {_e(state)}</span>'
            yield "</div>"
        yield "</section>"
    yield "</div>"


def _matrix(matrix: Matrix) -> Iterator[str]:
    columns = matrix.columns()
    yield "<h2>Matrix</h2>"
    yield '<div class="filters" id="filters">'
    yield '<input id="q" type="search" placeholder="filter by test or file name" aria-label="filter by text">'
    yield '<select id="outcome" aria-label="outcome"><option value="">any outcome</option>'
    for key, label in LEGEND:
        yield f'<option value="{_e(key)}">{_e(label.split(" (", 1)[0])}</option>'
    yield '</select><select id="leg" aria-label="leg"><option value="">every leg</option>'
    for index, leg in enumerate(matrix.legs):
        yield f'<option value="{index}">{_e(leg.label)}</option>'
    yield "</select>"
    yield '<label><input id="passing" type="checkbox"> show the rows that passed on every leg</label>'
    yield '<span id="shown" class="shown"></span></div>'
    yield '<ul class="legend">'
    for key, label in LEGEND:
        yield f'<li><span class="swatch {key}"></span>{_e(label)}</li>'
    yield '<li><span class="swatch empty"></span>\u2014 not run on that leg</li>'
    yield "</ul>"
    yield "<noscript><p>The matrix below needs JavaScript; the summary and the failures above do not.</p></noscript>"
    yield f'<table class="matrix" id="matrix" data-columns="{len(columns)}"><thead></thead><tbody></tbody></table>'
    yield '<p><button id="more" type="button" hidden>show more rows</button></p>'
    yield f'<script type="application/json" id="matrix-data">{_json_for_script(_data(matrix))}</script>'
    yield f"<script>{_script()}</script>"


def render_html_chunks(matrix: Matrix, title: str = "dtypegate matrix") -> Iterator[str]:
    """The page, piece by piece."""
    yield "\n".join(
        [
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
            f'<p class="counts">{_e(counts_line(matrix))}</p>',
            "",
        ]
    )
    if not matrix.columns():
        yield f"<p>{_e(NOTHING)}</p>\n"
    else:
        for part in (_summary(matrix), _failures(matrix), _matrix(matrix)):
            yield "\n".join(part) + "\n"
    yield "\n".join(_legs(matrix)) + "\n"
    yield "</body>\n</html>\n"


def render_html(matrix: Matrix, title: str = "dtypegate matrix") -> str:
    """The page (see the module's docstring for what it shows, in which order)."""
    return "".join(render_html_chunks(matrix, title))
