"""Patterns that stay linear: the checks every catalogue and general-reader regex passes when it is read.

Python's ``re`` backtracks, so a pattern such as ``(\\w+)+`` or a leading
``[\\w.]+`` takes quadratic (or worse) time on a long run of word characters.
:func:`check` refuses, when the data is read:

- an unbounded repeat (``+``, ``*``, ``{n,}``): write a bound such as ``{1,100}``;
- a variable-width repeat nested in a repeat that can match more than once;
- a pattern whose first element is a variable-width run (each start position
  would rescan the run): start with literal text, or guard the run with a
  lookbehind such as ``(?<![\\w.])``.

With bounded repeats and no nesting, the work per start position is bounded by
a constant, so a search is linear in the text's length.  :func:`keyword` gives
the literal text a pattern cannot match without (a cheap ``in`` test run before
the regex); :func:`tolerant` the pattern whose quotes match any quote
character, for the tolerant pass over normalized text (``normalize.canonical``).

Pure module: imports neither torch nor pytest.  It reads the parse tree of the
standard library's regex parser (``re._parser``; ``sre_parse`` before 3.11).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

__all__ = ["MAX_BOUND", "QUOTES", "RegexProblem", "check", "keyword", "keywords", "tolerant"]
_MIN_KEY = 3  # the shortest literal worth an ``in`` test

#: The largest bound a repeat may have.
MAX_BOUND = 4096
#: Quote characters: in a tolerant pattern any of them matches any other.
QUOTES = "'\"`\u2018\u2019\u201c\u201d\u00b4"

_parser: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
_const: Any = importlib.import_module("re._constants" if sys.version_info >= (3, 11) else "sre_constants")
_REPEATS = {str(_const.MAX_REPEAT), str(_const.MIN_REPEAT), "POSSESSIVE_REPEAT"}


class RegexProblem(ValueError):
    """A pattern that could take more than linear time, with the reason."""


def _op(item: Any) -> str:
    return str(item)


def _children(op: str, av: Any) -> list[Any]:
    """The sub-sequences of one parsed element."""
    if op in _REPEATS:
        return [av[2]]
    if op == "SUBPATTERN":
        return [av[-1]]
    if op == "BRANCH":
        return list(av[1])
    if op in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if op == "ATOMIC_GROUP":
        return [av]
    if op == "GROUPREF_EXISTS":
        return [x for x in av[1:] if x is not None]
    return []


def _walk(seq: Any, repeated: bool) -> None:
    for raw_op, av in seq:
        op = _op(raw_op)
        if op in _REPEATS:
            lo, hi = av[0], av[1]
            if hi == _const.MAXREPEAT:
                raise RegexProblem("has an unbounded repeat (+, * or {n,}); write a bound such as {1,100}")
            if hi > MAX_BOUND:
                raise RegexProblem(f"has a repeat bounded by {hi}; the largest bound allowed is {MAX_BOUND}")
            if repeated and lo != hi:
                raise RegexProblem("nests a variable-width repeat in a repeat (catastrophic backtracking)")
            _walk(av[2], repeated or hi > 1)
            continue
        for child in _children(op, av):
            _walk(child, repeated)


def _leading_run(seq: Any) -> bool:
    """Whether the first thing the sequence can match is a variable-width run."""
    for raw_op, av in seq:
        op = _op(raw_op)
        if op == "AT":
            continue
        if op in ("ASSERT", "ASSERT_NOT"):
            return False
        if op in ("SUBPATTERN", "ATOMIC_GROUP"):
            return _leading_run(av[-1] if op == "SUBPATTERN" else av)
        if op == "BRANCH":
            return any(_leading_run(b) for b in av[1])
        if op in _REPEATS:
            lo, hi = av[0], av[1]
            if hi > 1 and lo != hi:
                return True
            if _leading_run(av[2]):
                return True
            if lo == 0:
                continue
        return False
    return False


def _parse(text: str, flags: int = 0) -> Any:
    try:
        return _parser.parse(text, flags)
    except re.error as exc:
        raise RegexProblem(f"does not compile: {exc}") from None


def check(text: str, *, leading: bool = True) -> None:
    """Raise :class:`RegexProblem` unless ``text`` runs in linear time (see the module's rules).

    ``leading=False`` skips the leading-run rule (for a ``scan`` regex that only
    ever reads a bounded window).
    """
    tree = _parse(text)
    _walk(tree.data if hasattr(tree, "data") else tree, False)
    if leading and _leading_run(tree.data if hasattr(tree, "data") else tree):
        raise RegexProblem(
            "starts with a variable-width run, which rescans at every position; "
            "start it with literal text or guard the run with a lookbehind such as (?<![\\w.])"
        )


def _runs(seq: Any) -> list[str]:
    """The literal runs of a sequence, in order; a non-literal element ends a run."""
    runs: list[str] = []
    current: list[str] = []
    for raw_op, av in seq:
        op = _op(raw_op)
        if op == "LITERAL":
            current.append(chr(av))
            continue
        if op == "SUBPATTERN":
            inner = _runs(av[-1])
            if len(inner) == 1 and len(av[-1]) == sum(1 for x in av[-1] if _op(x[0]) == "LITERAL"):
                current.append(inner[0])  # a group of plain literals continues the run
                continue
            runs.append("".join(current))
            current = []
            runs.extend(inner)
            continue
        runs.append("".join(current))
        current = []
    runs.append("".join(current))
    return [r for r in runs if r]


def keyword(pattern: re.Pattern[str]) -> str | None:
    """The longest literal text (3+ characters) every match contains, lower-cased if the pattern ignores case."""
    tree = _parse(pattern.pattern, pattern.flags & ~re.UNICODE)
    runs = _runs(tree.data if hasattr(tree, "data") else tree)
    best = max(runs, key=len, default="")
    if len(best) < 3:
        return None
    return best.lower() if pattern.flags & re.IGNORECASE else best


def _required(seq: Any) -> frozenset[str] | None:
    """Literal texts of which every match of the sequence holds one (the best such set), or None: a literal run,
    one of the alternatives of a group every match passes through, or what a repeated part always holds."""
    found: list[frozenset[str]] = [frozenset([r]) for r in _runs(seq) if len(r) >= _MIN_KEY]
    for raw_op, av in seq:
        op = _op(raw_op)
        inner: frozenset[str] | None = None
        if op == "BRANCH":
            parts = [_required(branch) for branch in av[1]]
            if parts and all(part is not None for part in parts):
                inner = frozenset(k for part in parts if part is not None for k in part)
        elif op == "SUBPATTERN":
            inner = _required(av[-1])
        elif op in _REPEATS and av[0] >= 1:
            inner = _required(av[2])
        if inner:
            found.append(inner)
    return max(found, key=lambda keys: (min(len(k) for k in keys), -len(keys)), default=None)


def keywords(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Literal texts (3+ characters each) of which every match holds at least one, lower-cased if the pattern
    ignores case: a cheap ``in`` test before the regex runs (``\\bunsupported\\b|\\bnot implemented\\b`` holds
    "unsupported" or "not implemented"); None when no such set is known."""
    tree = _parse(pattern.pattern, pattern.flags & ~re.UNICODE)
    found = _required(tree.data if hasattr(tree, "data") else tree)
    if not found:
        return None
    return tuple(sorted(k.lower() if pattern.flags & re.IGNORECASE else k for k in found))


#: What a quote character of a pattern becomes in its tolerant twin: any quote character.
_ANY_QUOTE = "[" + "".join(re.escape(q) for q in QUOTES) + "]"


def tolerant(text: str) -> str:
    """``text`` (a regex) with each literal quote character matching any quote character (``'``, ``"``, a
    backtick, typographic quotes) or none: a paste turns quotes into others or loses them ("addmm_impl_cpu_ not
    implemented for Half").  A quote that opens the pattern stays required (any quote), so that the pattern
    still starts with literal text (see ``check``)."""

    def quote() -> str:
        return _ANY_QUOTE if not out else _ANY_QUOTE + "?"

    out: list[str] = []
    i = 0
    n = len(text)
    in_class = False
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            if not in_class and text[i + 1] in QUOTES:
                out.append(quote())
            else:
                out.append(text[i : i + 2])
            i += 2
            continue
        if in_class:
            out.append(ch)
            if ch == "]":
                in_class = False
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # a ']' right after '[' or '[^' is a literal member of the class
            if i < n and text[i] == "^":
                out.append("^")
                i += 1
            if i < n and text[i] == "]":
                out.append("]")
                i += 1
            continue
        out.append(quote() if ch in QUOTES else ch)
        i += 1
    return "".join(out)
