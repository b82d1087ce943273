"""Normalization: an error text as a CI log or a paste carries it, brought to the message it holds.

Before the general reader (and the catalogue's tolerant pass) read a text:

- :func:`bound` keeps what classification reads of one message to
  :data:`MAX_MESSAGE` characters (its head and its tail), and says how much it
  left out;
- :func:`clean` removes ANSI colour sequences and control characters and
  replaces lone surrogates, so nothing downstream meets them;
- :func:`blocks` strips line prefixes (pytest's ``E``, log timestamps and
  levels, rank tags such as ``[rank0]:``, Ray's ``(pid=...)``, warning
  locations, the ``>`` of a quoted paste), drops traceback frames, source lines and caret lines, and joins a
  message wrapped across lines into one block; each exception, warning or log
  record starts its own block;
- :func:`segments` splits a whole log into the errors it holds (a traceback, an
  exception chain, a pytest failure section, a summary line), for
  ``dtypegate explain``;
- :func:`canonical` is the text the catalogue's tolerant pass reads: single
  spaces, ``a != b`` spaced;
- :func:`printable` escapes what cannot be printed (lone surrogates, control
  characters) in text that goes to a terminal or a report.

Every regex here is bounded and anchored to a line start or a fixed literal, so
normalization is linear in the text's length.  Pure module: imports neither
torch nor pytest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_LOG",
    "MAX_MESSAGE",
    "Block",
    "Segment",
    "blocks",
    "bound",
    "canonical",
    "clean",
    "printable",
    "segments",
]

#: The most characters of one message classification reads: its first HEAD and last TAIL characters.
MAX_MESSAGE = 64 * 1024
_HEAD_CHARS = 48 * 1024
_TAIL_CHARS = MAX_MESSAGE - _HEAD_CHARS
#: The most characters of a log ``dtypegate explain -`` reads.
MAX_LOG = 8 * 1024 * 1024

_ANSI = re.compile(r"\x1b(?:\[[0-9;:?<=>]{0,32}[ -/]{0,4}[@-~]|\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)?|[@-Z\\-_]?)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NEWLINES = re.compile(r"\r\n?")
_SPACES = re.compile(r"\s+")
_NOT_EQUAL = re.compile(r" ?!= ?")

# Prefixes a line may carry before the message, stripped repeatedly (at most _MAX_PREFIXES of them).  A prefix
# of a log record (timestamp, level, logger tag) starts a new block; the group `level` records a log level (the
# general reader skips INFO and DEBUG records).  Indentation after the prefixes is kept: it tells a traceback's
# source line from a message.
_RECORD = re.compile(
    "|".join(
        (
            # ISO timestamps: GitHub Actions, TensorFlow logging
            r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?:? ?",
            r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:[.,]\d{1,9})? ?",
            r"[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d(?:\.\d{1,9})? ",  # Oct 06 20:13:12
            r"\[?\d\d:\d\d:\d\d(?:[.,-]\d{1,9})?\]? ",  # 14:10:16-737529, [16:10:33]
            r"[IWEFD]\d{4} \d\d:\d\d:\d\d\.\d{1,9} {1,8}\d{1,10} [^\]\n]{1,200}\] ",  # glog / c10 logging
            r"\[\d{4}-\d\d-\d\d[ T|]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?[^\]\n]{0,40}\] ?",  # [2021-06-08 12:02:45,001]
            r"\[\d{1,4}/\d{1,4}(?:_\d{1,4})?\] ",  # dynamo frame tags [0/0]
            r"(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)"
            r"(?: \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})? [\w.]{1,80}:\d{1,6}\] ?|:[\w.]{0,60}:|:? {1,12}|:)",
            r"\[(?P<tag>[A-Za-z_][\w .:/|-]{0,60})\] ?",  # [INFO] [stage3.py:2323:...] [deepscale]
            r"[\w.]{1,40}/(?P<level2>DEBUG|INFO|WARNING|ERROR) {1,4}",  # stdout/INFO
            r"\| ?(?P<level3>DEBUG|INFO|WARNING|ERROR|CRITICAL) ?\| ?[\w.]{1,80} ?\| ?",  # fairseq: | INFO | trainer |
        )
    )
)
_PREFIX = re.compile(
    "|".join(
        (
            r"E(?: {2,12}|$)",  # pytest's failure lines
            r"[\u2502\u2503\u2506\u250a\u254e] ?",  # rich traceback box borders
            r"\[(?:rank|default|worker)?\d{1,6}\]:? ?",  # [rank0]: (torchrun), [default0]:
            r"\[\d{1,6},\d{1,6}\]<std(?:out|err)>: ?",  # mpirun --tag-output
            r"\(\w{1,60} pid=\d{1,10}(?:, ip=[\w.:]{1,64})?\) ",  # Ray actors
            r"[^\s:]{1,300}\.py:\d{1,7}: (?=\w{0,60}Warning)",  # warnings.warn location
            # a compiler diagnostic's location: "file.h:143:32: error:", "(mpsFileLoc): /path.mm:233:0: note:"
            r"(?:\(mpsFileLoc\): )?[^\s]{1,500}:\d{1,7}:\d{1,7}: (?=(?:fatal )?(?:error|warning|note|remark)\b)",
            r"loc\(.{0,600}?\)\): (?=(?:error|warning|note|remark)\b)",  # MLIR: loc("op"("file":219:0)): error:
            r"!!! Exception during processing !!! ?",
            r"\*\*\* ",
            r">(?: (?! )|$)",  # a quoted paste ("> RuntimeError: ..."); pytest's source lines have ">" and 3+ spaces
        )
    )
)
_MAX_PREFIXES = 8
_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"})

# Lines that are not part of a message.
_FRAME = re.compile(r'\s{0,64}File "[^"\n]{0,2000}", line \d{1,9}')
_CARETS = re.compile(r"\s{0,200}[\^~]{3,2000}[\s\^~]{0,2000}$")
_NOISE = re.compile(
    r"\s{0,64}(?:>\s{3}|frame #\d{1,6}:|@\s{1,8}0x[0-9a-f]{1,16}|[\u256d\u2570]|-{2,20}> ?\d|\u2771|warnings\.warn\()"
)
# Lines that end one error and start the next in a log; chain separators keep the chain in one error.
_TRACEBACK = re.compile(r"\s{0,64}Traceback \(most recent call last\):")
_CHAIN = re.compile(
    r"\s{0,64}(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)"
)
_SECTION = re.compile(r"(?:_{3,200}|={3,200}|-{3,200}) ?.{0,300}? ?(?:_{3,200}|={3,200}|-{3,200})\s{0,8}$")
_SUMMARY = re.compile(r"(?:FAILED|ERROR) \S{1,500} - ")
# A line that starts a message: "RuntimeError: ...", "UserWarning: ...", "error: ...".
_EMPHASIS = re.compile(r"^[_*]{1,3}(?=[A-Za-z])|(?<=[A-Za-z0-9.])[_*]{1,3}$")
_HEAD = re.compile(
    r"(?:[A-Za-z_][\w.]{0,100})?(?:Error|Exception|Warning|Interrupt|Exit|Failure)\w{0,20}"
    r"(?:\[[^\]\n]{0,40}\]<std\w{3}>)?:|(?:fatal )?error:|(?:LLVM|CUDA) ERROR:|UNREACHABLE executed"
)


def bound(text: str) -> tuple[str, int]:
    """The part of one message classification reads, and how many characters it leaves out.

    A message longer than :data:`MAX_MESSAGE` keeps its head and its tail
    (where a wrapped exception puts the inner message), joined by a marker.
    """
    if len(text) <= MAX_MESSAGE:
        return text, 0
    cut = len(text) - MAX_MESSAGE
    return f"{text[:_HEAD_CHARS]}\n[... {cut} characters not read ...]\n{text[-_TAIL_CHARS:]}", cut


def clean(text: str) -> str:
    """``text`` without ANSI sequences and control characters; lone surrogates become U+FFFD."""
    text = _ANSI.sub("", text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub(" ", text)
    return _SURROGATE.sub("\ufffd", text)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with lone surrogates and control characters (but newline and tab) written as escapes."""
    return _UNPRINTABLE.sub(_escape, text)


def canonical(text: str) -> str:
    """What the catalogue's tolerant pass reads: whitespace runs as one space, ``a != b`` spaced."""
    return _NOT_EQUAL.sub(" != ", _SPACES.sub(" ", text)).strip()


@dataclass(frozen=True)
class Block:
    """One message (or one log record): its lines without prefixes, joined by a space."""

    text: str
    line: int  # 1-based line of its first line in the text
    level: str = ""  # the log level its prefix named ("" when none)


@dataclass(frozen=True)
class Segment:
    """One error in a log: the text from its first to its last line, and its blocks."""

    text: str
    line: int
    blocks: tuple[Block, ...]


def _strip(line: str) -> tuple[str, str, bool]:
    """The line without its prefixes (its indentation kept), the log level they named, and whether one of them
    starts a log record."""
    level = ""
    record = False
    for _ in range(_MAX_PREFIXES):
        rest = line.lstrip(" \t")
        indent = len(line) - len(rest)
        m = _PREFIX.match(rest)
        if m is None or not m.end():
            m = _RECORD.match(rest)
            if m is None or not m.end():
                break
            record = True
            found = m.group("level") or m.group("level2") or m.group("level3") or (m.group("tag") or "").strip().upper()
            if found in _LEVELS and not level:
                level = "WARNING" if found == "WARN" else found
        line = line[indent + m.end() :]
    return line.rstrip(), level, record


class _Reader:
    """One pass over the lines of a text, building blocks and segments."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.start = 0
        self.level = ""
        self.seg_lines: list[str] = []
        self.seg_start = 0

    def end_block(self) -> None:
        if self.parts:
            self.blocks.append(Block(" ".join(self.parts), self.start, self.level))
        self.parts = []
        self.level = ""

    def end_segment(self) -> None:
        self.end_block()
        if self.blocks:
            self.segments.append(Segment("\n".join(self.seg_lines), self.seg_start, tuple(self.blocks)))
        self.blocks = []
        self.seg_lines = []

    def add(self, number: int, raw: str, message: str, level: str, starts: bool) -> None:
        if not self.seg_lines:
            self.seg_start = number
        self.seg_lines.append(raw)
        if starts:
            self.end_block()
        if not self.parts:
            self.start = number
            self.level = level
        self.parts.append(message)


def _read(text: str) -> list[Segment]:
    reader = _Reader()
    after_frame = False
    chained = False
    for number, raw in enumerate(clean(text).split("\n"), 1):
        if not raw or raw.isspace():  # a blank line ends a message (the common case, without the regexes)
            after_frame = False
            reader.end_block()
            continue
        line, level, record = _strip(raw)
        if _FRAME.match(line):
            reader.end_block()
            after_frame = True
            continue
        if after_frame and line.startswith("    "):  # the source line a traceback prints under a frame
            after_frame = False
            continue
        after_frame = False
        if _CHAIN.match(line):
            reader.end_block()
            chained = True
            continue
        if _TRACEBACK.match(line):
            if not chained:
                reader.end_segment()
            chained = False
            continue
        if _SECTION.match(line):
            reader.end_segment()
            continue
        # markdown's code quotes and emphasis, as pastes in issue threads carry them ("_RuntimeError: ... Half_")
        message = _EMPHASIS.sub("", line.strip().replace("`", ""))
        if not message or _CARETS.match(line) or _NOISE.match(line):
            reader.end_block()
            continue
        if _SUMMARY.match(message):
            reader.end_segment()
            reader.add(number, raw, message, level, True)
            reader.end_segment()
            continue
        # a compiler's "note:" (the operation an MLIR error is about) belongs to the error before it, even when
        # each line carries a log record's prefix
        starts = (record or bool(_HEAD.match(message))) and not message.startswith("note: ")
        reader.add(number, raw, message, level, starts)
    reader.end_segment()
    return reader.segments


def blocks(text: str) -> list[Block]:
    """The messages in ``text``, prefixes stripped, frames dropped, wrapped lines joined (in order)."""
    return [b for s in _read(text) for b in s.blocks]


def segments(text: str) -> list[Segment]:
    """The errors a log holds, in order: each traceback (with its chain), failure section or summary line."""
    return _read(text)
