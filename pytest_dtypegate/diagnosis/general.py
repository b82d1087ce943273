"""The general reader: the shape of a dtype error in any wording, for text no catalogue entry reads.

A block of text (one message, see ``normalize.blocks``) is a dtype error when
it holds a phrase of one of three families and type names where that phrase
wants them:

- unsupported: a refusal (``not implemented for``, ``not supported``,
  ``requires compute capability ...``) with a precision next to it, on the side
  the phrase names it (``look`` in the data).  Types a message lists as what is
  supported (``only supports fp16 and bf16``, ``should be in dtype support list
  [...]``) are not the refused one; when only such a list names types, the
  message is a dtype refusal of an unnamed precision, and so is a message that
  names no type at all after a phrase that is a dtype refusal by itself
  (``Tensor type not supported in NCCL``, ``CUBLAS_STATUS_NOT_SUPPORTED``).
  A refused fp32 is about the op (an op without an fp32 kernel), unless the
  message names another precision or what refuses it is a precision setting
  (autocast).  A kernel refusing a type combination it prints run together
  (``5120BFloat16FloatFloat``) is a mismatch when its storage types differ,
  and no precision's refusal when they agree (then the size is refused).  A
  list of candidate operators (xformers) is read by its reasons: the first
  refused for its dtype (alone, else among other reasons) names the refused
  precision, and a list in which no operator names a dtype is no dtype error.
  Types refused together ("fp16 and bf16 are not supported") are reported by
  the first one named.
- mismatch: an ``operands differ`` phrase with two different floating-point
  precisions near it (integer, boolean or complex types make it something
  else; a list of what is supported and a kind of types, "Float8 Types", are no
  operands), or a phrase that itself says dtype (``must have the same dtype``,
  ``Expected A.dtype() == at::kBFloat16``) with one type named or none.
  ``precision`` is the low side (``lexicon.side_order``), ``other`` the high one.
- nonfinite: an overflow / non-finite phrase with a low precision near it, or
  any float precision in a type's slot next to it (``converted to type float
  without overflow``), or the precision the phrase implies (loss scaling is
  fp16's).

A plain word (``half``, ``float``, ``double``) names a type only next to a
phrase or in a type's slot (``query.dtype: double``).

The look-alikes (out of memory, device-side asserts, shapes, devices, no kernel
image, compiler warnings, routine loss-scale steps) veto a block, and INFO and
DEBUG log records are not read.  A hit gets its advice from the first family of
its category whose context matches the block (NCCL, Triton, Intel, Ascend ...).

Every regex is checked by ``regexcheck`` when the data is read; mentions are
found in one pass and looked up by bisection, and the phrases read per block
are capped, so reading is linear in the text.  Pure module: imports neither
torch nor pytest.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import precisions as _p
from ..facts import Category
from .lexicon import Mention, mentions, rank, side_order
from .loader import CatalogueError, read_toml
from .normalize import Block
from .regexcheck import RegexProblem, check, keywords

__all__ = ["GENERAL_FILE", "Family", "Hit", "Reader", "read", "reader"]

#: The general reader's data file (package data).
GENERAL_FILE = Path(__file__).with_name("general.toml")

_BEFORE = 100  # how far before a phrase its type name may stand
_AFTER = 80  # how far after
_WEAK = 30  # how near a plain word ("half", "float") must stand
_MISMATCH = 300  # how far from a mismatch phrase its operands may stand
_PER_PHRASE = 64  # phrase matches read per block and phrase
_LIST_TOKENS = 40  # tokens a list of supported types may have
_LOOKS = ("after", "before", "both", "subject")
_TYPE_WORD = re.compile(r"(?i)\b(?:d(?:ata ?)?type|datatype|scalar ?type|type|precision|format)s?\b")
_LIST_TOKEN = re.compile(r"[\s,/|&()\[\]{}<>'\"`]{1,20}|[\w.:]{1,80}")
# A plain word in a type's slot ("query.dtype: double", "to type float", "DataType<double>", ONNX's
# "tensor(float)") is a type name wherever it stands.
_TYPED_SLOT = re.compile(r"(?i)(?:types?\s{0,2}[:=]?\s{0,2}['\"`(<]{0,2}|\btensor\(|\b\w{1,20} has )\Z")
_SLOT_CHARS = 24
_KINDS = re.compile(r"(?i) {0,2}(?:d|data ?)?types\b")  # a type name used for a kind of types
# what joins types named together: "fp16 and bf16", "bf16/f16", "input type at::Half and output type float"
_JOINER = re.compile(r"(?i)\s{0,3}(?:[,/&|]|and|or|nor)\s{0,3}(?:(?:the )?\w{1,12} (?:d|data ?)?types?:? ?)?")
# After a list of what is supported that names no precision ("only supports 16/32-bit floats"), the type the
# message says it was given is the refused one: "..., but got torch.bfloat16".
_GIVEN = re.compile(
    r"(?i)(?:\bbut (?:got|found|received|was given|passed|is|was)|[,;] (?:got|found|received|given))\b[:\s]{0,3}"
)
_GIVEN_REACH = 120  # how far past the list marker the "but got" may stand
_GIVEN_NAME = 40  # how far past the "but got" the type may stand
_CANDIDATE_KEYS = ("header", "dtype")
_NOTHING_LEFT = re.compile(r"[\s,;.:()\[\]{}'\"`-]{0,200}")


@dataclass(frozen=True)
class Gate:
    """A regex, and lower-cased texts one of which every match holds (``regexcheck.keywords``)."""

    regex: re.Pattern[str]
    keys: tuple[str, ...] | None = None

    def may_match(self, lowered: str) -> bool:
        """Whether the regex can match a text (given lower-cased): a cheap test before the regex runs."""
        return self.keys is None or any(k in lowered for k in self.keys)


@dataclass(frozen=True)
class Phrase:
    category: Category
    pattern: re.Pattern[str]
    look: str = "both"
    implies: str | None = None
    explicit: bool = False
    opens_list: bool = False
    bare: bool = False  # a dtype refusal by itself: with no type named at all, a refusal of an unnamed precision
    low: bool = False  # only a low precision (fp8, fp16, bf16) can be what it refuses
    reach: int | None = None  # how far from the phrase its type may stand (instead of _BEFORE and _AFTER)
    keys: tuple[str, ...] | None = None  # lower-cased texts one of which every match holds (regexcheck.keywords)

    def may_match(self, lowered: str) -> bool:
        """Whether the pattern can match a text (given lower-cased): a cheap test before the regex runs."""
        return self.keys is None or any(k in lowered for k in self.keys)


@dataclass(frozen=True)
class Family:
    """Where a general hit's advice comes from."""

    id: str
    category: Category
    summary: str
    advice: str
    source: str
    context: re.Pattern[str] | None = None
    unnamed: str | None = None  # the summary of a hit that names no precision (summary's wording otherwise)


@dataclass(frozen=True)
class Reader:
    """The general reader's data, read from ``general.toml``."""

    phrases: tuple[Phrase, ...]
    markers: tuple[Gate, ...]
    fillers: frozenset[str]
    vetoes: tuple[Gate, ...]
    families: tuple[Family, ...]
    contrast: frozenset[str] = frozenset()  # refused alone, these precisions are about the op, not the precision
    setting: re.Pattern[str] | None = None  # what refuses a precision setting (autocast): contrast does not apply
    candidates: tuple[re.Pattern[str], ...] = ()  # [candidates] header, dtype reason
    candidate_family: str = ""  # the family of a refusal read from a list of candidates
    candidate_keys: tuple[str, ...] | None = None  # what every candidate's header holds


@dataclass(frozen=True)
class Hit:
    """What the general reader found in one block."""

    category: Category
    precision: str | None
    other: str | None
    family: Family
    phrase: str  # the phrase as the message wrote it
    where: str  # the context word the family matched ("" for a fallback family)
    operands: tuple[Mention, ...]  # the type names it read: the refused one, or a mismatch's sides
    block: Block


@functools.cache
def reader() -> Reader:
    """The general reader's data, read and checked on first use."""
    return read_reader(GENERAL_FILE)


def _regex(where: str, value: Any) -> re.Pattern[str]:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = "".join(value)
    if not isinstance(value, str) or not value:
        raise CatalogueError(f"{where}: a pattern must be a regex (a string, or a list of strings to join)")
    try:
        compiled = re.compile(value, re.IGNORECASE)
        check(value)
    except (re.error, RegexProblem) as exc:
        raise CatalogueError(f"{where}: the pattern {exc}") from None
    return compiled


def _keys(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Lower-cased texts one of which every match of the pattern holds (None: no cheap test is known)."""
    found = keywords(pattern)
    return tuple(k.lower() for k in found) if found else None


def _gate(pattern: re.Pattern[str]) -> Gate:
    return Gate(pattern, _keys(pattern))


def _category(where: str, value: Any) -> Category:
    for category in (Category.UNSUPPORTED, Category.MISMATCH, Category.NONFINITE):
        if value == category.value:
            return category
    raise CatalogueError(f"{where}: category {value!r} is not one of unsupported, mismatch, nonfinite")


def _text(where: str, table: Mapping[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: {key!r} must be a non-empty string")
    return value


def read_reader(path: Path) -> Reader:
    """Read and check the general reader's data file."""
    data = read_toml(path)
    phrases = []
    for n, item in enumerate(data.get("phrase", []), 1):
        where = f"{path}: phrase #{n}"
        look = item.get("look", "both")
        if look not in _LOOKS:
            raise CatalogueError(f"{where}: look {look!r} is not one of {', '.join(_LOOKS)}")
        implies = item.get("implies")
        reach = item.get("reach")
        if reach is not None and (not isinstance(reach, int) or isinstance(reach, bool) or not 0 < reach <= 2000):
            raise CatalogueError(f"{where}: reach must be a number of characters from 1 to 2000")
        pattern = _regex(where, item.get("pattern"))
        phrases.append(
            Phrase(
                category=_category(where, item.get("category")),
                pattern=pattern,
                keys=_keys(pattern),
                look=look,
                implies=implies if isinstance(implies, str) else None,
                explicit=bool(item.get("explicit", False)),
                opens_list=bool(item.get("list", False)),
                bare=bool(item.get("bare", False)),
                low=bool(item.get("low", False)),
                reach=reach,
            )
        )
    lists = data.get("lists", {})
    markers = tuple(_gate(_regex(f"{path}: [lists] marker #{n}", m)) for n, m in enumerate(lists.get("markers", []), 1))
    vetoes = tuple(_gate(_regex(f"{path}: veto #{n}", v.get("pattern"))) for n, v in enumerate(data.get("veto", []), 1))
    families = []
    for n, item in enumerate(data.get("family", []), 1):
        where = f"{path}: family #{n}"
        families.append(
            Family(
                id=_text(where, item, "id"),
                category=_category(where, item.get("category")),
                summary=_text(where, item, "summary"),
                advice=_text(where, item, "advice"),
                source=_text(where, item, "source"),
                context=_regex(where, item["context"]) if "context" in item else None,
                unnamed=_text(where, item, "unnamed") if "unnamed" in item else None,
            )
        )
    contrast = data.get("reader", {}).get("contrast", [])
    if not isinstance(contrast, list) or not all(isinstance(c, str) and c in _p.PRECISIONS for c in contrast):
        raise CatalogueError(f"{path}: [reader] contrast must be a list of canonical precision names")
    setting = data.get("reader", {}).get("setting")
    found = data.get("candidates", {})
    candidates = tuple(_regex(f"{path}: [candidates] {k}", found.get(k)) for k in _CANDIDATE_KEYS if found)
    candidate_keys = _keys(candidates[0]) if candidates else None
    candidate_family = str(found.get("family", ""))
    for category in (Category.UNSUPPORTED, Category.MISMATCH, Category.NONFINITE):
        if not any(f.category is category and f.context is None for f in families):
            raise CatalogueError(f"{path}: no family without context for {category.value} (its fallback)")
    if candidates and not any(f.id == found.get("family") and f.category is Category.UNSUPPORTED for f in families):
        raise CatalogueError(f"{path}: [candidates] family must name a family of category unsupported")
    return Reader(
        contrast=frozenset(contrast),
        setting=_regex(f"{path}: [reader] setting", setting) if setting is not None else None,
        candidates=candidates,
        candidate_family=candidate_family,
        candidate_keys=candidate_keys,
        phrases=tuple(phrases),
        markers=markers,
        fillers=frozenset(str(f).lower() for f in lists.get("fillers", [])),
        vetoes=vetoes,
        families=tuple(families),
    )


# ---------------------------------------------------------------------------
# Reading one block
# ---------------------------------------------------------------------------


class _Text:
    """A block's text with its type names, looked up by position."""

    def __init__(self, block: Block, lowered: str) -> None:
        self.block = block
        self.text = block.text
        self.lowered = lowered
        self.mentions = mentions(self.text)
        self.starts = [m.start for m in self.mentions]
        self.listed = self._listed(reader())
        self.uniform: set[int] = set()  # names of a run-together combination whose storage types agree
        self.mixed: dict[int, tuple[Mention, ...]] = {}  # start of a name in a combination of differing types
        self._combinations()

    def _combinations(self) -> None:
        """Read the type combinations a kernel prints run together ("5120BFloat16FloatFloat"): the last of three
        or more is the compute type; when the others differ, the operands differ, and when they agree the size
        (or something else) is what the kernel has no instance for, not a precision."""
        found = self.mentions
        i = 0
        while i < len(found):
            j = i + 1
            while (
                j < len(found)
                and found[j].start == found[j - 1].end
                and found[j].token_start == found[j - 1].token_start
            ):
                j += 1
            if j - i >= 2:
                storage = found[i : j - 1] if j - i >= 3 else found[i:j]
                sides: dict[str | None, Mention] = {}
                for mention in storage:
                    if mention.is_float and mention.precision:
                        sides.setdefault(mention.precision, mention)
                if len(sides) >= 2:
                    ordered = tuple(sorted(sides.values(), key=lambda x: side_order(x.precision)))
                    self.mixed.update((m.start, ordered) for m in found[i:j])
                else:
                    self.uniform.update(range(i, j))
            i = j

    def _listed(self, data: Reader) -> set[int]:
        """Indexes of mentions that stand in a list of what is supported."""
        listed: set[int] = set()
        for marker in data.markers:
            if not marker.may_match(self.lowered):
                continue
            for count, m in enumerate(marker.regex.finditer(self.text)):
                if count >= _PER_PHRASE:
                    break
                listed.update(self._list_after(m.end(), data.fillers))
        return listed

    def _list_after(self, pos: int, fillers: frozenset[str]) -> list[int]:
        """The mentions in the list that starts at ``pos``: type names, fillers and separators, nothing else."""
        found: list[int] = []
        i = bisect.bisect_left(self.starts, pos)
        for _ in range(_LIST_TOKENS):
            t = _LIST_TOKEN.match(self.text, pos)
            if t is None:
                break
            word = t.group(0)
            if i < len(self.mentions) and self.mentions[i].start < t.end():
                while i < len(self.mentions) and self.mentions[i].start < t.end():
                    found.append(i)
                    i += 1
            elif not word[0].isspace() and word[0] not in ",/|&()[]{}<>'\"`" and word.lower() not in fillers:
                break
            pos = t.end()
        return found

    def typed(self, mention: Mention) -> bool:
        """Whether a type name stands in a type's slot ("dtype: float", "to type double")."""
        return _TYPED_SLOT.search(self.text, max(0, mention.start - _SLOT_CHARS), mention.start) is not None

    def counts(self, mention: Mention, start: int, end: int) -> bool:
        """Whether a type name counts for a phrase at [start, end): plain words only near it or in a type's slot."""
        return not mention.info.weak or _distance(mention, start, end) <= _WEAK or self.typed(mention)

    def near(self, lo: int, hi: int) -> range:
        """Indexes of the mentions that start in [lo, hi)."""
        return range(bisect.bisect_left(self.starts, lo), bisect.bisect_left(self.starts, hi))


def _distance(m: Mention, start: int, end: int) -> int:
    """How far a type name stands from a phrase (names read from one token stand where the token stands)."""
    return start - m.token_end if m.token_end <= start else max(0, m.token_start - end)


def _refused(t: _Text, phrase: Phrase, m: re.Match[str]) -> tuple[int, Mention] | None:
    """The type a refusal names: (distance, mention), the nearest on the phrase's side.

    After a phrase that opens a list of what is supported, "after" counts from the end of the list: the type a
    message names past it (``only supports fp16 and bf16 dtypes, but the current dtype is fp32``) is the refused
    one.
    """
    best: tuple[int, int, int, Mention] | None = None
    start, end = m.start(), m.end()
    if phrase.opens_list:
        listed = t._list_after(end, reader().fillers)
        if listed:
            end = max(end, t.mentions[listed[-1]].token_end)
    for i in t.near(start - (phrase.reach or _BEFORE), end + (phrase.reach or _AFTER)):
        mention = t.mentions[i]
        if not mention.is_float or i in t.listed or i in t.uniform:
            continue
        if phrase.low and rank(mention.precision) > 1:
            continue
        before = mention.token_end <= start
        if phrase.look == "after" and (before or mention.token_start < end):
            continue
        if phrase.look in ("before", "subject") and not before:
            if phrase.look == "before" or not _TYPE_WORD.search(t.text, max(0, start - 60), start):
                continue
        distance = _distance(mention, start, end)
        if not t.counts(mention, start, end):
            continue
        key = (distance, rank(mention.precision), i, mention)
        if best is None or key[:3] < best[:3]:
            best = key
    if best is None:
        return None
    return best[0], t.mentions[_first_of_run(t, best[2])]


def _first_of_run(t: _Text, i: int) -> int:
    """The first of the types a message refuses together ("fp16 and bf16 are not supported", "bf16/f16"): the one
    it names first, whichever stands nearest the phrase."""
    while i > 0 and i - 1 not in t.listed and t.mentions[i - 1].is_float and t.mentions[i - 1].precision:
        between = t.text[t.mentions[i - 1].token_end : t.mentions[i].token_start]
        if not _JOINER.fullmatch(between):
            break
        i -= 1
    return i


def _other_refused(t: _Text, m: re.Match[str]) -> bool:
    """Whether a type that is no precision (numpy.object_, Long) stands near a refusal outside its supported list:
    then that type is the refused one ("can't convert np.ndarray of type numpy.object_. The only supported types
    are: float64, float32, ...")."""
    return any(not t.mentions[i].is_float and i not in t.listed for i in t.near(m.start() - _BEFORE, m.end() + _AFTER))


def _given(t: _Text, m: re.Match[str]) -> tuple[int, Mention] | None:
    """The type a message says it was given after a list of what is supported that names no precision."""
    g = _GIVEN.search(t.text, m.end(), m.end() + _GIVEN_REACH)
    if g is None:
        return None
    for i in t.near(g.end(), g.end() + _GIVEN_NAME):
        mention = t.mentions[i]
        if mention.is_float and mention.precision and i not in t.listed and t.counts(mention, g.start(), g.end()):
            return _distance(mention, m.start(), m.end()), mention
    return None


def _list_names_a_float(t: _Text, m: re.Match[str]) -> bool:
    return any(t.mentions[i].is_float for i in t._list_after(m.end(), reader().fillers))


def _unsupported(t: _Text, phrases: Sequence[Phrase]) -> tuple[str | None, Mention | None, str] | None:
    best: tuple[int, Mention, str] | None = None
    unnamed: str | None = None  # a refusal whose only type names are the supported list's
    for phrase in phrases:
        if not t.mentions:
            if phrase.bare and phrase.may_match(t.lowered):  # a dtype refusal that names no type at all
                found_bare = phrase.pattern.search(t.text)
                if found_bare is not None:
                    return None, None, found_bare.group(0)
            continue
        if not phrase.may_match(t.lowered):
            continue
        for count, m in enumerate(phrase.pattern.finditer(t.text)):
            if count >= _PER_PHRASE:
                break
            if phrase.opens_list and not _list_names_a_float(t, m):
                given = _given(t, m)
                if given is not None and (best is None or given[0] < best[0]):
                    best = (given[0], given[1], m.group(0))
                continue
            found = _refused(t, phrase, m)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], found[1], m.group(0))
            elif found is None and unnamed is None and any(t.mentions[i].is_float for i in t.listed):
                if not _other_refused(t, m):
                    unnamed = m.group(0)
    if best is not None:
        return best[1].precision, best[1], best[2]
    if unnamed is not None:
        return None, None, unnamed
    return None


def _mismatch(t: _Text, phrases: Sequence[Phrase]) -> tuple[tuple[Mention, ...], str] | None:
    for phrase in phrases:
        if not phrase.may_match(t.lowered):
            continue
        for count, m in enumerate(phrase.pattern.finditer(t.text)):
            if count >= _PER_PHRASE:
                break
            floats: list[Mention] = []
            others = 0
            typed_other = False  # an integer, boolean or complex type in an operand's slot ("mask.dtype: long int")
            for i in t.near(m.start() - _MISMATCH, m.end() + _MISMATCH):
                mention = t.mentions[i]
                if i in t.uniform:
                    continue
                if i in t.listed and not m.start() <= mention.start < m.end():
                    continue  # a list of what is supported holds no operand (unless the phrase itself names it)
                if _KINDS.match(t.text, mention.end):
                    continue  # a kind of types ("Promotion for Float8 Types"), not an operand
                if not mention.is_float:
                    others += 1
                    typed_other = typed_other or t.typed(mention)
                elif t.counts(mention, m.start(), m.end()):
                    floats.append(mention)
            if typed_other:
                continue
            sides: dict[str | None, Mention] = {}
            for mention in floats:
                sides.setdefault(mention.precision, mention)
            if len(sides) >= 2:
                return tuple(sides.values()), m.group(0)
            if phrase.explicit and not others and len(floats) <= 1 and (floats or not t.mentions):
                return tuple(sides.values()), m.group(0)
    return None


def _nonfinite(t: _Text, phrases: Sequence[Phrase]) -> tuple[str, Mention | None, str] | None:
    """The overflow the block reports: of every phrase's matches, the one with a precision nearest to it ("float16
    will encounter loss nan ... underflow/overflow ... support bfloat16" is fp16's), else the first phrase that
    implies a precision."""
    best: tuple[int, Mention, str] | None = None
    implied: tuple[str, Mention | None, str] | None = None
    for phrase in phrases:
        if not phrase.may_match(t.lowered):
            continue
        for count, m in enumerate(phrase.pattern.finditer(t.text)):
            if count >= _PER_PHRASE:
                break
            window = phrase.reach or _MISMATCH
            near = [
                x
                for x in (t.mentions[i] for i in t.near(m.start() - window, m.end() + window))
                if x.is_float and x.precision and t.counts(x, m.start(), m.end()) and _overflows(t, x, m)
            ]
            if near:
                low = min(near, key=lambda x: _distance(x, m.start(), m.end()))
                distance = _distance(low, m.start(), m.end())
                if best is None or distance < best[0]:
                    best = (distance, low, m.group(0))
            elif phrase.implies and implied is None:
                implied = (phrase.implies, None, m.group(0))
    if best is not None:
        return str(best[1].precision), best[1], best[2]
    return implied


def _overflows(t: _Text, mention: Mention, m: re.Match[str]) -> bool:
    """Whether a type name near a nonfinite phrase is the type that overflowed: a low precision, or any float
    precision in a type's slot right next to the phrase ("converted to type float without overflow")."""
    return rank(mention.precision) <= 1 or (_distance(mention, m.start(), m.end()) <= _WEAK and t.typed(mention))


def _family(data: Reader, category: Category, text: str) -> tuple[Family, str]:
    for family in data.families:
        if family.category is not category:
            continue
        if family.context is None:
            return family, ""
        m = family.context.search(text)
        if m is not None:
            return family, m.group(0)
    raise AssertionError("read_reader checks that every category has a fallback family")


def _operators(data: Reader, text: str, lowered: str) -> tuple[int, int, str] | None:
    """What a list of candidate operators, each "not supported because:" its reasons (xformers), says.

    Where the refused dtype's name stands, and the operator: the first operator refused for the dtype alone
    (another dtype would let it run), else the first refused for its dtype among other reasons (``bf16 is only
    supported on A100+ GPUs`` beside a capability, ``dtype=torch.float32`` beside ``device=cpu``: the people who
    labelled the corpus read the dtype as refused there too).  (-1, -1, "") when there are candidates and none names
    a dtype among its reasons (a head size, a bias's alignment, a capability, the device): no dtype error.  None when
    the text lists no candidates.
    """
    if len(data.candidates) != len(_CANDIDATE_KEYS):
        return None
    if data.candidate_keys is not None and not any(k in lowered for k in data.candidate_keys):
        return None
    header, dtype = data.candidates
    heads = [m for _, m in zip(range(_PER_PHRASE), header.finditer(text))]
    among: tuple[int, int, str] | None = None  # the first operator refused for its dtype among other reasons
    for n, head in enumerate(heads):
        end = heads[n + 1].start() if n + 1 < len(heads) else len(text)
        reason = dtype.search(text, head.end(), end)
        if reason is None:
            continue
        if _NOTHING_LEFT.fullmatch(dtype.sub(" ", text[head.end() : end])):
            # this operator would run in another dtype: the precision is the problem
            return reason.start("dtype"), reason.end("dtype"), head.group("name")
        if among is None:
            among = reason.start("dtype"), reason.end("dtype"), head.group("name")
    if among is not None:
        return among
    return (-1, -1, "") if heads else None


def read_block(block: Block) -> Hit | None:
    """What the general reader finds in one block, or None."""
    if block.level in ("INFO", "DEBUG"):
        return None
    data = reader()
    lowered = block.text.lower()
    if any(v.may_match(lowered) and v.regex.search(block.text) for v in data.vetoes):
        return None
    operators = _operators(data, block.text, lowered)
    if operators is not None and operators[0] < 0:
        return None
    t = _Text(block, lowered)
    if operators is not None:
        start, end, name = operators
        found = next((t.mentions[i] for i in t.near(start, end) if t.mentions[i].is_float), None)
        chosen = next((f for f in data.families if f.id == data.candidate_family), None)
        if found is not None and chosen is not None:
            text = block.text[start:end]
            return Hit(Category.UNSUPPORTED, found.precision, None, chosen, text, name, (found,), block)
    by: dict[Category, list[Phrase]] = {}
    for phrase in data.phrases:
        by.setdefault(phrase.category, []).append(phrase)
    mismatch = _mismatch(t, by.get(Category.MISMATCH, []))
    if mismatch is not None:
        sides, phrase_text = mismatch
        ordered = sorted(sides, key=lambda x: (side_order(x.precision), sides.index(x)))
        low = ordered[0].precision if ordered else None
        high = ordered[1].precision if len(ordered) > 1 else None
        family, where = _family(data, Category.MISMATCH, block.text)
        return Hit(Category.MISMATCH, low, high, family, phrase_text, where, sides, block)
    nonfinite = _nonfinite(t, by.get(Category.NONFINITE, []))
    if nonfinite is not None:
        precision, mention, phrase_text = nonfinite
        family, where = _family(data, Category.NONFINITE, block.text)
        named = (mention,) if mention is not None else ()
        return Hit(Category.NONFINITE, precision, None, family, phrase_text, where, named, block)
    unsupported = _unsupported(t, by.get(Category.UNSUPPORTED, []))
    if unsupported is not None and unsupported[1] is not None and unsupported[1].start in t.mixed:
        sides = t.mixed[unsupported[1].start]  # a kernel refused a combination of differing types
        family, where = _family(data, Category.MISMATCH, block.text)
        low, high = sides[0].precision, sides[1].precision
        return Hit(Category.MISMATCH, low, high, family, unsupported[2], where, sides, block)
    if unsupported is not None and unsupported[0] in data.contrast:
        setting = data.setting is not None and data.setting.search(block.text) is not None
        if not setting and not any(m.is_float and m.precision != unsupported[0] for m in t.mentions):
            unsupported = None  # an op without a kernel for the everyday precision is about the op
    if unsupported is not None:
        refused, mention, phrase_text = unsupported
        family, where = _family(data, Category.UNSUPPORTED, block.text)
        named = (mention,) if mention is not None else ()
        return Hit(Category.UNSUPPORTED, refused, None, family, phrase_text, where, named, block)
    return None


def read(blocks: Sequence[Block]) -> Hit | None:
    """The general reader's finding for a text's blocks: the last block that reads as a dtype error.

    The last one, because a log ends with the error that stopped the run (and a
    printed exception chain with its outermost exception).
    """
    for block in reversed(blocks):
        hit = read_block(block)
        if hit is not None:
            return hit
    return None
