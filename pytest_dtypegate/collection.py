"""Collection: parametrize ``model_dtype``, read each test's markers into a request, print the header line.

Cheap by design: no torch, no probe. A bad marker is reported as a collection
error naming the test (at parametrization) or as a failure at setup (for markers
that only the collected item shows).
"""

from __future__ import annotations

from typing import Any

import pytest

from . import policy
from . import precisions as _p
from .markers import NAMES, MarkerError, parse_dtypes, parse_requirements
from .session import SessionState, is_worker
from .text import printable

__all__ = ["FIXTURES", "PROBLEM", "REQUEST", "Collection", "tolerance_marker"]

#: The fixtures that make a test one of ours (``model_device`` alone does not: it needs no decision).
FIXTURES = frozenset(("model_dtype", "model_precision", "dtypegate_capabilities"))
#: What a collected test asks of the device.
REQUEST = pytest.StashKey[policy.Request]()
#: A marker problem found at collection, reported when the test is set up.
PROBLEM = pytest.StashKey[str]()


def _marks(node: Any) -> list[tuple[str, Any, Any]]:
    """Our markers on a test, its class and its module, closest first."""
    return [(m.name, m.args, m.kwargs) for m in node.iter_markers() if m.name in NAMES]


def _dtypes_for(definition: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    mark = definition.get_closest_marker("dtypes")
    return default if mark is None else parse_dtypes(mark.args, mark.kwargs)


def tolerance_marker(node: Any) -> dict[str, tuple[float, float]] | None:
    """The test's ``@dtype_tolerance`` as precision -> (rtol, atol); MarkerError when malformed."""
    mark = node.get_closest_marker("dtype_tolerance")
    if mark is None:
        return None
    from .tolerances import parse_marker

    try:
        return parse_marker(mark.args, mark.kwargs)
    except ValueError as exc:
        raise MarkerError(f"@dtype_tolerance: {exc}") from None


def _user_parametrized(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "model_dtype" in names:
            return True
    return False


def request_for(item: pytest.Item, default_dtypes: tuple[str, ...]) -> policy.Request | None:
    """What ``item`` asks of the device, or None when it uses nothing of ours."""
    uses = any(name in FIXTURES for name in getattr(item, "fixturenames", ()))
    has_marker = any(m.name in NAMES for m in item.iter_markers())
    if not uses and not has_marker:
        return None
    requires, min_cap = parse_requirements(_marks(item))
    precision: str | None = None
    siblings: tuple[str, ...] = ()
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "model_dtype" in callspec.params:
        try:
            precision = _p.resolve(callspec.params["model_dtype"])
        except _p.UnknownPrecisionError as exc:
            raise MarkerError(f"model_dtype parameter: {exc}") from None
        siblings = _dtypes_for(getattr(item, "definition", item), default_dtypes)
    return policy.Request(precision, siblings, requires, min_cap)


class Collection:
    """Collection hooks; registered for every session."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self._announced = False

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        uses_fixture = "model_dtype" in metafunc.fixturenames
        ours = any(m.name in NAMES for m in metafunc.definition.iter_markers())
        if not uses_fixture and not ours:
            return
        problem = None
        try:
            parse_requirements(_marks(metafunc.definition))
            names = _dtypes_for(metafunc.definition, self.state.options.dtypes)
            tolerance_marker(metafunc.definition)
        except MarkerError as exc:
            problem = str(exc)
        if problem is not None:  # outside the except block: one clean message, no chained traceback
            pytest.fail(f"In {metafunc.definition.nodeid}: {problem}", pytrace=False)
        if uses_fixture and not _user_parametrized(metafunc):
            metafunc.parametrize("model_dtype", list(names), ids=list(names), indirect=True)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            try:
                request = request_for(item, self.state.options.dtypes)
            except MarkerError as exc:
                item.stash[PROBLEM] = f"In {item.nodeid}: {exc}"
                continue
            if request is not None:
                item.stash[REQUEST] = request
                self.state.needed = True

    def pytest_report_collectionfinish(self, config: pytest.Config) -> str | None:
        state = self.state
        if not state.describes_device or config.option.collectonly or is_worker(config):
            return None
        return self.header()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # under xdist the controller collects nothing, so the collection-finish line never comes: a run that
        # asked for simulation, audit or strict says it when the first worker has collected
        state = self.state
        if self._announced or not state.describes_device:
            return
        self._announced = True
        terminal = state.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.ensure_newline()
            terminal.write_line(self.header())

    def header(self) -> str:
        """``dtypegate: simulating v100 (sm_70): ...``: the gated device, resolved now if nothing did yet."""
        return "dtypegate: " + printable(self.state.capabilities().summary_line())
