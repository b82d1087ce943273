"""``dtypegate matrix``: merge run reports into one test x (leg, precision) table.

Exit 0, or 2 for bad input (one line on stderr naming the file and the place in it, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from ..ci.files import InputError, collector_paused, write_chunks
from ..ci.reading import load_matrix
from ..ci.render import FORMATS, render_chunks
from ..exitcodes import ExitCode
from ..text import printable

__all__ = ["HELP", "add_arguments", "run"]

HELP = "merge run reports into one test x (leg, precision) table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports",
        nargs="+",
        metavar="REPORT",
        help="run reports (--dtypegate-report files, .json or .json.gz), or directories of them",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="markdown",
        help="markdown (PR comment, step summary; cut to fit GitHub's 1 MiB limit), json (machines, the gate's "
        "baseline) or html (one self-contained page); default: markdown",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write here instead of to standard output: a regular file atomically, a symlink's target, a FIFO or "
        "device through; FILE.gz is compressed",
    )
    parser.add_argument(
        "--artifact",
        metavar="WHERE",
        default=None,
        help="where the full matrix is (an artifact name or URL), said in the markdown when it leaves rows out",
    )


def _bad_input(message: str) -> ExitCode:
    sys.stderr.write(f"dtypegate matrix: error: {printable(message)}\n")
    return ExitCode.BAD_INPUT


def run(args: argparse.Namespace) -> int:
    with collector_paused():  # a million cycle-free objects: see ci.files.collector_paused
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        matrix = load_matrix(args.reports)
    except InputError as exc:
        return _bad_input(str(exc))
    chunks = render_chunks(matrix, args.format, artifact=getattr(args, "artifact", None))
    if not args.output:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return ExitCode.OK
    try:
        write_chunks(args.output, chunks)
    except OSError as exc:
        return _bad_input(f"{args.output}: cannot write it ({exc.strerror or exc})")
    sys.stderr.write(
        printable(f"dtypegate matrix: wrote {args.output} ({len(matrix.legs)} legs, {len(matrix.tests())} tests)")
        + "\n"
    )
    return ExitCode.OK
