"""What the interception says when it cannot see everything, or cannot be installed at all."""

from __future__ import annotations

import pytest

from pytest_dtypegate.facts import TestFacts
from pytest_dtypegate.summary import loud_lines

pytest.importorskip("torch")

GAP = (
    "WARNING: this torch has no torch.library.get_kernel, so only the Python entry points of the GEMM family "
    "are intercepted: GEMMs torch composes in C++, the backward pass and compiled code run unchecked"
)


def test_the_summary_names_what_the_interception_cannot_see() -> None:
    results = {"t.py::a": TestFacts(decision="none", audit=["matmul:bf16"])}
    lines = loud_lines(
        "--dtypegate-audit", results, {"t.py::a": "passed"}, simulating=False, audit=True, gap=GAP[len("WARNING: ") :]
    )
    assert lines == [
        "--dtypegate-audit: 1 test, 0 of them with dtypegate's markers or fixtures; "
        "the options applied to every test all the same",
        "audit: GEMMs ran in bf16 in 1 test",
        GAP,
    ]
    assert loud_lines("--dtypegate-audit", {}, {}, simulating=False, audit=True, gap=None)[-1] == "audit: no GEMM ran"


def test_a_torch_without_get_kernel_runs_with_the_wrappers_and_says_so(pytester: pytest.Pytester) -> None:
    # as on a torch older than torch.library.get_kernel: the backstop cannot be registered
    pytester.makeconftest("import pytest_dtypegate.backstop as b\nb.install = lambda *args, **kwargs: False\n")
    pytester.makepyfile("import torch\ndef test_a():\n    x = torch.ones(2, 2, dtype=torch.bfloat16)\n    x @ x\n")
    result = pytester.runpytest_subprocess("--dtypegate-audit")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["audit: GEMMs ran in bf16 in 1 test", GAP])


def test_an_interception_that_cannot_be_installed_stops_the_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest_dtypegate.intercept as i\n"
        "def _refuse():\n"
        "    raise RuntimeError('this torch moved its ops')\n"
        "i.hold = _refuse\n"
    )
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess("--dtypegate-simulate=p100")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: dtypegate: could not install the op interception: RuntimeError: this torch moved its ops"]
    )
    assert "Traceback" not in result.stderr.str()
