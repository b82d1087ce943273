"""The plugin's options: names, help texts, defaults, and how each value is checked.

Free of pytest (only the report check looks at the file system): :func:`read`
takes a function that returns an option's raw value and where it came from (the
command line or an ini file), and returns checked :class:`Options` or raises
:class:`OptionError` with a message of one shape:
``dtypegate: invalid NAME VALUE (from WHERE): WHAT IS WRONG``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import policy
from . import precisions as _p

__all__ = ["BOOL", "HELP", "OptionError", "Options", "flag", "read"]

# Each option is --dtypegate-X on the command line with an ini twin dtypegate_X;
# both share one help text, and the command line wins.
HELP = {
    "dtypes": "precisions model_dtype runs, e.g. 'bf16 fp16 fp32' (default: bf16 fp16 fp32)",
    "on_unsupported": "what happens to a test whose precision the device cannot run: skip | downgrade | fail",
    "allow_emulated": "run precisions the device only emulates: auto (on the CPU only) | true | false",
    "device": "device to gate and run on: auto | cpu | cuda | cuda:N | mps | xpu | xpu:N",
    "simulate": "behave as a simulated platform: a built-in profile name (see `dtypegate profiles`) or a file",
    "audit": "record the precisions of the GEMM-family ops each test executes",
    "strict": "fail a test that executed a GEMM in a precision the device cannot run natively without "
    "declaring it (implies --dtypegate-audit)",
    "report": "write the run's JSON report to this path",
    "leg": "label of this run in the cross-run matrix (default: the device name or the profile)",
    "probe_timeout": "seconds before the capability probe is abandoned (default 60)",
    "check_finite": "fail a low-precision test whose model outputs contain NaN or inf",
    "tolerance": "per-precision comparison tolerances, e.g. 'bf16:2e-2,1e-3 fp16:1e-3,1e-5'",
}
BOOL = ("audit", "strict", "check_finite")
_TRUTH = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def flag(name: str) -> str:
    return "--dtypegate-" + name.replace("_", "-")


class OptionError(ValueError):
    """A bad option value; the message names the value, where it came from and what is valid."""


@dataclass
class Options:
    dtypes: tuple[str, ...] = _p.DEFAULT_DTYPES
    settings: policy.Settings = field(default_factory=policy.Settings)
    device: str = "auto"
    simulate: str | None = None
    audit: bool = False
    strict: bool = False
    report: str | None = None
    leg: str | None = None
    probe_timeout: float = 60.0
    check_finite: bool = False
    tolerance: dict[str, tuple[float, float]] = field(default_factory=dict)


# -- one checker per option: text in, value out, ValueError(what is wrong) --------
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("give a positive number of seconds")
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


_CHECKS: dict[str, Callable[[str], Any]] = {
    "dtypes": _dtypes,
    "on_unsupported": _choice(policy.ON_UNSUPPORTED),
    "allow_emulated": _choice(policy.ALLOW_EMULATED),
    "device": _device,
    "simulate": _text,
    "report": _report,
    "leg": _text,
    "probe_timeout": _seconds,
    "tolerance": _tolerance,
    **{name: _truth for name in BOOL},
}


def read(raw: Callable[[str], tuple[Any, str]]) -> Options:
    """Check every option; ``raw(name)`` returns its value (None when unset) and where it came from.

    A blank value counts as unset, as an empty ini line does: ``--dtypegate-report " "``
    must not become a report path of "".
    """
    values: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        value, where = raw(name)
        if isinstance(value, bool):  # a command-line flag
            values[name] = value
            continue
        if value is None or not str(value).strip():
            continue
        try:
            values[name] = check(str(value))
        except ValueError as exc:
            raise OptionError(f"dtypegate: invalid {name} {value!r} (from {where}): {exc}") from None
    settings = policy.Settings(
        values.pop("on_unsupported", policy.ON_UNSUPPORTED[0]), values.pop("allow_emulated", policy.ALLOW_EMULATED[0])
    )
    opts = Options(settings=settings, **values)
    if opts.strict:
        opts.audit = True
    return opts
