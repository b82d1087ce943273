"""``dtypegate matrix``: merge run reports into one test x (leg, precision) table.

Exit 0, or 2 for bad input (one line on stderr naming the file, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from ..ci.files import InputError, write_text_atomic
from ..ci.reading import load_matrix
from ..ci.render import FORMATS, render
from ..exitcodes import ExitCode

__all__ = ["HELP", "add_arguments", "run"]

HELP = "merge run reports into one test x (leg, precision) table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports", nargs="+", metavar="REPORT", help="run reports (--dtypegate-report files), or directories of them"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="markdown",
        help="markdown (PR comment, step summary), json (machines, the gate's baseline) or "
        "html (one self-contained page); default: markdown",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", default=None, help="write here (atomically) instead of to standard output"
    )


def _bad_input(message: str) -> ExitCode:
    sys.stderr.write(f"dtypegate matrix: error: {message}\n")
    return ExitCode.BAD_INPUT


def run(args: argparse.Namespace) -> int:
    try:
        matrix = load_matrix(args.reports)
    except InputError as exc:
        return _bad_input(str(exc))
    text = render(matrix, args.format)
    if not args.output:
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        write_text_atomic(args.output, text)
    except OSError as exc:
        return _bad_input(f"{args.output}: cannot write it ({exc.strerror or exc})")
    sys.stderr.write(f"dtypegate matrix: wrote {args.output} ({len(matrix.legs)} legs, {len(matrix.tests())} tests)\n")
    return ExitCode.OK
