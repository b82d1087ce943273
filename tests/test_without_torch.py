"""A torch-free suite costs nothing, and a suite without torch installed keeps working."""

from __future__ import annotations

import pytest

NO_TORCH_CONFTEST = """
import sys
sys.modules["torch"] = None  # what an environment without torch looks like to importlib
"""


def test_plain_suite_never_imports_torch(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            # written to a file: the terminal is already closed for output here
            with open("imported.txt", "w") as fh:
                fh.write(",".join(m for m in ("torch", "transformers") if m in sys.modules))
        """
    )
    pytester.makepyfile("def test_a():\n    pass\n\ndef test_b():\n    assert 2 + 2 == 4\n")
    result = pytester.runpytest_subprocess("-p", "dtypegate")
    result.assert_outcomes(passed=2)
    assert (pytester.path / "imported.txt").read_text() == ""


def test_without_torch_plain_tests_run_and_precision_tests_skip(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(NO_TORCH_CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        from pytest_dtypegate import requires_bf16

        def test_plain():
            pass

        def test_model(model_dtype):
            pass

        @requires_bf16
        def test_marker():
            pass

        def test_device(model_device):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=5)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]3] *.py:7: torch is not installed",
            "SKIPPED [[]1] *.py:10: torch is not installed",
            "SKIPPED [[]1] *.py:14: torch is not installed",
        ]
    )
    result.stdout.fnmatch_lines(["dtypegate: auto: probe failed: torch is not installed"])
