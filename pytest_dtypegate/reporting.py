"""The run's results, on the xdist controller (or the only process): terminal summary, JSON report, GitHub.

Registered on the controller only, as pytest's junitxml registers its writer:
workers send their test reports (with the per-test facts in ``user_properties``)
to the controller, which sees every ``pytest_runtest_logreport``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from . import options as _options
from .facts import TestFacts, facts_from_properties
from .session import SessionState
from .text import printable

__all__ = ["Reporter"]


class Reporter:
    """Gathers every test report for the summary and the JSON report."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        # every report is kept only when a JSON report or a GitHub summary will be written
        self.keep = bool(state.options.report) or os.environ.get("GITHUB_ACTIONS") == "true"
        self.reports: list[pytest.TestReport] = []
        self.results: dict[str, TestFacts] = {}  # nodeid -> facts
        self.outcomes: dict[str, str] = {}
        self.document: dict[str, Any] | None = None
        self.error: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.keep:
            self.reports.append(report)
        if report.user_properties:
            facts = facts_from_properties(report.user_properties)
            if facts is not None:
                self.results[report.nodeid] = facts
        if report.nodeid not in self.results and not self.state.loud:
            return  # not a test of ours: nothing more to record
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.nodeid] = report.outcome
        elif report.when == "teardown" and report.failed:
            self.outcomes[report.nodeid] = "error"

    def _document(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        from .ci.runreport import build_report, entries_from_reports, environment_info

        opts = self.state.options
        try:
            torch_version: str | None = version("torch")
        except PackageNotFoundError:
            torch_version = None
        caps = self.state.known_capabilities()
        return build_report(
            entries_from_reports(self.reports),
            capabilities=caps.to_json() if caps else None,
            environment=environment_info(torch_version),
            leg=opts.leg,
            settings=_options.reported(opts),
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.keep or not self.reports:
            return
        from .ci.files import write_atomic

        self.document = self._document()
        path = self.state.options.report
        if path:
            try:
                write_atomic(path, self.document)
            except OSError as exc:
                self.error = f"could not write the report to {path}: {exc}"
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.USAGE_ERROR  # CI must not read a lost report as success

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .summary import loud_lines, summary_lines

        caps = self.state.known_capabilities()
        lines = summary_lines(caps, self.results, self.outcomes)
        if self.state.loud:
            if caps is None:  # a report of a suite that never imported torch: nothing to probe
                lines.insert(0, "device: not probed: no test used dtypegate's markers or fixtures or imported torch")
            interception = self.state.config.pluginmanager.get_plugin("dtypegate-interception")
            lines.extend(
                loud_lines(
                    _what_ran(self.state),
                    self.results,
                    self.outcomes,
                    simulating=self.state.profile is not None,
                    audit=self.state.options.audit,
                    gap=getattr(interception, "gap", None),
                )
            )
        if self.state.options.report and self.document is not None and not self.error:
            lines.append(f"report: {self.state.options.report}")
        if self.error:
            lines.append(f"ERROR: {self.error}")
        if lines:
            terminalreporter.write_sep("-", "dtypegate")
            for line in lines:
                terminalreporter.write_line(printable(line))
        if self.document is not None:
            from .ci.github import publish_github

            publish_github(self.document, stream=_LineWriter(terminalreporter))  # type: ignore[arg-type]


def _what_ran(state: SessionState) -> str:
    opts = state.options
    parts = [f"--dtypegate-simulate {state.profile.name}"] if state.profile is not None else []
    if opts.strict or opts.audit:
        parts.append("--dtypegate-strict" if opts.strict else "--dtypegate-audit")
    if opts.report:
        parts.append("--dtypegate-report")
    return " ".join(parts)


class _LineWriter:
    """A text stream that hands complete lines to the terminal reporter."""

    def __init__(self, terminalreporter: Any) -> None:
        self._tr = terminalreporter
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._tr.write_line(line)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self._tr.write_line(self._buffer)
            self._buffer = ""
