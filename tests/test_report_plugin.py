"""The JSON report written by the plugin: content, xdist parity, atomicity, GitHub output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_dtypegate.ci.reading import load_report

pytest.importorskip("torch")

SUITE = """
import pytest
import torch


def test_model(model_dtype):
    torch.nn.Linear(8, 8).to(model_dtype)(torch.ones(2, 8, dtype=model_dtype))


@pytest.mark.requires_bf16
def test_needs_bf16():
    pass


def test_mismatch(model_dtype):
    torch.ones(2, 2, dtype=model_dtype) @ torch.ones(2, 2, dtype=torch.float64)


def test_plain():
    pass
"""


def _tests(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for t in doc["tests"]:
        t = dict(t)
        t.pop("duration", None)
        out[t["nodeid"]] = t
    return out


def test_report_records_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--dtypegate-simulate=v100", "--dtypegate-report=out/report.json", "--dtypegate-audit")
    result.assert_outcomes(passed=3, skipped=3, failed=2)
    result.stdout.fnmatch_lines(["report: out/report.json"])
    doc = load_report(pytester.path / "out" / "report.json")
    assert doc["schema"] == "dtypegate.report/1"
    assert doc["leg"] == "v100"
    assert doc["profile"] == "v100"
    assert doc["capabilities"]["name"] == "Tesla V100-SXM2-32GB"
    assert doc["environment"]["torch"].startswith("2.")
    tests = _tests(doc)
    bf16 = tests["test_suite.py::test_model[bf16]"]
    assert bf16["outcome"] == "skipped"
    assert "bf16 is emulated on Tesla V100-SXM2-32GB (sm_70)" in bf16["reason"]
    fp16 = tests["test_suite.py::test_model[fp16]"]
    assert fp16["outcome"] == "passed"
    assert fp16["precision"] == "fp16"
    assert "linear:fp16" in fp16["audit"]
    mismatch = tests["test_suite.py::test_mismatch[fp32]"]
    assert mismatch["outcome"] == "failed"
    assert mismatch["category"] == "mismatch"
    assert tests["test_suite.py::test_needs_bf16"]["outcome"] == "skipped"
    assert tests["test_suite.py::test_plain"]["outcome"] == "passed"


def test_same_report_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_subprocess("--dtypegate-simulate=t4", "--dtypegate-report=serial.json")
    pytester.runpytest_subprocess("-n", "2", "--dtypegate-simulate=t4", "--dtypegate-report=parallel.json")
    serial = load_report(pytester.path / "serial.json")
    parallel = load_report(pytester.path / "parallel.json")
    assert _tests(serial) == _tests(parallel)
    assert serial["capabilities"] == parallel["capabilities"]
    assert serial["summary"] == parallel["summary"]
    assert serial["leg"] == parallel["leg"] == "t4"


def test_xdist_report_with_the_real_probe_carries_capabilities(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    pytester.runpytest_subprocess("-n", "2", "--dtypegate-device=cpu", "--dtypegate-report=r.json")
    doc = load_report(pytester.path / "r.json")
    assert doc["capabilities"]["device"] == "cpu"
    assert doc["capabilities"]["support"]["fp32"]["support"] == "native"
    assert len(doc["tests"]) == 3


def test_report_write_is_atomic_and_a_bad_path_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    target = pytester.path / "r.json"
    target.write_text('{"previous": "kept"}')
    (pytester.path / "blocked").write_text("a file, not a directory")
    result = pytester.runpytest("--dtypegate-simulate=a100", "--dtypegate-report=blocked/r.json")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # a lost report must not read as success
    result.stdout.fnmatch_lines(["ERROR: could not write the report to blocked/r.json: *"])
    assert "Traceback" not in result.stdout.str()
    assert target.read_text() == '{"previous": "kept"}'
    pytester.runpytest("--dtypegate-simulate=a100", "--dtypegate-report=r.json")
    assert json.loads(target.read_text())["schema"] == "dtypegate.report/1"
    assert not [p for p in pytester.path.iterdir() if p.name.startswith(".r.json") or p.suffix == ".tmp"]


def test_user_properties_reach_junit_xml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--dtypegate-simulate=v100", "--junitxml=junit.xml")
    xml = (pytester.path / "junit.xml").read_text()
    assert 'name="dtypegate"' in xml
    # one entry per test, however often the facts changed during the run
    import xml.etree.ElementTree as ET

    for case in ET.fromstring(xml).iter("testcase"):
        names = [p.get("name") for p in case.iter("property")]
        assert names.count("dtypegate") <= 1, case.get("name")
    assert "&quot;decision&quot;: &quot;skip&quot;" in xml or '"decision": "skip"' in xml


def test_github_actions_summary_and_annotations(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--dtypegate-simulate=p100")
    result.stdout.fnmatch_lines(["::error file=test_suite.py,line=*,title=dtypegate::*mismatch*"])
    text = summary.read_text()
    assert "dtypegate" in text and "p100" in text


# -- fail closed (issue B) ------------------------------------------------------------------------
HOSTILE = """
import pytest


def test_surrogate_message(model_dtype):
    raise AssertionError("bad byte \\udcff and an escape \\x1b[31m\\n::error::forged")


def test_surrogate_skip(model_dtype):
    pytest.skip("skipped \\udcff")
"""


def test_a_lone_surrogate_in_a_message_costs_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B 2: this used to end the session with a raw UnicodeEncodeError: no report, no summary
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_hostile=HOSTILE)
    result = pytester.runpytest(
        "--dtypegate-simulate=a100", "--dtypegate-report=out/report.json", "--dtypegate-dtypes=fp32"
    )
    result.assert_outcomes(failed=1, skipped=1)
    assert "UnicodeEncodeError" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*= FAILURES =*", "report: out/report.json", "*short test summary info*"])
    doc = load_report(pytester.path / "out" / "report.json")
    tests = _tests(doc)
    failed = tests["test_hostile.py::test_surrogate_message[fp32]"]
    assert failed["reason"] == "AssertionError: bad byte \\udcff and an escape \\x1b[31m"
    assert tests["test_hostile.py::test_surrogate_skip[fp32]"]["reason"] == "skipped \\udcff"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### dtypegate: a100")
    # nothing we print starts a workflow command we did not mean
    for line in result.stdout.lines:
        assert not line.startswith("::") or line.startswith(("::error ", "::warning ")), line


HOOK_EXTRA = """
from pytest_dtypegate import Capabilities


def pytest_dtypegate_probe(config, device):
    return Capabilities(device="cuda:0", name="Card", backend="cuda", capability=(8, 0),
                        support={"fp32": "native", "bf16": "native", "fp16": "native"},
                        extra={EXTRA})
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('"flags": {"avx512"}', "extra['flags']: a set is not JSON data (use a sorted list)"),
        ('"ratio": float("nan")', "extra['ratio']: nan is not JSON data"),
        ('"max": float("inf")', "extra['max']: inf is not JSON data"),
        ('1: "x"', "extra: the key 1 is not a string"),
    ],
)
def test_a_hook_extra_that_is_not_json_is_refused_by_name(pytester: pytest.Pytester, extra: str, message: str) -> None:
    # B 6: NaN or a set in a hook's extra used to crash the report writing at the session's end
    pytester.makeconftest(HOOK_EXTRA.replace("{EXTRA}", "{" + extra + "}"))
    pytester.makepyfile("def test_x(model_dtype):\n    pass\n")
    result = pytester.runpytest_subprocess("--dtypegate-report=out/report.json", "--dtypegate-dtypes=fp32")
    output = result.stdout.str() + result.stderr.str()
    assert "pytest_dtypegate_probe hook" in output and message in output, output[-3000:]
    assert "Traceback" not in result.stderr.str()


def test_a_profile_with_nan_in_extra_is_a_usage_error(pytester: pytest.Pytester) -> None:
    from pytest_dtypegate import profiles

    data = profiles.load("t4").to_json()
    text = json.dumps(data).replace('"capabilities": {', '"capabilities": {"extra": {"clock": NaN}, ', 1)
    pytester.makefile(".json", hostile=text)
    pytester.makepyfile("def test_x(model_dtype):\n    pass\n")
    result = pytester.runpytest_subprocess("--dtypegate-simulate=hostile.json", "--dtypegate-report=out/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*profile file 'hostile.json': not valid JSON (NaN is not a JSON number)*"])
