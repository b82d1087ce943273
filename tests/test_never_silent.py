"""A suite that uses none of the plugin's markers or fixtures still hears from it when it asked for something:
the header line, the summary section, and a report with the device and every test."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

# a plain model suite, as a project has it before adopting the plugin
PLAIN = """
import pytest
import torch


def bf16_works():
    try:
        torch.zeros(2, 2, dtype=torch.bfloat16) @ torch.zeros(2, 2, dtype=torch.bfloat16)
        return True
    except RuntimeError:
        return False


def test_fp32_forward():
    torch.nn.Linear(8, 8)(torch.ones(2, 8))


def test_bf16_forward_if_supported():
    if not bf16_works():
        pytest.skip("bf16 is not available here")
    torch.nn.Linear(8, 8).bfloat16()(torch.ones(2, 8, dtype=torch.bfloat16))


def test_bf16_hardcoded():
    torch.nn.Linear(8, 8).bfloat16()(torch.ones(2, 8, dtype=torch.bfloat16))


def test_no_torch_at_all():
    assert 1 + 1 == 2
"""

HEADER = "dtypegate: simulating p100 (sm_60): Tesla P100-PCIE-16GB *"


def test_simulating_an_unmodified_suite_shows_the_header_the_section_and_a_full_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest("-p", "no:randomly", "--dtypegate-simulate=p100", "--dtypegate-report=run.json")
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            HEADER,
            "*- dtypegate -*",
            "device: simulating p100 (sm_60): Tesla P100-PCIE-16GB *",
            "--dtypegate-simulate p100 --dtypegate-report: 4 tests, 0 of them with dtypegate's markers or "
            "fixtures; the options applied to every test all the same",
            "simulated errors: 2 tests met one (linear bf16, matmul bf16); 1 of them passed or skipped all the "
            "same: the test or a library caught the error",
            "report: run.json",
        ]
    )
    document = json.loads((pytester.path / "run.json").read_text())
    assert document["capabilities"]["profile"] == "p100"
    assert document["profile"] == "p100"
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in document["tests"]}
    assert outcomes == {
        "test_fp32_forward": "passed",
        "test_bf16_forward_if_supported": "skipped",
        "test_bf16_hardcoded": "failed",
        "test_no_torch_at_all": "passed",
    }
    failed = next(t for t in document["tests"] if t["outcome"] == "failed")
    assert failed["category"] == "unsupported" and failed["error_precision"] == "bf16"


def test_auditing_an_unmodified_suite_reports_every_tests_gemms(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest("-p", "no:randomly", "--dtypegate-audit", "--dtypegate-report=run.json")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "dtypegate: *(cpu)*",
            "*- dtypegate -*",
            "device: *(cpu)*",
            "--dtypegate-audit --dtypegate-report: 4 tests, 0 of them with dtypegate's markers or fixtures; *",
            "audit: GEMMs ran in bf16 in 2 tests, fp32 in 1 test",
        ]
    )
    document = json.loads((pytester.path / "run.json").read_text())
    assert document["capabilities"] is not None
    audits = {t["nodeid"].split("::")[1]: t["audit"] for t in document["tests"]}
    assert audits == {
        "test_fp32_forward": ["linear:fp32"],
        "test_bf16_forward_if_supported": ["matmul:bf16", "linear:bf16"],
        "test_bf16_hardcoded": ["linear:bf16"],
        "test_no_torch_at_all": [],
    }


def test_a_report_of_a_torch_suite_carries_the_probed_device(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest("-p", "no:randomly", "-k", "fp32", "--dtypegate-report=run.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["dtypegate: *(cpu)*", "*- dtypegate -*", "--dtypegate-report: 1 test, 0 of them *"])
    document = json.loads((pytester.path / "run.json").read_text())
    assert document["capabilities"]["device"] == "cpu"
    assert [t["outcome"] for t in document["tests"]] == ["passed"]


@pytest.mark.slow
def test_under_xdist_the_controller_prints_the_header_and_the_section(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess("-n", "2", "--dtypegate-simulate=p100", "--dtypegate-report=run.json")
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    result.stdout.fnmatch_lines([HEADER, "*- dtypegate -*", "device: simulating p100*", "simulated errors: 2 tests*"])
    document = json.loads((pytester.path / "run.json").read_text())
    assert document["capabilities"]["profile"] == "p100"
    assert len(document["tests"]) == 4


def test_without_those_options_an_unmodified_suite_hears_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.no_fnmatch_line("dtypegate*")
    result.stdout.no_fnmatch_line("*- dtypegate -*")


def test_a_test_whose_subtest_failed_is_failed_in_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import unittest


        class TestModels(unittest.TestCase):
            def test_each_class(self):
                for name in ("base", "causal_lm"):
                    with self.subTest(name):
                        self.assertEqual(name, "base")
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "--dtypegate-report=run.json")
    (test,) = json.loads((pytester.path / "run.json").read_text())["tests"]
    assert test["outcome"] == "failed", result.stdout.str()
