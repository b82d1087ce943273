"""Test reports: a gate skip shows the test's own location, and a dtype failure explains itself.

A failing test whose exception a user's ``pytest_dtypegate_classify_error`` hook
or the error catalogue recognizes gets a ``dtypegate`` report section: what
happened, on which device, and the fix in this test's context.

Only errors raised by code (torch, a library, the model) are read: a
``pytest.fail``/``skip`` text, or an ``AssertionError`` raised outside an installed
library, is the test's own words, even when it quotes a dtype message (Triton, an
installed library, does raise its dtype errors as ``AssertionError``). Explaining never probes the device for a
test that uses nothing of the gate's, so it never imports torch for one.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from . import policy
from .callphase import declared
from .collection import REQUEST
from .gating import DECISION, facts_of, record_facts
from .session import SessionState
from .text import printable

__all__ = ["FailureReports"]

#: Exceptions that carry the test's own words, not an error from the code under test.
_OUTCOMES: tuple[type[BaseException], ...] = (
    pytest.fail.Exception,
    pytest.skip.Exception,
    pytest.xfail.Exception,
    pytest.exit.Exception,
)
_LIBRARY_DIRS = frozenset(("site-packages", "dist-packages"))


def _test_wrote_it(exc: BaseException) -> bool:
    """Whether ``exc`` is the test's own statement rather than an error the code under test raised."""
    if isinstance(exc, _OUTCOMES):
        return True
    if not isinstance(exc, AssertionError):
        return False
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:  # the frame that raised it
        tb = tb.tb_next
    parts = tb.tb_frame.f_code.co_filename.replace("\\", "/").split("/")
    return not _LIBRARY_DIRS.intersection(parts)


class FailureReports:
    """Rewrites and annotates test reports; registered for every session."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        decision = item.stash.get(DECISION, None)
        if report.skipped and call.when == "setup" and isinstance(decision, policy.Skip):
            path, line, _ = item.location  # show the test's own location in -rs, not this plugin's
            report.longrepr = (str(path), (line or 0) + 1, f"Skipped: {printable(decision.reason)}")
        if report.failed and call.excinfo is not None and call.when in ("setup", "call"):
            try:
                self._explain(item, call.excinfo.value, report)
            except Exception as exc:  # never turn a test failure into an INTERNALERROR
                report.sections.append(
                    ("dtypegate", f"dtypegate could not explain this failure: {type(exc).__name__}: {exc}")
                )
        return report

    def _classify(self, item: pytest.Item, exc: BaseException, report: pytest.TestReport) -> Any:
        from . import diagnosis

        for text in diagnosis.exception_text(exc):
            found = item.config.hook.pytest_dtypegate_classify_error(config=item.config, text=text)
            if found is None:
                continue
            if not isinstance(found, diagnosis.Classification):
                report.sections.append(
                    (
                        "dtypegate",
                        f"a pytest_dtypegate_classify_error hook returned {type(found).__name__} "
                        f"({found!r:.80}); it must return pytest_dtypegate.errors.Classification or None",
                    )
                )
                return None
            return found
        return diagnosis.classify(exc)

    def _explain(self, item: pytest.Item, exc: BaseException, report: pytest.TestReport) -> None:
        if _test_wrote_it(exc):
            return
        classification = self._classify(item, exc, report)
        if classification is None:
            return
        from . import diagnosis

        state = self.state
        request = item.stash.get(REQUEST, None)
        caps = state.resolved
        if caps is None and request is not None and not state.torch_missing:
            caps = state.capabilities()
        probe_usable = bool(
            caps is not None
            and classification.precision
            and policy.usable(classification.precision, caps, state.options.settings)
        )
        text = diagnosis.format_section(
            classification,
            capabilities=caps,
            declared=classification.precision in declared(item) if request is not None else False,
            probe_usable=probe_usable,
            on_unsupported=state.options.on_unsupported,
            requested=request.precision if request else None,
        )
        report.sections.append(("dtypegate", text))
        facts = facts_of(item)
        facts.category = str(classification.category)
        facts.error_precision = diagnosis.shown_precision(classification, request.precision if request else None)
        record_facts(item, facts, report)
