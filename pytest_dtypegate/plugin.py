"""pytest hooks for pytest-dtypegate: thin glue over the pure modules.

Loading this module imports neither torch nor transformers; torch is imported
only when a test that uses a marker or fixture of ours is set up.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from . import options, policy
from . import precisions as _p
from .capabilities import Capabilities, Support
from .facts import PROPERTY, TestFacts, facts_from_properties
from .markers import MARKERS, NAMES, MarkerError, parse_dtypes, parse_requirements
from .options import BOOL, HELP, Options, flag

if TYPE_CHECKING:
    from .profiles import Profile

_FIXTURES = frozenset(("model_dtype", "model_precision", "dtypegate_capabilities"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dtypegate", "precision gating for PyTorch model tests (pytest-dtypegate)")
    for name, text in HELP.items():
        if name in BOOL:
            group.addoption(flag(name), action="store_true", default=None, dest=f"dtypegate_{name}", help=text)
            parser.addini(f"dtypegate_{name}", text + " (ini: true or false)", default=None)
        else:
            group.addoption(flag(name), action="store", default=None, dest=f"dtypegate_{name}", help=text)
            parser.addini(f"dtypegate_{name}", text, default=None)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


# -- state ----------------------------------------------------------------------------
def _raw(config: pytest.Config, name: str) -> tuple[Any, str]:
    """An option's value and where it came from (command line beats ini)."""
    cli = config.getoption(f"dtypegate_{name}")
    if cli is not None:
        return cli, flag(name)
    value = config.getini(f"dtypegate_{name}")
    where = f"ini option dtypegate_{name}"
    if config.inipath is not None:
        where += f" in {config.inipath.name}"
    return value, where


def read_options(config: pytest.Config) -> Options:
    """Every option, checked; a bad value is a UsageError naming it, its origin and what is valid."""
    try:
        return options.read(lambda name: _raw(config, name))
    except options.OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


class State:
    """Per-session state, stashed on the config."""

    def __init__(self, config: pytest.Config, options: Options, profile: Profile | None) -> None:
        self.config = config
        self.options = options
        self.profile = profile
        self._capabilities: Capabilities | None = None
        self._device: str | None = None
        self.session_id = uuid.uuid4().hex
        self.needed = False  # some collected item uses a marker or fixture of ours
        self.torch_missing = importlib.util.find_spec("torch") is None
        self.results: dict[str, TestFacts] = {}  # nodeid -> facts (controller side)
        self.outcomes: dict[str, str] = {}
        self.reports: list[pytest.TestReport] = []
        self.worker_capabilities: dict[str, Any] | None = None
        self.document: dict[str, Any] | None = None
        self.report_error: str | None = None

    # the capabilities of the gated device, resolved once ---------------------------
    @property
    def resolved(self) -> Capabilities | None:
        return self._capabilities

    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            self._capabilities = self._resolve()
        return self._capabilities

    def _resolve(self) -> Capabilities:
        if self.profile is not None:
            return self.profile.capabilities
        hooked = self.config.hook.pytest_dtypegate_probe(config=self.config, device=self.options.device)
        if hooked is not None:
            if not isinstance(hooked, Capabilities):
                raise pytest.UsageError(
                    "dtypegate: a pytest_dtypegate_probe hook returned "
                    f"{type(hooked).__name__} ({hooked!r:.80}); it must return "
                    "pytest_dtypegate.Capabilities or None"
                )
            if hooked.torch_version is None and not self.torch_missing:
                from importlib.metadata import PackageNotFoundError, version

                try:
                    hooked = hooked.replace(torch_version=version("torch"))
                except PackageNotFoundError:
                    pass
            return hooked
        if self.torch_missing:
            return Capabilities(device=self.options.device, source="probe", error="torch is not installed")
        return self._probe(self.device())

    def device(self) -> str:
        """The device tests run on (``model_device``); an absent explicit device stops the session."""
        if self._device is None:
            from .probe import DeviceError, resolve_device

            try:
                self._device = resolve_device(self.options.device)
            except DeviceError as exc:
                raise pytest.UsageError(f"dtypegate: {exc} (from --dtypegate-device / dtypegate_device)") from None
        return self._device

    def _probe(self, device: str) -> Capabilities:
        from .cache import probe_cached

        return probe_cached(self.config, device, self.options.probe_timeout, self._shared_session_id())

    def _shared_session_id(self) -> str:
        workerinput = getattr(self.config, "workerinput", None)
        if isinstance(workerinput, dict) and "dtypegate_session" in workerinput:
            return str(workerinput["dtypegate_session"])
        return self.session_id


STATE = pytest.StashKey[State]()
DECISION = pytest.StashKey[policy.Decision]()
FACTS = pytest.StashKey[TestFacts]()
REQUEST = pytest.StashKey[policy.Request]()
PROBLEM = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    options = read_options(config)
    profile = None
    if options.simulate:
        from .profiles import ProfileError, load

        try:
            profile = load(options.simulate)
        except ProfileError as exc:
            raise pytest.UsageError(f"dtypegate: {exc}") from None
    state = State(config, options, profile)
    config.stash[STATE] = state
    if options.device not in ("auto", "cpu") and not state.torch_missing:
        # an explicit accelerator is checked up front (this imports torch, only for
        # runs that name one), so an absent one stops every process, xdist workers too
        state.device()
    config.pluginmanager.register(Collector(state), "dtypegate-collector")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "dtypegate-xdist")


# -- markers ----------------------------------------------------------------------------
def _marks(node: Any) -> list[tuple[str, Any, Any]]:
    """Our markers on a test, its class and its module, closest first."""
    return [(m.name, m.args, m.kwargs) for m in node.iter_markers() if m.name in NAMES]


def parse_markers(node: Any) -> tuple[tuple[policy.Requirement, ...], tuple[int, int] | None]:
    return parse_requirements(_marks(node))


def _dtypes_for(definition: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    mark = definition.get_closest_marker("dtypes")
    return default if mark is None else parse_dtypes(mark.args, mark.kwargs)


def _user_parametrized(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "model_dtype" in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    uses_fixture = "model_dtype" in metafunc.fixturenames
    ours = any(m.name in NAMES for m in metafunc.definition.iter_markers())
    if not uses_fixture and not ours:
        return
    state = metafunc.config.stash[STATE]
    problem = None
    try:
        parse_markers(metafunc.definition)
        names = _dtypes_for(metafunc.definition, state.options.dtypes)
        if metafunc.definition.get_closest_marker("dtype_tolerance") is not None:
            _tolerance_marker(metafunc.definition)
    except MarkerError as exc:
        problem = str(exc)
    if problem is not None:  # outside the except block: one clean message, no chained traceback
        pytest.fail(f"In {metafunc.definition.nodeid}: {problem}", pytrace=False)
    if uses_fixture and not _user_parametrized(metafunc):
        metafunc.parametrize("model_dtype", list(names), ids=list(names), indirect=True)


def _tolerance_marker(node: Any) -> dict[str, tuple[float, float]] | None:
    mark = node.get_closest_marker("dtype_tolerance")
    if mark is None:
        return None
    from .tolerances import parse_marker

    try:
        return parse_marker(mark.args, mark.kwargs)
    except ValueError as exc:
        raise MarkerError(f"@dtype_tolerance: {exc}") from None


def _request_for(item: pytest.Item, state: State) -> policy.Request | None:
    fixturenames = getattr(item, "fixturenames", ())
    uses = any(name in _FIXTURES for name in fixturenames)
    has_marker = any(m.name in NAMES for m in item.iter_markers())
    if not uses and not has_marker:
        return None
    requires, min_cap = parse_markers(item)
    precision: str | None = None
    siblings: tuple[str, ...] = ()
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "model_dtype" in callspec.params:
        try:
            precision = _p.resolve(callspec.params["model_dtype"])
        except _p.UnknownPrecisionError as exc:
            raise MarkerError(f"model_dtype parameter: {exc}") from None
        definition = getattr(item, "definition", item)
        siblings = _dtypes_for(definition, state.options.dtypes)
    return policy.Request(precision, siblings, requires, min_cap)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    for item in items:
        try:
            request = _request_for(item, state)
        except MarkerError as exc:
            item.stash[PROBLEM] = f"In {item.nodeid}: {exc}"  # reported when the test is set up
            continue
        if request is not None:
            item.stash[REQUEST] = request
            state.needed = True


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    state = config.stash[STATE]
    if not state.needed or config.option.collectonly or getattr(config, "workerinput", None) is not None:
        return None
    return "dtypegate: " + state.capabilities().summary_line()


# -- setup: decide ------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    request = item.stash.get(REQUEST, None)
    if request is None:
        problem = item.stash.get(PROBLEM, None)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        return
    problem = None
    try:
        caps = state.capabilities()
    except pytest.UsageError as exc:
        if getattr(item.config, "workerinput", None) is None:
            raise
        problem = str(exc)
    if problem is not None:  # an xdist worker cannot stop the run cleanly: fail the test instead
        pytest.fail(problem, pytrace=False)
    facts = TestFacts(requested=request.precision)
    facts.requires = [("native:" if r.native else "") + r.precision for r in request.requires]
    decision: policy.Decision | None = item.config.hook.pytest_dtypegate_decide(
        config=item.config, item=item, request=request, capabilities=caps
    )
    if decision is None:
        if state.torch_missing and caps.error == "torch is not installed":
            decision = policy.Skip("torch is not installed", request.precision, "unknown")
        else:
            decision = policy.decide(request, caps, state.options.settings)
    elif not isinstance(decision, (policy.Run, policy.Downgrade, policy.Skip, policy.Fail)):
        pytest.fail(
            f"dtypegate: pytest_dtypegate_decide returned {type(decision).__name__}; "
            "it must return a Run, Downgrade, Skip or Fail from pytest_dtypegate.policy, or None",
            pytrace=False,
        )
    item.stash[DECISION] = decision
    facts.decision = decision.verdict
    if isinstance(decision, (policy.Run, policy.Downgrade)):
        facts.precision = decision.precision
        facts.support = decision.support.value if decision.support else None
        if isinstance(decision, policy.Downgrade):
            facts.downgraded_from = decision.requested
            facts.reason = decision.reason
    else:
        facts.reason = decision.reason
        if isinstance(decision, policy.Skip):
            facts.skip_kind = decision.kind
    item.stash[FACTS] = facts
    _record(item, facts)
    if isinstance(decision, policy.Skip):
        pytest.skip(decision.reason)
    if isinstance(decision, policy.Fail):
        pytest.fail(decision.reason, pytrace=False)


def _record(item: pytest.Item, facts: TestFacts, report: pytest.TestReport | None = None) -> None:
    """Keep exactly one ``dtypegate`` entry in the test's user_properties (and in ``report``'s)."""
    entry = (PROPERTY, facts.dumps())
    for props in (item.user_properties, report.user_properties if report is not None else None):
        if props is None:
            continue
        props[:] = [p for p in props if not (isinstance(p, tuple) and p and p[0] == PROPERTY)]
        props.append(entry)


# -- fixtures ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelPrecision:
    """What ``model_precision`` gives a test: the precision that runs and why."""

    name: str
    requested: str
    dtype: Any
    downgraded_from: str | None
    support: Support | None
    rtol: float
    atol: float
    device: str

    @property
    def autocast(self) -> bool:
        return _p.PRECISIONS[self.name].autocast is not None


def _state(request: pytest.FixtureRequest) -> State:
    return request.config.stash[STATE]


def _need_torch(state: State) -> None:
    if state.torch_missing:
        pytest.skip("torch is not installed")


@pytest.fixture
def model_device(request: pytest.FixtureRequest) -> str:
    """The device the test's tensors go on (``cuda:0``, ``mps``, ``cpu`` ...)."""
    state = _state(request)
    _need_torch(state)
    return state.device()


@pytest.fixture
def model_dtype(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The ``torch.dtype`` this test runs in (parametrized over the precision list)."""
    state = _state(request)
    _need_torch(state)
    record = _model_precision(request, state)
    request.node.stash[_RECORD] = record
    from .tolerances import precision_context

    with precision_context(record.name, record.device):
        yield record.dtype


_RECORD = pytest.StashKey[ModelPrecision]()


def _model_precision(request: pytest.FixtureRequest, state: State) -> ModelPrecision:
    item = request.node
    decision = item.stash.get(DECISION, None)
    requested = _p.resolve(getattr(request, "param", "fp32"))
    if isinstance(decision, (policy.Run, policy.Downgrade)) and decision.precision:
        name = decision.precision
        downgraded = decision.requested if isinstance(decision, policy.Downgrade) else None
        support = decision.support
    else:
        name = requested if requested != _p.AUTO else "fp32"
        downgraded, support = None, None
    rtol, atol = _tolerances(item, state, name)
    return ModelPrecision(
        name=name,
        requested=requested,
        dtype=_p.torch_dtype(name),
        downgraded_from=downgraded,
        support=support,
        rtol=rtol,
        atol=atol,
        device=state.device(),
    )


def _tolerances(item: Any, state: State, name: str) -> tuple[float, float]:
    from .tolerances import resolve

    try:
        marker = _tolerance_marker(item)
    except MarkerError as exc:
        pytest.fail(f"In {item.nodeid}: {exc}", pytrace=False)
    return resolve(name, marker, state.options.tolerance)


@pytest.fixture
def model_precision(request: pytest.FixtureRequest, model_dtype: Any) -> ModelPrecision:
    """The resolved precision record: ``.name``, ``.requested``, ``.dtype``, ``.downgraded_from`` ..."""
    record: ModelPrecision = request.node.stash[_RECORD]
    return record


@pytest.fixture(scope="session")
def dtypegate_capabilities(request: pytest.FixtureRequest) -> Capabilities:
    """The gated device's capabilities, as the policy sees them."""
    return _state(request).capabilities()


# -- call: interception, audit, numerical health -------------------------------------------------
def _declared(item: pytest.Item) -> frozenset[str]:
    return policy.declared(item.stash.get(REQUEST, None), item.stash.get(DECISION, None))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    state = item.config.stash[STATE]
    opts = state.options
    request = item.stash.get(REQUEST, None)
    if state.profile is None and not opts.audit and not opts.check_finite and request is None:
        return (yield)  # nothing of ours in this test: no cost
    from contextlib import ExitStack

    decision = item.stash.get(DECISION, None)
    ran = decision.precision if isinstance(decision, (policy.Run, policy.Downgrade)) else None
    error: BaseException | None = None
    result: None = None
    with ExitStack() as stack:
        if request is not None:
            from .tolerances import tolerance_scope

            mark = item.get_closest_marker("dtype_tolerance")
            stack.enter_context(tolerance_scope(mark.kwargs if mark else None, opts.tolerance))
        interceptor = None
        if state.profile is not None or opts.audit:
            from .simulate import Interceptor

            interceptor = stack.enter_context(Interceptor(state.profile, audit=opts.audit))
        watch = None
        if opts.check_finite and ran:
            from .finite import FiniteWatch

            watch = stack.enter_context(FiniteWatch(ran))
        try:
            result = yield
        except BaseException as exc:  # inspected below, then re-raised unchanged
            error = exc
    facts = item.stash.get(FACTS, None)
    if interceptor is not None and opts.audit:
        if facts is None:
            facts = TestFacts(decision="none")
            item.stash[FACTS] = facts
        facts.audit = [f"{op}:{prec}" for op, prec in interceptor.executed]
        _record(item, facts)
    if watch is not None and watch.finding is not None:
        # the first layer that overflowed: shown even when the test failed later on
        # (e.g. in sampling), since that is where the failure really started
        message = watch.finding.message()
        if facts is not None:
            facts.category = "nonfinite"
            facts.error_precision = ran
            _record(item, facts)
        if error is None:
            pytest.fail(message, pytrace=False)
        item.add_report_section("call", "dtypegate", message)
    if error is not None:
        raise error
    if interceptor is not None and opts.strict:
        _strict_check(item, state, interceptor.executed)
    return result


def _strict_check(item: pytest.Item, state: State, executed: list[tuple[str, str]]) -> None:
    found = policy.undeclared_gemm(executed, _declared(item), state.capabilities())
    if found is None:
        return
    precision, reason = found
    facts = item.stash.get(FACTS, None)
    if facts is not None:
        facts.category = "undeclared"
        facts.error_precision = precision
        _record(item, facts)
    pytest.fail(reason, pytrace=False)


# -- report ------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    state = item.config.stash[STATE]
    if report.skipped and call.when == "setup" and isinstance(item.stash.get(DECISION, None), policy.Skip):
        # show the test's own location, not this plugin's, in -rs
        path, line, _ = item.location
        decision = item.stash[DECISION]
        assert isinstance(decision, policy.Skip)
        report.longrepr = (str(path), (line or 0) + 1, f"Skipped: {decision.reason}")
    if report.failed and call.excinfo is not None and call.when in ("setup", "call"):
        try:
            _explain_failure(item, state, call, report)
        except Exception as exc:  # never turn a test failure into an INTERNALERROR
            report.sections.append(
                ("dtypegate", f"dtypegate could not explain this failure: {type(exc).__name__}: {exc}")
            )
    return report


def _explain_failure(item: pytest.Item, state: State, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    from . import errors

    exc = call.excinfo.value if call.excinfo else None
    if exc is None or isinstance(exc, pytest.fail.Exception):
        return
    classification = None
    for text in errors.exception_text(exc):
        classification = item.config.hook.pytest_dtypegate_classify_error(config=item.config, text=text)
        if classification is not None:
            if not isinstance(classification, errors.Classification):
                report.sections.append((
                    "dtypegate",
                    f"a pytest_dtypegate_classify_error hook returned {type(classification).__name__} "
                    f"({classification!r:.80}); it must return pytest_dtypegate.errors.Classification or None",
                ))
                return
            break
    if classification is None:
        classification = errors.classify(exc)
    if classification is None:
        return
    caps = state.resolved or (state.capabilities() if not state.torch_missing else None)
    decision = item.stash.get(DECISION, None)
    request = item.stash.get(REQUEST, None)
    declared = classification.precision in _declared(item) if request is not None else False
    probe_usable = bool(
        caps is not None
        and classification.precision
        and policy.usable(classification.precision, caps, state.options.settings)
    )
    text = errors.format_section(
        classification,
        capabilities=caps,
        declared=declared,
        probe_usable=probe_usable,
        on_unsupported=state.options.settings.on_unsupported,
        requested=request.precision if request else None,
    )
    report.sections.append(("dtypegate", text))
    facts = item.stash.get(FACTS, None) or TestFacts(decision=decision.verdict if decision else "none")
    facts.category = classification.category
    facts.error_precision = classification.precision
    item.stash[FACTS] = facts
    _record(item, facts, report)


class Collector:
    """Gathers every test report (on the xdist controller too) for the summary and the JSON report."""

    def __init__(self, state: State) -> None:
        self.state = state
        # every report is kept only when a JSON report or a GitHub summary will be written
        self.keep = bool(state.options.report) or os.environ.get("GITHUB_ACTIONS") == "true"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        if self.keep:
            state.reports.append(report)
        if report.user_properties:
            facts = facts_from_properties(report.user_properties)
            if facts is not None:
                state.results[report.nodeid] = facts
        if report.nodeid not in state.results:
            return  # not a test of ours: nothing more to record
        if report.when == "call" or (report.when == "setup" and not report.passed):
            state.outcomes[report.nodeid] = report.outcome
        elif report.when == "teardown" and report.failed:
            state.outcomes[report.nodeid] = "error"

    def _capabilities(self) -> Capabilities | None:
        state = self.state
        if state.resolved is not None:
            return state.resolved
        if state.worker_capabilities:
            return Capabilities.from_json(state.worker_capabilities)
        return None

    def _document(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        from . import report

        state, opts = self.state, self.state.options
        try:
            torch_version: str | None = version("torch")
        except PackageNotFoundError:
            torch_version = None
        caps = self._capabilities()
        settings = {
            "dtypes": list(opts.dtypes),
            "on_unsupported": opts.settings.on_unsupported,
            "allow_emulated": opts.settings.allow_emulated,
            "device": opts.device,
            "simulate": opts.simulate,
            "audit": opts.audit,
            "strict": opts.strict,
            "check_finite": opts.check_finite,
        }
        return report.build_report(
            report.entries_from_reports(state.reports),
            capabilities=caps.to_json() if caps else None,
            environment=report.environment_info(torch_version),
            leg=opts.leg,
            settings=settings,
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if getattr(session.config, "workerinput", None) is not None:
            return  # xdist worker: the controller writes the report
        if not self.keep or not state.reports:
            return
        from . import report

        state.document = self._document()
        if state.options.report:
            try:
                report.write_atomic(state.options.report, state.document)
            except OSError as exc:
                state.report_error = f"could not write the report to {state.options.report}: {exc}"
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.USAGE_ERROR  # CI must not read a lost report as success

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        from .summary import summary_lines

        state = self.state
        lines = summary_lines(self._capabilities(), state.results, state.outcomes)
        if state.options.report and state.document is not None and not state.report_error:
            lines.append(f"report: {state.options.report}")
        if state.report_error:
            lines.append(f"ERROR: {state.report_error}")
        if lines:
            terminalreporter.write_sep("-", "dtypegate")
            for line in lines:
                terminalreporter.write_line(line)
        if state.document is not None:
            from . import report

            report.publish_github(state.document, stream=_LineWriter(terminalreporter))  # type: ignore[arg-type]


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


# -- xdist ------------------------------------------------------------------------------
class XdistHooks:
    """Registered only when pytest-xdist is present."""

    def __init__(self, state: State) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        # one probe for the whole run: workers share the controller's session id,
        # and the first worker that needs the probe runs it under a cache lock
        node.workerinput["dtypegate_session"] = self.state.session_id

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("dtypegate_capabilities")
        if data and self.state.worker_capabilities is None:
            self.state.worker_capabilities = data

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        caps = self.state.resolved
        if workeroutput is not None and caps is not None:
            workeroutput["dtypegate_capabilities"] = caps.to_json()


