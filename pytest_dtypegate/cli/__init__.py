"""The ``dtypegate`` command: probe, profiles, explain, matrix, gate.

Exit codes are :class:`~pytest_dtypegate.exitcodes.ExitCode`. Each subcommand is a
module of this package with ``HELP``, ``add_arguments(parser)`` and ``run(args)``;
this file only wires argparse to them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..exitcodes import ExitCode

__all__ = ["SUBCOMMANDS", "build_parser", "main", "version"]

#: The subcommands, in the order ``dtypegate --help`` lists them; each is ``cli/<name>.py``.
SUBCOMMANDS = ("probe", "profiles", "explain", "matrix", "gate")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"dtypegate: error: {message}\n")
        raise SystemExit(ExitCode.BAD_INPUT)


def version() -> str:
    """The installed pytest-dtypegate's version (the package's own when it is run from a checkout)."""
    from importlib import metadata

    try:
        return metadata.version("pytest-dtypegate")
    except metadata.PackageNotFoundError:
        from .. import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dtypegate", description="Precision compatibility gate for PyTorch model tests.")
    parser.add_argument("--version", action="version", version=f"dtypegate {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        p = sub.add_parser(name, help=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return int(code)
