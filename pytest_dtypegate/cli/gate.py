"""``dtypegate gate``: apply the pull-request dtype rules to run reports.

The rules come from the command line, key by key over ``[tool.dtypegate.gate]``
in ``--config`` (default: ./pyproject.toml when there is one).  Exit 0 clean,
1 violations (one line each; ``--format json`` or ``--format github``, the pull-request view), 2 bad input
(a file named with the place in it, or a bad ``[tool.dtypegate.gate]``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import precisions as _p
from ..ci.files import InputError, collector_paused
from ..ci.pr_gate import GateRules, evaluate_gate, load_gate_rules, parse_precisions
from ..ci.reading import load_baseline, load_matrix
from ..exitcodes import ExitCode
from ..text import printable

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
    parser.add_argument(
        "--allow-unprobed",
        action="store_true",
        default=None,
        help="do not count a leg whose device could not be probed (its tests ran ungated) as a violation",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default=None,
        help="text (one line per violation; the default), json, or github: the pull-request view as markdown "
        "(what changed against the baseline first), for a comment or $GITHUB_STEP_SUMMARY",
    )
    parser.add_argument("--json", action="store_true", help="the same as --format json")
    parser.add_argument(
        "--artifact", metavar="WHERE", default=None, help="where the full matrix is (named in --format github)"
    )


def rules_from(args: argparse.Namespace) -> GateRules:
    """The gate's rules: the command line wins, key by key, over ``[tool.dtypegate.gate]``."""
    config = args.config
    if config is None and os.path.isfile("pyproject.toml"):
        config = "pyproject.toml"
    base = load_gate_rules(config) if config is not None else GateRules()
    require = parse_precisions(args.require, "--require") if args.require else base.require
    native = parse_precisions(args.require_native, "--require-native") if args.require_native else base.require_native
    allow = getattr(args, "allow_unprobed", None)
    return GateRules(
        require=require,
        require_native=native,
        baseline=args.baseline or base.baseline,
        allow_unprobed=base.allow_unprobed if allow is None else bool(allow),
    )


def run(args: argparse.Namespace) -> int:
    with collector_paused():  # a million cycle-free objects: see ci.files.collector_paused
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        rules = rules_from(args)
        matrix = load_matrix(args.reports)
        baseline = load_baseline(rules.baseline) if rules.baseline else None
    except InputError as exc:
        sys.stderr.write(f"dtypegate gate: error: {printable(exc)}\n")
        return ExitCode.BAD_INPUT
    violations = evaluate_gate(matrix, rules, baseline)
    fmt = "json" if args.json else (getattr(args, "format", None) or "text")
    if fmt == "github":
        from ..ci.changes import compare
        from ..ci.render.prview import render_prview

        body = render_prview(matrix, rules, violations, compare(matrix, baseline), getattr(args, "artifact", None))
        sys.stdout.write(body)
        return ExitCode.FINDING if violations else ExitCode.OK
    if fmt == "json":
        document = {
            "verdict": "failed" if violations else "passed",
            "violations": [v.to_json() for v in violations],
            "policy": {
                "require": list(rules.require),
                "require_native": list(rules.require_native),
                "baseline": rules.baseline,
                "allow_unprobed": rules.allow_unprobed,
            },
            "legs": [leg.label for leg in matrix.legs],
        }
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=True) + "\n")
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
    checked = printable(checked)
    for violation in violations:
        sys.stdout.write(violation.line() + "\n")
    if violations:
        count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
        sys.stdout.write(f"dtypegate gate: FAILED: {count} ({scope}; {checked})\n")
        return ExitCode.FINDING
    sys.stdout.write(f"dtypegate gate: passed ({scope}; {checked})\n")
    return ExitCode.OK
