"""``dtypegate profiles``: list the simulated hardware profiles, or show one.

    dtypegate profiles                 every built-in profile, one block each
    dtypegate profiles t4              one profile: support, the errors it raises, sources
    dtypegate profiles ./my.json       a profile file, checked and shown the same way
    dtypegate profiles [...] --json    the same as data

Exit 0, or 2 for an unknown name or a malformed file (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from .. import profiles as _profiles
from ..exitcodes import ExitCode
from ..precisions import HARDWARE
from ..profiles import Profile, ProfileError

__all__ = ["HELP", "add_arguments", "render_detail", "render_list", "run"]

HELP = "list the built-in simulated hardware profiles, or show one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "profile",
        nargs="?",
        metavar="NAME_OR_FILE",
        help="show one profile (a built-in name or a profile .json file) instead of the list",
    )
    parser.add_argument("--json", action="store_true", help="print the profiles as JSON")


def _device(profile: Profile) -> str:
    caps = profile.capabilities
    return f"{caps.name or caps.device} ({profile.where})"


def render_list(items: list[Profile]) -> str:
    """One block per profile: name and device, support summary, description."""
    width = max((len(p.name) for p in items), default=0)
    pad = " " * (width + 2)
    lines: list[str] = []
    for p in items:
        lines.append(f"{p.name:<{width}}  {_device(p)}")
        lines.append(f"{pad}{p.support_summary()}")
        if p.description:
            lines.append(f"{pad}{p.description}")
    lines.append("")
    lines.append("Use one with --dtypegate-simulate NAME (or a path to a profile .json file);")
    lines.append("`dtypegate profiles NAME` shows the errors it raises and its sources.")
    return "\n".join(lines) + "\n"


def render_detail(p: Profile) -> str:
    """Everything about one profile, for a human."""
    caps = p.capabilities
    lines = [f"{p.name}: {p.description}" if p.description else p.name]
    lines.append(f"  device     {_device(p)} [{caps.backend}, device string {caps.device}]")
    lines.append(f"  torch      {caps.torch_version or '?'}")
    if p.path:
        lines.append(f"  file       {p.path}")
    lines.append("  support")
    for name in HARDWARE:
        ev = caps.of(name)
        detail = f" ({ev.message})" if ev.message and ev.support.value != "unsupported" else ""
        lines.append(f"    {name:<9} {ev.support.value}{detail}")
    if p.errors:
        lines.append("  raises")
        for name, specs in p.errors.items():
            for spec in specs:
                lines.append(f"    {name} {', '.join(sorted(spec.ops))}: {spec.type}: {spec.message}")
    if p.notes:
        lines.append("  notes")
        lines.extend(f"    - {note}" for note in p.notes)
    if p.sources:
        lines.append("  sources")
        for src in p.sources:
            lines.append(f"    - {src.ref}" + (f": {src.supports}" if src.supports else ""))
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    wanted: str | None = getattr(args, "profile", None)
    as_json: bool = bool(getattr(args, "json", False))
    try:
        chosen = [_profiles.load(wanted)] if wanted else _profiles.builtin()
    except ProfileError as exc:
        err.write(f"dtypegate profiles: {exc}\n")
        return ExitCode.BAD_INPUT
    if as_json:
        data: Any = chosen[0].to_json() if wanted else [p.to_json() for p in chosen]
        out.write(json.dumps(data, indent=2) + "\n")
    elif wanted:
        out.write(render_detail(chosen[0]))
    else:
        out.write(render_list(chosen))
    return ExitCode.OK
