"""The matrix as one self-contained HTML page: inline CSS (``ci/assets/matrix.css``), no scripts, nothing fetched."""

from __future__ import annotations

import functools
import html
from collections import Counter
from importlib import resources

from ..model import Matrix
from ..runreport import OUTCOMES
from .legend import COLOURS, LEGEND, NOTHING, SUPPORT_CLASS, counts_line

__all__ = ["render_html"]


@functools.cache
def _css() -> str:
    """The page's style sheet: the shipped file, then one background rule per cell class."""
    sheet = resources.files("pytest_dtypegate.ci").joinpath("assets").joinpath("matrix.css").read_text(encoding="utf-8")
    rules = [f".{key} {{ background: {colour}; }}" for key, colour in COLOURS.items()]
    return "\n" + sheet + "\n".join(rules) + "\n"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(matrix: Matrix, title: str = "dtypegate matrix") -> str:
    """The table with a legend, one card per leg (device, support chips), and why each cell was not a pass."""
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
        f'<p class="counts">{_e(counts_line(matrix))}</p>',
        '<ul class="legend">',
    ]
    for key, label in LEGEND:
        out.append(f'<li><span class="swatch {key}"></span>{_e(label)}</li>')
    out.append('<li><span class="swatch empty"></span>\u2014 not run on that leg</li>')
    out.append("</ul>")
    if not columns:
        out.append(f"<p>{_e(NOTHING)}</p>")
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
            counted = ("total", *OUTCOMES, "downgraded")
            rows.append(("tests", ", ".join(f"{summary[k]} {k}" for k in counted if summary.get(k))))
        for key, value in rows:
            out.append(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>")
        out.append("</dl>")
        support = run.support()
        if support:
            out.append('<div class="chips">')
            for name, state in support:
                css = SUPPORT_CLASS.get(state, "skipped")
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
                f"<tr><td><code>{_e(c.nodeid)}</code></td><td>{_e(c.leg)}</td><td>{_e(c.column)}</td>"
                f'<td class="{c.css}">{_e(c.text)}</td><td class="reason">{_e(c.reason or "")}</td></tr>'
            )
        out.append("</tbody></table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
