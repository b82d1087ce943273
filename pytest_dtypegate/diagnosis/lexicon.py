"""The lexicon: reading the type names an error message mentions, in any of their spellings.

The spellings are data (``lexicon.toml``): torch's ScalarType names, C++ and
CUDA type names, cuBLAS/hipBLAS/rocBLAS/cuDNN/NCCL enums, oneDNN, Ascend,
MPSGraph and MLIR/Triton names, numpy names and plain words.  Besides a lookup
of one token, :func:`mentions` finds every type name in a text in one pass
(linear in the text), with the spelling forms names take there: module paths
(``torch.cuda.HalfTensor``, ``np.float16``, ``dnnl::memory::data_type::bf16``),
legacy tensor types (``CUDAHalfTensor``), MLIR shaped types (``1x3x9x9xf16``),
LLVM vectors (``v2bf16``) and a name glued to the word before it
(``gotFloat``); a device extension's name holds the precision it is about
(``SPV_KHR_bfloat16``, ``cl_khr_fp64``).

Pure module: imports neither torch nor pytest; the data is read on first use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import precisions as _p
from .loader import CatalogueError, read_toml

__all__ = ["LEXICON_FILE", "Lexicon", "Mention", "TypeInfo", "lexicon", "mentions", "rank"]

#: The lexicon's data file (package data).
LEXICON_FILE = Path(__file__).with_name("lexicon.toml")

FLOAT = "float"
OTHER = "other"

#: How low a precision is: a mismatch's ``precision`` is its lowest side.
_RANK: Mapping[str, int] = {"fp8_e4m3": 0, "fp8_e5m2": 0, "fp16": 1, "bf16": 1, "tf32": 2, "fp32": 2, "fp64": 3}

_TOKEN = re.compile(r"(?<![\w.:])[.:]{0,2}[A-Za-z0-9_][\w.:]{0,79}")
_LEGACY = re.compile(r"(?:CUDA|CPU|MPS|XPU|HIP|Sparse|cuda)?([A-Z][A-Za-z0-9]{1,20}?)(?:Tensor|Type|Storage)")
_SHAPED = re.compile(r"(?:[0-9?*]{1,12}x){1,12}([a-z][a-z0-9]{1,20})")
_VECTOR = re.compile(r"v[0-9]{1,4}((?:bf|f|i)[0-9]{1,3})")
_GLUED = re.compile(r"[a-z]{2,12}([A-Z][A-Za-z0-9_]{2,30})")
_PART = re.compile(r"[A-Za-z0-9_]{1,80}")
# A device extension's name (SPIR-V, Vulkan, OpenGL, OpenCL): the type it is about is one of its words.
_EXTENSION = re.compile(r"(?:SPV|VK|GL|GLSL|cl|CL)_[A-Za-z0-9]{1,12}_[A-Za-z0-9_]{1,60}")
_EXTENSION_WORD = re.compile(r"[A-Za-z0-9]{1,40}")


def rank(precision: str | None) -> int:
    """How low a precision is (lower is lower precision); unknown names rank with fp8."""
    return _RANK.get(precision or "", 0)


@dataclass(frozen=True)
class TypeInfo:
    """What the lexicon knows of one spelling."""

    kind: str  # "float" or "other" (integer, boolean, complex)
    precision: str | None  # canonical precision, or None for another float format (fp4, e8m0) or a non-float
    weak: bool = False  # a plain word that names a precision only next to a phrase


@dataclass(frozen=True)
class Mention:
    """One type name in a text: where, as written, and what it is."""

    start: int
    end: int
    written: str
    info: TypeInfo
    token_start: int = 0  # the token it was read from ("cvt.bf16.f32" holds two names at the same place)
    token_end: int = 0

    @property
    def precision(self) -> str | None:
        return self.info.precision

    @property
    def is_float(self) -> bool:
        return self.info.kind == FLOAT


@dataclass(frozen=True)
class Lexicon:
    """The spellings, read from ``lexicon.toml``."""

    exact: Mapping[str, TypeInfo]  # case-sensitive names
    words: Mapping[str, TypeInfo]  # lower-cased words
    strict: Mapping[str, str]  # what typenames.read_precision reads: exact precision names and [scan]


@functools.cache
def lexicon() -> Lexicon:
    """The lexicon, read and checked on first use."""
    return read_lexicon(LEXICON_FILE)


def _names(where: str, table: Mapping[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogueError(f"{where}: {key!r} must be a list of spellings")
    return list(value)


def read_lexicon(path: Path) -> Lexicon:
    """Read and check a lexicon file: known sections, canonical precision names, no spelling twice."""
    data = read_toml(path)
    known = ("precision", "weak", "other_float", "other", "scan")
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise CatalogueError(f"{path}: unknown section {unknown[0]!r}; known: {', '.join(known)}")
    exact: dict[str, TypeInfo] = {}
    words: dict[str, TypeInfo] = {}
    strict: dict[str, str] = {}

    def add(where: str, table: dict[str, TypeInfo], name: str, info: TypeInfo) -> None:
        if name in table and table[name] != info:
            raise CatalogueError(f"{path}: {where}: {name!r} is already listed with another meaning")
        table[name] = info

    for name, section in data.get("precision", {}).items():
        where = f"[precision.{name}]"
        try:
            canonical = _p.resolve(name, allow_auto=False)
        except _p.UnknownPrecisionError as exc:
            raise CatalogueError(f"{path}: {where}: {exc}") from None
        if canonical != name:
            raise CatalogueError(f"{path}: {where}: write the canonical name {canonical!r}")
        info = TypeInfo(FLOAT, name)
        for spelling in _names(f"{path}: {where}", section, "names"):
            add(where, exact, spelling, info)
            strict[spelling] = name
        for spelling in _names(f"{path}: {where}", section, "words") + _names(f"{path}: {where}", section, "loose"):
            add(where, words, spelling.lower(), info)
    for spelling in _names(f"{path}: [weak]", data.get("weak", {}), "words"):
        add("[weak]", words, spelling.lower(), TypeInfo(FLOAT, _p.resolve(spelling, allow_auto=False), weak=True))
    for spelling in _names(f"{path}: [other_float]", data.get("other_float", {}), "words"):
        add("[other_float]", words, spelling.lower(), TypeInfo(FLOAT, None))
    other = data.get("other", {})
    for spelling in _names(f"{path}: [other]", other, "names"):
        add("[other]", exact, spelling, TypeInfo(OTHER, None))
    for spelling in _names(f"{path}: [other]", other, "words"):
        add("[other]", words, spelling.lower(), TypeInfo(OTHER, None))
    for token, name in data.get("scan", {}).items():
        if not isinstance(name, str) or name not in _p.PRECISIONS:
            raise CatalogueError(f"{path}: [scan]: {token!r} must name a canonical precision")
        strict[token] = name
    return Lexicon(exact=exact, words=words, strict=strict)


def lookup(name: str) -> TypeInfo | None:
    """What one spelling is, exactly as written or as a case-insensitive word; None when unknown."""
    lex = lexicon()
    return lex.exact.get(name) or lex.words.get(name.lower())


def _shaped(name: str) -> TypeInfo | None:
    """A legacy tensor type, an MLIR shaped type or an LLVM vector: the element type inside."""
    for rx in (_LEGACY, _SHAPED, _VECTOR):
        m = rx.fullmatch(name)
        if m:
            found = lookup(m.group(1))
            if found is not None:
                return found
    return None


def _extension(lead: int, name: str) -> list[tuple[int, str, TypeInfo]]:
    """The precisions an extension's name holds ("SPV_KHR_bfloat16", "cl_khr_fp64"), plain words aside."""
    out: list[tuple[int, str, TypeInfo]] = []
    for word in _EXTENSION_WORD.finditer(name):
        info = lexicon().words.get(word.group(0).lower())
        if info is not None and info.kind == FLOAT and info.precision and not info.weak:
            out.append((lead + word.start(), word.group(0), info))
    return out


def _resolve(token: str) -> list[tuple[int, str, TypeInfo]]:
    """The type names one token holds, with their offsets in the token."""
    name = token.rstrip(".:")
    lead = len(name) - len(name.lstrip(".:"))
    name = name[lead:]
    found = lookup(name) or _shaped(name)
    if found is not None:
        return [(lead, name, found)]
    if _EXTENSION.fullmatch(name):
        return _extension(lead, name)
    glued = _GLUED.fullmatch(name)
    if glued:
        info = lexicon().exact.get(glued.group(1))
        if info is not None and info.kind == FLOAT:
            return [(lead + glued.start(1), glued.group(1), info)]
    if "." not in name and ":" not in name:
        return []
    out: list[tuple[int, str, TypeInfo]] = []
    for part in _PART.finditer(name):
        info = lookup(part.group(0)) or _shaped(part.group(0))
        if info is not None:
            out.append((lead + part.start(), part.group(0), info))
    return out


def mentions(text: str) -> list[Mention]:
    """Every type name in ``text``, in order (one pass over the text)."""
    out: list[Mention] = []
    for m in _TOKEN.finditer(text):
        for offset, written, info in _resolve(m.group(0)):
            start = m.start() + offset
            out.append(Mention(start, start + len(written), written, info, m.start(), m.end()))
    return out
