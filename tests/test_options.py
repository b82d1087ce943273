"""Option checking as a pure function: one message shape for every bad value."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from pytest_dtypegate import options
from pytest_dtypegate.policy import Settings


def reader(**values: Any) -> Callable[[options.Spec], tuple[Any, str]]:
    return lambda spec: (values.get(spec.name), f"--dtypegate-{spec.name}")


def test_defaults() -> None:
    opts = options.read(reader())
    assert opts.dtypes == ("bf16", "fp16", "fp32")
    assert opts.settings == Settings("skip", "auto")
    assert (opts.device, opts.probe_timeout, opts.audit, opts.report) == ("auto", 60.0, False, None)


def test_blank_values_count_as_unset() -> None:
    opts = options.read(reader(report="  ", leg="\t", simulate=" ", dtypes=" ", audit=" "))
    assert (opts.report, opts.leg, opts.simulate, opts.dtypes, opts.audit) == (
        None,
        None,
        None,
        ("bf16", "fp16", "fp32"),
        False,
    )


def test_values_are_normalised() -> None:
    opts = options.read(
        reader(
            dtypes="half, bfloat16",
            on_unsupported=" Downgrade",
            device="CUDA:1",
            probe_timeout="2.5",
            strict="yes",
            tolerance="bf16:2e-2,1e-3",
            leg=" t4-runner ",
        )
    )
    assert opts.dtypes == ("fp16", "bf16")
    assert opts.settings.on_unsupported == "downgrade"
    assert opts.device == "cuda:1" and opts.probe_timeout == 2.5 and opts.leg == "t4-runner"
    assert opts.strict and opts.audit  # strict implies audit
    assert opts.tolerance == {"bf16": (2e-2, 1e-3)}
    assert options.read(reader(audit=True, check_finite="off")).check_finite is False


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("allow_emulated", "maybe", "valid choices: auto, true, false"),
        ("probe_timeout", "-1", "give a positive number of seconds"),
        ("probe_timeout", "nan", "give a positive number of seconds"),
        ("check_finite", "2", "valid choices: true, false"),
    ],
)
def test_one_message_shape(name: str, value: str, problem: str) -> None:
    with pytest.raises(options.OptionError) as info:
        options.read(reader(**{name: value}))
    assert str(info.value) == f"dtypegate: invalid {name} {value!r} (from --dtypegate-{name}): {problem}"


def test_one_table_feeds_the_parser_and_the_report(pytester: pytest.Pytester) -> None:
    """Every Options field is a --dtypegate-X flag and a dtypegate_X ini key; switches take no value."""
    assert options.flag("probe_timeout") == "--dtypegate-probe-timeout"
    table = list(options.spec())
    assert [s.name for s in table] == [f.name for f in dataclasses.fields(options.Options)]
    assert {s.name for s in table if s.switch} == {"audit", "strict", "check_finite"}
    help_text = pytester.runpytest("--help").stdout.str()
    for s in table:
        assert options.flag(s.name) in help_text, s.name
        assert f"dtypegate_{s.name} " in help_text, s.name
    assert options.reported(options.read(reader(dtypes="fp16"))) == {
        "dtypes": ["fp16"],
        "on_unsupported": "skip",
        "allow_emulated": "auto",
        "device": "auto",
        "simulate": None,
        "audit": False,
        "strict": False,
        "check_finite": False,
    }
