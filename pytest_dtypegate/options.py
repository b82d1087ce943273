"""The plugin's options, declared once: name, help, default, checker, and whether the report records it.

The :class:`Options` dataclass is the table: each field is one option,
``--dtypegate-X`` on the command line with an ini twin ``dtypegate_X`` sharing
one help text (the command line wins). :func:`register` feeds pytest's parser
from it, :func:`read` checks raw values with each field's checker, and
:func:`reported` gives the settings a run report records.

Free of pytest (only the report check looks at the file system): :func:`read`
takes a function that returns an option's raw value and where it came from,
and returns checked :class:`Options` or raises :class:`OptionError` with a
message of one shape: ``dtypegate: invalid NAME VALUE (from WHERE): WHAT IS WRONG``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import policy
from . import precisions as _p
from .callsites import parse_ignores

__all__ = ["MAX_SECONDS", "OptionError", "Options", "flag", "read", "register", "reported", "seconds", "spec"]

_TRUTH = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class OptionError(ValueError):
    """A bad option value; the message names the value, where it came from and what is valid."""


# -- one checker per kind of value: text in, value out, ValueError(what is wrong) --------
def _dtypes(text: str) -> tuple[str, ...]:
    try:
        return _p.parse_list(text)
    except _p.UnknownPrecisionError as exc:
        raise ValueError(str(exc)) from None
    except ValueError:
        raise ValueError(f"no precision given; valid names: {', '.join(_p.names())}") from None


def _choice(valid: tuple[str, ...]) -> Callable[[str], str]:
    def check(text: str) -> str:
        value = text.strip().lower()
        if value not in valid:
            raise ValueError(f"valid choices: {', '.join(valid)}")
        return value

    return check


def _device(text: str) -> str:
    from .probe import DEVICE_CHOICES, DeviceError, validate_device

    try:
        return validate_device(text)
    except DeviceError:
        raise ValueError(f"valid forms: {DEVICE_CHOICES}") from None


#: The longest probe timeout accepted: a day (larger values overflow the OS timers subprocess uses).
MAX_SECONDS = 86400.0


def seconds(text: str) -> float:
    """A timeout: a positive, finite number of seconds, at most :data:`MAX_SECONDS`."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("give a positive number of seconds")
    if value > MAX_SECONDS:
        raise ValueError(f"give at most {MAX_SECONDS:g} seconds (a day)")
    return value


def _tolerance(text: str) -> dict[str, tuple[float, float]]:
    from .tolerances import parse_ini

    return parse_ini(text)


def _truth(text: str) -> bool:
    value = text.strip().lower()
    if value not in _TRUTH:
        raise ValueError("valid choices: true, false")
    return _TRUTH[value]


def _report(text: str) -> str:
    path = text.strip()
    if os.path.isdir(path):
        raise ValueError("it is a directory; give a file name, e.g. reports/run.json")
    return path


def _text(text: str) -> str:
    return text.strip()


@dataclass(frozen=True)
class Spec:
    """How one option is declared and checked."""

    name: str
    help: str
    check: Callable[[str], Any]
    switch: bool  # a command-line flag without a value (store_true); its ini twin takes true/false
    reported: bool  # recorded in the run report's settings
    path: bool  # a file path (or a name that may be one): from an ini file, relative to that file's folder


def _option(
    default: Any = None,
    *,
    help: str,
    check: Callable[[str], Any],
    reported: bool = False,
    path: bool = False,
    factory: Callable[[], Any] | None = None,
) -> Any:
    meta = {"help": help, "check": check, "reported": reported, "path": path}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class Options:
    """Every option, checked. Field order is the order ``pytest --help`` lists them in."""

    dtypes: tuple[str, ...] = _option(
        _p.DEFAULT_DTYPES,
        help="precisions model_dtype runs, e.g. 'bf16 fp16 fp32' (default: bf16 fp16 fp32)",
        check=_dtypes,
        reported=True,
    )
    on_unsupported: str = _option(
        policy.ON_UNSUPPORTED[0],
        help="what happens to a test whose precision the device cannot run: skip | downgrade | fail",
        check=_choice(policy.ON_UNSUPPORTED),
        reported=True,
    )
    allow_emulated: str = _option(
        policy.ALLOW_EMULATED[0],
        help="run precisions the device only emulates: auto (on the CPU only) | true | false",
        check=_choice(policy.ALLOW_EMULATED),
        reported=True,
    )
    device: str = _option(
        "auto",
        help="device to gate and run on: auto | cpu | cuda | cuda:N | mps | xpu | xpu:N",
        check=_device,
        reported=True,
    )
    simulate: str | None = _option(
        help="behave as a simulated platform: a built-in profile name (see `dtypegate profiles`) or a file",
        check=_text,
        reported=True,
        path=True,
    )
    audit: bool = _option(
        False, help="record the precisions of the GEMM-family ops each test executes", check=_truth, reported=True
    )
    strict: bool = _option(
        False,
        help="fail a test that executed a GEMM in a precision the device cannot run natively without "
        "declaring it (implies --dtypegate-audit)",
        check=_truth,
        reported=True,
    )
    strict_ignore: tuple[str, ...] = _option(
        (),
        help="call sites strict mode does not blame, besides the built-in library capability checks: "
        "module:function or path patterns (fnmatch), separated by spaces or lines",
        check=parse_ignores,
    )
    report: str | None = _option(help="write the run's JSON report to this path", check=_report, path=True)
    leg: str | None = _option(
        help="label of this run in the cross-run matrix (default: the device name or the profile)", check=_text
    )
    probe_timeout: float = _option(
        60.0, help="seconds before the capability probe is abandoned (default 60)", check=seconds
    )
    check_finite: bool = _option(
        False, help="fail a low-precision test whose model outputs contain NaN or inf", check=_truth, reported=True
    )
    tolerance: dict[str, tuple[float, float]] = _option(  # noqa: RUF009 - _option returns a dataclasses.field
        help="per-precision comparison tolerances, e.g. 'bf16:2e-2,1e-3 fp16:1e-3,1e-5'",
        check=_tolerance,
        factory=dict,
    )

    @property
    def settings(self) -> policy.Settings:
        """What the per-test decision needs of the options."""
        return policy.Settings(self.on_unsupported, self.allow_emulated)


def spec() -> Iterator[Spec]:
    """The option table, in declaration order."""
    for f in dataclasses.fields(Options):
        meta = f.metadata
        yield Spec(f.name, meta["help"], meta["check"], f.default is False, meta["reported"], meta["path"])


def flag(name: str) -> str:
    return "--dtypegate-" + name.replace("_", "-")


def register(addoption: Callable[..., None], addini: Callable[..., None]) -> None:
    """Declare every option and its ini twin (``addoption``/``addini`` are pytest's)."""
    for s in spec():
        if s.switch:
            addoption(flag(s.name), action="store_true", default=None, dest=f"dtypegate_{s.name}", help=s.help)
            addini(f"dtypegate_{s.name}", s.help + " (ini: true or false)", default=None)
        else:
            addoption(flag(s.name), action="store", default=None, dest=f"dtypegate_{s.name}", help=s.help)
            addini(f"dtypegate_{s.name}", s.help, default=None)


def read(raw: Callable[[Spec], tuple[Any, str]]) -> Options:
    """Check every option; ``raw(spec)`` returns its value (None when unset) and where it came from.

    A blank value counts as unset, as an empty ini line does: ``--dtypegate-report " "``
    must not become a report path of "".
    """
    values: dict[str, Any] = {}
    for s in spec():
        value, where = raw(s)
        if isinstance(value, bool):  # a command-line flag
            values[s.name] = value
            continue
        if value is None or not str(value).strip():
            continue
        try:
            values[s.name] = s.check(str(value))
        except ValueError as exc:
            raise OptionError(f"dtypegate: invalid {s.name} {value!r} (from {where}): {exc}") from None
    opts = Options(**values)
    if opts.strict:
        opts.audit = True
    return opts


def reported(opts: Options) -> dict[str, Any]:
    """The settings a run report records, in table order."""
    out: dict[str, Any] = {}
    for s in spec():
        if s.reported:
            value = getattr(opts, s.name)
            out[s.name] = list(value) if isinstance(value, tuple) else value
    return out
