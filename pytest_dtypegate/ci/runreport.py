"""The run report: one ``dtypegate.report/1`` document per pytest run, built from its test reports.

The plugin's side of the CI flow, kept light (the standard library and the
pure :mod:`pytest_dtypegate.facts`): the plugin maps pytest's ``TestReport``
objects (setup, call, teardown) to one :class:`ReportEntry` per item with
:func:`entries_from_reports`, builds the document with :func:`build_report` at
session finish on the xdist controller, and writes it with
:func:`pytest_dtypegate.ci.files.write_atomic`.  The format is
``schemas/report.schema.json``; :mod:`pytest_dtypegate.ci.reading` reads it back.
"""

from __future__ import annotations

import os
import platform
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Optional

from ..facts import Category, TestFacts, Verdict, facts_from_properties
from ..text import one_line

__all__ = [
    "OUTCOMES",
    "SCHEMA",
    "ReportEntry",
    "build_report",
    "default_leg",
    "effective_category",
    "entries_from_reports",
    "entry_from_reports",
    "environment_info",
    "is_dtype_failure",
]

SCHEMA = "dtypegate.report/1"
OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
#: Longest failure/skip reason kept in the document (one line).
REASON_LIMIT = 500

_FACT_FIELDS: tuple[str, ...] = (
    "requested",
    "precision",
    "decision",
    "support",
    "downgraded_from",
    "skip_kind",
    "category",
    "error_precision",
)
_DTYPE_FAILURES = frozenset(category.value for category in Category if category.dtype_failure)


# -- entries ---------------------------------------------------------------------------------
@dataclass
class ReportEntry:
    """One test item's result, as the report records it."""

    nodeid: str
    outcome: str  # one of OUTCOMES
    facts: Optional[TestFacts] = None
    reason: Optional[str] = None  # skip reason, or the failure's one-line message
    location: Optional[tuple[str, Optional[int]]] = None  # (file relative to rootdir, 1-based line)
    duration: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")

    def to_json(self) -> dict[str, Any]:
        facts = self.facts
        out: dict[str, Any] = {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "reason": self.reason,
            "location": ({"file": self.location[0], "line": self.location[1]} if self.location is not None else None),
            "duration": round(float(self.duration), 6),
            "gated": facts is not None,
        }
        for name in _FACT_FIELDS:
            out[name] = getattr(facts, name) if facts is not None else None
        out["decision_reason"] = facts.reason if facts is not None else None
        out["requires"] = list(facts.requires) if facts is not None else []
        out["audit"] = list(facts.audit) if facts is not None else []
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportEntry:
        """Rebuild from :meth:`to_json` output (already checked against the schema)."""
        facts: Optional[TestFacts] = None
        if data.get("gated"):
            fields: dict[str, Any] = {name: data.get(name) for name in _FACT_FIELDS}
            fields["decision"] = fields["decision"] or Verdict.RUN.value
            facts = TestFacts(
                reason=data.get("decision_reason"),
                requires=list(data.get("requires") or []),
                audit=list(data.get("audit") or []),
                **fields,
            )
        loc = data.get("location")
        location = (str(loc["file"]), loc.get("line")) if isinstance(loc, Mapping) else None
        return cls(
            nodeid=str(data["nodeid"]),
            outcome=str(data["outcome"]),
            facts=facts,
            reason=data.get("reason"),
            location=location,
            duration=float(data.get("duration") or 0.0),
        )


def effective_category(outcome: str, facts: Optional[TestFacts]) -> Optional[str]:
    """The failure category of a failed or errored test, if it has one.

    ``facts.category`` when the error catalogue classified the exception; a test
    the policy failed on purpose (``on_unsupported = fail``) counts as
    ``unsupported``: the device cannot run what it asked for.
    """
    if outcome not in ("failed", "error") or facts is None:
        return None
    if facts.category:
        return facts.category
    if facts.decision == Verdict.FAIL.value:
        return Category.UNSUPPORTED.value
    return None


def is_dtype_failure(category: Optional[str]) -> bool:
    """Whether a failure of this category counts against its device and precision (:attr:`Category.dtype_failure`)."""
    return category in _DTYPE_FAILURES


def _one_line(text: object) -> Optional[str]:
    """The first non-blank line of ``text``, escaped and cut by :func:`pytest_dtypegate.text.one_line`.

    The line is chosen here (a reason is the message's first line, not all of it
    folded into one); escaping (control characters, lone surrogates, which no
    UTF-8 file can hold) and the length limit are the one implementation in ``text``.
    """
    if text is None:
        return None
    for line in str(text).splitlines():
        if line.strip():
            return one_line(line, REASON_LIMIT)
    return None


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _same_file(a: str, b: str) -> bool:
    a, b = _norm(a), _norm(b)
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _longrepr_message(longrepr: Any) -> Optional[str]:
    """One line out of any of pytest's longrepr shapes."""
    if longrepr is None:
        return None
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        message = str(longrepr[2])
        if message.startswith("Skipped: "):
            message = message[len("Skipped: ") :]
        return _one_line(message)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _one_line(crash.message)
    return _one_line(longrepr)


def _failure_line(longrepr: Any, test_file: str) -> Optional[int]:
    """The last traceback line inside the test's own file, 1-based, if any."""
    traceback = getattr(longrepr, "reprtraceback", None)
    for entry in reversed(list(getattr(traceback, "reprentries", None) or ())):
        loc = getattr(entry, "reprfileloc", None)
        path = getattr(loc, "path", None)
        line = getattr(loc, "lineno", None)
        if isinstance(path, str) and isinstance(line, int) and _same_file(path, test_file):
            return line
    crash = getattr(longrepr, "reprcrash", None)
    path = getattr(crash, "path", None)
    line = getattr(crash, "lineno", None)
    if isinstance(path, str) and isinstance(line, int) and _same_file(path, test_file):
        return line
    return None


def entry_from_reports(reports: Sequence[Any]) -> ReportEntry:
    """One :class:`ReportEntry` from one item's pytest ``TestReport`` objects.

    ``reports`` are the setup, call and teardown reports of the same item (any
    order; a later report of the same phase, e.g. after a rerun, replaces an
    earlier one, except that a failed call stays failed: a failed subtest reports
    the call before the test's own passing report does).  Objects are read by attribute only (``nodeid``, ``when``,
    ``outcome``, ``longrepr``, ``location``, ``duration``, ``user_properties``,
    ``wasxfail``), so xdist's re-created reports work the same.  A teardown
    error turns a passed test into ``error``; a setup failure is ``error``.
    """
    if not reports:
        raise ValueError("entry_from_reports needs at least one report")
    phases: dict[str, Any] = {}
    facts: Optional[TestFacts] = None
    classified: Optional[TestFacts] = None
    duration = 0.0
    for rep in reports:
        when = str(getattr(rep, "when", "call"))
        # xdist reports a crashed worker's item once, as when="???": it stands for the call
        phase = when if when in ("setup", "teardown") else "call"
        earlier = phases.get(phase)
        # a failed subtest (unittest's subTest, pytest's subtests) reports the call phase as failed before the
        # test's own passing report: the test failed, as pytest's summary counts it
        if not (earlier is not None and earlier.outcome == "failed" and getattr(rep, "outcome", None) == "passed"):
            phases[phase] = rep
        duration += float(getattr(rep, "duration", 0.0) or 0.0)
        found = facts_from_properties(getattr(rep, "user_properties", None))
        if found is not None:
            facts = found
            if found.category:
                classified = found  # the failing phase's facts carry the error category
    if classified is not None and facts is not None and not facts.category:
        facts = classified
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    nodeid = str(reports[0].nodeid)

    outcome = "passed"
    deciding: Any = None
    reason: Optional[str] = None
    if setup is not None and setup.outcome == "failed":
        outcome, deciding = "error", setup
    elif setup is not None and setup.outcome == "skipped":
        deciding = setup
        if getattr(setup, "wasxfail", None) is not None:
            outcome, reason = "xfailed", _one_line(setup.wasxfail) or None
        else:
            outcome = "skipped"
    elif call is not None:
        deciding = call
        wasxfail = getattr(call, "wasxfail", None)
        if wasxfail is not None and call.outcome == "skipped":
            outcome, reason = "xfailed", _one_line(wasxfail) or None
        elif wasxfail is not None and call.outcome == "passed":
            outcome, reason = "xpassed", _one_line(wasxfail) or None
        elif call.outcome == "failed":
            outcome = "failed"
        elif call.outcome == "skipped":
            outcome = "skipped"
    if teardown is not None and teardown.outcome == "failed" and outcome in ("passed", "xpassed", "skipped"):
        outcome, deciding, reason = "error", teardown, None
    if reason is None and deciding is not None and outcome != "passed":
        reason = _longrepr_message(getattr(deciding, "longrepr", None))

    # the item's (file, 0-based def line), preferring a report that knows the line
    item_locations = (getattr(rep, "location", None) for rep in (call, setup, teardown, *reports) if rep is not None)
    locations: list[Any] = [loc for loc in item_locations if loc]
    location: Optional[tuple[str, Optional[int]]] = None
    if locations:
        loc = next((loc for loc in locations if isinstance(loc[1], int)), locations[0])
        test_file = str(loc[0])
        line = loc[1] + 1 if isinstance(loc[1], int) else None
        if outcome in ("failed", "error") and deciding is not None:
            line = _failure_line(getattr(deciding, "longrepr", None), test_file) or line
        location = (_norm(test_file), line)
    return ReportEntry(nodeid, outcome, facts, reason, location, duration)


def entries_from_reports(reports: Iterable[Any]) -> list[ReportEntry]:
    """Group a run's ``TestReport`` objects by nodeid (first-seen order) into entries."""
    grouped: dict[str, list[Any]] = {}
    for rep in reports:
        if getattr(rep, "when", None) in (None, "collect"):
            continue  # collection reports belong to no item
        grouped.setdefault(str(rep.nodeid), []).append(rep)
    return [entry_from_reports(group) for group in grouped.values()]


# -- the document ----------------------------------------------------------------------------
def _dist_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_info(torch_version: Optional[str], environ: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """Where the run happened: Python, platform, pytest, torch, and the CI job if any.

    ``torch_version`` is passed in (``None`` when torch is absent) so that this
    module never imports torch.
    """
    env = os.environ if environ is None else environ
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "system": platform.system(),
        "machine": platform.machine(),
        "pytest": _dist_version("pytest"),
        "torch": torch_version,
        "dtypegate": _dist_version("pytest-dtypegate"),
    }
    if env.get("GITHUB_ACTIONS") == "true":
        info["github"] = {
            key.lower(): env[f"GITHUB_{key}"]
            for key in ("REPOSITORY", "WORKFLOW", "JOB", "RUN_ID", "RUN_ATTEMPT", "SHA", "REF")
            if env.get(f"GITHUB_{key}")
        }
    return info


def default_leg(capabilities: Optional[Mapping[str, Any]], settings: Optional[Mapping[str, Any]] = None) -> str:
    """The leg label a run gets unless it sets one: the simulated profile, else the device's name."""
    if capabilities:
        for key in ("profile", "name", "device"):
            value = capabilities.get(key)
            if isinstance(value, str) and value:
                return value
    settings = settings or {}
    simulate = settings.get("simulate")
    if isinstance(simulate, str) and simulate:
        return simulate
    device = settings.get("device")
    if isinstance(device, str) and device and device != "auto":
        return device
    return "local"


def build_report(
    entries: Sequence[ReportEntry],
    *,
    capabilities: Optional[Mapping[str, Any]],
    environment: Mapping[str, Any],
    leg: Optional[str],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``dtypegate.report/1`` document for one run.

    ``capabilities`` is ``Capabilities.to_json()`` of the gated device (``None``
    when no test needed it); ``environment`` is :func:`environment_info`;
    ``leg`` the ``--dtypegate-leg`` value or ``None`` for :func:`default_leg`;
    ``settings`` the effective plugin options (JSON values).
    """
    tests = [entry.to_json() for entry in entries]
    counts = Counter(entry.outcome for entry in entries)
    summary: dict[str, int] = {"total": len(tests)}
    for outcome in OUTCOMES:
        summary[outcome] = counts.get(outcome, 0)
    summary["gated"] = sum(1 for e in entries if e.facts is not None)
    summary["downgraded"] = sum(1 for e in entries if e.facts is not None and e.facts.downgraded_from)
    summary["dtype_failures"] = sum(1 for e in entries if is_dtype_failure(effective_category(e.outcome, e.facts)))
    caps = dict(capabilities) if capabilities is not None else None
    profile = caps.get("profile") if caps else None
    if not profile and isinstance(settings.get("simulate"), str):
        profile = settings["simulate"] or None
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "leg": leg if leg else default_leg(caps, settings),
        "environment": dict(environment),
        "capabilities": caps,
        "profile": profile,
        "settings": dict(settings),
        "summary": summary,
        "tests": tests,
    }
    # where each audited GEMM and each simulated error happened (call site, phase, fixture and its scope,
    # backward pass, the strict-ignore pattern it matched), by test: a top-level key, as the schema allows
    sites = {
        e.nodeid: {k: v for k, v in (("audit", e.facts.sites), ("simulated", e.facts.simulated)) if v}
        for e in entries
        if e.facts is not None and (e.facts.sites or e.facts.simulated)
    }
    if sites:
        document["call_sites"] = sites
    return document
