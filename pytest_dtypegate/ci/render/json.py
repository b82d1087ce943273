"""The matrix as a ``dtypegate.matrix/2`` document (``schemas/matrix.schema.json``): for machines, and the baseline.

Compact at scale: each cell is one line, an array in :data:`~pytest_dtypegate.ci.model.CELL_FIELDS`
order with the row, the leg and the reason as indexes.  Written in chunks, so
400,000 cells never become 400,000 dicts.  :func:`pytest_dtypegate.ci.reading.matrix_from_json`
reads it back (and the earlier ``dtypegate.matrix/1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..model import CELL_FIELDS, MATRIX_SCHEMA, Matrix

__all__ = ["matrix_to_json", "render_json", "render_json_chunks"]

_CHUNK = 2000


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def render_json_chunks(matrix: Matrix) -> Iterator[str]:
    """The document, piece by piece: legs, columns, tests, then the cells a line each, then the reasons."""
    tests: dict[str, int] = {}
    for test in matrix.tests():
        tests.setdefault(test, len(tests))
    legs = {leg.label: index for index, leg in enumerate(matrix.legs)}
    reasons: dict[str, int] = {}
    yield '{"schema":' + _dump(MATRIX_SCHEMA) + ',\n"legs":[\n'
    yield ",\n".join(_dump(leg.to_json()) for leg in matrix.legs)
    yield '\n],\n"columns":' + _dump([{"leg": leg, "precision": col} for leg, col in matrix.columns()])
    yield ',\n"tests":[\n' + ",\n".join(_dump(test) for test in tests) + "\n]"
    yield ',\n"fields":' + _dump(list(CELL_FIELDS))
    yield ',\n"cells":['
    cells = matrix.cells
    for start in range(0, len(cells), _CHUNK):
        rows = []
        for cell in cells[start : start + _CHUNK]:
            nodeid = None if cell.nodeid == f"{cell.test}[{cell.column}]" else cell.nodeid
            reason = None if cell.reason is None else reasons.setdefault(cell.reason, len(reasons))
            rows.append(_dump([tests[cell.test], legs[cell.leg], cell.column, nodeid, *cell[4:11], reason]))
        yield ("\n" if start == 0 else ",\n") + ",\n".join(rows)
    yield '\n],\n"reasons":[\n' + ",\n".join(_dump(reason) for reason in reasons) + "\n]}\n"


def matrix_to_json(matrix: Matrix) -> dict[str, Any]:
    """The whole document as one value (for tests and small matrices; the command streams it)."""
    result: dict[str, Any] = json.loads(render_json(matrix))
    return result


def render_json(matrix: Matrix) -> str:
    return "".join(render_json_chunks(matrix))
