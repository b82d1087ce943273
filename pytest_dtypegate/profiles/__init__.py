"""Simulated hardware: the built-in platform profiles and their loader.

A profile is one JSON file that records what a real platform does with each
precision: the :class:`~pytest_dtypegate.capabilities.Capabilities` a probe
would have found there, and the exact exception each unsupported precision
raises in a GEMM-family op.  ``--dtypegate-simulate NAME`` loads one, the
policy decides from its capabilities, and :mod:`pytest_dtypegate.simulate`
raises its errors during each test.

Pure module: no torch, no pytest.

File format (``schema`` ``dtypegate.profile/1``)::

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
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .. import precisions as _p
from ..capabilities import Capabilities, CapabilitiesError, Support

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

_TOP_KEYS = ("schema", "name", "description", "sources", "notes", "capabilities", "errors")
_CAP_KEYS = ("device", "name", "backend", "capability", "torch_version", "support", "extra")
_ERROR_KEYS = ("ops", "type", "message", "source")


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
def _type_name(value: Any) -> str:
    return {
        dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
        bool: "a boolean", type(None): "null",
    }.get(type(value), type(value).__name__)


def _expect(where: str, key: str, value: Any, kind: type | tuple[type, ...], wanted: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    )):
        raise ProfileError(where, f"{key} must be {wanted}, got {_type_name(value)}")


def _unknown_keys(where: str, what: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = [k for k in data if k not in allowed]
    if extra:
        raise ProfileError(
            where, f"unknown key {extra[0]!r} in {what}; allowed: {', '.join(allowed)}"
        )


def _sources(where: str, value: Any) -> tuple[Source, ...]:
    _expect(where, "'sources'", value, list, "a list")
    out: list[Source] = []
    for i, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            out.append(Source(item.strip()))
        elif isinstance(item, Mapping):
            _unknown_keys(where, f"sources[{i}]", item, ("ref", "supports"))
            ref = item.get("ref")
            supports = item.get("supports")
            if not isinstance(ref, str) or not ref.strip():
                raise ProfileError(where, f"sources[{i}] needs a non-empty string 'ref'")
            if supports is not None and not isinstance(supports, str):
                raise ProfileError(where, f"sources[{i}]['supports'] must be a string")
            out.append(Source(ref.strip(), supports))
        else:
            raise ProfileError(
                where, f"sources[{i}] must be a string or an object with 'ref', got {_type_name(item)}"
            )
    return tuple(out)


def _capabilities(where: str, value: Any, name: str) -> Capabilities:
    _expect(where, "'capabilities'", value, dict, "an object")
    _unknown_keys(where, "capabilities", value, _CAP_KEYS)
    if "device" not in value:
        raise ProfileError(where, "missing key 'capabilities.device'")
    if "support" not in value:
        raise ProfileError(where, "missing key 'capabilities.support'")
    for key in ("device", "name", "backend", "torch_version"):
        if value.get(key) is not None:
            _expect(where, f"'capabilities.{key}'", value[key], str, "a string")
    support = value["support"]
    _expect(where, "'capabilities.support'", support, dict, "an object")
    cap = value.get("capability")
    if cap is not None and (
        not isinstance(cap, list)
        or len(cap) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in cap)
    ):
        raise ProfileError(where, f"'capabilities.capability' must be [major, minor] or null, got {cap!r}")
    extra = value.get("extra") or {}
    _expect(where, "'capabilities.extra'", extra, dict, "an object")
    try:
        caps = Capabilities(
            device=value["device"],
            name=value.get("name"),
            backend=value.get("backend"),
            capability=(cap[0], cap[1]) if cap is not None else None,
            support=support,
            torch_version=value.get("torch_version"),
            source="profile",
            profile=name,
            extra=extra,
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


def _error_entry(where: str, label: str, item: Any) -> ErrorSpec:
    if not isinstance(item, Mapping):
        raise ProfileError(
            where, f"{label} must be an object with 'type' and 'message', got {_type_name(item)}"
        )
    _unknown_keys(where, label, item, _ERROR_KEYS)
    for key in ("type", "message"):
        if key not in item:
            raise ProfileError(where, f"missing key '{key}' in {label}")
    etype, message = item["type"], item["message"]
    if not isinstance(etype, str) or etype not in EXCEPTION_TYPES:
        raise ProfileError(
            where, f"{label}: unknown exception type {etype!r}; valid: {', '.join(EXCEPTION_TYPES)}"
        )
    if not isinstance(message, str) or not message:
        raise ProfileError(where, f"{label}: 'message' must be a non-empty string")
    ops = item.get("ops", [ANY_OP])
    if not isinstance(ops, list) or not ops or not all(isinstance(o, str) for o in ops):
        raise ProfileError(where, f"{label}: 'ops' must be a non-empty list of op names")
    valid = tuple(dict.fromkeys((*OPS, *KINDS, ANY_OP)))  # sdpa and scaled_mm are op and kind
    for op in ops:
        if op not in valid:
            raise ProfileError(where, f"{label}: unknown op {op!r}; valid: {', '.join(valid)}")
    source = item.get("source")
    if source is not None and not isinstance(source, str):
        raise ProfileError(where, f"{label}: 'source' must be a string")
    return ErrorSpec(frozenset(ops), etype, message, source)


def _errors(where: str, value: Any, caps: Capabilities) -> dict[str, tuple[ErrorSpec, ...]]:
    _expect(where, "'errors'", value, dict, "an object")
    out: dict[str, tuple[ErrorSpec, ...]] = {}
    for key, entries in value.items():
        try:
            name = _p.resolve(key, allow_auto=False)
        except _p.UnknownPrecisionError as exc:
            raise ProfileError(where, f"errors: {exc}") from None
        if name not in _p.HARDWARE:
            hw = _p.PRECISIONS[name].hardware
            raise ProfileError(
                where, f"errors[{key!r}]: errors are keyed by compute precision; use {hw!r}"
            )
        state = caps.support_of(name)
        if state is not Support.UNSUPPORTED:
            raise ProfileError(
                where,
                f"errors[{key!r}]: {name} is {state.value} in capabilities.support; "
                "errors belong to unsupported precisions only",
            )
        items = entries if isinstance(entries, list) else [entries]
        if not items:
            raise ProfileError(where, f"errors[{key!r}] is an empty list")
        labels = [f"errors[{key!r}][{i}]" for i in range(len(items))]
        if not isinstance(entries, list):
            labels = [f"errors[{key!r}]"]
        out[name] = tuple(_error_entry(where, label, it) for label, it in zip(labels, items))
    for name in _p.HARDWARE:
        if caps.support_of(name) is Support.UNSUPPORTED and name not in out:
            raise ProfileError(
                where,
                f"capabilities.support marks {name} unsupported but 'errors' has no entry for {name}; "
                "say what the platform raises",
            )
    return out


def parse(data: Any, where: str, *, path: str | None = None) -> Profile:
    """Build a :class:`Profile` from a decoded JSON document; ``where`` names it in errors."""
    if not isinstance(data, Mapping):
        raise ProfileError(where, f"a profile must be a JSON object, got {_type_name(data)}")
    _unknown_keys(where, "the profile", data, _TOP_KEYS)
    for key in ("schema", "name", "capabilities"):
        if key not in data:
            raise ProfileError(where, f"missing key '{key}'")
    if data["schema"] != SCHEMA:
        raise ProfileError(where, f"unknown schema {data['schema']!r} (expected {SCHEMA!r})")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise ProfileError(where, f"'name' must be a non-empty string without spaces, got {name!r}")
    description = data.get("description", "")
    _expect(where, "'description'", description, str, "a string")
    sources = _sources(where, data.get("sources", []))
    notes = data.get("notes", [])
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ProfileError(where, "'notes' must be a string or a list of strings")
    caps = _capabilities(where, data["capabilities"], name)
    errors = _errors(where, data.get("errors", {}), caps)
    return Profile(
        name=name,
        description=description,
        sources=sources,
        capabilities=caps,
        errors=errors,
        notes=tuple(notes),
        path=path,
    )


def _decode(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            where, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


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
    return value.endswith(".json") or os.sep in value or "/" in value or (
        os.altsep is not None and os.altsep in value
    )


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
        f"unknown profile {value!r}; known profiles: {', '.join(known)} "
        "(or give the path of a profile .json file)",
    )
