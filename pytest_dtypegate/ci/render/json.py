"""The matrix as a ``dtypegate.matrix/1`` document (``schemas/matrix.schema.json``): for machines, and the baseline.

:func:`pytest_dtypegate.ci.reading.matrix_from_json` reads it back.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import MATRIX_SCHEMA, Matrix

__all__ = ["matrix_to_json", "render_json"]


def matrix_to_json(matrix: Matrix) -> dict[str, Any]:
    """The document: legs, columns, tests (rows) and a flat list of cells."""
    return {
        "schema": MATRIX_SCHEMA,
        "legs": [leg.to_json() for leg in matrix.legs],
        "columns": [{"leg": leg, "precision": col} for leg, col in matrix.columns()],
        "tests": matrix.tests(),
        "cells": [cell.to_json() for cell in matrix.cells],
    }


def render_json(matrix: Matrix) -> str:
    return json.dumps(matrix_to_json(matrix), indent=2, ensure_ascii=False) + "\n"
