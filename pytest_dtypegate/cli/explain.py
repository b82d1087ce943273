"""``dtypegate explain``: classify dtype error messages and say how to fix them.

The text may be one message or a whole log (``-`` reads stdin): each distinct
dtype error in it is answered once, in order of first appearance, with the line
it first appears on and how often it recurs.  ``--json`` writes JSON Lines: one
object per distinct error (one object saying "not a dtype error" when there is
none).  Output is UTF-8; what cannot be printed (lone surrogates, control
characters, terminal escape sequences) is written as escapes.

Exit 0 when the text holds a dtype error, 1 when it holds none, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..diagnosis import Finding, advise, diagnose_log, format_section
from ..diagnosis.normalize import MAX_LOG, printable
from ..exitcodes import ExitCode

HELP = "classify dtype error messages (one, or a whole log) and say how to fix them"

_UNKNOWN = "not a dtype error I know"
_UNKNOWN_SUMMARY = f"{_UNKNOWN}: neither dtypegate's catalogue nor its general reader recognizes this text"
_CHUNK = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``dtypegate explain [--json] TEXT``."""
    parser.add_argument(
        "text",
        metavar="TEXT",
        nargs="+",
        help="the error message or log (quote it); several words are joined; '-' reads it from stdin",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per distinct error (JSON Lines)")


def _read_stdin() -> tuple[str, int]:
    """The log on stdin (at most ``MAX_LOG`` characters) and how many characters beyond that were not read."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath
        text = sys.stdin.read()
        return text, 0
    data = buffer.read(MAX_LOG)
    skipped = 0
    while chunk := buffer.read(_CHUNK):
        skipped += len(chunk)
    return data.decode("utf-8", errors="replace"), skipped


def _read_text(words: list[str]) -> tuple[str, int]:
    if words == ["-"]:
        return _read_stdin()
    return " ".join(words), 0


def _clean(value: Any) -> Any:
    """A JSON value whose strings hold nothing a terminal or a strict JSON reader would choke on."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _write(text: str) -> None:
    """Write UTF-8, whatever the terminal's encoding, with unprintable characters escaped."""
    data = printable(text).encode("utf-8", errors="backslashreplace")
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        sys.stdout.flush()
        buffer.write(data)
        buffer.flush()
    else:
        sys.stdout.write(data.decode("utf-8"))


def _unclassified_json(cut: int) -> dict[str, Any]:
    """``explain --json`` for a text with no dtype error: the classified keys, null or empty."""
    return {
        "category": None,
        "precision": None,
        "other": None,
        "entry": None,
        "summary": _UNKNOWN_SUMMARY,
        "advice": None,
        "source": None,
        "op": None,
        "operands": [],
        "layer": None,
        "family": None,
        "cut": cut,
        "fixes": [],
        "line": None,
        "count": 0,
        "message": _UNKNOWN,
    }


def _json(finding: Finding, log_cut: int) -> dict[str, Any]:
    c = finding.classification
    data = c.to_json()
    data["cut"] = c.cut + log_cut
    data["fixes"] = advise(c)
    data["line"] = finding.line
    data["count"] = finding.count
    return data


def _text(findings: list[Finding], log_cut: int) -> str:
    note = f"note: the text is longer than dtypegate reads; its last {log_cut} characters were not read\n"
    if len(findings) == 1:
        section = format_section(findings[0].classification, capabilities=None, declared=False, probe_usable=False)
        return section + "\n" + (note if log_cut else "")
    parts = [f"{len(findings)} distinct dtype errors in this text, in order of first appearance"]
    for n, finding in enumerate(findings, 1):
        seen = f", seen {finding.count} times" if finding.count > 1 else ""
        section = format_section(finding.classification, capabilities=None, declared=False, probe_usable=False)
        parts.append(f"[{n}/{len(findings)}] line {finding.line}{seen}\n{section}")
    return "\n\n".join(parts) + "\n" + (note if log_cut else "")


def run(args: argparse.Namespace) -> int:
    words = list(args.text)
    try:
        text, skipped = _read_text(words)
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"dtypegate explain: cannot read the error text from stdin: {exc}\n")
        return ExitCode.BAD_INPUT
    if not text.strip():
        where = "stdin was empty" if words == ["-"] else "the error text is empty"
        sys.stderr.write(f"dtypegate explain: {where}; pass the error message as TEXT, or - to read it from stdin\n")
        return ExitCode.BAD_INPUT
    findings, cut = diagnose_log(text)
    cut += skipped
    if not findings:
        if args.json:
            _write(json.dumps(_clean(_unclassified_json(cut)), sort_keys=True, ensure_ascii=False) + "\n")
        else:
            _write(_UNKNOWN_SUMMARY + "\n")
        return ExitCode.FINDING
    if args.json:
        lines = [json.dumps(_clean(_json(f, cut)), sort_keys=True, ensure_ascii=False) for f in findings]
        _write("\n".join(lines) + "\n")
    else:
        _write(_text(findings, cut))
    return ExitCode.OK
