"""The test phases: tolerance scope, op interception (simulation and audit), the finite watch, strict mode.

A test that uses nothing of ours, in a session with no simulation, audit or
finite check, passes straight through at no cost: :class:`Interception` is
registered only when ``--dtypegate-simulate`` or ``--dtypegate-audit`` (or
``--dtypegate-strict``, which implies it) is on.  Then every test gets one
:class:`~pytest_dtypegate.intercept.Interceptor`, entered for its setup, call and
teardown, so a GEMM in a fixture of any scope is simulated and audited; a
session-wide one (simulation only) also covers collection and the time between
tests, so a library's cached capability check meets the simulated platform
wherever it first runs.

Afterwards the audit and the call sites go into the test's facts, a non-finite
finding fails the test (or annotates a failure that came later), and strict
mode fails a test that ran a GEMM in an undeclared precision the device cannot
run natively, naming where it was called.  Strict blames no call site that
matches an ignore pattern (the built-in library checks of
:data:`~pytest_dtypegate.callsites.BUILTIN_IGNORES` and
``dtypegate_strict_ignore``), and it judges a GEMM that a fixture shared by
several tests (class, module, package or session scope) ran in its setup
against every test that uses the fixture, not only the first one: the verdict
does not depend on the order the tests run in.  A shared fixture's teardown
runs after its tests have been reported; its GEMMs are audited, never blamed.
"""

from __future__ import annotations

import importlib
from collections.abc import Generator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

from . import policy
from .callsites import BUILTIN_IGNORES, Ignores
from .collection import REQUEST
from .facts import Category
from .gating import DECISION, FACTS, facts_of, record_facts
from .session import SessionState

if TYPE_CHECKING:
    from types import ModuleType

    from .finite import FiniteWatch
    from .intercept import Call, Interceptor

__all__ = ["ITEM", "CallPhase", "Interception", "declared"]

#: A test's interceptor, made at setup and entered again for its call and teardown.
ITEM = pytest.StashKey["Interceptor"]()
_SHARED_SCOPES = frozenset(("class", "module", "package", "session"))


def declared(item: pytest.Item) -> frozenset[str]:
    """The precisions ``item`` told the gate about (fp32/fp64, its markers, what it ran in)."""
    return policy.declared(item.stash.get(REQUEST, None), item.stash.get(DECISION, None))


class CallPhase:
    """Wraps each test's call; registered for every session."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.interception: Interception | None = None
        if state.profile is not None or state.options.audit:
            self.interception = Interception(state)
            state.config.pluginmanager.register(self.interception, "dtypegate-interception")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        opts = self.state.options
        request = item.stash.get(REQUEST, None)
        interceptor = item.stash.get(ITEM, None)
        if interceptor is None and not opts.check_finite and request is None:
            return (yield)  # nothing of ours in this test: no cost
        decision = item.stash.get(DECISION, None)
        ran = decision.precision if isinstance(decision, (policy.Run, policy.Downgrade)) else None
        error: BaseException | None = None
        watch: FiniteWatch | None = None
        with ExitStack() as stack:
            if request is not None:
                from .tolerances import tolerance_scope

                mark = item.get_closest_marker("dtype_tolerance")
                stack.enter_context(tolerance_scope(mark.kwargs if mark else None, opts.tolerance))
            if interceptor is not None and self.interception is not None:
                stack.enter_context(self.interception.phase(interceptor, "call"))
            if opts.check_finite and ran:
                from .finite import FiniteWatch

                watch = stack.enter_context(FiniteWatch(ran))
            try:
                yield
            except BaseException as exc:  # inspected below, then re-raised unchanged
                error = exc
        if interceptor is not None and self.interception is not None:
            self.interception.record(item, interceptor)
        if watch is not None and watch.finding is not None:
            self._nonfinite(item, watch, ran, failed=error is not None)
        if error is not None:
            raise error
        if interceptor is not None and self.interception is not None and opts.strict:
            self.interception.strict(item, interceptor, ("setup", "call"))

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


class Interception:
    """Simulation and audit around every test phase; registered only when one of them is on."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        opts = state.options
        self.ignores = Ignores([pattern for pattern, _ in BUILTIN_IGNORES] + list(opts.strict_ignore))
        self.rootdir = str(state.config.rootpath)
        self.current: Interceptor | None = None  # the test interceptor of the phase running now
        # id of a fixture function's code (the fixture keeps it alive) -> (name, scope): a shared fixture's
        # teardown GEMMs are attributed to it
        self.fixture_codes: dict[int, tuple[str, str]] = {}
        # GEMMs a shared fixture ran in its setup, by (name, scope, baseid): judged for every test using it
        self.shared: dict[tuple[str, str, str], list[Call]] = {}
        # imported here, not with the plugin: a session without simulation or audit never loads it (and by
        # its name in sys.modules, so that a module re-imported by an in-process pytester run is one object)
        self.intercept: ModuleType = importlib.import_module(f"{__package__}.intercept")
        self.gap: str | None = None  # what the installed interception cannot see (an older torch)
        self._started = False
        self._held = False
        self._base: Interceptor | None = None

    # -- the session ---------------------------------------------------------------
    def start(self) -> None:
        """Install the interception for the rest of the session (on first collection or test here)."""
        if self._started:
            return
        self._started = True
        if self.state.torch_missing:
            return
        problem = None
        try:
            self.intercept.hold()
        except Exception as exc:  # a torch this interception cannot patch: stop, saying so
            problem = f"dtypegate: could not install the op interception: {type(exc).__name__}: {exc}"
        if problem is not None:
            raise pytest.UsageError(problem)
        self._held = True
        self.gap = self.intercept.coverage()
        profile = self.state.profile
        if profile is not None and profile.unsupported:
            # between tests and during collection too: a capability check that a library caches
            # (transformers.testing_utils.require_torch_bf16 at import) sees the simulated platform
            self._base = self.intercept.Interceptor(profile, audit=False).__enter__()

    def stop(self) -> None:
        base, self._base = self._base, None
        if base is not None:
            base.__exit__(None, None, None)
        if self._held:
            self._held = False
            self.intercept.release()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        self.start()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.stop()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.stop()

    # -- one test ------------------------------------------------------------------
    def phase(self, interceptor: Interceptor, name: str) -> Any:
        """A context that runs one phase of a test inside its interceptor."""
        return _Phase(self, interceptor, name)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self.start()
        interceptor: Interceptor = self.intercept.Interceptor(self.state.profile, audit=self.state.options.audit)
        interceptor.fixture_codes = self.fixture_codes
        item.stash[ITEM] = interceptor
        try:
            with self.phase(interceptor, "setup"):
                return (yield)
        finally:
            self.record(item, interceptor)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
        interceptor = self.current
        if interceptor is None:
            return (yield)
        name, scope = str(fixturedef.argname), str(fixturedef.scope)
        code = getattr(getattr(fixturedef, "func", None), "__code__", None)
        if code is not None and scope in _SHARED_SCOPES:
            self.fixture_codes[id(code)] = (name, scope)
        outer, interceptor.fixture = interceptor.fixture, (name, scope)
        start = len(interceptor.calls)
        try:
            return (yield)
        finally:
            interceptor.fixture = outer
            if scope in _SHARED_SCOPES:
                ran = [c for c in interceptor.calls[start:] if c.fixture == (name, scope)]
                self.shared.setdefault((name, scope, str(getattr(fixturedef, "baseid", ""))), []).extend(ran)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
        interceptor = item.stash.get(ITEM, None)
        if interceptor is None:
            return (yield)
        try:
            with self.phase(interceptor, "teardown"):
                result = yield
        finally:
            self.record(item, interceptor)
        if self.state.options.strict:
            self.strict(item, interceptor, ("teardown",))
        return result

    # -- facts and strict ------------------------------------------------------------
    def _json(self, call: Call) -> dict[str, Any]:
        out: dict[str, Any] = {"op": call.op, "precision": call.precision}
        if call.site is not None:
            out.update(call.site.to_json(self.rootdir))
        if call.phase:
            out["phase"] = call.phase
        if call.fixture is not None:
            out["fixture"], out["scope"] = call.fixture
        if call.backward:
            out["backward"] = True
        ignored = self.ignores.match(call.site)
        if ignored:
            out["ignored"] = ignored
        return out

    def record(self, item: pytest.Item, interceptor: Interceptor) -> None:
        """Put what the interceptor saw so far into the test's facts (audit, call sites, simulated errors)."""
        audit = self.state.options.audit
        if not audit and not interceptor.raised:
            return
        facts = facts_of(item)
        if audit:
            facts.audit = [f"{op}:{precision}" for op, precision in interceptor.executed]
            facts.sites = [self._json(call) for call in interceptor.calls]
        facts.simulated = [self._json(call) for call in interceptor.raised]
        record_facts(item, facts)

    def where(self, call: Call, item: pytest.Item) -> str:
        """Where an op ran, for a message: ``tests/test_m.py:12 in test_x`` and the fixture, phase or pass."""
        text = call.site.describe(self.rootdir) if call.site is not None else "a place with no Python caller"
        if call.fixture is not None:
            name, scope = call.fixture
            text += f", in the {scope}-scoped fixture {name!r}"
            if scope in _SHARED_SCOPES:
                text += " (shared: set up once, judged for every test that uses it)"
        elif call.phase in ("setup", "teardown"):
            text += f", during the test's {call.phase}"
        if call.backward:
            text += ", in the backward pass"
        return text

    def _shared_for(self, item: pytest.Item, own: list[Call]) -> list[Call]:
        """The setup GEMMs of the shared fixtures ``item`` uses, that another test's setup ran."""
        names = set(getattr(item, "fixturenames", ()))
        out: list[Call] = []
        for (name, _scope, baseid), calls in self.shared.items():
            if name in names and item.nodeid.startswith(baseid):
                out.extend(c for c in calls if c not in own)
        return out

    def strict(self, item: pytest.Item, interceptor: Interceptor, phases: tuple[str, ...]) -> None:
        """Fail the test if it ran an undeclared GEMM precision the device cannot run natively."""
        own = [c for c in interceptor.calls if c.phase in phases]
        if "setup" in phases:
            own += self._shared_for(item, interceptor.calls)
        blamed = [
            (c.op, c.precision, self.where(c, item))
            for c in own
            if self.ignores.match(c.site) is None
            and not (c.phase == "teardown" and c.fixture is not None and c.fixture[1] in _SHARED_SCOPES)
        ]
        if not blamed:
            return
        found = policy.undeclared_gemm(blamed, declared(item), self.state.capabilities())
        if found is None:
            return
        precision, reason = found
        facts = item.stash.get(FACTS, None)
        if facts is not None:
            facts.category = Category.UNDECLARED.value
            facts.error_precision = precision
            record_facts(item, facts)
        pytest.fail(reason, pytrace=False)


class _Phase:
    """Enter a test's interceptor for one phase, and tell the fixture hook which one runs."""

    def __init__(self, owner: Interception, interceptor: Interceptor, name: str) -> None:
        self.owner = owner
        self.interceptor = interceptor
        self.name = name

    def __enter__(self) -> Interceptor:
        self.interceptor.phase = self.name
        self.owner.current = self.interceptor
        return self.interceptor.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.owner.current = None
        self.interceptor.__exit__(*exc)
