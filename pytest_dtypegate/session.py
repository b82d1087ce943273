"""One session's state: the checked options, the simulated profile, and the gated device's capabilities.

The capabilities are resolved once, the first time a test needs them: from the
simulated profile, else a user's ``pytest_dtypegate_probe`` hook, else the probe
(cached in pytest's cache and shared with xdist workers). Nothing here runs for a
suite that uses none of the plugin's markers or fixtures.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from . import options as _options
from .capabilities import Capabilities
from .text import printable

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = ["STATE", "SessionState", "hook_failure", "is_worker", "read_options"]


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is an xdist worker (the controller writes reports and headers)."""
    return getattr(config, "workerinput", None) is not None


def hook_failure(hook: str, exc: BaseException) -> str:
    """A user's hook raised: the message names the hook, where it is (its conftest or plugin) and the error."""
    where = None
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame of the hook itself
        if tb.tb_frame.f_code.co_name == hook:
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    text = printable(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
    return f"dtypegate: the {hook} hook{' in ' + where if where else ''} raised {type(exc).__name__}" + (
        f": {text}" if text else ""
    )


def _from_ini_folder(config: pytest.Config, value: str) -> str:
    """A relative path from an ini file is relative to that file's folder, as pytest reads ``paths`` ini values."""
    from pathlib import Path

    text = value.strip()
    if config.inipath is None or not text or Path(text).is_absolute():
        return value
    from .profiles import looks_like_path

    if not looks_like_path(text) and not (config.inipath.parent / text).is_file():
        return value  # a built-in profile name, not a file
    return str(config.inipath.parent / text)


def _raw(config: pytest.Config, spec: _options.Spec) -> tuple[Any, str]:
    """An option's value and where it came from (command line beats ini)."""
    cli = config.getoption(f"dtypegate_{spec.name}")
    if cli is not None:
        return cli, _options.flag(spec.name)
    value = config.getini(f"dtypegate_{spec.name}")
    where = f"ini option dtypegate_{spec.name}"
    if config.inipath is not None:
        where += f" in {config.inipath.name}"
        if spec.path and isinstance(value, str):
            value = _from_ini_folder(config, value)
    return value, where


def read_options(config: pytest.Config) -> _options.Options:
    """Every option, checked; a bad value is a UsageError naming it, its origin and what is valid."""
    try:
        return _options.read(lambda spec: _raw(config, spec))
    except _options.OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


def load_profile(opts: _options.Options) -> Profile | None:
    """The simulated platform named by ``--dtypegate-simulate``, if any; a bad one is a UsageError."""
    if not opts.simulate:
        return None
    from .profiles import ProfileError, load

    try:
        return load(opts.simulate)
    except ProfileError as exc:
        raise pytest.UsageError(f"dtypegate: {exc}") from None


class SessionState:
    """Per-session state, stashed on the config under :data:`STATE`."""

    def __init__(self, config: pytest.Config, options: _options.Options, profile: Profile | None) -> None:
        self.config = config
        self.options = options
        self.profile = profile
        self._capabilities: Capabilities | None = None
        self._device: str | None = None
        self.session_id = uuid.uuid4().hex
        self.needed = False  # some collected item uses a marker or fixture of ours
        self.torch_missing = importlib.util.find_spec("torch") is None
        self.worker_capabilities: dict[str, Any] | None = None  # the controller's copy of a worker's probe

    @property
    def loud(self) -> bool:
        """Whether an option acts on every test (simulate, audit, strict, report): then the header line and
        the summary section always appear and the device's capabilities are resolved up front, whether or
        not the suite uses the plugin's markers or fixtures."""
        opts = self.options
        return self.profile is not None or opts.audit or opts.strict or bool(opts.report)

    @property
    def describes_device(self) -> bool:
        """Whether the header resolves the device now: a test of ours needs it, or a loud option asks for it.

        A report alone does not probe a suite that never imported torch (a torch-free suite stays
        torch-free); simulation costs nothing, and audit and strict import torch to watch its ops anyway.
        """
        if self.needed or self.profile is not None or self.options.audit:
            return True
        return bool(self.options.report) and "torch" in sys.modules

    @property
    def resolved(self) -> Capabilities | None:
        """The capabilities if some test already needed them (never probes)."""
        return self._capabilities

    def known_capabilities(self) -> Capabilities | None:
        """What this process or, on the xdist controller, a worker resolved (never probes)."""
        if self._capabilities is not None:
            return self._capabilities
        if self.worker_capabilities:
            return Capabilities.from_json(self.worker_capabilities)
        return None

    def capabilities(self) -> Capabilities:
        """The gated device's capabilities, resolved on first use."""
        if self._capabilities is None:
            self._capabilities = self._resolve()
        return self._capabilities

    def _resolve(self) -> Capabilities:
        if self.profile is not None:
            return self.profile.capabilities
        try:
            hooked = self.config.hook.pytest_dtypegate_probe(config=self.config, device=self.options.device)
        except Exception as exc:
            raise pytest.UsageError(hook_failure("pytest_dtypegate_probe", exc)) from None
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
        from .cache import probe_cached

        return probe_cached(self.config, self.device(), self.options.probe_timeout, self._shared_session_id())

    def device(self) -> str:
        """The device tests run on (``model_device``); an absent explicit device stops the session."""
        if self._device is None:
            from .probe import DeviceError, resolve_device

            try:
                self._device = resolve_device(self.options.device)
            except DeviceError as exc:
                raise pytest.UsageError(f"dtypegate: {exc} (from --dtypegate-device / dtypegate_device)") from None
        return self._device

    def _shared_session_id(self) -> str:
        from .distributed import shared_session_id

        return shared_session_id(self.config) or self.session_id


STATE = pytest.StashKey[SessionState]()
