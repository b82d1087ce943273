"""The pull-request gate: its rules, where they come from (``[tool.dtypegate.gate]``), and the verdict.

:func:`evaluate_gate` returns every :class:`Violation` of a :class:`GateRules`
(and of a baseline matrix) in a matrix; ``dtypegate gate`` prints them and
exits non-zero.  Named *rules*, not policy: :mod:`pytest_dtypegate.policy` is
the per-test decision inside a run.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import precisions as _p
from ..capabilities import Support
from ..text import printable
from .files import InputError
from .model import Cell, Matrix
from .runreport import is_dtype_failure

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11; pytest itself depends on tomli there
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "GATE_KEYS",
    "GATE_TABLE",
    "ConfigError",
    "GateRules",
    "Violation",
    "evaluate_gate",
    "load_gate_rules",
    "parse_precisions",
]

#: Where pyproject.toml holds the rules, and the keys it may set (the command-line flags' names).
GATE_TABLE = "tool.dtypegate.gate"
GATE_KEYS = ("require", "require-native", "baseline", "allow-unprobed")


class ConfigError(InputError):
    """Bad gate rules: an unknown precision, a malformed ``[tool.dtypegate.gate]``."""


@dataclass(frozen=True)
class GateRules:
    """What a pull request must show across the legs (``--require``, ``--require-native``, ``--baseline``)."""

    require: tuple[str, ...] = ()
    require_native: tuple[str, ...] = ()
    baseline: str | None = None
    #: A leg whose device could not be probed ran its tests ungated; unless allowed, that is a violation.
    allow_unprobed: bool = False


@dataclass(frozen=True)
class Violation:
    kind: str  # unprobed | required | required-native | dtype-failure | regression | vanished | missing-leg
    message: str
    test: str | None = None
    leg: str | None = None
    precision: str | None = None

    def line(self) -> str:
        """One line, whatever the reasons inside it held."""
        return printable(f"{self.kind}: {self.message}".replace("\r", " ").replace("\n", " "))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "test": self.test,
            "leg": self.leg,
            "precision": self.precision,
        }


# -- the verdict ---------------------------------------------------------------------------------
def _per_leg(cells: Iterable[Cell], legs: Sequence[str]) -> str:
    groups: dict[str, Counter[str]] = {}
    for cell in cells:
        groups.setdefault(cell.leg, Counter())[cell.text] += 1
    parts = []
    for leg in legs:
        if leg in groups:
            texts = ", ".join(f"{n} {t}" for t, n in sorted(groups[leg].items()))
            parts.append(f"{leg}: {texts}")
    return "; ".join(parts)


def evaluate_gate(matrix: Matrix, rules: GateRules, baseline: Matrix | None = None) -> list[Violation]:
    """Every violation of ``rules`` (and of ``baseline``) in ``matrix``, in a stable order.

    - required P: no cell anywhere ran P and passed (``auto`` cells count for
      the precision they resolved to; a downgraded cell counts for what ran);
    - required-native P: no cell ran P natively (support ``native``, not a
      downgrade) and passed;
    - dtype failure: any failed or errored cell of a category that counts
      against the device (:attr:`~pytest_dtypegate.facts.Category.dtype_failure`:
      ``unsupported``, ``mismatch``; a policy ``fail`` counts as ``unsupported``);
    - regression / vanished: a cell that passed in the baseline now fails, or
      is gone from a leg this run has; missing leg: a baseline leg with passed
      cells has no report in this run at all;
    - unprobed: a leg whose device could not be probed (its report's
      ``capabilities.error``): the plugin then ran its tests as asked, ungated,
      so its results say nothing about the device (unless ``allow_unprobed``).
    """
    out: list[Violation] = []
    legs = [leg.label for leg in matrix.legs]
    if not rules.allow_unprobed:
        for leg in matrix.legs:
            if leg.probe_error:
                message = (
                    f"leg {leg.label}: the device could not be probed: {leg.probe_error}; its results were not gated"
                )
                out.append(Violation("unprobed", message, leg=leg.label))
    for name in rules.require:
        if any(c.precision == name and c.passed for c in matrix.cells):
            continue
        asked = [c for c in matrix.cells if c.column == name or c.precision == name]
        what = _per_leg(asked, legs) or f"no test asked for {name}"
        out.append(Violation("required", f"{name}: no leg ran {name} and passed ({what})", precision=name))
    for name in rules.require_native:
        native = [
            c
            for c in matrix.cells
            if c.precision == name and c.passed and not c.downgraded and c.support == Support.NATIVE.value
        ]
        if native:
            continue
        asked = [c for c in matrix.cells if c.column == name or c.precision == name]
        passed_other = [c for c in asked if c.passed]
        if passed_other:
            msg = f"{name}: ran only emulated or downgraded ({_per_leg(passed_other, legs)})"
        else:
            what = _per_leg(asked, legs) or f"no test asked for {name}"
            msg = f"{name}: no leg ran {name} natively and passed ({what})"
        out.append(Violation("required-native", msg, precision=name))
    for cell in matrix.cells:
        if cell.failed and is_dtype_failure(cell.category):
            reason = f": {cell.reason}" if cell.reason else ""
            out.append(
                Violation("dtype-failure", f"{cell.label}: {cell.text}{reason}", cell.test, cell.leg, cell.column)
            )
    if baseline is not None:
        out.extend(_baseline_violations(matrix, baseline))
    return out


def _baseline_violations(matrix: Matrix, baseline: Matrix) -> list[Violation]:
    out: list[Violation] = []
    now = matrix.lookup()
    present = {leg.label for leg in matrix.legs}
    missing: Counter[str] = Counter()
    for cell in baseline.cells:
        if not cell.passed:
            continue
        if cell.leg not in present:
            missing[cell.leg] += 1
            continue
        current = now.get((cell.test, cell.leg, cell.column))
        if current is None:
            message = f"{cell.label}: passed in the baseline, missing from this run"
            out.append(Violation("vanished", message, cell.test, cell.leg, cell.column))
        elif current.failed:
            reason = f": {current.reason}" if current.reason else ""
            message = f"{cell.label}: passed in the baseline, now {current.text}{reason}"
            out.append(Violation("regression", message, cell.test, cell.leg, cell.column))
    for leg in (lg.label for lg in baseline.legs):
        if missing[leg]:
            cells = f"{missing[leg]} cell{'s' if missing[leg] != 1 else ''}"
            message = f"{leg}: {cells} passed in the baseline, and this run has no report for that leg"
            out.append(Violation("missing-leg", message, leg=leg))
    return out


# -- the rules from pyproject.toml ------------------------------------------------------------------
def parse_precisions(value: Any, where: str) -> tuple[str, ...]:
    """Precision names from a list of names or one comma-separated string (no ``auto``); ``where`` names the source."""
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise ConfigError(f"{where}: expected a list of precision names, got {printable(repr(value))}")
    try:
        return _p.parse_list(items, allow_auto=False)
    except _p.UnknownPrecisionError as exc:
        raise ConfigError(f"{where}: {printable(exc)}") from None
    except ValueError:
        raise ConfigError(f"{where}: empty precision list") from None


def load_gate_rules(path: str) -> GateRules:
    """The ``[tool.dtypegate.gate]`` table of a pyproject.toml as :class:`GateRules`.

    Keys: ``require`` and ``require-native`` (lists of precision names, or
    one comma-separated string) and ``baseline`` (a path, relative to the
    file).  An unknown key is an error, not ignored.  A file without the
    table gives empty rules.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        table: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    walked: list[str] = []
    for part in GATE_TABLE.split("."):
        table = table.get(part)
        walked.append(part)
        if table is None:
            return GateRules()
        if not isinstance(table, dict):
            what = type(table).__name__ if not isinstance(table, list) else "an array"
            raise ConfigError(
                f"{path} [{'.'.join(walked)}]: must be a table, got {what} {printable(repr(table))[:80]} "
                f"(the gate's rules live in [{GATE_TABLE}])"
            )
    where = f"{path} [{GATE_TABLE}]"
    unknown = sorted(set(table) - set(GATE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(GATE_KEYS)}")
    baseline = table.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline):
        raise ConfigError(f"{where}: baseline must be a path string, got {printable(repr(baseline))}")
    if baseline is not None and not os.path.isabs(baseline):
        baseline = os.path.join(os.path.dirname(path) or ".", baseline)
    allow = table.get("allow-unprobed", False)
    if not isinstance(allow, bool):
        raise ConfigError(f"{where}: allow-unprobed must be true or false, got {printable(repr(allow))}")
    native = "require-native"
    return GateRules(
        require=parse_precisions(table["require"], f"{where} require") if "require" in table else (),
        require_native=parse_precisions(table[native], f"{where} {native}") if native in table else (),
        baseline=baseline,
        allow_unprobed=allow,
    )
