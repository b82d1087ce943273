"""``dtypegate explain``: classify a dtype error message and say how to fix it.

Exit 0 when the text is a dtype error the catalogue knows, 1 when it is not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..diagnosis import advise, classify, format_section
from ..exitcodes import ExitCode

HELP = "classify a dtype error message and say how to fix it"

_UNKNOWN = "not a dtype error I know"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``dtypegate explain [--json] TEXT``."""
    parser.add_argument(
        "text",
        metavar="TEXT",
        nargs="+",
        help="the error message (quote it); several words are joined; '-' reads it from stdin",
    )
    parser.add_argument("--json", action="store_true", help="print the classification as JSON")


def _read_text(words: list[str]) -> str:
    if words == ["-"]:
        return sys.stdin.read()
    return " ".join(words)


def _unclassified_json() -> dict[str, Any]:
    """``explain --json`` for a text the catalogue has no entry for: the classified keys, null or empty."""
    return {
        "category": None,
        "precision": None,
        "other": None,
        "entry": None,
        "summary": f"{_UNKNOWN}: dtypegate's catalogue has no entry for this message",
        "advice": None,
        "source": None,
        "op": None,
        "operands": [],
        "fixes": [],
        "message": _UNKNOWN,
    }


def run(args: argparse.Namespace) -> int:
    words = list(args.text)
    try:
        text = _read_text(words)
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"dtypegate explain: cannot read the error text from stdin: {exc}\n")
        return ExitCode.BAD_INPUT
    if not text.strip():
        where = "stdin was empty" if words == ["-"] else "the error text is empty"
        sys.stderr.write(f"dtypegate explain: {where}; pass the error message as TEXT, or - to read it from stdin\n")
        return ExitCode.BAD_INPUT
    found = classify(text)
    if found is None:
        if args.json:
            print(json.dumps(_unclassified_json(), indent=2, sort_keys=True))
        else:
            print(f"{_UNKNOWN}: dtypegate's catalogue has no entry for this message")
        return ExitCode.FINDING
    if args.json:
        data = found.to_json()
        data["fixes"] = advise(found)
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(format_section(found, capabilities=None, declared=False, probe_usable=False))
    return ExitCode.OK
