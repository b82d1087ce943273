"""Strict mode blames the test that ran the GEMM, names where, and never depends on the order tests run in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

# A library with a cached capability check, as transformers has one: it runs a bf16 GEMM once per
# process, inside whichever test asks first.
CAPLIB = """
import functools

import torch


@functools.lru_cache
def bf16_supported():
    try:
        x = torch.zeros(2, 2, dtype=torch.bfloat16)
        x @ x
        return True
    except Exception:
        return False
"""

SUITE = """
import pytest
import torch

import caplib


def test_fp16_model(model_dtype):
    caplib.bf16_supported()
    torch.ones(4, 4, dtype=model_dtype) @ torch.ones(4, 4, dtype=model_dtype)


def test_asks_too():
    assert caplib.bf16_supported() in (True, False)


def test_hardcoded_bf16():
    a = torch.ones(4, 4, dtype=torch.bfloat16)
    a @ a


def test_fp32():
    torch.ones(4, 4) @ torch.ones(4, 4)
"""

INI = "[pytest]\ndtypegate_dtypes = fp16\ndtypegate_strict_ignore =\n    caplib:bf16_supported\n"


def _line(source: str, text: str) -> int:
    """The 1-based line of ``source`` (as pytester writes it: without the leading newline) that holds ``text``."""
    return next(i for i, line in enumerate(source.strip("\n").splitlines(), 1) if text in line)


HARDCODED = _line(SUITE, "    a @ a")
CAPLIB_GEMM = _line(CAPLIB, "x @ x")


def _failed(result: pytest.RunResult) -> set[str]:
    return set(re.findall(r"^FAILED \S+::(\w+(?:\[\w+\])?)", result.stdout.str(), re.M))


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(caplib=CAPLIB, test_suite=SUITE)
    pytester.makeini(INI)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:cacheprovider")  # pytest-randomly stays on where asked for
    return pytester


ORDERS = [
    pytest.param(("-p", "no:randomly"), id="file-order"),
    pytest.param(("-p", "no:randomly", "--reverse-order"), id="reversed"),
    pytest.param(("--randomly-seed=1",), id="randomly-1"),
    pytest.param(("--randomly-seed=7",), id="randomly-7"),
    pytest.param(("-p", "no:randomly", "-n", "2"), id="xdist"),
    pytest.param(("--randomly-seed=3", "-n", "2"), id="xdist-randomly"),
]


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS)
def test_the_same_test_is_blamed_in_any_order(suite: pytest.Pytester, order: tuple[str, ...]) -> None:
    if any(arg.startswith("--randomly") for arg in order):
        pytest.importorskip("pytest_randomly")
    if "-n" in order:
        pytest.importorskip("xdist")
    if "--reverse-order" in order:  # no plugin for it: the suite's file written the other way round
        order = ("-p", "no:randomly")
        source = SUITE.split("\n\n\n")
        suite.makepyfile(test_suite="\n\n\n".join([source[0], *reversed(source[1:])]))
    result = suite.runpytest_subprocess("-rf", "--dtypegate-simulate=t4", "--dtypegate-strict", *order)
    result.assert_outcomes(passed=3, failed=1)
    assert _failed(result) == {"test_hardcoded_bf16"}
    result.stdout.fnmatch_lines(["*not blamed by strict (dtypegate_strict_ignore): caplib:bf16_supported: *"])


@pytest.mark.parametrize("name", ["test_fp16_model", "test_asks_too", "test_hardcoded_bf16"])
def test_a_test_run_alone_gets_the_same_verdict(suite: pytest.Pytester, name: str) -> None:
    result = suite.runpytest("-p", "no:randomly", "--dtypegate-simulate=t4", "--dtypegate-strict", "-k", name)
    assert _failed(result) == ({name} if name == "test_hardcoded_bf16" else set())


def test_the_message_names_the_call_site_and_the_marker(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:randomly", "--dtypegate-simulate=t4", "--dtypegate-strict")
    result.stdout.fnmatch_lines(
        [
            "dtypegate strict: matmul ran in bf16, which is emulated on Tesla T4 (sm_75), but the test does not "
            f"declare bf16. Called at test_suite.py:{HARDCODED} in test_hardcoded_bf16. Declare it (@requires_bf16, or take "
            "the precision from model_dtype) so the gate can skip or downgrade it where it cannot run; a library's "
            "own capability check belongs in dtypegate_strict_ignore."
        ]
    )


def test_without_the_ignore_the_first_asker_is_blamed_and_the_site_says_why(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\ndtypegate_dtypes = fp16\n")
    result = suite.runpytest("-p", "no:randomly", "--dtypegate-simulate=t4", "--dtypegate-strict")
    assert _failed(result) == {"test_fp16_model[fp16]", "test_hardcoded_bf16"}
    result.stdout.fnmatch_lines([f"*matmul ran in bf16, * Called at caplib.py:{CAPLIB_GEMM} in bf16_supported. *"])


def test_the_audit_keeps_the_ignored_call_marked(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "-p", "no:randomly", "--dtypegate-simulate=t4", "--dtypegate-strict", "--junitxml=out.xml", "-k", "fp16_model"
    )
    result.assert_outcomes(passed=1)
    text = (suite.path / "out.xml").read_text()
    facts = json.loads(re.search(r'name="dtypegate" value="([^"]*)"', text).group(1).replace("&quot;", '"'))  # type: ignore[union-attr]
    assert facts["audit"] == ["matmul:bf16", "matmul:fp16"]
    assert facts["sites"][0] == {
        "op": "matmul",
        "precision": "bf16",
        "file": "caplib.py",
        "line": CAPLIB_GEMM,
        "function": "bf16_supported",
        "phase": "call",
        "ignored": "caplib:bf16_supported",
    }


def test_a_path_pattern_ignores_a_whole_file(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "-p", "no:randomly", "--dtypegate-simulate=t4", "--dtypegate-strict", "--dtypegate-strict-ignore=caplib.py"
    )
    assert _failed(result) == {"test_hardcoded_bf16"}


def test_a_malformed_ignore_pattern_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    pytester.makeini("[pytest]\ndtypegate_strict_ignore = caplib:\n")
    result = pytester.runpytest("--dtypegate-strict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: dtypegate: invalid strict_ignore 'caplib:' (from ini option dtypegate_strict_ignore in tox.ini): "
            "'caplib:' needs both parts: module:function (either may use * and ?); give module:function or a path "
            "pattern, separated by spaces or lines"
        ]
    )


@pytest.mark.slow
def test_transformers_own_cached_check_is_never_blamed(pytester: pytest.Pytester) -> None:
    pytest.importorskip("transformers")
    pytester.makepyfile(
        """
        import torch
        from transformers.utils import is_torch_bf16_available_on_device, is_torch_fp16_available_on_device


        def test_fp16(model_dtype):
            assert is_torch_bf16_available_on_device("cpu") in (True, False)
            assert is_torch_fp16_available_on_device("cpu")
            torch.ones(4, 4, dtype=model_dtype) @ torch.ones(4, 4, dtype=model_dtype)
        """
    )
    result = pytester.runpytest_subprocess("--dtypegate-simulate=t4", "--dtypegate-strict", "--dtypegate-dtypes=fp16")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "not blamed by strict (dtypegate_strict_ignore): "
            "transformers.utils.import_utils:is_torch_bf16_available_on_device: 1 test"
        ]
    )


SHARED = """
import pytest
import torch


@pytest.fixture(scope="session")
def bf16_weights():
    w = torch.ones(4, 4, dtype=torch.bfloat16)
    yield w @ w
    w @ w  # teardown: after every test that used it was reported


def test_first(bf16_weights):
    pass


def test_second(bf16_weights):
    pass


def test_unrelated():
    torch.ones(4, 4) @ torch.ones(4, 4)
"""


@pytest.mark.parametrize("order", [("-p", "no:randomly"), ("-p", "no:randomly", "-k", "second or unrelated")])
def test_a_shared_fixture_is_judged_for_every_test_that_uses_it(pytester: pytest.Pytester, order: tuple[str, ...]):  # type: ignore[no-untyped-def]
    pytester.makepyfile(test_shared=SHARED)
    result = pytester.runpytest("-rf", "--dtypegate-simulate=t4", "--dtypegate-strict", *order)
    expected = {"test_second"} if "-k" in order else {"test_first", "test_second"}
    assert _failed(result) == expected
    result.assert_outcomes(passed=1, failed=len(expected))  # the fixture's teardown GEMM blames nobody
    result.stdout.fnmatch_lines(
        [
            f"*Called at test_shared.py:{_line(SHARED, 'yield w @ w')} in bf16_weights, in the session-scoped "
            "fixture 'bf16_weights' "
            "(shared: set up once, judged for every test that uses it).*"
        ]
    )


def test_declaring_the_precision_satisfies_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import torch
        from pytest_dtypegate import requires_bf16


        @requires_bf16
        def test_declared():
            torch.ones(4, 4, dtype=torch.bfloat16) @ torch.ones(4, 4, dtype=torch.bfloat16)
        """
    )
    result = pytester.runpytest("--dtypegate-simulate=a100", "--dtypegate-strict")
    result.assert_outcomes(passed=1)


def test_strict_covers_the_backward_pass(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        """
        import torch


        def test_train_step():
            v = torch.ones(8, dtype=torch.bfloat16, requires_grad=True)
            torch.addr(torch.ones(8, 8, dtype=torch.bfloat16), v, torch.ones(8, dtype=torch.bfloat16)).sum().backward()
        """
    )
    result = pytester.runpytest("--dtypegate-simulate=t4", "--dtypegate-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*mv ran in bf16, * Called at test_*.py:6 in test_train_step, in the backward pass.*"])
