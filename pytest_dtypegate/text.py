"""Text hygiene for everything the plugin prints or writes: one line, printable, no control sequences.

Test messages, skip reasons, device and profile names come from code we do not
control. Before they reach a terminal, a file or a CI log they pass through
:func:`printable`, which escapes control characters (so a reason cannot start a
new line that a CI runner reads as a workflow command such as ``::add-mask::``),
ANSI escape sequences and lone surrogates (which cannot be encoded as UTF-8).
"""

from __future__ import annotations

import re

__all__ = ["one_line", "printable"]

# C0 and C1 controls, DEL, lone surrogates, and the Unicode line/paragraph separators
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` as one printable line: every control character, newline and lone surrogate escaped."""
    return _UNSAFE.sub(_escape, str(text))


def one_line(text: object, limit: int = 500) -> str:
    """:func:`printable`, with surrounding whitespace dropped and cut to ``limit`` characters (marked)."""
    out = printable(str(text).strip())
    return out if len(out) <= limit else out[: limit - 1] + "…"
