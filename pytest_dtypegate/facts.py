"""Per-test facts: what the gate decided and saw for one test.

They travel in ``item.user_properties`` under the key ``dtypegate`` as one JSON
string, so they cross xdist and land in JUnit XML; the terminal summary and
the JSON report read them back from the test reports.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PROPERTY", "TestFacts", "facts_from_properties"]

PROPERTY = "dtypegate"


@dataclass
class TestFacts:
    requested: str | None = None  # the precision the test asked for (model_dtype param)
    precision: str | None = None  # the precision that ran (after auto / downgrade)
    decision: str = "run"  # run | downgrade | skip | fail
    reason: str | None = None  # skip / fail / downgrade reason
    skip_kind: str | None = None  # unsupported | emulated | duplicate | unknown | capability
    downgraded_from: str | None = None
    support: str | None = None  # support state of the precision that ran
    requires: list[str] = field(default_factory=list)  # requires_* markers, e.g. ["bf16", "native:fp8_e4m3"]
    category: str | None = None  # error category when the test failed with a dtype error
    error_precision: str | None = None
    audit: list[str] = field(default_factory=list)  # "op:precision" executed, when audit is on

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
