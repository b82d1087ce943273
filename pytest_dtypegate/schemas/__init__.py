"""One JSON Schema per file format, and the one validator every reader checks files with.

The formats, each ``<name>.schema.json`` in this package:

- ``report``: one pytest run (``--dtypegate-report``), read by ``dtypegate matrix`` and ``dtypegate gate``;
- ``matrix``: ``dtypegate matrix --format json`` (``dtypegate.matrix/2``), read back by ``dtypegate gate --baseline``;
- ``matrix-1``: the earlier ``dtypegate.matrix/1``, still read as a baseline;
- ``profile``: a simulated platform (``--dtypegate-simulate``);
- ``capabilities``: one device's support table; the report and the profile refer to it.

:func:`validate` checks a document against one of them and returns every
:class:`Problem`, in document order (for an object: its missing keys, then
its keys in the order the document has them, an unknown one where it stands;
an ``anyOf`` tells what its closest branch says).  Readers phrase the
problems for their users; ``str(problem)`` is the plain form, for example
``tests[3].outcome: 'exploded' is not one of passed, failed, ...``.

The validator knows a subset of JSON Schema 2020-12: ``type``, ``enum``,
``const``, ``properties``, ``required``, ``additionalProperties``, ``items``,
``prefixItems``, ``minItems``, ``maxItems``, ``minimum``, ``maximum``, ``minLength``,
``pattern`` (a Python regular expression, searched), ``anyOf``, ``not`` and ``$ref`` (within a file,
``#/$defs/x``, or to another file here, ``capabilities.schema.json#/...``).  A
schema using any other keyword is refused when it is compiled, so a schema file
cannot promise a check that is not made.  Checks that a schema cannot express
(a precision name, an op name) stay in code next to each reader.

Each schema is compiled once into nested closures; a document is then walked
once, and a path is only spelled out for a problem.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional, Union

__all__ = ["NAMES", "Problem", "SchemaError", "Validator", "format_path", "load", "validate", "validator"]

#: The schemas shipped here, by name: ``<name>.schema.json``.
NAMES: tuple[str, ...] = ("capabilities", "matrix", "matrix-1", "profile", "report")
_SUFFIX = ".schema.json"

Key = Union[str, int]
# Where the walk is: None at the top, else (parent, key); spelled out only for a problem.
_Link = Optional[tuple[Any, Key]]
_Check = Callable[[Any, _Link, "list[Problem]"], None]

#: The keywords :class:`Validator` checks (others are refused, not ignored).
KEYWORDS = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems",
        "minItems", "maxItems", "minimum", "maximum", "minLength", "pattern", "anyOf", "not", "$ref",
    }
)  # fmt: skip
#: Keywords that only annotate; accepted anywhere.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples"})


class SchemaError(ValueError):
    """A schema the validator cannot apply: an unsupported keyword or a ``$ref`` it cannot resolve."""


def format_path(path: tuple[Key, ...]) -> str:
    """``tests[3].outcome``; ``the document`` for the top."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out or "the document"


@dataclass(frozen=True)
class Problem:
    """One way a document breaks its schema."""

    path: tuple[Key, ...]  # where: keys and list indexes from the top
    keyword: str  # the schema keyword that failed: type, required, enum ...
    value: Any  # the value at ``path`` (for required / additionalProperties: the object)
    detail: str  # what is wrong, in plain words: "missing 'leg'"
    expected: Any = None  # the keyword's argument: the type names, the allowed keys, the enum ...
    key: Optional[str] = None  # the missing or unexpected key (required / additionalProperties)

    @property
    def where(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


def _path(link: _Link) -> tuple[Key, ...]:
    keys: list[Key] = []
    while link is not None:
        link, key = link
        keys.append(key)
    return tuple(reversed(keys))


def _type_label(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# -- types -----------------------------------------------------------------------------------
_PYTHON_TYPES: dict[str, type] = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _type_test(names: tuple[str, ...]) -> Callable[[Any], bool]:
    simple = tuple(_PYTHON_TYPES[name] for name in names if name in _PYTHON_TYPES)
    tests = [test for name, test in (("number", _number), ("integer", _integer)) if name in names]
    if not tests:
        return lambda value: isinstance(value, simple)
    return lambda value: isinstance(value, simple) or any(test(value) for test in tests)


# -- the compiler ------------------------------------------------------------------------------
class _Compiler:
    """Turns schema nodes into checks, once per node; ``$ref`` targets are shared."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], _Check] = {}
        self._busy: set[tuple[str, str]] = set()

    def node(self, schema: Any, doc: str, root: Mapping[str, Any], pointer: str) -> _Check:
        where = f"{doc}#{pointer}"
        if isinstance(schema, bool):
            return _accept if schema else _refuse_all
        if not isinstance(schema, Mapping):
            raise SchemaError(f"schema at {where} is not an object")
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise SchemaError(f"schema at {where} uses unsupported keywords: {', '.join(sorted(unknown))}")
        for name in schema.get("$defs") or {}:
            escaped = name.replace("~", "~0").replace("/", "~1")
            self.ref(f"#{pointer}/$defs/{escaped}", doc, root, where)  # refused keywords show, unreferenced too
        checks: list[_Check] = []
        type_check: Optional[_Check] = None
        if "type" in schema:
            names = tuple(schema["type"]) if isinstance(schema["type"], list) else (schema["type"],)
            unknown_types = [name for name in names if name not in _PYTHON_TYPES and name not in ("number", "integer")]
            if unknown_types:
                raise SchemaError(f"schema at {where}: unknown type {unknown_types[0]!r}")
            type_check = _check_type(names)
        if "const" in schema:
            checks.append(_check_const(schema["const"]))
        if "enum" in schema:
            checks.append(_check_enum(list(schema["enum"])))
        if "minimum" in schema:
            checks.append(_check_minimum(schema["minimum"]))
        if "maximum" in schema:
            checks.append(_check_maximum(schema["maximum"]))
        if "minLength" in schema:
            checks.append(_check_min_length(int(schema["minLength"])))
        if "pattern" in schema:
            checks.append(_check_pattern(str(schema["pattern"])))
        if "minItems" in schema or "maxItems" in schema:
            checks.append(_check_items_count(schema.get("minItems"), schema.get("maxItems")))
        if "not" in schema:
            checks.append(_check_not(self.node(schema["not"], doc, root, f"{pointer}/not")))
        if "anyOf" in schema:
            branches = [self.node(sub, doc, root, f"{pointer}/anyOf/{i}") for i, sub in enumerate(schema["anyOf"])]
            checks.append(_check_any_of(branches))
        if any(key in schema for key in ("properties", "required", "additionalProperties")):
            properties = {
                key: self.node(sub, doc, root, f"{pointer}/properties/{key}")
                for key, sub in (schema.get("properties") or {}).items()
            }
            extra = schema.get("additionalProperties", True)
            extra_check = (
                self.node(extra, doc, root, f"{pointer}/additionalProperties") if isinstance(extra, Mapping) else None
            )
            checks.append(_check_object(properties, tuple(schema.get("required", ())), extra is False, extra_check))
        if "prefixItems" in schema:
            prefix = [
                self.node(sub, doc, root, f"{pointer}/prefixItems/{i}") for i, sub in enumerate(schema["prefixItems"])
            ]
            rest = self.node(schema.get("items", True), doc, root, f"{pointer}/items")
            checks.append(_check_prefix_items(prefix, rest))
        elif isinstance(schema.get("items"), (Mapping, bool)):
            checks.append(_check_items(self.node(schema["items"], doc, root, f"{pointer}/items")))
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"], doc, root, where))
        return _combine(type_check, checks)

    def ref(self, ref: Any, doc: str, root: Mapping[str, Any], where: str) -> _Check:
        if not isinstance(ref, str):
            raise SchemaError(f"schema at {where}: $ref must be a string, got {ref!r}")
        file, _, pointer = ref.partition("#")
        if file:
            if not file.endswith(_SUFFIX) or file[: -len(_SUFFIX)] not in NAMES:
                raise SchemaError(f"schema at {where}: cannot resolve $ref {ref!r}")
            doc, root = file, load(file[: -len(_SUFFIX)])
        key = (doc, pointer)
        if key in self._done:
            return self._done[key]
        if key in self._busy:  # a recursive schema: look the check up when it runs
            return lambda value, link, out: self._done[key](value, link, out)
        target: Any = root
        for part in pointer.split("/")[1:] if pointer else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SchemaError(f"schema at {where}: cannot resolve $ref {ref!r}")
            target = target[part]
        self._busy.add(key)
        try:
            check = self.node(target, doc, root, pointer)
        finally:
            self._busy.discard(key)
        self._done[key] = check
        return check


def _accept(value: Any, link: _Link, out: list[Problem]) -> None:
    return None


def _refuse_all(value: Any, link: _Link, out: list[Problem]) -> None:
    out.append(Problem(_path(link), "false", value, "no value is allowed here"))


def _combine(type_check: Optional[_Check], checks: list[_Check]) -> _Check:
    if type_check is None:
        if not checks:
            return _accept
        if len(checks) == 1:
            return checks[0]

        def run_all(value: Any, link: _Link, out: list[Problem]) -> None:
            for check in checks:
                check(value, link, out)

        return run_all
    if not checks:
        return type_check

    def typed(value: Any, link: _Link, out: list[Problem]) -> None:
        before = len(out)
        type_check(value, link, out)
        if len(out) == before:  # a value of the wrong type is not checked any further
            for check in checks:
                check(value, link, out)

    return typed


def _check_type(names: tuple[str, ...]) -> _Check:
    test = _type_test(names)
    expected = " or ".join(names)

    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if not test(value):
            detail = f"expected {expected}, got {_type_label(value)}"
            out.append(Problem(_path(link), "type", value, detail, names))

    return check


def _check_const(const: Any) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if value != const:
            out.append(Problem(_path(link), "const", value, f"must be {const!r}, got {value!r}", const))

    return check


def _check_enum(options: list[Any]) -> _Check:
    text = ", ".join(map(str, options))
    if all(isinstance(option, str) or option is None for option in options):
        strings = frozenset(options)

        def check_strings(value: Any, link: _Link, out: list[Problem]) -> None:
            if not ((value is None or isinstance(value, str)) and value in strings):
                out.append(Problem(_path(link), "enum", value, f"{value!r} is not one of {text}", options))

        return check_strings

    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if value not in options:
            out.append(Problem(_path(link), "enum", value, f"{value!r} is not one of {text}", options))

    return check


def _check_minimum(minimum: float) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if isinstance(value, (int, float)) and value < minimum:
            out.append(Problem(_path(link), "minimum", value, f"{value!r} is below the minimum {minimum}", minimum))

    return check


def _check_maximum(maximum: float) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > maximum:
            out.append(Problem(_path(link), "maximum", value, f"{value!r} is above the maximum {maximum}", maximum))

    return check


def _check_min_length(length: int) -> _Check:
    detail = "must not be empty" if length == 1 else f"shorter than {length}"

    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if isinstance(value, str) and len(value) < length:
            out.append(Problem(_path(link), "minLength", value, detail, length))

    return check


def _check_pattern(pattern: str) -> _Check:
    regex = re.compile(pattern)

    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if isinstance(value, str) and regex.search(value) is None:
            out.append(Problem(_path(link), "pattern", value, f"{value!r} does not match {pattern!r}", pattern))

    return check


def _check_items_count(least: Optional[int], most: Optional[int]) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if not isinstance(value, list):
            return
        if least is not None and len(value) < least:
            detail = "must not be empty" if least == 1 else f"has {len(value)} items, fewer than {least}"
            out.append(Problem(_path(link), "minItems", value, detail, least))
        if most is not None and len(value) > most:
            out.append(Problem(_path(link), "maxItems", value, f"has {len(value)} items, more than {most}", most))

    return check


def _check_not(sub: _Check) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        found: list[Problem] = []
        sub(value, link, found)
        if not found:
            out.append(Problem(_path(link), "not", value, f"{value!r} is not allowed here"))

    return check


def _check_any_of(branches: list[_Check]) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        failures: list[list[Problem]] = []
        for branch in branches:
            found: list[Problem] = []
            branch(value, link, found)
            if not found:
                return
            failures.append(found)
        here = _path(link)
        if all(len(f) == 1 and f[0].keyword == "type" and f[0].path == here for f in failures):
            names = tuple(dict.fromkeys(name for f in failures for name in f[0].expected))
            detail = f"expected {' or '.join(names)}, got {_type_label(value)}"
            out.append(Problem(here, "type", value, detail, names))
            return
        # the branch that got furthest into the value says best what is wrong; a wrong type says least
        best = max(failures, key=_reach)
        out.extend(best)

    return check


def _reach(problems: list[Problem]) -> tuple[int, bool]:
    return len(problems[0].path), problems[0].keyword != "type"


def _check_object(
    properties: dict[str, _Check], required: tuple[str, ...], closed: bool, extra: Optional[_Check]
) -> _Check:
    allowed = tuple(properties)
    needed = frozenset(required)

    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if not isinstance(value, dict):
            return
        if not needed <= value.keys():
            for key in required:
                if key not in value:
                    out.append(Problem(_path(link), "required", value, f"missing {key!r}", required, key))
        for key, item in value.items():
            sub = properties.get(key)
            if sub is not None:
                sub(item, (link, key), out)
            elif closed:
                out.append(Problem(_path(link), "additionalProperties", value, f"unexpected key {key!r}", allowed, key))
            elif extra is not None:
                extra(item, (link, key), out)

    return check


def _check_items(sub: _Check) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                sub(item, (link, index), out)

    return check


def _check_prefix_items(prefix: list[_Check], rest: _Check) -> _Check:
    def check(value: Any, link: _Link, out: list[Problem]) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                (prefix[index] if index < len(prefix) else rest)(item, (link, index), out)

    return check


# -- the public face -------------------------------------------------------------------------
class Validator:
    """A schema compiled for checking; raises :class:`SchemaError` for a schema it cannot apply."""

    def __init__(self, schema: Mapping[str, Any], name: str = "") -> None:
        self._check = _Compiler().node(schema, name, schema, "")

    def problems(self, document: Any) -> list[Problem]:
        """Every problem of ``document``, in document order; empty when it is valid."""
        out: list[Problem] = []
        self._check(document, None, out)
        return out


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of :data:`NAMES`) as parsed JSON; shared, so do not change it."""
    if name not in NAMES:
        raise ValueError(f"no schema named {name!r}; known: {', '.join(NAMES)}")
    text = resources.files(__name__).joinpath(name + _SUFFIX).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def validator(name: str) -> Validator:
    """The compiled validator of the schema ``name``, built on first use."""
    return Validator(load(name), name + _SUFFIX)


def validate(document: Any, name: str) -> list[Problem]:
    """Check ``document`` against the schema ``name``; returns its problems (empty: valid)."""
    return validator(name).problems(document)
