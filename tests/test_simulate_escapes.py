"""Every way a test can run a GEMM meets the simulated platform: fixtures of every scope, names bound at
import, GEMMs torch composes in C++, the MultiheadAttention fast path, the backward pass, compiled code,
and a library's capability check evaluated at collection."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch")

P100_GEMM = "*RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmEx(*CUDA_R_16BF*"
P100_ANY = "*RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemm*CUDA_R_16BF*"

ESCAPES = """
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import matmul  # bound at import, before any interception


def bf(*shape):
    return torch.ones(*shape, dtype=torch.bfloat16)


@pytest.fixture
def function_fixture():
    return bf(4, 8) @ bf(8, 4)


@pytest.fixture(scope="module")
def module_fixture():
    return bf(4, 8) @ bf(8, 4)


@pytest.fixture(scope="session")
def session_fixture():
    return torch.mm(bf(4, 8), bf(8, 4))


@pytest.fixture
def teardown_fixture():
    yield
    bf(4, 8) @ bf(8, 4)


def test_function_scoped_fixture(function_fixture):
    pass


def test_module_scoped_fixture(module_fixture):
    pass


def test_session_scoped_fixture(session_fixture):
    pass


def test_fixture_teardown(teardown_fixture):
    pass


def test_import_bound_matmul():
    matmul(bf(4, 8), bf(8, 4))


def test_multi_dot():
    torch.linalg.multi_dot([bf(4, 8), bf(8, 8), bf(8, 4)])


def test_inner():
    torch.inner(bf(4, 8), bf(3, 8))


def test_linalg_matmul():
    torch.linalg.matmul(bf(4, 8), bf(8, 4))


def test_bilinear():
    F.bilinear(bf(2, 8), bf(2, 8), bf(3, 8, 8))


def test_chain_matmul():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.chain_matmul(bf(4, 8), bf(8, 8), bf(8, 4))


def test_multihead_attention_fast_path():
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).to(torch.bfloat16).eval()
    x = torch.randn(1, 4, 8, dtype=torch.bfloat16)
    with torch.no_grad():
        mha(x, x, x)


def test_backward_pass():
    v = torch.ones(8, dtype=torch.bfloat16, requires_grad=True)
    out = torch.addr(bf(8, 8), v, bf(8))  # elementwise forward; the backward runs a GEMV
    out.sum().backward()
"""


def _line(text: str) -> int:
    """The 1-based line of the suite that holds ``text`` (pytester writes it without the leading newline)."""
    return next(i for i, line in enumerate(ESCAPES.strip("\n").splitlines(), 1) if text in line)


CALL_FAILURES = (
    "test_import_bound_matmul",
    "test_multi_dot",
    "test_inner",
    "test_linalg_matmul",
    "test_bilinear",
    "test_chain_matmul",
    "test_multihead_attention_fast_path",
    "test_backward_pass",
)
SETUP_ERRORS = ("test_function_scoped_fixture", "test_module_scoped_fixture", "test_session_scoped_fixture")


def test_each_escape_fails_under_p100_with_the_platform_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_escapes=ESCAPES)
    result = pytester.runpytest("-rfE", "--dtypegate-simulate=p100")
    # the teardown GEMM errors after its test passed
    result.assert_outcomes(failed=len(CALL_FAILURES), errors=len(SETUP_ERRORS) + 1, passed=1)
    out = result.stdout.str()
    for name in CALL_FAILURES:
        result.stdout.fnmatch_lines([f"FAILED test_escapes.py::{name} - RuntimeError*"])
    for name in (*SETUP_ERRORS, "test_fixture_teardown"):
        result.stdout.fnmatch_lines([f"ERROR test_escapes.py::{name} - RuntimeError*"])
    # each of the 12 met the platform's own error text (the session fixture's is shown once per test)
    texts = re.findall(r"^E +RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemm", out, re.M)
    assert len(texts) >= 12
    # the platform's text, then the gate's explanation, for a failure in the call and in a fixture alike
    result.stdout.fnmatch_lines(["*_ test_multi_dot _*", P100_GEMM, "*- dtypegate -*", "category: unsupported (bf16)*"])
    result.stdout.fnmatch_lines(
        ["*_ ERROR at setup of test_session_scoped_fixture _*", P100_GEMM, "*- dtypegate -*", "category: unsupported*"]
    )
    assert "Torch not compiled with CUDA" not in out


def test_each_escape_runs_under_a100(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_escapes=ESCAPES)
    result = pytester.runpytest("--dtypegate-simulate=a100")
    result.assert_outcomes(passed=len(CALL_FAILURES) + len(SETUP_ERRORS) + 1)


def test_a_fixture_gemm_is_audited_with_its_fixture_and_scope(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_escapes=ESCAPES)
    result = pytester.runpytest(
        "--dtypegate-simulate=a100",
        "--dtypegate-audit",
        "--junitxml=out.xml",
        "--dtypegate-report=run.json",
        "-k",
        "session_scoped or teardown or backward",
    )
    result.assert_outcomes(passed=3)
    import json

    document = json.loads((pytester.path / "run.json").read_text())
    reported = document["call_sites"]["test_escapes.py::test_session_scoped_fixture"]["audit"]
    assert [(s["fixture"], s["scope"], s["phase"]) for s in reported] == [("session_fixture", "session", "setup")]
    import xml.etree.ElementTree as ET

    from pytest_dtypegate.facts import facts_from_properties

    sites = {}
    for case in ET.parse(pytester.path / "out.xml").iter("testcase"):
        props = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        facts = facts_from_properties(props)
        assert facts is not None
        sites[case.get("name")] = facts.sites
    (session,) = sites["test_session_scoped_fixture"]
    assert session == {
        "op": "mm",
        "precision": "bf16",
        "file": "test_escapes.py",
        "line": _line("return torch.mm("),
        "function": "session_fixture",
        "phase": "setup",
        "fixture": "session_fixture",
        "scope": "session",
    }
    (teardown,) = sites["test_fixture_teardown"]
    assert teardown["phase"] == "teardown" and teardown["function"] == "teardown_fixture"
    backward = [s for s in sites["test_backward_pass"] if s.get("backward")]
    assert [(s["op"], s["precision"], s["function"]) for s in backward] == [("mv", "bf16", "test_backward_pass")]


COMPILED = """
import torch


def test_compiled_bf16_model():
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.GELU(), torch.nn.Linear(32, 32))
    model = torch.compile(model.to(torch.bfloat16), fullgraph=True)
    model(torch.randn(16, 32, dtype=torch.bfloat16))
"""


@pytest.mark.slow
def test_compiled_code_fails_with_the_platform_error_and_the_explanation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_compiled=COMPILED)
    # in subprocesses: inductor registers torch libraries once per process
    result = pytester.runpytest_subprocess("--dtypegate-simulate=p100")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E       RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED*", "*- dtypegate -*", "category: unsupported*"]
    )
    assert "torch._dynamo.exc" not in result.stdout.str()  # the error is not a tracing failure
    result = pytester.runpytest_subprocess("--dtypegate-simulate=a100")
    result.assert_outcomes(passed=1)


COLLECTION_CHECK = """
import functools

import pytest
import torch


@functools.lru_cache
def bf16_works():
    try:
        x = torch.zeros(2, 2, dtype=torch.bfloat16)
        x @ x
        return True
    except Exception:
        return False


@pytest.mark.skipif(not bf16_works(), reason="the library says: no bf16 here")  # asked at import
def test_bf16_model():
    torch.ones(2, 2, dtype=torch.bfloat16) @ torch.ones(2, 2, dtype=torch.bfloat16)


def test_asks_again():
    assert bf16_works() is (torch.ones(1).dtype is torch.float32 and {expected})
"""


@pytest.mark.parametrize(("profile", "skipped"), [("p100", 1), ("a100", 0)])
def test_a_check_made_at_collection_sees_the_simulated_platform(
    pytester: pytest.Pytester, profile: str, skipped: int
) -> None:
    pytester.makepyfile(test_check=COLLECTION_CHECK.replace("{expected}", str(not skipped)))
    result = pytester.runpytest("-rs", f"--dtypegate-simulate={profile}")
    result.assert_outcomes(passed=2 - skipped, skipped=skipped)
    if skipped:
        result.stdout.fnmatch_lines(["SKIPPED [[]1] test_check.py:*: the library says: no bf16 here"])
