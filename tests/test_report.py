"""The per-run JSON report: entries from real pytest reports, the document, its schema, GitHub output."""

from __future__ import annotations

import copy
import io
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from reportdata import A100, ENVIRONMENT, V100, a100_report, entry, run_report, v100_report

from pytest_dtypegate import schemas
from pytest_dtypegate.ci import files, github, reading, runreport
from pytest_dtypegate.ci.files import InputError
from pytest_dtypegate.facts import TestFacts

# -- entries from real pytest reports -------------------------------------------------------

COLLECTING_CONFTEST = """
import json
import pytest
from pytest_dtypegate.ci import files, runreport
from pytest_dtypegate.facts import PROPERTY, TestFacts

REPORTS = []

def pytest_runtest_logreport(report):
    REPORTS.append(report)

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    # what the plugin does for a classified failure: facts with the category on the failing report only
    if rep.failed and call.when == "call" and "classified" in item.keywords:
        facts = TestFacts(requested="bf16", precision="bf16", category="unsupported", error_precision="bf16")
        rep.user_properties.append((PROPERTY, facts.dumps()))
    return rep

def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return  # the xdist controller writes the report
    entries = runreport.entries_from_reports(REPORTS)
    doc = runreport.build_report(entries, capabilities=None, environment=runreport.environment_info(None),
                                 leg="here", settings={})
    files.write_atomic(session.config.rootpath / "out.json", doc)

@pytest.fixture
def gated(request):
    facts = TestFacts(requested="bf16", precision="fp16", decision="downgrade", downgraded_from="bf16",
                      support="native", reason="bf16 is emulated")
    request.node.user_properties.append((PROPERTY, facts.dumps()))
"""

TEST_FILE = """
import pytest

def helper():
    raise RuntimeError("at::cuda::blas::gemm: not implemented for struct c10::BFloat16\\nmore detail")

def test_pass(gated):
    pass

@pytest.mark.classified
def test_fail(gated):
    x = 1
    helper()

def test_assert():
    assert 1 == 2, "values differ"

def test_skip():
    pytest.skip("no bf16 here")

@pytest.mark.skip(reason="marked skip")
def test_skipmark():
    pass

@pytest.mark.xfail(reason="known bf16 drift")
def test_xfail():
    assert 0

@pytest.mark.xfail(reason="fixed upstream")
def test_xpass():
    pass

@pytest.mark.xfail(reason="strict one", strict=True)
def test_xpass_strict():
    pass

@pytest.fixture
def refuse():
    pytest.fail("bf16 is unsupported on this device", pytrace=False)

def test_setup_error(refuse):
    pass

@pytest.fixture
def broken_teardown():
    yield
    raise ValueError("teardown went wrong")

def test_teardown_error(broken_teardown):
    pass
"""


def _run_collecting(pytester: pytest.Pytester, *args: str) -> dict[str, dict[str, Any]]:
    pytester.makeconftest(COLLECTING_CONFTEST)
    pytester.makepyfile(test_items=TEST_FILE)
    pytester.makeini("[pytest]\nmarkers =\n    classified: the fake plugin classifies its failure\n")
    result = pytester.runpytest("-p", "no:dtypegate", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=2, failed=3, skipped=2, xfailed=1, xpassed=1, errors=2)
    doc = reading.load_report(pytester.path / "out.json")
    return {t["nodeid"].split("::")[1]: t for t in doc["tests"]}


def _check_entries(tests: dict[str, dict[str, Any]]) -> None:
    assert {name: t["outcome"] for name, t in tests.items()} == {
        "test_pass": "passed",
        "test_fail": "failed",
        "test_assert": "failed",
        "test_skip": "skipped",
        "test_skipmark": "skipped",
        "test_xfail": "xfailed",
        "test_xpass": "xpassed",
        "test_xpass_strict": "failed",
        "test_setup_error": "error",
        "test_teardown_error": "error",
    }
    assert {name: t["reason"] for name, t in tests.items()} == {
        "test_pass": None,
        "test_fail": "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16",
        "test_assert": "AssertionError: values differ",
        "test_skip": "no bf16 here",
        "test_skipmark": "marked skip",
        "test_xfail": "known bf16 drift",
        "test_xpass": "fixed upstream",
        "test_xpass_strict": "[XPASS(strict)] strict one",
        "test_setup_error": "Failed: bf16 is unsupported on this device",
        "test_teardown_error": "ValueError: teardown went wrong",
    }
    # the failing line inside the test file, 1-based; else the def line
    assert tests["test_fail"]["location"] == {"file": "test_items.py", "line": 4}  # the raise in helper()
    assert tests["test_assert"]["location"] == {"file": "test_items.py", "line": 15}
    assert tests["test_setup_error"]["location"] == {"file": "test_items.py", "line": 38}  # pytest.fail
    assert tests["test_teardown_error"]["location"] == {"file": "test_items.py", "line": 46}
    assert tests["test_pass"]["location"] == {"file": "test_items.py", "line": 6}  # the def line
    assert tests["test_skip"]["location"] == {"file": "test_items.py", "line": 17}
    # facts: from user_properties; the category from the failing call report wins over teardown's copy
    assert tests["test_pass"]["gated"] is True
    assert tests["test_pass"]["downgraded_from"] == "bf16"
    assert tests["test_pass"]["decision_reason"] == "bf16 is emulated"
    assert tests["test_fail"]["category"] == "unsupported"
    assert tests["test_fail"]["error_precision"] == "bf16"
    assert tests["test_assert"]["gated"] is False
    assert tests["test_assert"]["category"] is None
    assert all(t["duration"] >= 0 for t in tests.values())


def test_entries_from_real_pytest_reports(pytester: pytest.Pytester) -> None:
    _check_entries(_run_collecting(pytester))


def test_entries_from_reports_that_crossed_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _check_entries(_run_collecting(pytester, "-n", "2"))


def test_crashed_xdist_worker_item_is_a_failure() -> None:
    # what xdist's DSession.handle_crashitem reports for the item a dead worker was running
    crash = SimpleNamespace(
        nodeid="t.py::test_big[bf16]",
        when="???",
        outcome="failed",
        duration=0.0,
        longrepr="worker 'gw1' crashed while running 't.py::test_big[bf16]'",
        location=("t.py", None, "t.py"),
        user_properties=[],
    )
    setup = SimpleNamespace(
        nodeid="t.py::test_big[bf16]",
        when="setup",
        outcome="passed",
        duration=0.5,
        longrepr=None,
        location=("t.py", 3, "test_big[bf16]"),
        user_properties=[],
    )
    collect = SimpleNamespace(nodeid="t.py", when="collect", outcome="passed")
    [only] = runreport.entries_from_reports([collect, setup, crash])
    assert only == runreport.ReportEntry(
        "t.py::test_big[bf16]",
        "failed",
        None,
        "worker 'gw1' crashed while running 't.py::test_big[bf16]'",
        ("t.py", 4),
        0.5,
    )


def test_entry_from_reports_needs_a_report() -> None:
    with pytest.raises(ValueError, match="entry_from_reports needs at least one report"):
        runreport.entry_from_reports([])


def test_entry_outcome_is_checked() -> None:
    with pytest.raises(
        ValueError,
        match=r"outcome must be one of passed, failed, skipped, error, xfailed, "
        r"xpassed, got 'rerun'",
    ):
        runreport.ReportEntry("t.py::t", "rerun")


def test_entry_json_round_trip() -> None:
    original = entry(
        "tests/t.py::test_x[bf16]",
        "failed",
        requested="bf16",
        precision="fp16",
        decision="downgrade",
        downgraded_from="bf16",
        support="native",
        category="mismatch",
        error_precision="fp16",
        reason="AssertionError: mismatch",
        decision_reason="emulated",
        audit=["linear:fp16"],
        requires=["native:bf16"],
        line=None,
    )
    back = runreport.ReportEntry.from_json(original.to_json())
    assert back == original
    plain = entry("tests/t.py::test_y", gated=False)
    assert runreport.ReportEntry.from_json(plain.to_json()).facts is None
    assert plain.to_json()["requires"] == [] and plain.to_json()["decision"] is None


# -- the document ------------------------------------------------------------------------
def test_build_report_document() -> None:
    doc = v100_report()
    assert list(doc) == ["schema", "leg", "environment", "capabilities", "profile", "settings", "summary", "tests"]
    assert doc["schema"] == "dtypegate.report/1"
    assert doc["leg"] == "v100"  # the simulated profile, as no leg was set
    assert doc["profile"] == "v100"
    assert doc["capabilities"] == V100.to_json()
    assert doc["environment"] == ENVIRONMENT
    assert doc["summary"] == {
        "total": 7,
        "passed": 5,
        "failed": 1,
        "skipped": 1,
        "error": 0,
        "xfailed": 0,
        "xpassed": 0,
        "gated": 6,
        "downgraded": 1,
        "dtype_failures": 1,
    }
    first = doc["tests"][0]
    assert first == {
        "nodeid": "tests/test_model.py::test_generate[bf16]",
        "outcome": "skipped",
        "reason": "bf16 is emulated on Tesla V100-SXM2-16GB (sm_70) [simulated: v100]: native bf16 needs sm_80+",
        "location": {"file": "tests/test_model.py", "line": 10},
        "duration": 0.25,
        "gated": True,
        "requested": "bf16",
        "precision": None,
        "decision": "skip",
        "support": None,
        "downgraded_from": None,
        "skip_kind": "emulated",
        "category": None,
        "error_precision": None,
        "decision_reason": first["reason"],
        "requires": [],
        "audit": [],
    }
    assert schemas.validate(doc, "report") == []
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


@pytest.mark.parametrize(
    ("caps", "settings", "expected"),
    [
        (V100.to_json(), {}, "v100"),
        (A100.replace(profile=None).to_json(), {}, "NVIDIA A100-SXM4-40GB"),
        ({"device": "cuda:1", "name": None, "profile": None}, {}, "cuda:1"),
        (None, {"simulate": "t4"}, "t4"),
        (None, {"device": "mps"}, "mps"),
        (None, {"device": "auto"}, "local"),
        (None, {}, "local"),
    ],
)
def test_default_leg(caps: dict[str, Any] | None, settings: dict[str, Any], expected: str) -> None:
    assert runreport.default_leg(caps, settings) == expected


def test_explicit_leg_wins() -> None:
    assert v100_report(leg="V100 nightly")["leg"] == "V100 nightly"
    assert run_report(None, [], leg=None)["leg"] == "local"


def test_policy_fail_counts_as_unsupported_failure() -> None:
    doc = run_report(
        V100, [entry("t.py::t[bf16]", "error", requested="bf16", decision="fail", reason="Failed: bf16 is emulated")]
    )
    assert doc["summary"]["dtype_failures"] == 1
    assert runreport.effective_category("error", TestFacts(decision="fail")) == "unsupported"
    assert runreport.effective_category("passed", TestFacts(decision="fail")) is None
    assert runreport.effective_category("failed", TestFacts(category="nonfinite")) == "nonfinite"
    assert runreport.effective_category("failed", None) is None


def test_environment_info() -> None:
    info = runreport.environment_info("2.13.0", environ={})
    assert info["torch"] == "2.13.0"
    assert info["pytest"] == pytest.__version__
    assert info["python"].count(".") == 2
    assert "github" not in info
    assert runreport.environment_info(None, environ={})["torch"] is None
    gh = runreport.environment_info(
        None, environ={"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42", "GITHUB_JOB": "simulate", "GITHUB_SHA": "abc"}
    )
    assert gh["github"] == {"run_id": "42", "job": "simulate", "sha": "abc"}


# -- writing ------------------------------------------------------------------------------
def test_write_atomic_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "deeper" / "v100.json"
    files.write_atomic(path, v100_report())
    assert reading.load_report(path) == v100_report()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == ["v100.json"]


def test_write_atomic_crash_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v100.json"
    files.write_atomic(path, a100_report())
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        files.write_atomic(path, v100_report())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["v100.json"]  # no temporary file left behind


def test_write_atomic_unserialisable_document_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v100.json"
    files.write_atomic(path, a100_report())
    before = path.read_bytes()
    bad = a100_report()
    bad["settings"]["oops"] = object()
    with pytest.raises(TypeError, match="not JSON serializable"):
        files.write_atomic(path, bad)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        files.write_atomic(path, {**a100_report(), "x": float("nan")})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["v100.json"]


# -- loading ------------------------------------------------------------------------------
def _bad(tmp_path: Path, content: bytes | None, name: str = "r.json") -> str:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as info:
        reading.load_report(path)
    message = str(info.value)
    assert "\n" not in message
    return message.replace(str(path), "PATH")


def test_load_report_refuses_bad_files(tmp_path: Path) -> None:
    full = json.dumps(v100_report()).encode()
    assert _bad(tmp_path, None) == "PATH: no such file"
    assert _bad(tmp_path, b"") == (
        "PATH: empty file (the run that should have written this dtypegate report may have crashed)"
    )
    assert _bad(tmp_path, b"  \n") == (
        "PATH: empty file (the run that should have written this dtypegate report may have crashed)"
    )
    assert _bad(tmp_path, full[:1000]) == "PATH: truncated JSON (the document stops mid-way, after line 1 column 1000)"
    files.write_atomic(tmp_path / "whole.json", v100_report())
    indented = (tmp_path / "whole.json").read_bytes()
    cut = indented[: indented.index(b'"tests"') + 40]
    last = cut.decode().rstrip().splitlines()
    assert _bad(tmp_path, cut + b"\n") == (
        f"PATH: truncated JSON (the document stops mid-way, after line {len(last)} column {len(last[-1])})"
    )
    assert _bad(tmp_path, b"<html>oops</html>") == ("PATH: not JSON (Expecting value at line 1 column 1)")
    assert _bad(tmp_path, b"\xff\xfe{") == "PATH: not a dtypegate report (not UTF-8 text)"
    assert _bad(tmp_path, b"[1, 2]") == "PATH: not a dtypegate report (the top level is an array, not an object)"
    assert _bad(tmp_path, b'{"tests": []}') == (
        "PATH: not a dtypegate report (no 'schema' key; expected 'dtypegate.report/1')"
    )
    assert _bad(tmp_path, b'{"schema": "dtypegate.matrix/1"}') == (
        "PATH: not a dtypegate report (schema 'dtypegate.matrix/1', expected 'dtypegate.report/1')"
    )
    assert _bad(tmp_path, json.dumps({**v100_report(), "schema": "dtypegate.report/2"}).encode()) == (
        "PATH: dtypegate report schema 'dtypegate.report/2' is not supported by this dtypegate "
        "(it reads 'dtypegate.report/1')"
    )
    (tmp_path / "adir").mkdir()
    with pytest.raises(InputError, match=r"adir: is a directory, not a dtypegate report file$"):
        reading.load_report(tmp_path / "adir")


def test_load_report_refuses_invalid_documents(tmp_path: Path) -> None:
    doc = v100_report()
    doc["tests"][3]["outcome"] = "exploded"
    assert _bad(tmp_path, json.dumps(doc).encode()) == (
        "PATH: invalid dtypegate report: tests[3].outcome: 'exploded' is not one of passed, failed, skipped, "
        "error, xfailed, xpassed"
    )
    doc = v100_report()
    del doc["leg"]
    doc["summary"]["total"] = -1
    assert _bad(tmp_path, json.dumps(doc).encode()) == (
        "PATH: invalid dtypegate report: the document: missing 'leg' (and 1 more problems)"
    )
    doc = v100_report()
    doc["capabilities"]["support"]["bf16"] = {"support": "maybe"}
    assert _bad(tmp_path, json.dumps(doc).encode()) == (
        "PATH: invalid dtypegate report: capabilities.support.bf16.support: 'maybe' is not one of native, "
        "emulated, unsupported, unknown"
    )
    doc = v100_report()
    doc["capabilities"]["support"]["bf61"] = {"support": "native"}
    assert _bad(tmp_path, json.dumps(doc).encode()).startswith(
        "PATH: invalid dtypegate report: capabilities: support: unknown precision 'bf61'; valid names: fp32,"
    )


# -- the schema file ----------------------------------------------------------------------
def test_schema_file_matches_the_document() -> None:
    schema = schemas.load("report")
    assert schema["title"] == runreport.SCHEMA
    assert schema["properties"]["schema"]["const"] == runreport.SCHEMA
    assert set(schema["required"]) == set(v100_report())
    test_schema = schema["$defs"]["test"]
    assert set(test_schema["required"]) == set(test_schema["properties"]) == set(v100_report()["tests"][0])
    assert set(schema["properties"]["summary"]["required"]) == set(v100_report()["summary"])
    assert schema["properties"]["tests"]["items"] == {"$ref": "#/$defs/test"}
    # the shipped file is valid JSON on disk too (package data)
    shipped = Path(schemas.__file__).with_name("report.schema.json")
    assert json.loads(shipped.read_text(encoding="utf-8")) == schema


def _problems(document: Any) -> list[str]:
    return [str(problem) for problem in schemas.validate(document, "report")]


def test_validator_catches_what_the_schema_promises() -> None:
    good = v100_report()
    assert _problems(good) == []
    cases: list[tuple[str, Any, str]] = [
        ("leg", "", "leg: must not be empty"),
        ("leg", 7, "leg: expected string, got int"),
        ("capabilities", [], "capabilities: expected object or null, got list"),
        ("summary", {**good["summary"], "passed": True}, "summary.passed: expected integer, got bool"),
        ("summary", {**good["summary"], "passed": 1.5}, "summary.passed: expected integer, got float"),
        ("summary", {**good["summary"], "failed": -2}, "summary.failed: -2 is below the minimum 0"),
        ("tests", [{**good["tests"][0], "extra": 1}], "tests[0]: unexpected key 'extra'"),
        (
            "tests",
            [{**good["tests"][0], "location": {"file": "a.py", "line": 0}}],
            "tests[0].location.line: 0 is below the minimum 1",
        ),
        ("tests", [{**good["tests"][0], "requires": ["bf16", 3]}], "tests[0].requires[1]: expected string, got int"),
        ("schema", "dtypegate.report/0", "schema: must be 'dtypegate.report/1', got 'dtypegate.report/0'"),
    ]
    for key, value, problem in cases:
        doc = copy.deepcopy(good)
        doc[key] = value
        assert _problems(doc) == [problem], key
    doc = copy.deepcopy(good)
    del doc["tests"][0]["nodeid"]
    assert _problems(doc) == ["tests[0]: missing 'nodeid'"]


def test_validator_refuses_keywords_it_does_not_check() -> None:
    with pytest.raises(schemas.SchemaError, match=r"^schema at # uses unsupported keywords: if, then$"):
        schemas.Validator({"type": "string", "if": {"minLength": 1}, "then": {"pattern": "^a"}})
    with pytest.raises(schemas.SchemaError, match=r"^schema at #/properties/a: cannot resolve \$ref 'other.json#/x'$"):
        schemas.Validator({"properties": {"a": {"$ref": "other.json#/x"}}})


# -- GitHub ---------------------------------------------------------------------------------
def test_step_summary() -> None:
    text = github.step_summary(v100_report())
    assert text == (
        "### dtypegate: v100\n"
        "\n"
        "simulating v100 (sm\\_70): Tesla V100-SXM2-16GB \\[torch 2.3.1\\]: fp32 native, tf32 emulated, "
        "fp16 native, bf16 emulated, fp8\\_e4m3 unsupported, fp8\\_e5m2 unsupported, fp64 native, "
        "amp\\_bf16 emulated, amp\\_fp16 native  \n"
        "Python 3.11.7, torch 2.3.1, pytest 9.2.0\n"
        "\n"
        "**7 tests**: 5 passed, 1 failed, 1 skipped, 1 downgraded, 1 dtype failure\n"
        "\n"
        "| precision | passed | failed | skipped | downgraded |\n"
        "|---|---:|---:|---:|---:|\n"
        "| bf16 | 1 | 1 | 1 | 1 |\n"
        "| fp16 | 1 | 0 | 0 | 0 |\n"
        "| fp32 | 2 | 0 | 0 | 0 |\n"
        "\n"
        "**dtype failures**\n"
        "\n"
        "- `tests/test_model.py::test_attention[bf16]`: unsupported (bf16): RuntimeError: "
        "at::cuda::blas::gemm: not implemented for struct c10::BFloat16\n"
    )


def test_step_summary_without_device_and_with_many_failures() -> None:
    entries = [
        entry(
            f"t.py::test_{i}[bf16]", "failed", requested="bf16", precision="bf16", category="mismatch", reason="a|b `c`"
        )
        for i in range(12)
    ]
    text = github.step_summary(run_report(None, entries, leg="cpu | local"))
    assert text.startswith("### dtypegate: cpu \\| local\n\nno device was probed (no test used the gate)  \n")
    assert "**12 tests**: 12 failed, 12 dtype failures\n" in text
    assert "- `t.py::test_0[bf16]`: mismatch (bf16): a\\|b \\`c\\`\n" in text
    assert "- `t.py::test_10[bf16]`" not in text
    assert text.endswith("- ... and 2 more (see the JSON report)\n")
    assert github.md_code("a`|`b") == "``a`\\|`b``"
    assert github.md_code("`x`") == "`` `x` ``"


def test_annotations() -> None:
    lines = github.github_annotations(v100_report())
    assert lines == [
        "::error file=tests/test_model.py,line=42,title=dtypegate::bf16 unsupported on v100: "
        "tests/test_model.py::test_attention[bf16]: RuntimeError: at::cuda::blas::gemm: not implemented for "
        "struct c10::BFloat16"
    ]
    assert github.github_annotations(a100_report()) == []


def test_annotation_escaping_and_policy_failures() -> None:
    doc = run_report(
        V100,
        [
            entry(
                "dir,x/t:1.py::t[bf16]",
                "error",
                requested="bf16",
                decision="fail",
                line=None,
                reason="100% bad\r\nnext",
            ),
            entry("t.py::u[fp16]", "failed", requested="fp16", precision="fp16", category="nonfinite", reason="inf"),
            entry("t.py::v[fp16]", "failed", requested="fp16", precision="fp16", reason="plain bug"),
        ],
        leg="a:b",
    )
    doc["tests"][1]["location"] = None
    assert github.github_annotations(doc) == [
        "::error file=dir%2Cx/t%3A1.py,title=dtypegate::bf16 unsupported on a:b: dir,x/t:1.py::t[bf16]: "
        "100%25 bad%0D%0Anext",
        "::error title=dtypegate::fp16 nonfinite on a:b: t.py::u[fp16]: inf",
    ]
    assert github.escape_data("50%\n") == "50%25%0A"
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_publish_github(tmp_path: Path) -> None:
    doc = v100_report()
    out = io.StringIO()
    assert github.publish_github(doc, environ={}, stream=out) is False
    assert out.getvalue() == ""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    assert github.publish_github(doc, environ=env, stream=out) is True
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + github.step_summary(doc) + "\n"
    assert out.getvalue() == github.github_annotations(doc)[0] + "\n"


def test_publish_github_unwritable_summary_warns(tmp_path: Path) -> None:
    out = io.StringIO()
    target = tmp_path / "missing-dir" / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(target)}
    assert github.publish_github(a100_report(), environ=env, stream=out) is True
    assert out.getvalue().startswith(f"::warning title=dtypegate::cannot append to {target}: ")
    assert out.getvalue().count("\n") == 1
