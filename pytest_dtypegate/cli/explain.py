"""``dtypegate explain``: classify a dtype error message and say how to fix it."""

from __future__ import annotations

import argparse

HELP = "classify a dtype error message and say how to fix it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .. import errors

    errors.add_cli_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .. import errors

    return errors.cli_main(args)
