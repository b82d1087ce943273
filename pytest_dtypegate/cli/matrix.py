"""``dtypegate matrix``: merge run reports into one test x (leg, precision) table."""

from __future__ import annotations

import argparse

HELP = "merge run reports into one test x (leg, precision) table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .. import matrix

    matrix.add_matrix_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .. import matrix

    return matrix.matrix_main(args)
