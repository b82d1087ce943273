"""The pytest11 entry of pytest-dtypegate: options, hookspecs, markers, and the role objects.

Loading this module imports neither torch nor transformers. The work lives in
role objects registered at configure time (as pytest-xdist registers its
``DSession``): :mod:`.collection` (parametrization, requests, the header line),
:mod:`.gating` (the setup-time decision), :mod:`.callphase` (interception, audit,
strict, finite watch), :mod:`.failures` (explained failures), :mod:`.reporting`
(summary and report, on the controller only) and :mod:`.distributed` (xdist).
The fixtures are defined in :mod:`.fixtures` and imported here so pytest finds
them on the plugin.
"""

from __future__ import annotations

import pytest

from . import options
from .callphase import CallPhase
from .collection import Collection
from .failures import FailureReports
from .fixtures import dtypegate_capabilities, model_device, model_dtype, model_precision
from .gating import Gatekeeper
from .markers import MARKERS
from .reporting import Reporter
from .session import STATE, SessionState, is_worker, load_profile, read_options

__all__ = ["dtypegate_capabilities", "model_device", "model_dtype", "model_precision"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dtypegate", "precision gating for PyTorch model tests (pytest-dtypegate)")
    options.register(group.addoption, parser.addini)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    opts = read_options(config)
    state = SessionState(config, opts, load_profile(opts))
    config.stash[STATE] = state
    if opts.device not in ("auto", "cpu") and not state.torch_missing:
        # an explicit accelerator is checked up front (this imports torch, only for
        # runs that name one), so an absent one stops every process, xdist workers too
        state.device()
    plugins = config.pluginmanager
    plugins.register(Collection(state), "dtypegate-collection")
    plugins.register(Gatekeeper(), "dtypegate-gate")
    plugins.register(CallPhase(state), "dtypegate-callphase")
    plugins.register(FailureReports(state), "dtypegate-failures")
    if is_worker(config):
        from .distributed import Worker

        plugins.register(Worker(state), "dtypegate-xdist-worker")
    else:
        plugins.register(Reporter(state), "dtypegate-reporter")
        if plugins.hasplugin("xdist"):
            from .distributed import Controller

            plugins.register(Controller(state), "dtypegate-xdist-controller")
