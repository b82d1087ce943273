"""Simulated hardware: the built-in platform profiles and their loader.

A profile is one JSON file that records what a real platform does with each
precision: the :class:`~pytest_dtypegate.capabilities.Capabilities` a probe
would have found there, and the exact exception each unsupported precision
raises in a GEMM-family op.  ``--dtypegate-simulate NAME`` loads one, the
policy decides from its capabilities, and :mod:`pytest_dtypegate.simulate`
raises its errors during each test.

Pure module: no torch, no pytest.

File format (``dtypegate.profile/1``, checked against ``schemas/profile.schema.json``)::

    {
      "schema": "dtypegate.profile/1",
      "name": "p100",                       # what --dtypegate-simulate takes
      "description": "one line for `dtypegate profiles`",
      "sources": [                          # where each fact comes from
        {"ref": "https://github.com/pytorch/pytorch/issues/57773",
         "supports": "bf16 GEMMs raise CUBLAS_STATUS_NOT_SUPPORTED on sm_60"},
        "a plain string is accepted too"
      ],
      "notes": ["optional free text, kept for humans"],
      "capabilities": {                     # Capabilities.to_json() shape
        "device": "cuda:0",                 # required
        "name": "Tesla P100-PCIE-16GB",
        "backend": "cuda",
        "capability": [6, 0],               # CUDA compute capability or null
        "torch_version": "2.5.1",           # torch the facts were recorded with
        "support": {                        # every compute precision, each a state
          "fp32": "native",                 # or {"support": ..., "op": ..., "message": ...}
          "bf16": {"support": "unsupported", "op": "matmul", "message": "..."},
          ...
        }
      },
      "errors": {                           # one key per unsupported precision
        "bf16": [                           # an entry, or a list tried in order
          {"ops": ["bgemm", "sdpa"],        # op names, op kinds, or "*" (default)
           "type": "RuntimeError",          # a built-in exception class
           "message": "exact text the platform raises",
           "source": "optional citation for this text"}
        ]
      }
    }

``support`` must name every compute precision (``fp32 tf32 fp16 bf16
fp8_e4m3 fp8_e5m2 fp64``); autocast precisions may be listed and otherwise
follow their compute precision.  Every precision marked ``unsupported`` needs
an ``errors`` entry, and ``errors`` may only name unsupported precisions.

Op names (:data:`OPS`) are those the interceptor sees: ``mm addmm addbmm
linear tensordot matmul einsum mv addmv bmm baddbmm conv1d conv2d conv3d
conv_transpose1d conv_transpose2d conv_transpose3d sdpa scaled_mm``.  Kinds
(:data:`KINDS`) group them the way the kernels below them do: ``gemm`` (one
2-D GEMM: mm, addmm, addbmm, linear, tensordot, a matmul that folds to one, an
einsum whose contraction has no batch label), ``gemv`` (a matrix-vector
product: mv, addmv, a matmul of a matrix and a vector), ``bgemm`` (a batched
GEMM: bmm, baddbmm, a matmul of two batched operands, an einsum contraction
with a batch label), ``conv``, ``sdpa`` and ``scaled_mm``.  ``gemv`` is a
refinement of ``gemm`` (:data:`KIND_PARENT`): an entry that names ``gemm``
also matches the ``gemv`` ops, so list a ``gemv`` entry before it where the
platform's matrix-vector text differs.  An op that no entry of an unsupported
precision matches is left to run as the real machine runs it.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .. import precisions as _p
from .. import schemas
from ..capabilities import Capabilities, CapabilitiesError, Support, canonical_states
from ..capabilities import describe_problem as describe_capabilities_problem
from ..text import printable

__all__ = [
    "EXCEPTION_TYPES",
    "KINDS",
    "KIND_PARENT",
    "OPS",
    "SCHEMA",
    "ErrorSpec",
    "Profile",
    "ProfileError",
    "Source",
    "builtin",
    "load",
    "load_file",
    "names",
    "parse",
]

SCHEMA = "dtypegate.profile/1"

#: The op names the interceptor reports, with the kind each belongs to
#: (``matmul`` is ``gemm``, ``gemv`` or ``bgemm`` depending on its operands,
#: ``einsum`` ``gemm`` or ``bgemm`` depending on its equation).
OPS: dict[str, str | None] = {
    "mm": "gemm",
    "addmm": "gemm",
    "addbmm": "gemm",
    "linear": "gemm",
    "tensordot": "gemm",
    "matmul": None,
    "einsum": None,
    "mv": "gemv",
    "addmv": "gemv",
    "bmm": "bgemm",
    "baddbmm": "bgemm",
    "conv1d": "conv",
    "conv2d": "conv",
    "conv3d": "conv",
    "conv_transpose1d": "conv",
    "conv_transpose2d": "conv",
    "conv_transpose3d": "conv",
    "sdpa": "sdpa",
    "scaled_mm": "scaled_mm",
}
KINDS: tuple[str, ...] = ("gemm", "gemv", "bgemm", "conv", "sdpa", "scaled_mm")
#: A kind that an entry naming its parent kind matches too: cuBLAS and the CPU
#: BLAS run a matrix-vector product as a GEMM or next to one, so a profile that
#: only says ``gemm`` still covers ``mv``.
KIND_PARENT: dict[str, str] = {"gemv": "gemm"}
ANY_OP = "*"


#: Exception classes a profile may name: the ones torch raises for dtype trouble.
EXCEPTION_TYPES: dict[str, type[Exception]] = {
    name: getattr(builtins, name)
    for name in ("RuntimeError", "TypeError", "ValueError", "NotImplementedError", "AttributeError")
}


class ProfileError(ValueError):
    """A profile that cannot be used: names the file (or profile) and the problem."""

    def __init__(self, where: str | None, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


@dataclass(frozen=True)
class Source:
    """Where a profile's facts come from: a URL or repo path, and what it supports."""

    ref: str
    supports: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"ref": self.ref}
        if self.supports:
            out["supports"] = self.supports
        return out


@dataclass(frozen=True)
class ErrorSpec:
    """The exception one precision raises on the platform, for the ops it names."""

    ops: frozenset[str]
    type: str
    message: str
    source: str | None = None

    def matches(self, op: str, kind: str) -> bool:
        """Whether this entry covers ``op`` of ``kind`` (by name, kind, parent kind or ``*``)."""
        ops = self.ops
        if ANY_OP in ops or op in ops or kind in ops:
            return True
        parent = KIND_PARENT.get(kind)
        return parent is not None and parent in ops

    def exception(self) -> Exception:
        """A new instance of the platform's exception, with its exact message."""
        return EXCEPTION_TYPES[self.type](self.message)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ops": sorted(self.ops), "type": self.type, "message": self.message}
        if self.source:
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class Profile:
    """One simulated platform: its capabilities and the errors it raises."""

    name: str
    description: str
    sources: tuple[Source, ...]
    capabilities: Capabilities
    errors: Mapping[str, tuple[ErrorSpec, ...]] = field(default_factory=dict, hash=False)
    notes: tuple[str, ...] = ()
    path: str | None = None  # the file it was read from

    @property
    def unsupported(self) -> frozenset[str]:
        """The compute precisions whose GEMMs raise on this platform."""
        return frozenset(self.errors)

    def error_for(self, precision: str, op: str, kind: str) -> ErrorSpec | None:
        """The first error entry of ``precision`` that matches ``op`` (or its ``kind``, or the kind's parent)."""
        for spec in self.errors.get(precision, ()):
            if spec.matches(op, kind):
                return spec
        return None

    @property
    def where(self) -> str:
        """``sm_75`` for a CUDA profile, else the backend: what the run header shows."""
        return self.capabilities.sm or self.capabilities.backend or self.capabilities.device

    def support_summary(self) -> str:
        """``native: fp32 tf32 fp16; emulated: bf16; unsupported: fp8_e4m3 fp8_e5m2``."""
        groups: dict[Support, list[str]] = {}
        for name in _p.HARDWARE:
            groups.setdefault(self.capabilities.support_of(name), []).append(name)
        parts = [f"{state.value}: {' '.join(groups[state])}" for state in Support if state in groups]
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        caps = self.capabilities.to_json()
        for key in ("schema", "source", "error", "profile"):
            caps.pop(key, None)
        if not caps.get("extra"):
            caps.pop("extra", None)
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "name": self.name,
            "description": self.description,
            "sources": [s.to_json() for s in self.sources],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        out["capabilities"] = caps
        out["errors"] = {k: [e.to_json() for e in v] for k, v in self.errors.items()}
        return out


# -- parsing ------------------------------------------------------------------
# The shape of a profile is schemas/profile.schema.json; the checks below are the
# ones a schema cannot make (precision and op names, the support each error needs).
_ARTICLES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "a number",
    "number": "a number",
}


def _type_name(value: Any) -> str:
    return {
        dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
        bool: "a boolean", type(None): "null",
    }.get(type(value), type(value).__name__)  # fmt: skip


def _unknown_key(problem: schemas.Problem, what: str) -> str:
    return f"unknown key {problem.key!r} in {what}; allowed: {', '.join(problem.expected)}"


def _describe_source(problem: schemas.Problem) -> str:
    path = problem.path
    label = f"sources[{path[1]}]"
    if len(path) == 2 and problem.keyword == "additionalProperties":
        return _unknown_key(problem, label)
    if (len(path) == 2 and problem.keyword == "required") or path[2:] == ("ref",):
        return f"{label} needs a non-empty string 'ref'"
    if path[2:] == ("supports",):
        return f"{label}['supports'] must be a string"
    return f"{label} must be a string or an object with 'ref', got {_type_name(problem.value)}"


def _describe_error(problem: schemas.Problem, errors: Mapping[str, Any]) -> str:
    path = problem.path
    key = str(path[1])
    listed = isinstance(errors[key], list) and len(path) > 2
    label = f"errors[{key!r}][{path[2]}]" if listed else f"errors[{key!r}]"
    rest = path[3:] if listed else path[2:]
    if not rest:
        if problem.keyword == "minItems":
            return f"{label} is an empty list"
        if problem.keyword == "additionalProperties":
            return _unknown_key(problem, label)
        if problem.keyword == "required":
            return f"missing key {problem.key!r} in {label}"
        return f"{label} must be an object with 'type' and 'message', got {_type_name(problem.value)}"
    if rest[0] == "type":
        return f"{label}: unknown exception type {problem.value!r}; valid: {', '.join(EXCEPTION_TYPES)}"
    if rest[0] == "message":
        return f"{label}: 'message' must be a non-empty string"
    if rest[0] == "ops":
        return f"{label}: 'ops' must be a non-empty list of op names"
    return f"{label}: 'source' must be a string"


def _describe(problem: schemas.Problem, data: Any) -> str:
    """The first schema problem of a profile, in the words this loader has always used."""
    path, keyword = problem.path, problem.keyword
    head = path[0] if path else None
    if head is None and keyword == "type":
        return f"a profile must be a JSON object, got {_type_name(problem.value)}"
    if head == "schema":
        return f"unknown schema {problem.value!r} (expected {SCHEMA!r})"
    if head == "name":
        return f"'name' must be a non-empty string without spaces, got {problem.value!r}"
    if head == "notes":
        return "'notes' must be a string or a list of strings"
    if head == "sources" and len(path) > 1:
        return _describe_source(problem)
    if head == "errors" and len(path) > 1:
        return _describe_error(problem, data["errors"])
    if head == "capabilities" and len(path) > 1:
        caps = data["capabilities"]
        if path[1] == "capability":
            return f"'capabilities.capability' must be [major, minor] or null, got {caps['capability']!r}"
        if (path[1] == "support" and len(path) > 2) or (path[1] == "device" and caps["device"] in (None, "")):
            said = describe_capabilities_problem(dataclasses.replace(problem, path=path[1:]), caps)
            return f"capabilities: {said}"
    dotted = ".".join(str(key) for key in path)
    if keyword == "required":
        return f"missing key {'.'.join((*map(str, path), str(problem.key)))!r}"
    if keyword == "additionalProperties":
        return _unknown_key(problem, dotted or "the profile")
    if keyword == "type":
        wanted = " or ".join(_ARTICLES[name] for name in problem.expected if name != "null")
        return f"'{dotted}' must be {wanted}, got {_type_name(problem.value)}"
    return str(problem)


def _capabilities(where: str, value: Mapping[str, Any], name: str) -> Capabilities:
    cap = value.get("capability")
    if cap is not None and not all(isinstance(v, int) for v in cap):  # JSON's 7.0 is an integer, not an int
        raise ProfileError(where, f"'capabilities.capability' must be [major, minor] or null, got {cap!r}")
    try:
        caps = Capabilities(
            device=value["device"],
            name=value.get("name"),
            backend=value.get("backend"),
            capability=(cap[0], cap[1]) if cap is not None else None,
            support=value["support"],
            torch_version=value.get("torch_version"),
            source="profile",
            profile=name,
            extra=value.get("extra") or {},
        )
    except CapabilitiesError as exc:
        raise ProfileError(where, f"capabilities: {exc}") from None
    missing = [p for p in _p.HARDWARE if p not in caps.evidence]
    if missing:
        raise ProfileError(
            where,
            f"capabilities.support does not state {', '.join(missing)}; "
            f"a profile states every compute precision: {', '.join(_p.HARDWARE)}",
        )
    return caps


def _error_entry(where: str, label: str, item: Mapping[str, Any]) -> ErrorSpec:
    etype = item["type"]
    if etype not in EXCEPTION_TYPES:
        raise ProfileError(where, f"{label}: unknown exception type {etype!r}; valid: {', '.join(EXCEPTION_TYPES)}")
    ops = item.get("ops", [ANY_OP])
    valid = tuple(dict.fromkeys((*OPS, *KINDS, ANY_OP)))  # sdpa and scaled_mm are op and kind
    for op in ops:
        if op not in valid:
            raise ProfileError(where, f"{label}: unknown op {op!r}; valid: {', '.join(valid)}")
    return ErrorSpec(frozenset(ops), etype, item["message"], item.get("source"))


def _error_precision(where: str, key: str, caps: Capabilities) -> str:
    """The compute precision an ``errors`` key names; it must be one the platform cannot run."""
    try:
        name = _p.resolve(key, allow_auto=False)
    except _p.UnknownPrecisionError as exc:
        raise ProfileError(where, f"errors: {exc}") from None
    if name not in _p.HARDWARE:
        hw = _p.PRECISIONS[name].hardware
        raise ProfileError(where, f"errors[{key!r}]: errors are keyed by compute precision; use {hw!r}")
    state = caps.support_of(name)
    if state is not Support.UNSUPPORTED:
        raise ProfileError(
            where,
            f"errors[{key!r}]: {name} is {state.value} in capabilities.support; "
            "errors belong to unsupported precisions only",
        )
    return name


def _error_specs(where: str, key: str, entries: Any) -> tuple[ErrorSpec, ...]:
    if isinstance(entries, list):
        return tuple(_error_entry(where, f"errors[{key!r}][{i}]", item) for i, item in enumerate(entries))
    return (_error_entry(where, f"errors[{key!r}]", entries),)


def _errors(where: str, value: Mapping[str, Any], caps: Capabilities) -> dict[str, tuple[ErrorSpec, ...]]:
    out: dict[str, tuple[ErrorSpec, ...]] = {}
    for key, entries in value.items():
        out[_error_precision(where, key, caps)] = _error_specs(where, key, entries)
    for name in _p.HARDWARE:
        if caps.support_of(name) is Support.UNSUPPORTED and name not in out:
            raise ProfileError(
                where,
                f"capabilities.support marks {name} unsupported but 'errors' has no entry for {name}; "
                "say what the platform raises",
            )
    return out


def _first_problem(problems: list[schemas.Problem], data: Any, where: str) -> schemas.Problem:
    """The problem to tell, checking first what this loader has always checked before it.

    An unknown key is told before a missing one of the same object (a misspelt
    key usually explains the missing one); a problem inside ``errors`` comes
    after the capabilities, the entries before it and the precision key it is
    judged against.
    """
    first = problems[0]
    unknown = [p for p in problems if p.keyword == "additionalProperties" and p.path == first.path]
    if unknown:
        first = unknown[0]
    if first.path[:1] == ("errors",):
        caps = _capabilities(where, data["capabilities"], data["name"])
        for key, entries in data["errors"].items() if len(first.path) > 1 else ():
            _error_precision(where, key, caps)
            if key == first.path[1]:
                break
            _error_specs(where, key, entries)
    return first


def parse(data: Any, where: str, *, path: str | None = None) -> Profile:
    """Build a :class:`Profile` from a decoded JSON document; ``where`` names it in errors."""
    if isinstance(data, Mapping) and isinstance(data.get("capabilities"), Mapping):
        data = {**data, "capabilities": canonical_states(data["capabilities"])}
    problems = schemas.validate(data, "profile")
    if problems:
        raise ProfileError(where, _describe(_first_problem(problems, data, where), data))
    caps = _capabilities(where, data["capabilities"], data["name"])
    notes = data.get("notes", [])
    sources = [
        Source(item.strip()) if isinstance(item, str) else Source(item["ref"].strip(), item.get("supports"))
        for item in data.get("sources", [])
    ]
    return Profile(
        name=data["name"],
        description=data.get("description", ""),
        sources=tuple(sources),
        capabilities=caps,
        errors=_errors(where, data.get("errors", {}), caps),
        notes=(notes,) if isinstance(notes, str) else tuple(notes),
        path=path,
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(text: str, where: str) -> Any:
    """Strict JSON: ``NaN``/``Infinity``, integers beyond the interpreter's limit and deep nesting are refused."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ProfileError(where, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise ProfileError(where, "not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ProfileError(where, f"not valid JSON ({printable(exc)})") from None


def load_file(path: str | os.PathLike[str]) -> Profile:
    """Read a user's profile file; raises :class:`ProfileError` naming the file."""
    p = Path(path)
    where = f"profile file {str(p)!r}"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(where, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(where, f"cannot be read ({exc})") from None
    return parse(_decode(text, where), where, path=str(p))


# -- built-ins ----------------------------------------------------------------
def _data_files() -> dict[str, Any]:
    root = resources.files(__name__)
    return {
        entry.name[: -len(".json")]: entry
        for entry in root.iterdir()
        if entry.name.endswith(".json") and entry.is_file()
    }


def names() -> list[str]:
    """The built-in profile names, sorted."""
    return sorted(_data_files())


@functools.cache
def _builtin(name: str) -> Profile:
    entry = _data_files()[name]
    where = f"built-in profile {name!r} ({entry})"
    profile = parse(_decode(entry.read_text(encoding="utf-8"), where), where, path=str(entry))
    if profile.name != name:
        raise ProfileError(where, f"'name' is {profile.name!r} but the file is {name}.json")
    return profile


def builtin() -> list[Profile]:
    """Every built-in profile, sorted by name."""
    return [_builtin(n) for n in names()]


def looks_like_path(value: str) -> bool:
    return value.endswith(".json") or os.sep in value or "/" in value or (os.altsep is not None and os.altsep in value)


def load(name_or_path: str) -> Profile:
    """A built-in profile by name, or a user's profile file by path.

    Raises :class:`ProfileError`: for an unknown name it lists the known ones;
    for a bad file it names the file and the problem.
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ProfileError("--dtypegate-simulate", f"expected a profile name or file, got {name_or_path!r}")
    value = name_or_path.strip()
    known = names()
    if value in known:
        return _builtin(value)
    if looks_like_path(value) or Path(value).is_file():
        return load_file(value)
    raise ProfileError(
        None,
        f"unknown profile {value!r}; known profiles: {', '.join(known)} (or give the path of a profile .json file)",
    )
