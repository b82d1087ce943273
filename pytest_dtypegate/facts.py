"""Per-test facts: what the gate decided and saw for one test.

They travel in ``item.user_properties`` under the key ``dtypegate`` as one JSON
string, so they cross xdist and land in JUnit XML; the terminal summary and
the JSON report read them back from the test reports.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PROPERTY", "Category", "SkipKind", "TestFacts", "Verdict", "facts_from_properties"]

PROPERTY = "dtypegate"


class Verdict(str, enum.Enum):
    """What the gate decided for a test (``none``: the test uses nothing of the gate's)."""

    RUN = "run"
    DOWNGRADE = "downgrade"
    SKIP = "skip"
    FAIL = "fail"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


class SkipKind(str, enum.Enum):
    """Why the gate skipped a test."""

    UNSUPPORTED = "unsupported"  # the device's kernels raise
    EMULATED = "emulated"  # runs without hardware units, and emulation is not allowed here
    DUPLICATE = "duplicate"  # auto or a downgrade would repeat a sibling case
    UNKNOWN = "unknown"  # the probe could not tell
    CAPABILITY = "capability"  # below the compute capability a marker asks for

    def __str__(self) -> str:
        return self.value


class Category(str, enum.Enum):
    """The kind of dtype failure a test met."""

    UNSUPPORTED = "unsupported"  # the hardware or the torch build lacks a kernel for the precision
    MISMATCH = "mismatch"  # operands of different dtypes met inside the model
    NONFINITE = "nonfinite"  # a low-precision value overflowed to inf or NaN
    UNDECLARED = "undeclared"  # strict mode: a GEMM ran in a precision the test did not declare

    def __str__(self) -> str:
        return self.value

    @property
    def dtype_failure(self) -> bool:
        """A failure the gate counts against the device/precision pair (not a numeric or audit finding)."""
        return self in (Category.UNSUPPORTED, Category.MISMATCH)


@dataclass
class TestFacts:
    requested: str | None = None  # the precision the test asked for (model_dtype param)
    precision: str | None = None  # the precision that ran (after auto / downgrade)
    decision: str = Verdict.RUN.value  # a Verdict value
    reason: str | None = None  # skip / fail / downgrade reason
    skip_kind: str | None = None  # a SkipKind value
    downgraded_from: str | None = None
    support: str | None = None  # support state of the precision that ran
    requires: list[str] = field(default_factory=list)  # requires_* markers, e.g. ["bf16", "native:fp8_e4m3"]
    category: str | None = None  # a Category value, when the test failed with a dtype error
    error_precision: str | None = None
    audit: list[str] = field(default_factory=list)  # "op:precision" executed, when audit is on
    # each distinct GEMM the audit saw, with where it was called: {"op", "precision", "file", "line",
    # "function", "phase" (setup | call | teardown), and when they apply "fixture" and "scope" (the fixture
    # that ran it), "backward": true, "ignored": the dtypegate_strict_ignore pattern its call site matched}
    sites: list[dict[str, Any]] = field(default_factory=list)
    # the simulated errors raised in this test (--dtypegate-simulate), in the same shape, also when the
    # test caught them (a library's capability check that then reported the precision missing)
    simulated: list[dict[str, Any]] = field(default_factory=list)

    __test__ = False  # not a pytest test class

    def dumps(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, [])}, sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestFacts:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def facts_from_properties(props: list[tuple[str, Any]] | None) -> TestFacts | None:
    """The last ``dtypegate`` entry of a report's ``user_properties``, if any."""
    found = None
    for key, value in props or ():
        if key == PROPERTY:
            found = value
    if found is None:
        return None
    try:
        data = json.loads(found) if isinstance(found, str) else found
    except (TypeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return TestFacts.from_json(data)
