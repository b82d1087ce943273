"""Attribution: where an intercepted op was called from, and which call sites strict mode ignores.

The call site of an op is the first Python frame outside torch (and outside this
plugin): for ``model(x)`` it is the line of the model's code that called
``F.linear``; for ``torch.linalg.multi_dot([a, b, c])``, whose GEMMs torch runs
from C++, it is the line that called ``multi_dot``; in the backward pass it is
the line that called ``loss.backward()``.

A library that checks a precision once and caches the answer (transformers'
``is_torch_bf16_available_on_device`` runs ``x @ x`` in bf16 the first time it
is asked) runs that GEMM inside whichever test asks first.  It is not that
test's doing, so strict mode ignores call sites that match an ignore pattern:
the built-in :data:`BUILTIN_IGNORES` plus ``dtypegate_strict_ignore``.  The
audit still records them, marked with the pattern that matched.

Patterns:

- ``module:function``: the frame's module (``__name__`` of its globals) and its
  function (qualified name where Python keeps one, e.g. ``Class.method``, or the
  plain name) each match with :func:`fnmatch.fnmatchcase`;
  ``transformers.utils.import_utils:is_torch_*_available_on_device``;
- a path pattern (it has a ``/`` or ends in ``.py``): the frame's file,
  ``/``-separated, matches with :func:`fnmatch.fnmatchcase`, where ``*`` also
  crosses ``/``: ``*/mylib/capabilities.py``, ``*/vendored/*``;
- a bare module pattern: every function of the modules it matches.

Pure module: no torch, no pytest.  Frames are read with :func:`sys._getframe`.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, Optional

__all__ = [
    "BUILTIN_IGNORES",
    "Ignores",
    "PatternError",
    "Site",
    "caller",
    "check_pattern",
    "display_path",
    "parse_ignores",
    "skip_dirs",
]

#: Call sites strict mode never blames, each with where it comes from.  Both
#: functions are ``functools.lru_cache``d, so the GEMM runs once per process,
#: inside whichever test (or collection-time decorator such as
#: ``transformers.testing_utils.require_torch_bf16``) asks first.
#: accelerate has no such entry: its checks (``accelerate/utils/imports.py``,
#: ``is_bf16_available`` and ``is_fp16_available`` in accelerate 1.x) ask
#: ``torch.cuda.is_bf16_supported()`` or the platform and run no GEMM.
BUILTIN_IGNORES: tuple[tuple[str, str], ...] = (
    (
        "transformers.utils.import_utils:is_torch_bf16_available_on_device",
        "transformers/utils/import_utils.py, is_torch_bf16_available_on_device: off CUDA it runs "
        "`x @ x` on a 2x2 bf16 tensor and returns False if that raises (lru_cache'd)",
    ),
    (
        "transformers.utils.import_utils:is_torch_fp16_available_on_device",
        "transformers/utils/import_utils.py, is_torch_fp16_available_on_device: runs `x @ x` on a 2x2 fp16 "
        "tensor and an fp16 LayerNorm, and returns False if either raises (lru_cache'd)",
    ),
)


class PatternError(ValueError):
    """A malformed ignore pattern; the message says what is wrong with it."""


@dataclass(frozen=True, eq=False)
class Site:
    """One call site: the file, line and function of the first frame outside torch.

    :func:`caller` hands out one object per (code, line), so sites compare (and hash) by identity: cheap
    enough for every GEMM an audit sees.
    """

    file: str
    line: int
    function: str
    module: Optional[str] = None
    code: Optional[CodeType] = None  # the frame's code object (never serialised)

    def describe(self, rootdir: Optional[str] = None) -> str:
        """``tests/test_m.py:12 in test_generate``."""
        return f"{display_path(self.file, rootdir)}:{self.line} in {self.function}"

    def to_json(self, rootdir: Optional[str] = None) -> dict[str, Any]:
        return {"file": display_path(self.file, rootdir), "line": self.line, "function": self.function}


_SITE_DIRS = ("site-packages", "dist-packages")


def display_path(path: str, rootdir: Optional[str] = None) -> str:
    """``path`` relative to ``rootdir`` when inside it, else from an installed package's root, else as given."""
    norm = path.replace("\\", "/")
    if rootdir:
        root = rootdir.replace("\\", "/").rstrip("/") + "/"
        if norm.startswith(root):
            return norm[len(root) :]
    for marker in _SITE_DIRS:
        cut = norm.rfind(f"/{marker}/")
        if cut >= 0:
            return norm[cut + len(marker) + 2 :]
    return norm


# -- finding the call site ---------------------------------------------------------------
_SKIP: list[str] = []  # directory prefixes whose frames are not call sites
# id of a code object -> (the code, whether it lives under a skipped directory).  Keyed by id: a code
# object's own hash is computed from its contents on every call, which costs microseconds for a large
# function; the entry keeps the code alive, so the id cannot be reused while it is cached.
_INTERNAL: dict[int, tuple[CodeType, bool]] = {}
_SITES: dict[tuple[int, int], Site] = {}  # (id of the code object, line) -> its Site (which keeps the code alive)
_LIMIT = 50_000  # entries each cache keeps over a long session before it starts again


def skip_dirs(*modules: Any) -> None:
    """Frames of these packages (module objects) are never call sites: torch, and this plugin."""
    for module in modules:
        init = getattr(module, "__file__", None)
        if not init:
            continue
        prefix = os.path.dirname(os.path.abspath(init)) + os.sep
        if prefix not in _SKIP:
            _SKIP.append(prefix)
            _INTERNAL.clear()


def _internal(code: CodeType) -> bool:
    found = _INTERNAL.get(id(code))
    if found is None:
        name = code.co_filename
        internal = name.startswith("<") or any(name.startswith(prefix) for prefix in _SKIP)
        if len(_INTERNAL) > _LIMIT:  # code objects of a long session: keep the cache bounded
            _INTERNAL.clear()
        _INTERNAL[id(code)] = (code, internal)
        return internal
    return found[1]


def caller(frame: Optional[FrameType]) -> Optional[Site]:
    """The first frame from ``frame`` outward that is outside the skipped packages, as a :class:`Site`."""
    while frame is not None:
        code = frame.f_code
        if not _internal(code):
            key = (id(code), frame.f_lineno or 0)
            site = _SITES.get(key)
            if site is None:
                if len(_SITES) > _LIMIT:
                    _SITES.clear()
                module = frame.f_globals.get("__name__")
                site = _SITES[key] = Site(
                    code.co_filename,
                    key[1],
                    getattr(code, "co_qualname", code.co_name),
                    module if isinstance(module, str) else None,
                    code,
                )
            return site
        frame = frame.f_back
    return None


def here(depth: int = 1) -> Optional[Site]:
    """The call site of the caller's caller (``depth`` frames up from this function's caller)."""
    return caller(sys._getframe(depth + 1))


def enclosing(frame: Optional[FrameType], codes: Mapping[int, Any]) -> Any:
    """The value for the innermost frame whose code object's id is a key of ``codes``, or None."""
    while frame is not None:
        found = codes.get(id(frame.f_code))
        if found is not None:
            return found
        frame = frame.f_back
    return None


# -- ignore patterns ---------------------------------------------------------------------
def _is_path(pattern: str) -> bool:
    return "/" in pattern or pattern.endswith(".py")


def check_pattern(pattern: str) -> str:
    """``pattern`` if it is a usable ignore pattern; :class:`PatternError` saying why not."""
    text = pattern.strip()
    if not text:
        raise PatternError("an empty pattern")
    if any(ch.isspace() for ch in text):
        raise PatternError(f"{text!r} has whitespace in it")
    if _is_path(text):
        return text
    module, sep, function = text.partition(":")
    if sep and (not module or not function):
        raise PatternError(f"{text!r} needs both parts: module:function (either may use * and ?)")
    if ":" in function:
        raise PatternError(f"{text!r} has more than one ':'; the form is module:function")
    return text


def parse_ignores(text: str) -> tuple[str, ...]:
    """Patterns separated by spaces, commas or lines; ValueError naming a bad one (the option's checker)."""
    try:
        return tuple(check_pattern(part) for part in text.replace(",", " ").split())
    except PatternError as exc:
        raise ValueError(f"{exc}; give module:function or a path pattern, separated by spaces or lines") from None


class Ignores:
    """A compiled list of ignore patterns; :meth:`match` says which one a site matches."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(dict.fromkeys(check_pattern(p) for p in patterns))
        self._cache: dict[tuple[str, str, Optional[str]], Optional[str]] = {}

    def match(self, site: Optional[Site]) -> Optional[str]:
        """The first pattern ``site`` matches, or None (a site-less op matches nothing)."""
        if site is None or not self.patterns:
            return None
        key = (site.file, site.function, site.module)
        if key in self._cache:
            return self._cache[key]
        found = None
        path = site.file.replace("\\", "/")
        bare = site.function.rpartition(".")[2]
        for pattern in self.patterns:
            if _is_path(pattern):
                hit = fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern.lstrip("/"))
            else:
                module, sep, function = pattern.partition(":")
                hit = site.module is not None and fnmatch.fnmatchcase(site.module, module)
                if hit and sep:
                    hit = fnmatch.fnmatchcase(site.function, function) or fnmatch.fnmatchcase(bare, function)
            if hit:
                found = pattern
                break
        self._cache[key] = found
        return found
