"""Marker parsing as pure functions (no pytest run needed)."""

from __future__ import annotations

import pytest

from pytest_dtypegate.markers import NAMES, MarkerError, parse_dtypes, parse_requirements
from pytest_dtypegate.policy import Requirement


def test_all_marker_names() -> None:
    assert {
        "requires_bf16",
        "requires_fp16",
        "requires_tf32",
        "requires_fp8",
        "requires_dtype",
        "requires_capability",
        "dtypes",
        "dtype_tolerance",
    } == NAMES


def test_requirements_merge_and_deduplicate() -> None:
    marks = [
        ("requires_bf16", (), {}),
        ("requires_dtype", ("bfloat16", "fp8"), {"native": True}),
        ("requires_capability", (8,), {}),
        ("requires_capability", (8, 9), {}),
        ("requires_bf16", (), {}),
        ("dtypes", ("fp32",), {}),  # not a requirement
    ]
    requires, cap = parse_requirements(marks)
    assert requires == (Requirement("bf16"), Requirement("bf16", True), Requirement("fp8_e4m3", True))
    assert cap == (8, 9)
    assert parse_requirements([("requires_capability", (), {"major": 7, "minor": 5})])[1] == (7, 5)


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ([("requires_fp16", ("x",), {})], "@requires_fp16 takes no arguments, got ('x',)"),
        ([("requires_dtype", (), {})], "@requires_dtype needs at least one precision name"),
        ([("requires_dtype", ("bf16",), {"strict": 1})], "@requires_dtype got unexpected keyword(s) strict"),
        ([("requires_dtype", ("bf16",), {"native": 1})], "@requires_dtype: native must be True or False, got 1"),
        ([("requires_dtype", ("half", "bf17"), {})], "@requires_dtype: unknown precision 'bf17'; valid names: "),
        ([("requires_capability", ("8",), {})], "@requires_capability expects integers (major, minor=0)"),
        ([("requires_capability", (True,), {})], "got True"),
        ([("requires_capability", (-1,), {})], "got -1"),
    ],
)
def test_bad_requirements(marks: list, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(MarkerError) as info:
        parse_requirements(marks)
    assert message in str(info.value)


def test_dtypes() -> None:
    assert parse_dtypes(("bfloat16", "fp32", "bf16", "auto"), {}) == ("bf16", "fp32", "auto")
    with pytest.raises(MarkerError, match="@dtypes needs at least one precision name"):
        parse_dtypes((), {})
    with pytest.raises(MarkerError, match="@dtypes takes precision names only, got keywords bf16"):
        parse_dtypes((), {"bf16": 1})
    with pytest.raises(MarkerError, match="@dtypes: unknown precision 'fp17'"):
        parse_dtypes(("fp17",), {})
