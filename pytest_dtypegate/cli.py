"""The ``dtypegate`` command: probe, profiles, explain, matrix, gate.

Exit codes: 0 success, 1 a finding (an unclassified error, a gate violation),
2 bad input.  Each subcommand's work lives in its own module; this file only
wires argparse to them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"dtypegate: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    from . import errors, matrix, probe, profiles_cli

    parser = _Parser(prog="dtypegate", description="Precision compatibility gate for PyTorch model tests.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("probe", help="probe a device (or show a simulated profile) and print its table")
    probe.add_cli_arguments(p)
    p.set_defaults(func=probe.cli_main)

    p = sub.add_parser("profiles", help="list the built-in simulated hardware profiles")
    profiles_cli.add_cli_arguments(p)
    p.set_defaults(func=profiles_cli.cli_main)

    p = sub.add_parser("explain", help="classify a dtype error message and say how to fix it")
    errors.add_cli_arguments(p)
    p.set_defaults(func=errors.cli_main)

    p = sub.add_parser("matrix", help="merge run reports into one test x (leg, precision) table")
    matrix.add_matrix_arguments(p)
    p.set_defaults(func=matrix.matrix_main)

    p = sub.add_parser("gate", help="apply the pull-request dtype policy to run reports")
    matrix.add_gate_arguments(p)
    p.set_defaults(func=matrix.gate_main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
