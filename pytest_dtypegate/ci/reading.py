"""Reading what the CI side writes: run reports and matrix baselines, each checked against its schema.

Every problem is an :class:`~pytest_dtypegate.ci.files.InputError` whose message
is one line naming the file: missing, unreadable, empty, truncated, not JSON,
a foreign document (no ``schema`` key, or another one), or invalid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import schemas
from ..capabilities import Capabilities, CapabilitiesError
from .files import InputError, PathLike, read_json_file
from .model import MATRIX_SCHEMA, Cell, Leg, Matrix, build_matrix
from .runreport import SCHEMA

__all__ = ["load_baseline", "load_matrix", "load_report", "matrix_from_json", "parse_report"]

_REPORT = "dtypegate report"
_MATRIX = "dtypegate matrix"


def _check_kind(data: Any, name: str, expected: str, what: str) -> None:
    """Refuse a foreign JSON document: not an object, no ``schema`` key, another schema."""
    if not isinstance(data, dict):
        kinds: dict[type, str] = {list: "an array", str: "a string", type(None): "null"}
        kind = kinds.get(type(data), type(data).__name__)
        raise InputError(f"{name}: not a {what} (the top level is {kind}, not an object)")
    schema = data.get("schema")
    if schema is None:
        raise InputError(f"{name}: not a {what} (no 'schema' key; expected {expected!r})")
    if schema != expected:
        family = expected.rsplit("/", 1)[0] + "/"
        if isinstance(schema, str) and schema.startswith(family):
            raise InputError(
                f"{name}: {what} schema {schema!r} is not supported by this dtypegate (it reads {expected!r})"
            )
        raise InputError(f"{name}: not a {what} (schema {schema!r}, expected {expected!r})")


def _check_schema(data: Any, name: str, schema: str, what: str) -> None:
    problems = schemas.validate(data, schema)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(f"{name}: invalid {what}: {problems[0]}{more}")


def parse_report(data: Any, name: str = "<report>") -> dict[str, Any]:
    """Check an already-parsed run report; returns it, or raises :class:`InputError`."""
    _check_kind(data, name, SCHEMA, _REPORT)
    _check_schema(data, name, "report", _REPORT)
    if data.get("capabilities") is not None:
        try:
            Capabilities.from_json(data["capabilities"])  # the precision names a schema cannot know
        except CapabilitiesError as exc:
            raise InputError(f"{name}: invalid {_REPORT}: capabilities: {exc}") from None
    result: dict[str, Any] = data
    return result


def load_report(path: PathLike) -> dict[str, Any]:
    """Read and check one run report file; raises :class:`InputError`."""
    return parse_report(read_json_file(path, _REPORT), os.fspath(path))


def _expand(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.json"))
            if not found:
                raise InputError(f"{raw}: a directory with no *.json reports in it")
            out.extend(found)
        else:
            out.append(raw)
    resolved: dict[str, str] = {}
    for name in out:
        key = os.path.realpath(name)
        if key in resolved:
            also = f" (also as {resolved[key]})" if resolved[key] != name else ""
            raise InputError(f"{name} is given twice{also}")
        resolved[key] = name
    return out


def load_matrix(paths: Sequence[str]) -> Matrix:
    """Load run reports (files, or directories of ``*.json`` files) and merge them into a :class:`Matrix`."""
    return build_matrix([(name, load_report(name)) for name in _expand(paths)])


def matrix_from_json(data: Any, name: str = "<matrix>") -> Matrix:
    """Rebuild a :class:`Matrix` from ``dtypegate matrix --format json`` output; raises :class:`InputError`."""
    _check_kind(data, name, MATRIX_SCHEMA, _MATRIX)
    problems = schemas.validate(data, "matrix")
    if problems:
        raise InputError(f"{name}: invalid {_MATRIX}: {problems[0]}")
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
    optional = [key for key in Cell.__dataclass_fields__ if key not in ("test", "leg", "column", "nodeid", "outcome")]
    cells = [
        Cell(
            test=c["test"],
            leg=c["leg"],
            column=c["column"],
            nodeid=c["nodeid"],
            outcome=c["outcome"],
            **{key: c.get(key) for key in optional},
        )
        for c in data["cells"]
    ]
    return Matrix(legs, cells)


def load_baseline(path: str) -> Matrix:
    """A previous run's matrix: ``dtypegate matrix --format json`` output, or a single run report."""
    data = read_json_file(path, _MATRIX)
    if isinstance(data, Mapping) and data.get("schema") == SCHEMA:
        return build_matrix([(path, parse_report(data, path))])
    return matrix_from_json(data, path)
