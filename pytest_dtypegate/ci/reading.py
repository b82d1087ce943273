"""Reading what the CI side writes: run reports and matrix baselines, each checked against its schema.

Every problem is an :class:`~pytest_dtypegate.ci.files.InputError` whose message
is one line naming the file and the place in it: missing, unreadable, too
large, empty, truncated, not JSON, a value a strict reader refuses (``NaN``,
a huge integer, nesting too deep), a foreign document (no ``schema`` key, or
another one), or invalid.

A file is decoded and checked in one pass where ``msgspec`` is installed
(:mod:`pytest_dtypegate.schemas.fast`); without it, or whenever that pass
refuses a file, the standard library reads it and the full validator decides
and words the problem, so both ways accept exactly the same files.  Reports may
be gzip-compressed (``.json.gz``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from .. import schemas
from ..capabilities import Capabilities, CapabilitiesError
from ..schemas import fast
from ..text import printable
from .files import MAX_DEPTH, MAX_INT_DIGITS, InputError, PathLike, collector_paused, decode_json, read_bytes
from .model import CELL_FIELDS, MATRIX_SCHEMA, MATRIX_SCHEMA_1, Cell, Leg, Matrix, MatrixBuilder
from .runreport import SCHEMA

__all__ = ["REPORT_SUFFIXES", "iter_reports", "load_baseline", "load_matrix", "load_report", "matrix_from_json",
           "parse_report"]  # fmt: skip

_REPORT = "dtypegate report"
_MATRIX = "dtypegate matrix"
#: The file names a directory of reports contributes.
REPORT_SUFFIXES = (".json", ".json.gz")
_INT_LIMIT = 10**MAX_INT_DIGITS


def _check_kind(data: Any, name: str, expected: Sequence[str], what: str) -> str:
    """Refuse a foreign JSON document: not an object, no ``schema`` key, another schema; returns the schema."""
    if not isinstance(data, dict):
        kinds: dict[type, str] = {list: "an array", str: "a string", type(None): "null"}
        kind = kinds.get(type(data), type(data).__name__)
        raise InputError(f"{name}: not a {what} (the top level is {kind}, not an object)")
    schema = data.get("schema")
    if schema is None:
        raise InputError(f"{name}: not a {what} (no 'schema' key; expected {expected[0]!r})")
    if schema not in expected:
        family = expected[0].rsplit("/", 1)[0] + "/"
        reads = " or ".join(repr(e) for e in expected)
        if isinstance(schema, str) and schema.startswith(family):
            raise InputError(
                f"{name}: {what} schema {printable(repr(schema))} is not supported by this dtypegate (it reads {reads})"
            )
        raise InputError(f"{name}: not a {what} (schema {printable(repr(schema))}, expected {expected[0]!r})")
    result: str = schema
    return result


def _free_form(value: Any, name: str, where: str, what: str) -> None:
    """Free-form values (``extra``, ``settings``, ``environment``): bounded depth, bounded integers."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InputError(f"{name}: invalid {what}: {where}: nested more than {MAX_DEPTH} levels deep")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
        elif isinstance(item, int) and not isinstance(item, bool) and not -_INT_LIMIT < item < _INT_LIMIT:
            raise InputError(f"{name}: invalid {what}: {where}: an integer of more than {MAX_INT_DIGITS} digits")


def _check_schema(data: Any, name: str, schema: str, what: str) -> None:
    problems = schemas.validate(data, schema)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(f"{name}: invalid {what}: {printable(problems[0])}{more}")


def _check_report_parts(data: Mapping[str, Any], name: str) -> None:
    for key in ("environment", "settings"):
        _free_form(data.get(key), name, key, _REPORT)
    caps = data.get("capabilities")
    if caps is not None:
        _free_form(caps, name, "capabilities", _REPORT)
        try:
            Capabilities.from_json(caps)  # the precision names a schema cannot know
        except CapabilitiesError as exc:
            raise InputError(f"{name}: invalid {_REPORT}: capabilities: {printable(exc)}") from None


def parse_report(data: Any, name: str = "<report>") -> dict[str, Any]:
    """Check an already-parsed run report; returns it, or raises :class:`InputError`."""
    _check_kind(data, name, (SCHEMA,), _REPORT)
    _check_schema(data, name, "report", _REPORT)
    _check_report_parts(data, name)
    result: dict[str, Any] = data
    return result


def _fast(raw: bytes, schema: str, hot: str) -> Optional[dict[str, Any]]:
    """The document decoded with its ``hot`` part typed, or None: then the standard library decides."""
    try:
        decoder = fast.decoder(schema, hot)
    except fast.Unsupported:
        return None
    try:
        document = decoder.decode(raw)
    except Exception:
        return None
    return {key: getattr(document, key) for key in document.__struct_fields__ if not _unset(getattr(document, key))}


def _unset(value: Any) -> bool:
    return type(value).__name__ == "UnsetType"


def _fast_report(raw: bytes, name: str) -> Optional[dict[str, Any]]:
    if raw[:2] == b"\xef\xbb\xbf":
        return None
    document = _fast(raw, "report", "tests")
    if document is None or document.get("schema") != SCHEMA or "tests" not in document:
        return None
    rest = {**document, "tests": []}
    if schemas.validate(rest, "report"):
        return None
    try:
        _check_report_parts(rest, name)
    except InputError:
        return None  # the standard reader words it, the same way whichever reader is installed
    return document


def load_report(path: PathLike) -> dict[str, Any]:
    """Read and check one run report file (plain or gzip), as plain JSON values; raises :class:`InputError`."""
    name = printable(os.fspath(path))
    return parse_report(decode_json(read_bytes(path, _REPORT), name, _REPORT), name)


def _load_for_matrix(path: PathLike) -> dict[str, Any]:
    """One report for :class:`.model.MatrixBuilder`: its ``tests`` are the fast reader's typed records
    (the same keys, as attributes) when msgspec took the file, else dicts."""
    name = printable(os.fspath(path))
    raw = read_bytes(path, _REPORT)
    document = _fast_report(raw, name)
    if document is not None:
        return document
    return parse_report(decode_json(raw, name, _REPORT), name)


def _expand(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.name.endswith(REPORT_SUFFIXES) and p.is_file())
            if not found:
                raise InputError(f"{printable(raw)}: a directory with no *.json or *.json.gz reports in it")
            out.extend(found)
        else:
            out.append(raw)
    resolved: dict[str, str] = {}
    for name in out:
        key = os.path.realpath(name)
        if key in resolved:
            also = f" (also as {printable(resolved[key])})" if resolved[key] != name else ""
            raise InputError(f"{printable(name)} is given twice{also}")
        resolved[key] = name
    return out


def iter_reports(paths: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file, checked report)`` for each report the paths name (directories expanded), one at a time."""
    for name in _expand(paths):
        yield printable(name), _load_for_matrix(name)


def load_matrix(paths: Sequence[str]) -> Matrix:
    """Load run reports (files, or directories of ``*.json``/``*.json.gz``) and merge them into a :class:`Matrix`.

    One report is in memory at a time; its cells are kept, the document is dropped.
    """
    builder = MatrixBuilder()
    with collector_paused():
        for name, document in iter_reports(paths):
            builder.add_report(name, document)
    return builder.matrix()


def _legs(data: Mapping[str, Any]) -> list[Leg]:
    return [
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


def _matrix_2(data: Mapping[str, Any], name: str) -> Matrix:
    legs = _legs(data)
    builder = MatrixBuilder()
    for leg in legs:
        builder.add_leg(leg)
    tests = [builder.share(test) for test in data["tests"]]
    reasons = [builder.share(reason) for reason in data["reasons"]]
    labels = [builder.share(leg.label) for leg in legs]
    share = builder.share
    cells = builder.cells
    for index, item in enumerate(data["cells"]):
        row, leg, column, nodeid, outcome, requested, precision, support, downgraded, category, kind, why = item
        if row >= len(tests) or leg >= len(labels) or (why is not None and why >= len(reasons)):
            what = "test" if row >= len(tests) else "leg" if leg >= len(labels) else "reason"
            raise InputError(f"{name}: invalid {_MATRIX}: cells[{index}]: no {what} of that index")
        test = tests[row]
        assert test is not None
        cells.append(
            Cell(
                test,
                labels[leg] or "",
                share(column) or column,
                share(nodeid) or f"{test}[{column}]",
                share(outcome) or outcome,
                share(requested),
                share(precision),
                share(support),
                share(downgraded),
                share(category),
                share(kind),
                reasons[why] if why is not None else None,
            )
        )
    return builder.matrix()


def _matrix_1(data: Mapping[str, Any]) -> Matrix:
    cells = []
    for c in data["cells"]:
        if isinstance(c, Mapping):
            values = [c.get(key) for key in CELL_FIELDS]
        else:  # the fast reader's typed record: an absent optional key is UNSET
            values = [getattr(c, key, None) for key in CELL_FIELDS]
            values = [None if _unset(value) else value for value in values]
        cells.append(Cell._make(values))
    return Matrix(_legs(data), cells)


def _fast_matrix(raw: bytes, name: str) -> Optional[Matrix]:
    if raw[:2] == b"\xef\xbb\xbf":
        return None
    for schema, expected in (("matrix", MATRIX_SCHEMA), ("matrix-1", MATRIX_SCHEMA_1)):
        document = _fast(raw, schema, "cells")
        if document is None:
            continue
        if document.get("schema") != expected or "cells" not in document:
            continue
        if schemas.validate({**document, "cells": []}, schema):
            return None
        try:
            return _checked_matrix(document, name, expected)
        except InputError:
            return None
    return None


def matrix_from_json(data: Any, name: str = "<matrix>") -> Matrix:
    """Rebuild a :class:`Matrix` from ``dtypegate matrix --format json`` output (/2, or the earlier /1).

    Raises :class:`InputError`.
    """
    schema = _check_kind(data, name, (MATRIX_SCHEMA, MATRIX_SCHEMA_1), _MATRIX)
    validated = "matrix" if schema == MATRIX_SCHEMA else "matrix-1"
    problems = schemas.validate(data, validated)
    if problems:
        raise InputError(f"{name}: invalid {_MATRIX}: {printable(problems[0])}")
    return _checked_matrix(data, name, schema)


def _checked_matrix(data: Mapping[str, Any], name: str, schema: str) -> Matrix:
    for index, leg in enumerate(data["legs"]):
        for key in ("capabilities", "environment", "summary"):
            _free_form(leg.get(key), name, f"legs[{index}].{key}", _MATRIX)
    matrix = _matrix_2(data, name) if schema == MATRIX_SCHEMA else _matrix_1(data)
    return matrix


def load_baseline(path: str) -> Matrix:
    """A previous run's matrix: ``dtypegate matrix --format json`` output (plain or gzip), or a single run report."""
    with collector_paused():
        return _load_baseline(path)


def _load_baseline(path: str) -> Matrix:
    name = printable(path)
    raw = read_bytes(path, _MATRIX)
    matrix = _fast_matrix(raw, name)
    if matrix is not None:
        return matrix
    report = _fast_report(raw, name)
    if report is not None:
        builder = MatrixBuilder()
        builder.add_report(name, report)
        return builder.matrix()
    data = decode_json(raw, name, _MATRIX)
    if isinstance(data, Mapping) and data.get("schema") == SCHEMA:
        builder = MatrixBuilder()
        builder.add_report(name, parse_report(data, name))
        return builder.matrix()
    return matrix_from_json(data, name)
