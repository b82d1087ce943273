"""``dtypegate probe``: probe a device (or show a simulated profile) and print its table.

Exit 0, 1 when the probe could not tell (the table says why), 2 for bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

from ..capabilities import Capabilities
from ..exitcodes import ExitCode
from ..options import MAX_SECONDS, seconds
from ..probe import DEVICE_CHOICES, DeviceError, probe_device, validate_device
from ..text import printable

HELP = "probe a device (or show a simulated profile) and print its table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=f"device to probe ({DEVICE_CHOICES}); default auto")
    parser.add_argument("--simulate", metavar="PROFILE", help="print a simulated profile's table instead")
    parser.add_argument("--json", action="store_true", help="print the capabilities as JSON")
    parser.add_argument(
        "--timeout", default="60", help=f"seconds before the probe is abandoned (default 60, at most {MAX_SECONDS:g})"
    )


def format_table(caps: Capabilities) -> str:
    from ..precisions import PRECISIONS

    lines = [caps.summary_line().split(": ", 1)[0] if caps.profile else caps.label()]
    lines.append(f"  backend: {caps.backend}   torch: {caps.torch_version or '?'}   source: {caps.source}")
    if caps.error:
        lines.append(f"  probe failed: {caps.error}")
        return "\n".join(lines)
    for name in PRECISIONS:
        ev = caps.of(name)
        detail = ""
        if ev.op or ev.message:
            detail = f"  ({ev.op + ': ' if ev.op else ''}{ev.message or ''})"
        lines.append(f"  {name:<9} {ev.support.value:<12}{detail}")
    return "\n".join(lines)


def _bad(message: str) -> int:
    sys.stderr.write(f"dtypegate probe: {message}\n")
    return ExitCode.BAD_INPUT


def run(args: argparse.Namespace) -> int:
    try:
        timeout = seconds(str(args.timeout))
    except ValueError as exc:
        return _bad(f"invalid --timeout {printable(args.timeout)}; {exc}")
    if args.simulate:
        from ..profiles import ProfileError, load

        try:
            caps = load(args.simulate).capabilities
        except ProfileError as exc:
            return _bad(str(exc))
    else:
        try:
            validate_device(args.device)
        except DeviceError as exc:
            return _bad(str(exc))
        if importlib.util.find_spec("torch") is None:  # torch itself is imported by the probe's child only
            return _bad('torch is not installed (pip install "pytest-dtypegate[torch]")')
        try:
            caps = probe_device(args.device, timeout)
        except DeviceError as exc:
            return _bad(str(exc))
    if args.json:
        sys.stdout.write(json.dumps(caps.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write("\n".join(printable(line) for line in format_table(caps).splitlines()) + "\n")
    return ExitCode.FINDING if caps.error else ExitCode.OK
