"""The lexicon: reading the type names an error message mentions, in any of their spellings.

The spellings are data (``lexicon.toml``): torch's ScalarType names, C++ and
CUDA type names, cuBLAS/hipBLAS/rocBLAS/cuDNN/NCCL enums, oneDNN, Ascend,
MPSGraph and MLIR/Triton names, numpy names and plain words.  Besides a lookup
of one token, :func:`mentions` finds every type name in a text in one pass
(linear in the text), with the spelling forms names take there: module paths
(``torch.cuda.HalfTensor``, ``np.float16``, ``dnnl::memory::data_type::bf16``),
legacy tensor types (``CUDAHalfTensor``), MLIR shaped types (``1x3x9x9xf16``),
LLVM vectors (``v2bf16``), a name glued to the word before it
(``gotFloat``), ScalarType names streamed run together (a kernel's type
combination, ``5120BFloat16FloatFloat``: each name a mention of its own) and
the template argument of an Itanium-mangled C++ type name
(``N11onnxruntime17PrimitiveDataTypeINS_9MLFloat16EEE``, ``...IfEE``); a
device extension's name holds the precision it is about (``SPV_KHR_bfloat16``,
``cl_khr_fp64``); cuBLASLt's numbered operand types (``abcType 14``) are read
with the [scan] values.  Tokens are ASCII: a type name written against another
script (``bfloat16格式``) is read.

Pure module: imports neither torch nor pytest; the data is read on first use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import precisions as _p
from .loader import CatalogueError, read_toml

__all__ = ["LEXICON_FILE", "Lexicon", "Mention", "TypeInfo", "lexicon", "mangled", "mentions", "rank", "side_order"]

#: The lexicon's data file (package data).
LEXICON_FILE = Path(__file__).with_name("lexicon.toml")

FLOAT = "float"
OTHER = "other"

#: The precisions from lowest to highest, in ranks (a rank's members ordered by range, largest finite value): a
#: mismatch's ``precision`` is its lowest side, and its sides are always named in this order whatever order the
#: message prints them in: fp8_e4m3 (448) before fp8_e5m2 (57344), fp16 (65504) before bf16 (about 3.4e38, fp32's
#: range), tf32 before fp32.
_RANKS: tuple[tuple[str, ...], ...] = (("fp8_e4m3", "fp8_e5m2"), ("fp16", "bf16"), ("tf32", "fp32"), ("fp64",))
_RANK: Mapping[str, int] = {name: n for n, members in enumerate(_RANKS) for name in members}
_SIDE: Mapping[str, int] = {name: n for n, name in enumerate(name for members in _RANKS for name in members)}

_TOKEN = re.compile(r"(?<![A-Za-z0-9_.:])[.:]{0,2}[A-Za-z0-9_][A-Za-z0-9_.:]{0,79}")
_LEGACY = re.compile(r"(?:CUDA|CPU|MPS|XPU|HIP|Sparse|cuda)?([A-Z][A-Za-z0-9]{1,20}?)(?:Tensor|Type|Storage)s?")
_SHAPED = re.compile(r"(?:[0-9?*]{1,12}x){1,12}([a-z][a-z0-9]{1,20})")
_VECTOR = re.compile(r"v[0-9]{1,4}((?:bf|f|i)[0-9]{1,3})")
# A conversion intrinsic or helper, by the type it converts to: "llvm.nvvm.f2bf16.rn", "ff2bf16x2", "__float2half_rn"
_CONVERT = re.compile(r"_{0,2}(?:ff|f|h|d|bf|float|double|half)2((?:bf|f)16|half|bfloat16)(?:x2)?(?:_r[nzdu])?")
_GLUED = re.compile(r"[a-z]{2,12}([A-Z][A-Za-z0-9_]{2,30})")
_PART = re.compile(r"[A-Za-z0-9_]{1,80}")
# Lightning's precision names: a width before "-mixed", "-true" or "bit mixed" ("16-mixed", "16-bit Mixed Precision")
_BITS: Mapping[str, str] = {"16": "fp16", "32": "fp32", "64": "fp64"}
_MIXED = re.compile(r"(?i)-(?:mixed|true)\b|-? ?bits? (?:automatic |native )?mixed\b")
# A device extension's name (SPIR-V, Vulkan, OpenGL, OpenCL): the type it is about is one of its words.
_EXTENSION = re.compile(r"(?:SPV|VK|GL|GLSL|cl|CL)_[A-Za-z0-9]{1,12}_[A-Za-z0-9_]{1,60}")
_EXTENSION_WORD = re.compile(r"[A-Za-z0-9]{1,40}")
# cuBLASLt's GEMM arguments that give operand types as cudaDataType_t numbers ("abcType 14", not scaleType)
_DATA_TYPE_ARG = re.compile(r"(?:abc|ab|a|b|c|d)Type")
_MAX_SIZE_DIGITS = 8  # a size printed before a run-together combination ("5120BFloat16Float")
# An Itanium-mangled wrapper that stands for its template argument, and the builtin type codes.
_WRAPPER = re.compile(r"(?:Type|^Tensor\w{0,20})$")
_BUILTIN = re.compile(r"DF16[_b]|D[hnf]|[a-z](?=E)")


def rank(precision: str | None) -> int:
    """How low a precision is (lower is lower precision); unknown names rank with fp8."""
    return _RANK.get(precision or "", 0)


def side_order(precision: str | None) -> int:
    """Where a precision stands among a mismatch's sides: the lowest is the mismatch's ``precision``."""
    return _SIDE.get(precision or "", 0)


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
    joined: re.Pattern[str] | None = None  # one ScalarType name of a run-together combination ([joined])
    joined_whole: re.Pattern[str] | None = None  # a whole combination, after an optional size
    mangled: Mapping[str, TypeInfo] = field(default_factory=dict)  # Itanium builtin type codes ([mangled])


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
    known = ("precision", "weak", "other_float", "other", "scan", "joined", "mangled")
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
        for spelling in _names(f"{path}: {where}", section, "weak"):
            add(where, words, spelling.lower(), TypeInfo(FLOAT, name, weak=True))
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
    joined = _names(f"{path}: [joined]", data.get("joined", {}), "names")
    for name in joined:
        if name not in exact or not _PART.fullmatch(name):
            raise CatalogueError(f"{path}: [joined]: {name!r} must be an exact name listed above, a single word")
    mangled: dict[str, TypeInfo] = {}
    for code, spelling in data.get("mangled", {}).items():
        given = (exact.get(spelling) or words.get(spelling.lower())) if isinstance(spelling, str) else None
        if given is None or given.weak:
            raise CatalogueError(f"{path}: [mangled]: {code!r} must give a spelling listed above (not a plain word)")
        mangled[code] = given
    # longest first, so that "Float8_e4m3fn" is one name and not "Float" and a rest
    alternatives = "|".join(re.escape(n) for n in sorted(joined, key=len, reverse=True))
    return Lexicon(
        exact=exact,
        words=words,
        strict=strict,
        joined=re.compile(alternatives) if joined else None,
        joined_whole=re.compile(rf"[0-9]{{0,{_MAX_SIZE_DIGITS}}}(?:{alternatives}){{2,16}}") if joined else None,
        mangled=mangled,
    )


def lookup(name: str) -> TypeInfo | None:
    """What one spelling is, exactly as written or as a case-insensitive word; None when unknown."""
    lex = lexicon()
    return lex.exact.get(name) or lex.words.get(name.lower())


def _shaped(name: str) -> TypeInfo | None:
    """A legacy tensor type, an MLIR shaped type, an LLVM vector or a conversion: the element type it is about."""
    for rx in (_LEGACY, _SHAPED, _VECTOR, _CONVERT):
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


def _joined(lead: int, name: str) -> list[tuple[int, str, TypeInfo]]:
    """ScalarType names streamed run together, after an optional size ("5120BFloat16FloatFloat"): each one, when
    the whole token is made of them and there are at least two."""
    lex = lexicon()
    if lex.joined is None or lex.joined_whole is None or not lex.joined_whole.fullmatch(name):
        return []
    pos = len(name) - len(name.lstrip("0123456789"))
    out: list[tuple[int, str, TypeInfo]] = []
    while pos < len(name):
        m = lex.joined.match(name, pos)
        if m is None:
            return []
        out.append((lead + pos, m.group(0), lex.exact[m.group(0)]))
        pos = m.end()
    return out if len(out) >= 2 else []


def _length_name(name: str, pos: int) -> tuple[str, int] | None:
    """An Itanium source name at ``pos`` ("9MLFloat16"): the name and where it ends."""
    digits = pos
    while digits < len(name) and digits - pos < 3 and name[digits].isdigit():
        digits += 1
    if digits == pos:
        return None
    end = digits + int(name[pos:digits])
    return (name[digits:end], end) if end <= len(name) else None


def mangled(name: str) -> TypeInfo | None:
    """The type an Itanium-mangled wrapper names by its template argument: ``N11onnxruntime17PrimitiveDataType
    INS_9MLFloat16EEE`` is MLFloat16, ``...IfEE`` float; only a wrapper whose name says it stands for a type
    (``...Type``, ``Tensor...``), since ``complex<float>`` is not a float."""
    pos = 2 if name.startswith("_Z") else 0
    if not name.startswith("N", pos):
        return None
    pos += 1
    last = ""
    while True:
        part = _length_name(name, pos)
        if part is None:
            break
        last, pos = part
    if not name.startswith("I", pos) or not _WRAPPER.search(last):
        return None
    pos += 1
    code = _BUILTIN.match(name, pos)
    if code is not None:
        return lexicon().mangled.get(code.group(0))
    if name.startswith("N", pos):
        pos += 1
    while name.startswith("S", pos):  # substitutions: S_, S0_, St
        end = name.find("_", pos, pos + 4)
        pos = pos + 2 if name.startswith("St", pos) else (end + 1 if end > 0 else pos + 1)
    inner = ""
    while True:
        part = _length_name(name, pos)
        if part is None:
            break
        inner, pos = part
    return lookup(inner) if inner else None


def _resolve(token: str) -> list[tuple[int, str, TypeInfo]]:
    """The type names one token holds, with their offsets in the token."""
    name = token.rstrip(".:")
    lead = len(name) - len(name.lstrip(".:"))
    name = name[lead:]
    found = lookup(name) or _shaped(name)
    if found is not None:
        return [(lead, name, found)]
    if name.endswith("vs") and len(name) > 4:  # a type run into the "vs" after it ("Tensor dtypes: Floatvs BFloat16")
        before = lookup(name[:-2])
        if before is not None and not before.weak:
            return [(lead, name[:-2], before)]
    if _EXTENSION.fullmatch(name):
        return _extension(lead, name)
    joined = _joined(lead, name)
    if joined:
        return joined
    if name[:1] in "N_" and name[1:2] in "0123456789Z":
        wrapped = mangled(name)
        if wrapped is not None:
            return [(lead, name, wrapped)]
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


def _numbered(previous: re.Match[str] | None, m: re.Match[str], text: str) -> TypeInfo | None:
    """A cudaDataType_t value after the argument that names it, as cuBLASLt prints a GEMM ("abcType 14"): the
    precision [scan] gives it, or a type that is not a precision."""
    if not text[m.start()].isdigit() or previous is None or previous.end() + 1 != m.start():
        return None
    if not m.group(0).isdigit() or not _DATA_TYPE_ARG.fullmatch(previous.group(0)):
        return None
    precision = lexicon().strict.get(m.group(0))
    return TypeInfo(FLOAT, precision) if precision else TypeInfo(OTHER, None)


def mentions(text: str) -> list[Mention]:
    """Every type name in ``text``, in order (one pass over the text)."""
    out: list[Mention] = []
    previous = None
    for m in _TOKEN.finditer(text):
        numbered = _numbered(previous, m, text)
        previous = m
        if numbered is not None:
            out.append(Mention(m.start(), m.end(), m.group(0), numbered, m.start(), m.end()))
            continue
        bits = _BITS.get(m.group(0))
        if bits is not None and _MIXED.match(text, m.end()):  # Lightning's precision="16-mixed", "16-bit mixed"
            out.append(Mention(m.start(), m.end(), m.group(0), TypeInfo(FLOAT, bits), m.start(), m.end()))
            continue
        for offset, written, info in _resolve(m.group(0)):
            start = m.start() + offset
            out.append(Mention(start, start + len(written), written, info, m.start(), m.end()))
    return out
