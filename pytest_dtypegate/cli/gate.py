"""``dtypegate gate``: apply the pull-request dtype rules to run reports.

The rules come from the command line, key by key over ``[tool.dtypegate.gate]``
in ``--config`` (default: ./pyproject.toml when there is one).  Exit 0 clean,
1 violations (one line each, or ``--json``), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import precisions as _p
from ..ci.files import InputError
from ..ci.pr_gate import GateRules, evaluate_gate, load_gate_rules, parse_precisions
from ..ci.reading import load_baseline, load_matrix
from ..exitcodes import ExitCode

__all__ = ["HELP", "add_arguments", "rules_from", "run"]

HELP = "apply the pull-request dtype policy to run reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(_p.names(include_auto=False))
    parser.add_argument(
        "reports", nargs="+", metavar="REPORT", help="run reports (--dtypegate-report files), or directories of them"
    )
    parser.add_argument(
        "--require",
        action="append",
        metavar="P,...",
        default=None,
        help=f"precisions some leg must run and pass ({names})",
    )
    parser.add_argument(
        "--require-native",
        action="append",
        metavar="P,...",
        default=None,
        help="precisions some leg must run natively (not emulated, not downgraded) and pass",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        default=None,
        help="a previous matrix (dtypegate matrix --format json, e.g. from main): a cell "
        "that passed there must not fail or vanish",
    )
    parser.add_argument(
        "--config",
        metavar="PYPROJECT",
        default=None,
        help="read [tool.dtypegate.gate] from this file (default: ./pyproject.toml if present); the command line wins",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict and violations as JSON")


def rules_from(args: argparse.Namespace) -> GateRules:
    """The gate's rules: the command line wins, key by key, over ``[tool.dtypegate.gate]``."""
    config = args.config
    if config is None and os.path.isfile("pyproject.toml"):
        config = "pyproject.toml"
    base = load_gate_rules(config) if config is not None else GateRules()
    require = parse_precisions(args.require, "--require") if args.require else base.require
    native = parse_precisions(args.require_native, "--require-native") if args.require_native else base.require_native
    return GateRules(require=require, require_native=native, baseline=args.baseline or base.baseline)


def run(args: argparse.Namespace) -> int:
    try:
        rules = rules_from(args)
        matrix = load_matrix(args.reports)
        baseline = load_baseline(rules.baseline) if rules.baseline else None
    except InputError as exc:
        sys.stderr.write(f"dtypegate gate: error: {exc}\n")
        return ExitCode.BAD_INPUT
    violations = evaluate_gate(matrix, rules, baseline)
    if args.json:
        document = {
            "verdict": "failed" if violations else "passed",
            "violations": [v.to_json() for v in violations],
            "policy": {
                "require": list(rules.require),
                "require_native": list(rules.require_native),
                "baseline": rules.baseline,
            },
            "legs": [leg.label for leg in matrix.legs],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return ExitCode.FINDING if violations else ExitCode.OK
    scope = (
        f"{len(matrix.legs)} leg{'s' if len(matrix.legs) != 1 else ''}, {len(matrix.tests())} tests, "
        f"{len(matrix.cells)} cells"
    )
    checked = (
        f"required: {', '.join(rules.require) or 'none'}; "
        f"required native: {', '.join(rules.require_native) or 'none'}; "
        f"baseline: {rules.baseline or 'none'}"
    )
    for violation in violations:
        sys.stdout.write(violation.line() + "\n")
    if violations:
        count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
        sys.stdout.write(f"dtypegate gate: FAILED: {count} ({scope}; {checked})\n")
        return ExitCode.FINDING
    sys.stdout.write(f"dtypegate gate: passed ({scope}; {checked})\n")
    return ExitCode.OK
