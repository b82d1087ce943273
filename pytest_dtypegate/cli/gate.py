"""``dtypegate gate``: apply the pull-request dtype policy to run reports."""

from __future__ import annotations

import argparse

HELP = "apply the pull-request dtype policy to run reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .. import matrix

    matrix.add_gate_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .. import matrix

    return matrix.gate_main(args)
