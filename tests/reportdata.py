"""Fixture run reports for the report, matrix, gate and browser tests.

Every document is made by ``runreport.build_report`` from ``ReportEntry`` objects
carrying real ``TestFacts``, so the tests read exactly what a run writes and
the format lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import devices

from pytest_dtypegate.capabilities import Capabilities
from pytest_dtypegate.ci import files, runreport
from pytest_dtypegate.facts import TestFacts

__all__ = [
    "A100",
    "ENVIRONMENT",
    "SETTINGS",
    "V100",
    "a100_report",
    "entry",
    "run_report",
    "v100_report",
    "write",
]

# the fake devices of tests/devices.py, as a simulated run's report records them
V100 = devices.V100.replace(
    support={**devices.V100.evidence, "bf16": {"support": "emulated", "message": "no bf16 tensor cores before sm_80"}},
    torch_version="2.3.1",
    source="profile",
    profile="v100",
)
A100 = devices.A100.replace(torch_version="2.3.1", source="profile", profile="a100")

ENVIRONMENT: dict[str, Any] = {
    "python": "3.11.7",
    "implementation": "CPython",
    "platform": "Linux-6.1-x86_64-with-glibc2.36",
    "system": "Linux",
    "machine": "x86_64",
    "pytest": "9.2.0",
    "torch": "2.3.1",
    "dtypegate": "0.1.0",
}
SETTINGS: dict[str, Any] = {
    "dtypes": ["bf16", "fp16", "fp32"],
    "on_unsupported": "skip",
    "allow_emulated": "auto",
    "device": "auto",
    "simulate": None,
    "audit": False,
    "strict": False,
}

MODEL = "tests/test_model.py"
EMULATED_REASON = "bf16 is emulated on Tesla V100-SXM2-16GB (sm_70) [simulated: v100]: native bf16 needs sm_80+"
BF16_GEMM = "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16"


def entry(
    nodeid: str,
    outcome: str = "passed",
    *,
    requested: str | None = None,
    precision: str | None = None,
    decision: str = "run",
    support: str | None = None,
    downgraded_from: str | None = None,
    skip_kind: str | None = None,
    category: str | None = None,
    error_precision: str | None = None,
    reason: str | None = None,
    decision_reason: str | None = None,
    line: int | None = 10,
    audit: Iterable[str] = (),
    requires: Iterable[str] = (),
    gated: bool = True,
    duration: float = 0.25,
) -> runreport.ReportEntry:
    """One test's entry, with facts unless ``gated`` is false."""
    facts = None
    if gated:
        facts = TestFacts(
            requested=requested,
            precision=precision,
            decision=decision,
            reason=decision_reason,
            skip_kind=skip_kind,
            downgraded_from=downgraded_from,
            support=support,
            requires=list(requires),
            category=category,
            error_precision=error_precision,
            audit=list(audit),
        )
    path = nodeid.split("::", 1)[0]
    return runreport.ReportEntry(nodeid, outcome, facts, reason, (path, line), duration)


def run_report(
    caps: Capabilities | None,
    entries: list[runreport.ReportEntry],
    *,
    leg: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    merged = dict(SETTINGS)
    merged.update(settings or {})
    if caps is not None and caps.profile:
        merged["simulate"] = caps.profile
    return runreport.build_report(
        entries,
        capabilities=caps.to_json() if caps is not None else None,
        environment=ENVIRONMENT,
        leg=leg,
        settings=merged,
    )


def v100_report(leg: str | None = None) -> dict[str, Any]:
    """A simulated V100 leg: bf16 skipped as emulated, one bf16 kernel failure, a downgrade."""
    return run_report(
        V100,
        [
            entry(
                f"{MODEL}::test_generate[bf16]",
                "skipped",
                requested="bf16",
                decision="skip",
                skip_kind="emulated",
                reason=EMULATED_REASON,
                decision_reason=EMULATED_REASON,
            ),
            entry(f"{MODEL}::test_generate[fp16]", requested="fp16", precision="fp16", support="native"),
            entry(f"{MODEL}::test_generate[fp32]", requested="fp32", precision="fp32", support="native"),
            entry(
                f"{MODEL}::test_attention[bf16]",
                "failed",
                requested="bf16",
                precision="bf16",
                support="emulated",
                category="unsupported",
                error_precision="bf16",
                reason=BF16_GEMM,
                line=42,
            ),
            entry(f"{MODEL}::test_attention[fp32]", requested="fp32", precision="fp32", support="native"),
            entry(
                f"{MODEL}::test_forward[bf16]",
                requested="bf16",
                precision="fp16",
                decision="downgrade",
                support="native",
                downgraded_from="bf16",
                decision_reason=EMULATED_REASON,
            ),
            entry("tests/test_tokenizer.py::test_plain", gated=False),
        ],
        leg=leg,
    )


def a100_report(leg: str | None = None) -> dict[str, Any]:
    """A simulated A100 leg: everything runs natively and passes."""
    return run_report(
        A100,
        [
            entry(f"{MODEL}::test_generate[bf16]", requested="bf16", precision="bf16", support="native"),
            entry(f"{MODEL}::test_generate[fp16]", requested="fp16", precision="fp16", support="native"),
            entry(f"{MODEL}::test_generate[fp32]", requested="fp32", precision="fp32", support="native"),
            entry(f"{MODEL}::test_attention[bf16]", requested="bf16", precision="bf16", support="native"),
            entry(f"{MODEL}::test_attention[fp32]", requested="fp32", precision="fp32", support="native"),
            entry(f"{MODEL}::test_forward[bf16]", requested="bf16", precision="bf16", support="native"),
            entry("tests/test_tokenizer.py::test_plain", gated=False),
        ],
        leg=leg,
    )


def write(directory: Path, name: str, document: Mapping[str, Any]) -> str:
    """Write a document the way the plugin does; returns its path as a string."""
    path = directory / name
    files.write_atomic(path, document)
    return str(path)
