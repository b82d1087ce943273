"""The call phase: tolerance scope, op interception (simulation and audit), the finite watch, strict mode.

A test that uses nothing of ours, in a session with no simulation, audit or
finite check, passes straight through at no cost. Otherwise the test body runs
inside the contexts that apply; afterwards the audit goes into the test's facts,
a non-finite finding fails the test (or annotates a failure that came later), and
strict mode fails a test that ran a GEMM in an undeclared precision the device
cannot run natively.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import ExitStack
from typing import TYPE_CHECKING

import pytest

from . import policy
from .collection import REQUEST
from .facts import Category
from .gating import DECISION, FACTS, facts_of, record_facts
from .session import SessionState

if TYPE_CHECKING:
    from .finite import FiniteWatch
    from .intercept import Interceptor

__all__ = ["CallPhase", "declared"]


def declared(item: pytest.Item) -> frozenset[str]:
    """The precisions ``item`` told the gate about (fp32/fp64, its markers, what it ran in)."""
    return policy.declared(item.stash.get(REQUEST, None), item.stash.get(DECISION, None))


class CallPhase:
    """Wraps each test's call; registered for every session."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        opts = self.state.options
        request = item.stash.get(REQUEST, None)
        if self.state.profile is None and not opts.audit and not opts.check_finite and request is None:
            return (yield)  # nothing of ours in this test: no cost
        decision = item.stash.get(DECISION, None)
        ran = decision.precision if isinstance(decision, (policy.Run, policy.Downgrade)) else None
        error: BaseException | None = None
        interceptor: Interceptor | None = None
        watch: FiniteWatch | None = None
        with ExitStack() as stack:
            if request is not None:
                from .tolerances import tolerance_scope

                mark = item.get_closest_marker("dtype_tolerance")
                stack.enter_context(tolerance_scope(mark.kwargs if mark else None, opts.tolerance))
            if self.state.profile is not None or opts.audit:
                from .intercept import Interceptor

                interceptor = stack.enter_context(Interceptor(self.state.profile, audit=opts.audit))
            if opts.check_finite and ran:
                from .finite import FiniteWatch

                watch = stack.enter_context(FiniteWatch(ran))
            try:
                yield
            except BaseException as exc:  # inspected below, then re-raised unchanged
                error = exc
        if interceptor is not None and opts.audit:
            facts = facts_of(item)
            facts.audit = [f"{op}:{prec}" for op, prec in interceptor.executed]
            record_facts(item, facts)
        if watch is not None and watch.finding is not None:
            self._nonfinite(item, watch, ran, failed=error is not None)
        if error is not None:
            raise error
        if interceptor is not None and opts.strict:
            self._strict(item, interceptor.executed)

    def _nonfinite(self, item: pytest.Item, watch: FiniteWatch, ran: str | None, *, failed: bool) -> None:
        # the first layer that overflowed: shown even when the test failed later on
        # (e.g. in sampling), since that is where the failure really started
        assert watch.finding is not None
        message = watch.finding.message()
        facts = item.stash.get(FACTS, None)  # a test of ours, or one the audit recorded
        if facts is not None:
            facts.category = Category.NONFINITE.value
            facts.error_precision = ran
            record_facts(item, facts)
        if not failed:
            pytest.fail(message, pytrace=False)
        item.add_report_section("call", "dtypegate", message)

    def _strict(self, item: pytest.Item, executed: list[tuple[str, str]]) -> None:
        found = policy.undeclared_gemm(executed, declared(item), self.state.capabilities())
        if found is None:
            return
        precision, reason = found
        facts = item.stash.get(FACTS, None)
        if facts is not None:
            facts.category = Category.UNDECLARED.value
            facts.error_precision = precision
            record_facts(item, facts)
        pytest.fail(reason, pytrace=False)
