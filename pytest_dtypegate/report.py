"""The per-run JSON report, the GitHub step summary and the GitHub annotations.

Pure functions over plain data: nothing here imports pytest or torch.  The
plugin maps pytest's ``TestReport`` objects (setup, call, teardown) to one
:class:`ReportEntry` per item with :func:`entries_from_reports`, calls
:func:`build_report` at session finish on the xdist controller and writes the
result with :func:`write_atomic`.  ``dtypegate matrix`` and ``dtypegate gate``
read it back with :func:`load_report`.

The document (``"schema": "dtypegate.report/1"``) is described field by field
in ``report.schema.json`` next to this module; :func:`load_report` checks every
file against that schema with the small validator below, so the schema file is
the one place the format is written down.
"""

# No ``from __future__ import annotations`` in this module: the future import
# binds the name ``annotations``, which is this module's GitHub-annotations
# function.  Types are spelled with Optional/Union so Python 3.9 evaluates them.

import json
import os
import platform
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Optional, TextIO, Union

from .capabilities import Capabilities, CapabilitiesError
from .facts import TestFacts, facts_from_properties

__all__ = [
    "DTYPE_FAILURE_CATEGORIES",
    "OUTCOMES",
    "SCHEMA",
    "ReportEntry",
    "ReportError",
    "annotations",
    "build_report",
    "check_schema",
    "default_leg",
    "effective_category",
    "entries_from_reports",
    "entry_from_reports",
    "environment_info",
    "escape_data",
    "escape_property",
    "load_report",
    "md_code",
    "md_text",
    "parse_report",
    "publish_github",
    "read_json_file",
    "report_entries",
    "schema_document",
    "step_summary",
    "validate",
    "write_atomic",
    "write_text_atomic",
]

SCHEMA = "dtypegate.report/1"
OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
#: Failure categories the gate treats as a dtype problem of the device or the model.
DTYPE_FAILURE_CATEGORIES: tuple[str, ...] = ("unsupported", "mismatch")
#: Longest failure/skip reason kept in the document (one line).
REASON_LIMIT = 500
#: Most dtype failures the step summary lists by name.
SUMMARY_FAILURE_LIMIT = 10

_FACT_FIELDS: tuple[str, ...] = (
    "requested",
    "precision",
    "decision",
    "support",
    "downgraded_from",
    "skip_kind",
    "category",
    "error_precision",
)


class ReportError(Exception):
    """A report file that cannot be used; the message is one line naming the file."""


# -- entries ---------------------------------------------------------------------------
@dataclass
class ReportEntry:
    """One test item's result, as the report records it."""

    nodeid: str
    outcome: str  # one of OUTCOMES
    facts: Optional[TestFacts] = None
    reason: Optional[str] = None  # skip reason, or the failure's one-line message
    location: Optional[tuple[str, Optional[int]]] = None  # (file relative to rootdir, 1-based line)
    duration: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")

    def to_json(self) -> dict[str, Any]:
        facts = self.facts
        out: dict[str, Any] = {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "reason": self.reason,
            "location": (
                {"file": self.location[0], "line": self.location[1]} if self.location is not None else None
            ),
            "duration": round(float(self.duration), 6),
            "gated": facts is not None,
        }
        for name in _FACT_FIELDS:
            out[name] = getattr(facts, name) if facts is not None else None
        out["decision_reason"] = facts.reason if facts is not None else None
        out["requires"] = list(facts.requires) if facts is not None else []
        out["audit"] = list(facts.audit) if facts is not None else []
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ReportEntry":
        """Rebuild from :meth:`to_json` output (already validated by :func:`load_report`)."""
        facts: Optional[TestFacts] = None
        if data.get("gated"):
            fields: dict[str, Any] = {name: data.get(name) for name in _FACT_FIELDS}
            fields["decision"] = fields["decision"] or "run"
            facts = TestFacts(
                reason=data.get("decision_reason"),
                requires=list(data.get("requires") or []),
                audit=list(data.get("audit") or []),
                **fields,
            )
        loc = data.get("location")
        location = (str(loc["file"]), loc.get("line")) if isinstance(loc, Mapping) else None
        return cls(
            nodeid=str(data["nodeid"]),
            outcome=str(data["outcome"]),
            facts=facts,
            reason=data.get("reason"),
            location=location,
            duration=float(data.get("duration") or 0.0),
        )


def effective_category(outcome: str, facts: Optional[TestFacts]) -> Optional[str]:
    """The failure category of a failed or errored test, if it is a dtype failure.

    ``facts.category`` when the error catalogue classified the exception; a test
    the policy failed on purpose (``on_unsupported = fail``) counts as
    ``unsupported``: the device cannot run what it asked for.
    """
    if outcome not in ("failed", "error") or facts is None:
        return None
    if facts.category:
        return facts.category
    if facts.decision == "fail":
        return "unsupported"
    return None


def _one_line(text: object) -> Optional[str]:
    if text is None:
        return None
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 3] + "..."
    return None


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _same_file(a: str, b: str) -> bool:
    a, b = _norm(a), _norm(b)
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _longrepr_message(longrepr: Any) -> Optional[str]:
    """One line out of any of pytest's longrepr shapes."""
    if longrepr is None:
        return None
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        message = str(longrepr[2])
        if message.startswith("Skipped: "):
            message = message[len("Skipped: "):]
        return _one_line(message)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _one_line(crash.message)
    return _one_line(longrepr)


def _failure_line(longrepr: Any, test_file: str) -> Optional[int]:
    """The last traceback line inside the test's own file, 1-based, if any."""
    traceback = getattr(longrepr, "reprtraceback", None)
    for entry in reversed(list(getattr(traceback, "reprentries", None) or ())):
        loc = getattr(entry, "reprfileloc", None)
        path = getattr(loc, "path", None)
        line = getattr(loc, "lineno", None)
        if isinstance(path, str) and isinstance(line, int) and _same_file(path, test_file):
            return line
    crash = getattr(longrepr, "reprcrash", None)
    path = getattr(crash, "path", None)
    line = getattr(crash, "lineno", None)
    if isinstance(path, str) and isinstance(line, int) and _same_file(path, test_file):
        return line
    return None


def entry_from_reports(reports: Sequence[Any]) -> ReportEntry:
    """One :class:`ReportEntry` from one item's pytest ``TestReport`` objects.

    ``reports`` are the setup, call and teardown reports of the same item (any
    order; a later report of the same phase, e.g. after a rerun, replaces an
    earlier one).  Objects are read by attribute only (``nodeid``, ``when``,
    ``outcome``, ``longrepr``, ``location``, ``duration``, ``user_properties``,
    ``wasxfail``), so xdist's re-created reports work the same.  A teardown
    error turns a passed test into ``error``; a setup failure is ``error``.
    """
    if not reports:
        raise ValueError("entry_from_reports needs at least one report")
    phases: dict[str, Any] = {}
    facts: Optional[TestFacts] = None
    classified: Optional[TestFacts] = None
    duration = 0.0
    for rep in reports:
        when = str(getattr(rep, "when", "call"))
        # xdist reports a crashed worker's item once, as when="???": it stands for the call
        phases[when if when in ("setup", "teardown") else "call"] = rep
        duration += float(getattr(rep, "duration", 0.0) or 0.0)
        found = facts_from_properties(getattr(rep, "user_properties", None))
        if found is not None:
            facts = found
            if found.category:
                classified = found  # the failing phase's facts carry the error category
    if classified is not None and facts is not None and not facts.category:
        facts = classified
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    nodeid = str(reports[0].nodeid)

    outcome = "passed"
    deciding: Any = None
    reason: Optional[str] = None
    if setup is not None and setup.outcome == "failed":
        outcome, deciding = "error", setup
    elif setup is not None and setup.outcome == "skipped":
        deciding = setup
        if getattr(setup, "wasxfail", None) is not None:
            outcome, reason = "xfailed", _one_line(setup.wasxfail) or None
        else:
            outcome = "skipped"
    elif call is not None:
        deciding = call
        wasxfail = getattr(call, "wasxfail", None)
        if wasxfail is not None and call.outcome == "skipped":
            outcome, reason = "xfailed", _one_line(wasxfail) or None
        elif wasxfail is not None and call.outcome == "passed":
            outcome, reason = "xpassed", _one_line(wasxfail) or None
        elif call.outcome == "failed":
            outcome = "failed"
        elif call.outcome == "skipped":
            outcome = "skipped"
    if teardown is not None and teardown.outcome == "failed" and outcome in ("passed", "xpassed", "skipped"):
        outcome, deciding, reason = "error", teardown, None
    if reason is None and deciding is not None and outcome != "passed":
        reason = _longrepr_message(getattr(deciding, "longrepr", None))

    # the item's (file, 0-based def line), preferring a report that knows the line
    item_locations = (getattr(rep, "location", None) for rep in (call, setup, teardown, *reports) if rep is not None)
    locations: list[Any] = [loc for loc in item_locations if loc]
    location: Optional[tuple[str, Optional[int]]] = None
    if locations:
        loc = next((loc for loc in locations if isinstance(loc[1], int)), locations[0])
        test_file = str(loc[0])
        line = loc[1] + 1 if isinstance(loc[1], int) else None
        if outcome in ("failed", "error") and deciding is not None:
            line = _failure_line(getattr(deciding, "longrepr", None), test_file) or line
        location = (_norm(test_file), line)
    return ReportEntry(nodeid, outcome, facts, reason, location, duration)


def entries_from_reports(reports: Iterable[Any]) -> list[ReportEntry]:
    """Group a run's ``TestReport`` objects by nodeid (first-seen order) into entries."""
    grouped: dict[str, list[Any]] = {}
    for rep in reports:
        if getattr(rep, "when", None) in (None, "collect"):
            continue  # collection reports belong to no item
        grouped.setdefault(str(rep.nodeid), []).append(rep)
    return [entry_from_reports(group) for group in grouped.values()]


# -- the document ----------------------------------------------------------------------
def _dist_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_info(
    torch_version: Optional[str], environ: Optional[Mapping[str, str]] = None
) -> dict[str, Any]:
    """Where the run happened: Python, platform, pytest, torch, and the CI job if any.

    ``torch_version`` is passed in (``None`` when torch is absent) so that this
    module never imports torch.
    """
    env = os.environ if environ is None else environ
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "system": platform.system(),
        "machine": platform.machine(),
        "pytest": _dist_version("pytest"),
        "torch": torch_version,
        "dtypegate": _dist_version("pytest-dtypegate"),
    }
    if env.get("GITHUB_ACTIONS") == "true":
        info["github"] = {
            key.lower(): env[f"GITHUB_{key}"]
            for key in ("REPOSITORY", "WORKFLOW", "JOB", "RUN_ID", "RUN_ATTEMPT", "SHA", "REF")
            if env.get(f"GITHUB_{key}")
        }
    return info


def default_leg(
    capabilities: Optional[Mapping[str, Any]], settings: Optional[Mapping[str, Any]] = None
) -> str:
    """The leg label a run gets unless it sets one: the simulated profile, else the device's name."""
    if capabilities:
        for key in ("profile", "name", "device"):
            value = capabilities.get(key)
            if isinstance(value, str) and value:
                return value
    settings = settings or {}
    simulate = settings.get("simulate")
    if isinstance(simulate, str) and simulate:
        return simulate
    device = settings.get("device")
    if isinstance(device, str) and device and device != "auto":
        return device
    return "local"


def build_report(
    entries: Sequence[ReportEntry],
    *,
    capabilities: Optional[Mapping[str, Any]],
    environment: Mapping[str, Any],
    leg: Optional[str],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``dtypegate.report/1`` document for one run.

    ``capabilities`` is ``Capabilities.to_json()`` of the gated device (``None``
    when no test needed it); ``environment`` is :func:`environment_info`;
    ``leg`` the ``--dtypegate-leg`` value or ``None`` for :func:`default_leg`;
    ``settings`` the effective plugin options (JSON values).
    """
    tests = [entry.to_json() for entry in entries]
    counts = Counter(entry.outcome for entry in entries)
    summary: dict[str, int] = {"total": len(tests)}
    for outcome in OUTCOMES:
        summary[outcome] = counts.get(outcome, 0)
    summary["gated"] = sum(1 for e in entries if e.facts is not None)
    summary["downgraded"] = sum(1 for e in entries if e.facts is not None and e.facts.downgraded_from)
    summary["dtype_failures"] = sum(
        1 for e in entries if effective_category(e.outcome, e.facts) in DTYPE_FAILURE_CATEGORIES
    )
    caps = dict(capabilities) if capabilities is not None else None
    profile = caps.get("profile") if caps else None
    if not profile and isinstance(settings.get("simulate"), str):
        profile = settings["simulate"] or None
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "leg": leg if leg else default_leg(caps, settings),
        "environment": dict(environment),
        "capabilities": caps,
        "profile": profile,
        "settings": dict(settings),
        "summary": summary,
        "tests": tests,
    }
    return document


def _dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=False) + "\n"


def write_text_atomic(path: Union[str, os.PathLike[str]], text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old file or the whole new one.

    A temporary file in the same directory is written, flushed to disk and then
    moved over ``path`` with ``os.replace``; on any error it is removed again.
    Missing parent directories are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomic(path: Union[str, os.PathLike[str]], document: Mapping[str, Any]) -> None:
    """Write a JSON document atomically (see :func:`write_text_atomic`).

    The document is serialised before the disk is touched, so a value JSON
    cannot hold raises ``TypeError``/``ValueError`` and leaves ``path`` as it was.
    """
    write_text_atomic(path, _dumps(document))


# -- reading and validating --------------------------------------------------------------
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}
#: The JSON Schema keywords :func:`validate` understands (others are refused, not ignored).
VALIDATOR_KEYWORDS = frozenset(
    {"type", "enum", "const", "properties", "required", "additionalProperties", "items", "minimum",
     "minLength", "$ref"}
)
#: Keywords that only annotate and are accepted anywhere.
ANNOTATION_KEYWORDS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples"})


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _where(path: str) -> str:
    return path or "the document"


def validate(instance: Any, schema: Mapping[str, Any], root: Optional[Mapping[str, Any]] = None,
             path: str = "") -> list[str]:
    """Check ``instance`` against a JSON Schema subset; returns problems (empty: valid).

    Supports ``type``, ``enum``, ``const``, ``properties``, ``required``,
    ``additionalProperties``, ``items``, ``minimum``, ``minLength`` and local
    ``$ref`` (``#/$defs/...``): enough for ``report.schema.json``.  A schema
    using any other keyword is an error, so the file cannot promise a check
    that is not made.
    """
    root = schema if root is None else root
    unknown = set(schema) - VALIDATOR_KEYWORDS - ANNOTATION_KEYWORDS
    if unknown:
        raise ValueError(f"schema at {_where(path)} uses unsupported keywords: {', '.join(sorted(unknown))}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ValueError(f"schema at {_where(path)}: only local $ref is supported, got {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return validate(instance, target, root, path)
    problems: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, name) for name in names):
            got = type(instance).__name__ if instance is not None else "null"
            return [f"{_where(path)}: expected {' or '.join(names)}, got {got}"]
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{_where(path)}: must be {schema['const']!r}, got {instance!r}")
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{_where(path)}: {instance!r} is not one of {', '.join(map(str, schema['enum']))}")
    if "minimum" in schema and isinstance(instance, (int, float)) and instance < schema["minimum"]:
        problems.append(f"{_where(path)}: {instance!r} is below the minimum {schema['minimum']}")
    if "minLength" in schema and isinstance(instance, str) and len(instance) < schema["minLength"]:
        problems.append(f"{_where(path)}: must not be empty" if schema["minLength"] == 1
                        else f"{_where(path)}: shorter than {schema['minLength']}")
    if isinstance(instance, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in instance:
                problems.append(f"{_where(path)}: missing {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            sub = f"{path}.{key}" if path else str(key)
            if key in props:
                problems.extend(validate(value, props[key], root, sub))
            elif extra is False:
                problems.append(f"{_where(path)}: unexpected key {key!r}")
            elif isinstance(extra, Mapping):
                problems.extend(validate(value, extra, root, sub))
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        for index, value in enumerate(instance):
            problems.extend(validate(value, schema["items"], root, f"{path}[{index}]"))
    return problems


_SCHEMA_CACHE: list[dict[str, Any]] = []


def schema_document() -> dict[str, Any]:
    """The JSON Schema of the report (``report.schema.json``, shipped in the package)."""
    if not _SCHEMA_CACHE:
        text = resources.files(__package__ or "pytest_dtypegate").joinpath("report.schema.json").read_text(
            encoding="utf-8"
        )
        _SCHEMA_CACHE.append(json.loads(text))
    return _SCHEMA_CACHE[0]


def _describe_json_error(exc: json.JSONDecodeError, text: str) -> str:
    # a cut-off file fails at its very end, or inside a string that never closes
    # (JSON strings cannot hold a raw newline, so only the end of the file leaves one open)
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        body = text.rstrip()
        line = body.count("\n") + 1
        column = len(body) - (body.rfind("\n") + 1)
        return f"truncated JSON (the document stops mid-way, after line {line} column {column})"
    return f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


def read_json_file(path: Union[str, os.PathLike[str]], what: str) -> Any:
    """Read a JSON file, raising :class:`ReportError` with a one-line message naming it."""
    name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ReportError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{name}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise ReportError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{name}: not a {what} (not UTF-8 text)") from None
    if not text.strip():
        raise ReportError(
            f"{name}: empty file (the run that should have written this {what} may have crashed)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{name}: {_describe_json_error(exc, text)}") from None
    except RecursionError:
        raise ReportError(f"{name}: not a {what} (nested too deeply)") from None


def check_schema(data: Any, name: str, expected: str, what: str) -> None:
    """Refuse a foreign JSON document: not an object, no ``schema`` key, another schema."""
    if not isinstance(data, dict):
        kinds: dict[type, str] = {list: "an array", str: "a string", type(None): "null"}
        kind = kinds.get(type(data), type(data).__name__)
        raise ReportError(f"{name}: not a {what} (the top level is {kind}, not an object)")
    schema = data.get("schema")
    if schema is None:
        raise ReportError(f"{name}: not a {what} (no 'schema' key; expected {expected!r})")
    if schema != expected:
        family = expected.rsplit("/", 1)[0] + "/"
        if isinstance(schema, str) and schema.startswith(family):
            raise ReportError(
                f"{name}: {what} schema {schema!r} is not supported by this dtypegate (it reads {expected!r})"
            )
        raise ReportError(f"{name}: not a {what} (schema {schema!r}, expected {expected!r})")


def parse_report(data: Any, name: str = "<report>") -> dict[str, Any]:
    """Check an already-parsed document; returns it, or raises :class:`ReportError`."""
    check_schema(data, name, SCHEMA, "dtypegate report")
    problems = validate(data, schema_document())
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise ReportError(f"{name}: invalid dtypegate report: {problems[0]}{more}")
    if data.get("capabilities") is not None:
        try:
            Capabilities.from_json(data["capabilities"])
        except CapabilitiesError as exc:
            raise ReportError(f"{name}: invalid dtypegate report: capabilities: {exc}") from None
    result: dict[str, Any] = data
    return result


def load_report(path: Union[str, os.PathLike[str]]) -> dict[str, Any]:
    """Read and check one report file.

    Raises :class:`ReportError` with one line naming the file and the problem
    for a missing, unreadable, empty, truncated, non-JSON, foreign (missing or
    other ``schema``) or invalid file.
    """
    return parse_report(read_json_file(path, "dtypegate report"), os.fspath(path))


def report_entries(document: Mapping[str, Any]) -> list[ReportEntry]:
    """The document's tests as :class:`ReportEntry` objects."""
    return [ReportEntry.from_json(test) for test in document.get("tests", ())]


# -- GitHub ----------------------------------------------------------------------------
def _capabilities_line(document: Mapping[str, Any]) -> Optional[str]:
    data = document.get("capabilities")
    if not data:
        return None
    try:
        return Capabilities.from_json(data).summary_line()
    except CapabilitiesError:
        return str(data.get("name") or data.get("device"))


def md_code(text: str) -> str:
    """``text`` as a markdown code span that is safe inside a table cell."""
    text = " ".join(text.split())
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def md_text(text: str) -> str:
    """Plain text for markdown: one line, table-safe, no HTML or link syntax."""
    out = []
    for char in " ".join(text.split()):
        if char in "\\`*_[]<>|#!~&":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def step_summary(document: Mapping[str, Any]) -> str:
    """Compact markdown for ``$GITHUB_STEP_SUMMARY``: the device, counts per precision, dtype failures."""
    summary = document.get("summary", {})
    tests = list(document.get("tests", ()))
    lines = [f"### dtypegate: {md_text(str(document.get('leg')))}", ""]
    caps_line = _capabilities_line(document)
    env = document.get("environment", {})
    lines.append(f"{md_text(caps_line) if caps_line else 'no device was probed (no test used the gate)'}  ")
    lines.append(md_text(
        f"Python {env.get('python', '?')}, torch {env.get('torch') or 'not installed'}, "
        f"pytest {env.get('pytest', '?')}"
    ))
    lines.append("")
    counts = [_plural(summary.get("total", len(tests)), "test")]
    counts += [f"{summary[o]} {o}" for o in OUTCOMES if summary.get(o)]
    if summary.get("downgraded"):
        counts.append(f"{summary['downgraded']} downgraded")
    failures = summary.get("dtype_failures", 0)
    counts.append(_plural(failures, "dtype failure") if failures else "no dtype failures")
    lines.append("**" + counts[0] + "**: " + ", ".join(counts[1:]))
    by_precision: dict[str, Counter[str]] = {}
    for test in tests:
        if not test.get("gated") or not test.get("requested"):
            continue
        row = by_precision.setdefault(str(test["requested"]), Counter())
        outcome = test["outcome"]
        row["passed" if outcome in ("passed", "xpassed") else "failed" if outcome in ("failed", "error")
            else "skipped"] += 1
        if test.get("downgraded_from"):
            row["downgraded"] += 1
    if by_precision:
        lines += ["", "| precision | passed | failed | skipped | downgraded |", "|---|---:|---:|---:|---:|"]
        for name, row in by_precision.items():
            lines.append(
                f"| {md_text(name)} | {row['passed']} | {row['failed']} | {row['skipped']} "
                f"| {row['downgraded']} |"
            )
    failed = [t for t in tests if _test_category(t) in DTYPE_FAILURE_CATEGORIES]
    if failed:
        lines += ["", "**dtype failures**", ""]
        for test in failed[:SUMMARY_FAILURE_LIMIT]:
            precision = test.get("error_precision") or test.get("precision") or test.get("requested") or "?"
            reason = f": {md_text(test['reason'])}" if test.get("reason") else ""
            lines.append(f"- {md_code(test['nodeid'])}: {md_text(str(_test_category(test)))} "
                         f"({md_text(str(precision))}){reason}")
        if len(failed) > SUMMARY_FAILURE_LIMIT:
            lines.append(f"- ... and {len(failed) - SUMMARY_FAILURE_LIMIT} more (see the JSON report)")
    return "\n".join(lines) + "\n"


def _test_category(test: Mapping[str, Any]) -> Optional[str]:
    facts = None
    if test.get("gated"):
        facts = TestFacts(decision=test.get("decision") or "run", category=test.get("category"))
    return effective_category(str(test.get("outcome")), facts)


def escape_data(text: str) -> str:
    """Escape a workflow command's message: ``%``, ``\\r``, ``\\n``."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(document: Mapping[str, Any]) -> list[str]:
    """``::error`` workflow commands, one per test that failed with a dtype error.

    A test counts when it failed or errored and its category is set (or the
    policy failed it, which counts as ``unsupported``).  The message names the
    precision, the category, the leg, the test and its one-line failure.
    """
    out: list[str] = []
    leg = str(document.get("leg"))
    for test in document.get("tests", ()):
        category = _test_category(test)
        if category is None:
            continue
        precision = test.get("error_precision") or test.get("precision") or test.get("requested")
        head = f"{precision} {category}" if precision else category
        message = f"{head} on {leg}: {test['nodeid']}"
        if test.get("reason"):
            message += f": {test['reason']}"
        props: list[str] = []
        loc = test.get("location")
        if loc:
            props.append(f"file={escape_property(str(loc['file']))}")
            if loc.get("line") is not None:
                props.append(f"line={int(loc['line'])}")
        props.append("title=dtypegate")
        out.append(f"::error {','.join(props)}::{escape_data(message)}")
    return out


def publish_github(
    document: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None, stream: Optional[TextIO] = None
) -> bool:
    """On GitHub Actions: append the step summary and print the annotations.

    Appends :func:`step_summary` to ``$GITHUB_STEP_SUMMARY`` and writes each of
    :func:`annotations` to ``stream`` (stdout), where the runner picks them up.

    Does nothing (returns False) unless ``GITHUB_ACTIONS`` is ``true``.  The
    summary file is opened for append, as GitHub expects; an unwritable one is
    reported on ``stream`` as a ``::warning::`` instead of failing the run.
    """
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") != "true":
        return False
    out = sys.stdout if stream is None else stream
    target = env.get("GITHUB_STEP_SUMMARY")
    if target:
        try:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(step_summary(document) + "\n")
        except OSError as exc:
            out.write(f"::warning title=dtypegate::{escape_data(f'cannot append to {target}: {exc}')}\n")
    for line in annotations(document):
        out.write(line + "\n")
    out.flush()
    return True
