"""Setup: decide, for each test of ours, run / downgrade / skip / fail, and record the facts.

The decision is made once per item at setup (``tryfirst``, as pytest's own
skipping plugin evaluates its marks), from the item's request, the device's
capabilities and the settings, unless a user's ``pytest_dtypegate_decide`` hook
answers first. It is kept in ``item.stash`` for the fixtures and the call phase;
the per-test facts travel in ``user_properties`` so they cross xdist and land in
JUnit XML.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import policy
from .collection import PROBLEM, REQUEST
from .facts import PROPERTY, SkipKind, TestFacts, Verdict
from .session import STATE, hook_failure
from .text import printable

__all__ = ["DECISION", "FACTS", "Gatekeeper", "record_facts"]

DECISION = pytest.StashKey[policy.Decision]()
FACTS = pytest.StashKey[TestFacts]()
_DECISIONS = (policy.Run, policy.Downgrade, policy.Skip, policy.Fail)


def record_facts(item: pytest.Item, facts: TestFacts, report: pytest.TestReport | None = None) -> None:
    """Keep exactly one ``dtypegate`` entry in the test's user_properties (and in ``report``'s)."""
    item.stash[FACTS] = facts
    entry = (PROPERTY, facts.dumps())
    for props in (item.user_properties, report.user_properties if report is not None else None):
        if props is None:
            continue
        props[:] = [p for p in props if not (isinstance(p, tuple) and p and p[0] == PROPERTY)]
        props.append(entry)


def facts_of(item: pytest.Item) -> TestFacts:
    """The test's facts so far; a test the gate made no decision for gets a record saying so."""
    facts = item.stash.get(FACTS, None)
    if facts is None:
        decision = item.stash.get(DECISION, None)
        facts = TestFacts(decision=str(decision.verdict if decision else Verdict.NONE))
    return facts


def _facts(request: policy.Request, decision: policy.Decision) -> TestFacts:
    facts = TestFacts(requested=request.precision, decision=str(decision.verdict))
    facts.requires = [("native:" if r.native else "") + r.precision for r in request.requires]
    if isinstance(decision, (policy.Run, policy.Downgrade)):
        facts.precision = decision.precision
        facts.support = decision.support.value if decision.support else None
        if isinstance(decision, policy.Downgrade):
            facts.downgraded_from = decision.requested
            facts.reason = decision.reason
    else:
        facts.reason = decision.reason
        if isinstance(decision, policy.Skip):
            facts.skip_kind = str(decision.kind)  # a SkipKind, or the plain text a decide hook gave
    return facts


class Gatekeeper:
    """The setup-time decision; registered for every session."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        request = item.stash.get(REQUEST, None)
        if request is None:
            problem = item.stash.get(PROBLEM, None)
            if problem is not None:
                pytest.fail(problem, pytrace=False)
            return
        decision = self._decide(item, request)
        item.stash[DECISION] = decision
        record_facts(item, _facts(request, decision))
        if isinstance(decision, policy.Skip):
            pytest.skip(printable(decision.reason))
        if isinstance(decision, policy.Fail):
            pytest.fail(printable(decision.reason), pytrace=False)

    def _decide(self, item: pytest.Item, request: policy.Request) -> policy.Decision:
        state = item.config.stash[STATE]
        problem = None
        try:
            caps = state.capabilities()
        except pytest.UsageError as exc:
            problem = str(exc)
        if problem is not None:  # a test cannot stop the run cleanly: it fails with the reason instead
            pytest.fail(problem, pytrace=False)
        problem = None
        try:
            decision: Any = item.config.hook.pytest_dtypegate_decide(
                config=item.config, item=item, request=request, capabilities=caps
            )
        except Exception as exc:
            problem = hook_failure("pytest_dtypegate_decide", exc)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        if decision is None:
            if state.torch_missing and caps.error == "torch is not installed":
                return policy.Skip("torch is not installed", request.precision, SkipKind.UNKNOWN)
            return policy.decide(request, caps, state.options.settings)
        if not isinstance(decision, _DECISIONS):
            pytest.fail(
                f"dtypegate: pytest_dtypegate_decide returned {type(decision).__name__}; "
                "it must return a Run, Downgrade, Skip or Fail from pytest_dtypegate.policy, or None",
                pytrace=False,
            )
        return decision
