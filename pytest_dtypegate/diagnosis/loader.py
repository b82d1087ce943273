"""Reading and checking the error catalogue: the TOML files in ``catalogue/``.

``catalogue/index.toml`` describes the format: which files are read in which
order, the regex fragments patterns share, and the keys of an entry and of its
examples.  :func:`catalogue` reads the files once, on first use (classifying a
failure), and checks every entry: known keys only, a category the classifier
knows, patterns that compile, canonical precision names, summary fields that
exist, at least one real example, and regexes that run in linear time
(``regexcheck``: bounded repeats, no nested repeats, no leading variable-width
run).  A malformed catalogue raises :class:`CatalogueError` naming the file and
the entry.

Each entry also gets its tolerant twin: the pattern matching case-insensitively,
each quote character matching any quote character, for the pass over
normalized text (prefixes and frames gone, ``Probability`` at the start of a
title, typographic quotes); and the literal keyword each form cannot match
without, tested with ``in`` before the regex runs.

Pure module: imports neither torch nor pytest; the TOML reader is imported
when the catalogue is first read.
"""

from __future__ import annotations

import functools
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import precisions as _p
from ..facts import Category
from .regexcheck import RegexProblem, check, keyword, tolerant

__all__ = [
    "CATALOGUE_DIR",
    "CATEGORIES",
    "CatalogueError",
    "Entry",
    "Example",
    "catalogue",
    "read_catalogue",
    "read_toml",
]

#: Where the catalogue's data files are installed (package data).
CATALOGUE_DIR = Path(__file__).with_name("catalogue")
#: The file that lists the others, in the order classify() tries them.
INDEX = "index.toml"
#: The categories an error text can have (``undeclared`` is the audit's finding, never an error text's).
CATEGORIES: tuple[Category, ...] = (Category.UNSUPPORTED, Category.MISMATCH, Category.NONFINITE)

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FRAGMENT_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
#: Summary and advice fields the classifier fills in besides the pattern's groups.
_FIELDS = frozenset({"precision", "op", "written", "operands"})

_REQUIRED = ("id", "category", "pattern", "summary", "advice", "source")
_OPTIONAL = ("roles", "scan", "accept", "need_precision", "precision", "op")
_EXAMPLE_REQUIRED = ("text", "seen")
_EXAMPLE_OPTIONAL = ("precision", "other", "op")
#: What a file's [defaults] may give: everything but what makes an entry itself.
_DEFAULTABLE = tuple(k for k in _REQUIRED + _OPTIONAL if k not in ("id", "pattern"))


class CatalogueError(ValueError):
    """A catalogue file that cannot be read or holds a malformed entry."""


@dataclass(frozen=True)
class Example:
    """One real error text an entry reads, and what :func:`~pytest_dtypegate.diagnosis.classify` says of it."""

    text: str
    seen: str  # where the text was seen or comes from
    precision: str | None = None
    other: str | None = None
    op: str | None = None


@dataclass(frozen=True)
class Entry:
    """One known error text.

    ``roles`` name the pattern's groups that hold type names: for a mismatch,
    the operands in order (a group ``<role>_name``, when present, gives the
    operand's label as the message writes it); for the other categories, the
    type whose kernel is missing.  ``scan`` finds more type names after the
    match (the arguments of a cuBLAS call).  ``accept`` limits the precisions
    an entry is about: a message naming only others is not a dtype error.
    ``need_precision``: without a readable precision the text is not one.
    ``precision`` is the fixed precision for a text that names none.
    """

    id: str
    pattern: re.Pattern[str]
    category: Category
    source: str
    summary: str
    advice: str
    roles: tuple[str, ...] = ()
    precision: str | None = None
    scan: re.Pattern[str] | None = None
    accept: frozenset[str] | None = None
    need_precision: bool = False
    op: str | None = None
    examples: tuple[Example, ...] = ()
    file: str = ""  # the data file the entry comes from
    keyword: str | None = None  # literal text every match of the pattern contains
    tolerant: re.Pattern[str] | None = None  # the pattern without quotes, ignoring case (normalized text)
    tolerant_keyword: str | None = None  # lower-cased literal text every tolerant match contains


@functools.cache
def catalogue() -> tuple[Entry, ...]:
    """The catalogue, in the order classify() tries it: read and checked on first use, then kept."""
    return read_catalogue(CATALOGUE_DIR)


def read_catalogue(directory: Path) -> tuple[Entry, ...]:
    """Read and check the catalogue in ``directory`` (its ``index.toml`` and the files it lists)."""
    index_path = directory / INDEX
    index = read_toml(index_path)
    _known_keys(str(index_path), index, (), ("files", "fragments"))
    files = index.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise CatalogueError(f"{index_path}: 'files' must be a non-empty list of file names")
    listed = set(files)
    if len(listed) != len(files):
        twice = sorted({f for f in files if files.count(f) > 1})
        raise CatalogueError(f"{index_path}: 'files' lists {', '.join(twice)} more than once")
    for name in sorted(p.name for p in directory.glob("*.toml")):
        if name != INDEX and name not in listed:
            raise CatalogueError(
                f"{directory / name}: not listed in {INDEX}'s files; add it where classify() should try its entries"
            )
    fragments = _fragments(str(index_path), index.get("fragments", {}))
    entries: list[Entry] = []
    owner: dict[str, str] = {}
    for name in files:
        path = directory / name
        if not path.is_file():
            raise CatalogueError(f"{index_path}: 'files' lists {name!r}, which is not in {directory}")
        for entry in _read_file(path, fragments):
            if entry.id in owner:
                raise CatalogueError(f"{path}: entry {entry.id!r}: the id is already taken in {owner[entry.id]}")
            owner[entry.id] = str(path)
            entries.append(entry)
    return tuple(entries)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML data file of the diagnosis package, or :class:`CatalogueError` naming the file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from None


def _known_keys(where: str, table: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    known = required + optional
    unknown = sorted(k for k in table if k not in known)
    if unknown:
        raise CatalogueError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(known)}")
    for key in required:
        if key not in table:
            raise CatalogueError(f"{where}: {key!r} is missing")


def _fragments(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise CatalogueError(f"{where}: 'fragments' must be a table of NAME = regex")
    out: dict[str, str] = {}
    for name, text in value.items():
        if not _FRAGMENT_NAME.fullmatch(name):
            raise CatalogueError(f"{where}: fragment {name!r}: a fragment's name is upper case, e.g. TYPENAME")
        out[name] = _regex_text(f"{where}: fragment {name!r}", "the fragment", text)
        _compile(f"{where}: fragment {name!r}", "the fragment", out[name], leading=False)
    return out


def _read_file(path: Path, fragments: Mapping[str, str]) -> list[Entry]:
    data = read_toml(path)
    _known_keys(str(path), data, (), ("defaults", "entry"))
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise CatalogueError(f"{path}: 'defaults' must be a table")
    _known_keys(f"{path}: [defaults]", defaults, (), _DEFAULTABLE)
    items = data.get("entry")
    if not isinstance(items, list) or not items:
        raise CatalogueError(f"{path}: no [[entry]] tables; a catalogue file holds at least one entry")
    entries = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise CatalogueError(f"{path}: entry #{n}: an entry is a table ([[entry]])")
        ident = item.get("id")
        where = f"{path}: entry {ident!r}" if isinstance(ident, str) and ident else f"{path}: entry #{n}"
        entries.append(_entry(where, {**defaults, **item}, fragments, path.name))
    return entries


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


def _entry(where: str, item: dict[str, Any], fragments: Mapping[str, str], file: str) -> Entry:
    _known_keys(where, item, _REQUIRED, (*_OPTIONAL, "example"))  # examples: checked by _examples
    ident = _text(where, "id", item["id"])
    if not _ID.fullmatch(ident):
        raise CatalogueError(f"{where}: the id must be kebab-case (lower-case words joined by '-')")
    category = _category(where, item["category"])
    pattern = _compile(
        where, "pattern", _expand(where, "pattern", _regex_text(where, "pattern", item["pattern"]), fragments)
    )
    loose = _compile(where, "pattern (tolerant twin)", tolerant(pattern.pattern), flags=re.IGNORECASE)
    scan = None
    if "scan" in item:
        scan_text = _expand(where, "scan", _regex_text(where, "scan", item["scan"]), fragments)
        scan = _compile(where, "scan", scan_text, leading=False)
        if scan.groups < 1:
            raise CatalogueError(f"{where}: 'scan' has no group; its first non-empty group is the type name it finds")
    roles = _names(where, "roles", item.get("roles", []))
    for role in roles:
        if role not in pattern.groupindex:
            raise CatalogueError(f"{where}: role {role!r} is not a group of the pattern")
    summary = _text(where, "summary", item["summary"])
    advice = _text(where, "advice", item["advice"])
    for key, text in (("summary", summary), ("advice", advice)):
        _check_fields(where, key, text, pattern)
    return Entry(
        id=ident,
        pattern=pattern,
        category=category,
        source=_text(where, "source", item["source"]),
        summary=summary,
        advice=advice,
        roles=roles,
        precision=_precision(where, "precision", item["precision"]) if "precision" in item else None,
        scan=scan,
        accept=_accept(where, item["accept"]) if "accept" in item else None,
        need_precision=_flag(where, "need_precision", item.get("need_precision", False)),
        op=_text(where, "op", item["op"]) if "op" in item else None,
        examples=_examples(where, item.get("example")),
        file=file,
        keyword=keyword(pattern),
        tolerant=loose,
        tolerant_keyword=keyword(loose),
    )


def _examples(where: str, value: Any) -> tuple[Example, ...]:
    if not isinstance(value, list) or not value:
        raise CatalogueError(f"{where}: no [[entry.example]]; give at least one real error text the entry reads")
    out = []
    for n, item in enumerate(value, 1):
        at = f"{where}, example {n}"
        if not isinstance(item, dict):
            raise CatalogueError(f"{at}: an example is a table ([[entry.example]])")
        _known_keys(at, item, _EXAMPLE_REQUIRED, _EXAMPLE_OPTIONAL)
        out.append(
            Example(
                text=_text(at, "text", item["text"]),
                seen=_text(at, "seen", item["seen"]),
                precision=_precision(at, "precision", item["precision"]) if "precision" in item else None,
                other=_precision(at, "other", item["other"]) if "other" in item else None,
                op=_text(at, "op", item["op"]) if "op" in item else None,
            )
        )
    return tuple(out)


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: {key!r} must be a non-empty string")
    return value


def _flag(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CatalogueError(f"{where}: {key!r} must be true or false")
    return value


def _names(where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogueError(f"{where}: {key!r} must be a list of names")
    return tuple(value)


def _category(where: str, value: Any) -> Category:
    valid = ", ".join(c.value for c in CATEGORIES)
    for category in CATEGORIES:
        if value == category.value:
            return category
    raise CatalogueError(f"{where}: category {value!r} is not one of {valid}")


def _precision(where: str, key: str, value: Any) -> str:
    name = _text(where, key, value)
    try:
        canonical = _p.resolve(name, allow_auto=False)
    except _p.UnknownPrecisionError as exc:
        raise CatalogueError(f"{where}: {key!r}: {exc}") from None
    if canonical != name:
        raise CatalogueError(f"{where}: {key!r} is {name!r}; write the canonical name {canonical!r}")
    return canonical


def _accept(where: str, value: Any) -> frozenset[str]:
    if value == "low":
        return _p.LOW & frozenset(_p.STORAGE)
    if not isinstance(value, list) or not value:
        raise CatalogueError(f"{where}: 'accept' must be a list of precision names, or \"low\"")
    return frozenset(_precision(where, "accept", v) for v in value)


def _regex_text(where: str, key: str, value: Any) -> str:
    """A regex as the data writes it: one string, or a list of strings to join."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = "".join(value)
    if not isinstance(value, str) or not value:
        raise CatalogueError(f"{where}: {key!r} must be a regex (a string, or a list of strings to join)")
    return value


def _expand(where: str, key: str, text: str, fragments: Mapping[str, str]) -> str:
    def fragment(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in fragments:
            known = ", ".join(sorted(fragments)) or "none"
            raise CatalogueError(f"{where}: {key!r} uses {{{name}}}, which is no fragment (known: {known})")
        return fragments[name]

    return _PLACEHOLDER.sub(fragment, text)


def _compile(where: str, key: str, text: str, *, leading: bool = True, flags: int = 0) -> re.Pattern[str]:
    try:
        compiled = re.compile(text, flags)
    except re.error as exc:
        raise CatalogueError(f"{where}: {key} does not compile: {exc}") from None
    try:
        check(text, leading=leading)
    except RegexProblem as exc:
        raise CatalogueError(f"{where}: {key} {exc}") from None
    return compiled


def _check_fields(where: str, key: str, text: str, pattern: re.Pattern[str]) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise CatalogueError(f"{where}: {key!r} is not a valid format string: {exc}") from None
    for _literal, name, _spec, _conversion in parsed:
        if name is not None and name not in _FIELDS and name not in pattern.groupindex:
            fields = ", ".join(sorted(_FIELDS))
            raise CatalogueError(
                f"{where}: {key!r} names {{{name}}}, which is neither a group of the pattern nor one of {fields}"
            )
