"""``dtypegate gate``: the pull-request policy over the matrix, its config, its exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reportdata import A100, V100, a100_report, entry, run_report, v100_report, write

from pytest_dtypegate.ci import model, pr_gate, reading
from pytest_dtypegate.ci.files import InputError
from pytest_dtypegate.ci.render.json import matrix_to_json
from pytest_dtypegate.cli import gate as gate_cli
from pytest_dtypegate.cli import matrix as matrix_cli
from pytest_dtypegate.precisions import names

VALID = ", ".join(names(include_auto=False))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dtypegate gate")
    gate_cli.add_arguments(parser)
    return parser


def _gate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = gate_cli.run(_parser().parse_args(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.fixture(autouse=True)
def _no_pyproject_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the gate reads ./pyproject.toml by default; run every test in an empty directory
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def legs(tmp_path: Path) -> list[str]:
    return [write(tmp_path, "v100.json", v100_report()), write(tmp_path, "a100.json", a100_report())]


def _m(*docs: dict[str, Any]) -> model.Matrix:
    return model.build_matrix([(f"r{i}.json", d) for i, d in enumerate(docs)])


def _lines(violations: list[pr_gate.Violation]) -> list[str]:
    return [v.line() for v in violations]


ATTENTION_FAILURE = (
    "dtype-failure: tests/test_model.py::test_attention [v100, bf16]: failed (unsupported, emulated): "
    "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16"
)


# -- the rules --------------------------------------------------------------------------
def test_dtype_failures_are_violations() -> None:
    assert _lines(pr_gate.evaluate_gate(_m(v100_report(), a100_report()), pr_gate.GateRules())) == [ATTENTION_FAILURE]
    assert pr_gate.evaluate_gate(_m(a100_report()), pr_gate.GateRules()) == []


def test_only_unsupported_and_mismatch_failures_count() -> None:
    doc = run_report(
        V100,
        [
            entry("t.py::a[fp16]", "failed", requested="fp16", precision="fp16", category="mismatch", reason="drift"),
            entry("t.py::b[fp16]", "failed", requested="fp16", precision="fp16", category="nonfinite", reason="inf"),
            entry("t.py::c[fp16]", "failed", requested="fp16", precision="fp16", reason="plain bug"),
            entry("t.py::d[bf16]", "error", requested="bf16", decision="fail", reason="Failed: bf16 is emulated"),
            entry("t.py::e[bf16]", "xfailed", requested="bf16", precision="bf16", category="unsupported"),
        ],
    )
    assert _lines(pr_gate.evaluate_gate(_m(doc), pr_gate.GateRules())) == [
        "dtype-failure: t.py::a [v100, fp16]: failed (mismatch): drift",
        "dtype-failure: t.py::d [v100, bf16]: error (unsupported): Failed: bf16 is emulated",
    ]


def test_required_precision() -> None:
    rules = pr_gate.GateRules(require=("bf16", "fp16"))
    assert _lines(pr_gate.evaluate_gate(_m(v100_report(), a100_report()), rules)) == [ATTENTION_FAILURE]
    # on the V100 alone bf16 never ran and passed: skipped, failed, downgraded
    assert _lines(pr_gate.evaluate_gate(_m(v100_report()), rules)) == [
        "required: bf16: no leg ran bf16 and passed (v100: 1 failed (unsupported, emulated), "
        "1 passed (downgraded to fp16), 1 skipped (emulated))",
        ATTENTION_FAILURE,
    ]
    assert _lines(pr_gate.evaluate_gate(_m(a100_report()), pr_gate.GateRules(require=("fp8_e4m3",)))) == [
        "required: fp8_e4m3: no leg ran fp8_e4m3 and passed (no test asked for fp8_e4m3)"
    ]


def test_auto_counts_for_what_it_ran() -> None:
    doc = run_report(A100, [entry("t.py::g[auto]", requested="auto", precision="bf16", support="native")])
    rules = pr_gate.GateRules(require=("bf16",), require_native=("bf16",))
    assert pr_gate.evaluate_gate(_m(doc), rules) == []


def test_required_native_precision() -> None:
    rules = pr_gate.GateRules(require_native=("bf16",))
    assert pr_gate.evaluate_gate(_m(v100_report(), a100_report()), rules)[:-1] == []
    cpu = run_report(
        None,
        [
            entry("t.py::g[bf16]", requested="bf16", precision="bf16", support="emulated"),
            entry(
                "t.py::h[bf16]",
                requested="bf16",
                precision="fp16",
                support="native",
                downgraded_from="bf16",
                decision="downgrade",
            ),
        ],
        leg="cpu",
    )
    assert _lines(pr_gate.evaluate_gate(_m(cpu), rules)) == [
        "required-native: bf16: ran only emulated or downgraded (cpu: 1 passed (downgraded to fp16), "
        "1 passed (emulated))"
    ]
    assert _lines(pr_gate.evaluate_gate(_m(v100_report()), pr_gate.GateRules(require_native=("bf16",))))[0] == (
        "required-native: bf16: ran only emulated or downgraded (v100: 1 passed (downgraded to fp16))"
    )
    skipped = run_report(V100, [entry("t.py::g[bf16]", "skipped", requested="bf16", skip_kind="emulated")])
    assert _lines(pr_gate.evaluate_gate(_m(skipped), rules)) == [
        "required-native: bf16: no leg ran bf16 natively and passed (v100: 1 skipped (emulated))"
    ]


# -- the baseline ----------------------------------------------------------------------
def test_baseline_regressions(tmp_path: Path) -> None:
    base = reading.matrix_from_json(matrix_to_json(_m(v100_report(), a100_report())))
    a100_now = run_report(
        A100,
        [
            entry(
                "tests/test_model.py::test_generate[bf16]",
                "failed",
                requested="bf16",
                precision="bf16",
                category="mismatch",
                reason="AssertionError: Tensor-likes are not close!",
            ),
            entry("tests/test_model.py::test_generate[fp16]", requested="fp16", precision="fp16"),
            entry(
                "tests/test_model.py::test_generate[fp32]",
                "failed",
                requested="fp32",
                precision="fp32",
                reason="KeyError: 'x'",
            ),
            entry("tests/test_model.py::test_attention[bf16]", "skipped", requested="bf16", reason="not today"),
            entry("tests/test_model.py::test_attention[fp32]", requested="fp32", precision="fp32"),
            # test_forward[bf16] is gone
        ],
    )
    lines = _lines(pr_gate.evaluate_gate(_m(a100_now), pr_gate.GateRules(), base))
    assert lines == [
        "dtype-failure: tests/test_model.py::test_generate [a100, bf16]: failed (mismatch): "
        "AssertionError: Tensor-likes are not close!",
        "regression: tests/test_model.py::test_generate [a100, bf16]: passed in the baseline, now failed "
        "(mismatch): AssertionError: Tensor-likes are not close!",
        "regression: tests/test_model.py::test_generate [a100, fp32]: passed in the baseline, now failed: "
        "KeyError: 'x'",
        "vanished: tests/test_model.py::test_forward [a100, bf16]: passed in the baseline, missing from this run",
        "missing-leg: v100: 4 cells passed in the baseline, and this run has no report for that leg",
    ]
    # the same run against itself is clean
    assert pr_gate.evaluate_gate(_m(a100_report()), pr_gate.GateRules(), _m(a100_report())) == []


def test_baseline_file_forms(tmp_path: Path, legs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base" / "matrix.json"
    assert matrix_cli.run(_matrix_args([*legs, "--format", "json", "-o", str(base)])) == 0
    capsys.readouterr()
    assert reading.load_baseline(str(base)).cells == _m(v100_report(), a100_report()).cells
    # a single run report works as a baseline too
    one = reading.load_baseline(legs[1])
    assert [leg.label for leg in one.legs] == ["a100"]
    for content, problem in [
        (b"", "empty file (the run that should have written this dtypegate matrix may have crashed)"),
        (b'{"schema": "other/1"}', "not a dtypegate matrix (schema 'other/1', expected 'dtypegate.matrix/2')"),
        (
            b'{"schema": "dtypegate.report/1", "leg": "x"}',
            "invalid dtypegate report: the document: missing 'environment' (and 5 more problems)",
        ),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_bytes(content)
        with pytest.raises(InputError) as info:
            reading.load_baseline(str(bad))
        assert str(info.value) == f"{bad}: {problem}"


def _matrix_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    matrix_cli.add_arguments(parser)
    return parser.parse_args(argv)


# -- the command ------------------------------------------------------------------------
def test_gate_main_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a100 = write(tmp_path, "a100.json", a100_report())
    code, out, err = _gate([a100, "--require", "bf16,fp16", "--require-native", "bf16"], capsys)
    assert (code, err) == (0, "")
    assert out == [
        "dtypegate gate: passed (1 leg, 3 tests, 6 cells; required: bf16, fp16; required native: bf16; baseline: none)"
    ]


def test_gate_main_violations(legs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _gate([legs[0], "--require", "bf16", "--require", "float16"], capsys)
    assert (code, err) == (1, "")
    assert out == [
        "required: bf16: no leg ran bf16 and passed (v100: 1 failed (unsupported, emulated), "
        "1 passed (downgraded to fp16), 1 skipped (emulated))",
        ATTENTION_FAILURE,
        "dtypegate gate: FAILED: 2 violations (1 leg, 3 tests, 6 cells; required: bf16, fp16; "
        "required native: none; baseline: none)",
    ]


def test_gate_main_json(legs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = gate_cli.run(_parser().parse_args([*legs, "--json"]))
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data == {
        "verdict": "failed",
        "violations": [
            {
                "kind": "dtype-failure",
                "message": ATTENTION_FAILURE.split(": ", 1)[1],
                "test": "tests/test_model.py::test_attention",
                "leg": "v100",
                "precision": "bf16",
            }
        ],
        "policy": {"require": [], "require_native": [], "baseline": None, "allow_unprobed": False},
        "legs": ["v100", "a100"],
    }


def test_gate_main_with_baseline(legs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "main-matrix.json"
    matrix_cli.run(_matrix_args([legs[1], "--format", "json", "-o", str(base)]))
    capsys.readouterr()
    code, out, _ = _gate([legs[0], "--baseline", str(base)], capsys)
    assert code == 1
    assert out[-2:] == [
        "missing-leg: a100: 6 cells passed in the baseline, and this run has no report for that leg",
        f"dtypegate gate: FAILED: 2 violations (1 leg, 3 tests, 6 cells; required: none; required native: none; "
        f"baseline: {base})",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--require", "bf61"], f"--require: unknown precision 'bf61'; valid names: {VALID}"),
        (["--require-native", "fp16,auto"], f"--require-native: unknown precision 'auto'; valid names: {VALID}"),
        (["--require", " , "], "--require: empty precision list"),
        (["--baseline", "nowhere.json"], "nowhere.json: no such file"),
        (["--config", "nowhere.toml"], "nowhere.toml: no such file"),
    ],
)
def test_gate_main_bad_arguments(
    legs: list[str], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _gate([*legs, *argv], capsys)
    assert (code, out) == (2, [])
    assert err == f"dtypegate gate: error: {message}\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        (b"", "empty file (the run that should have written this dtypegate report may have crashed)"),
        (
            b'{"schema": "dtypegate.report/1", "leg": "v1',
            "truncated JSON (the document stops mid-way, after line 1 column 43)",
        ),
        (b"leg: v100\n", "not JSON (Expecting value at line 1 column 1)"),
        (
            b'{"schema": "dtypegate.matrix/1"}',
            "not a dtypegate report (schema 'dtypegate.matrix/1', expected 'dtypegate.report/1')",
        ),
    ],
)
def test_gate_main_bad_reports(
    legs: list[str], tmp_path: Path, content: bytes | None, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "leg.json"
    if content is not None:
        bad.write_bytes(content)
    code, out, err = _gate([legs[0], str(bad)], capsys)
    assert (code, out) == (2, [])
    assert err == f"dtypegate gate: error: {bad}: {problem}\n"


def test_gate_main_duplicate_legs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = write(tmp_path, "one.json", a100_report())
    two = write(tmp_path, "two.json", a100_report())
    code, out, err = _gate([one, two], capsys)
    assert (code, out) == (2, [])
    assert err == (
        f"dtypegate gate: error: {one} and {two} both have the leg label 'a100'; give each run its "
        "own --dtypegate-leg (or merge only one of them)\n"
    )


def test_gate_no_traceback_in_a_process(tmp_path: Path) -> None:
    code = (
        "import argparse, sys\n"
        "from pytest_dtypegate.cli import gate\n"
        "p = argparse.ArgumentParser()\n"
        "gate.add_arguments(p)\n"
        "sys.exit(gate.run(p.parse_args(sys.argv[1:])))\n"
    )
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", code, "empty.json", "--require", "bf16"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "dtypegate gate: error: empty.json: empty file (the run that should have written "
        "this dtypegate report may have crashed)\n"
    )


# -- policy in pyproject.toml ------------------------------------------------------------
PYPROJECT = """
[project]
name = "model-zoo"
dependencies = [
  "torch>=2.1",  # [not a table]
]

[tool.dtypegate.gate]
require = ["bf16", "fp16"]  # some leg must pass these
require-native = "bf16"
baseline = "ci/main-matrix.json"

[tool.other]
x = 1
"""


def test_policy_from_pyproject(tmp_path: Path, legs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "proj"
    (project / "ci").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    rules = pr_gate.load_gate_rules(str(project / "pyproject.toml"))
    assert rules == pr_gate.GateRules(("bf16", "fp16"), ("bf16",), str(project / "ci" / "main-matrix.json"))
    matrix_cli.run(_matrix_args([*legs, "--format", "json", "-o", rules.baseline or ""]))
    capsys.readouterr()
    code, out, err = _gate([*legs, "--config", str(project / "pyproject.toml")], capsys)
    assert (code, err) == (1, "")
    assert out[-1] == (
        f"dtypegate gate: FAILED: 1 violation (2 legs, 3 tests, 12 cells; required: bf16, fp16; "
        f"required native: bf16; baseline: {rules.baseline})"
    )


def test_command_line_wins_key_by_key(
    tmp_path: Path, legs: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("pyproject.toml").write_text(
        '[tool.dtypegate.gate]\nrequire = ["fp8_e4m3"]\nrequire-native = ["fp16"]\n', encoding="utf-8"
    )  # found in the working directory without --config
    code, out, _ = _gate([legs[1]], capsys)
    assert code == 1
    assert out[0] == "required: fp8_e4m3: no leg ran fp8_e4m3 and passed (no test asked for fp8_e4m3)"
    code, out, _ = _gate([legs[1], "--require", "fp32"], capsys)
    assert code == 0
    assert out == [
        "dtypegate gate: passed (1 leg, 3 tests, 6 cells; required: fp32; required native: fp16; baseline: none)"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[tool.dtypegate.gate]\nrequired = ["bf16"]\n',
            "[tool.dtypegate.gate]: unknown key 'required'; valid keys: require, require-native, baseline, "
            "allow-unprobed",
        ),
        (
            '[tool.dtypegate.gate]\nrequire = ["bf61"]\n',
            f"[tool.dtypegate.gate] require: unknown precision 'bf61'; valid names: {VALID}",
        ),
        (
            "[tool.dtypegate.gate]\nrequire = 16\n",
            "[tool.dtypegate.gate] require: expected a list of precision names, got 16",
        ),
        (
            "[tool.dtypegate.gate]\nbaseline = false\n",
            "[tool.dtypegate.gate]: baseline must be a path string, got False",
        ),
        (
            '[tool.dtypegate]\ngate = "strict"\n',
            "[tool.dtypegate.gate]: must be a table, got str 'strict' (the gate's rules live in [tool.dtypegate.gate])",
        ),
        # issue B 12: a scalar where a table must be is an error, not an empty policy
        (
            "[tool]\ndtypegate = 5\n",
            "[tool.dtypegate]: must be a table, got int 5 (the gate's rules live in [tool.dtypegate.gate])",
        ),
        ("tool = [1]\n", "[tool]: must be a table, got an array [1] (the gate's rules live in [tool.dtypegate.gate])"),
        (
            "[tool.dtypegate.gate]\nallow-unprobed = 'yes'\n",
            "[tool.dtypegate.gate]: allow-unprobed must be true or false, got 'yes'",
        ),
    ],
)
def test_bad_policy_in_pyproject(text: str, problem: str, legs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    Path("pyproject.toml").write_text(text, encoding="utf-8")
    code, out, err = _gate([legs[1]], capsys)
    assert (code, out) == (2, [])
    assert err == f"dtypegate gate: error: pyproject.toml {problem}\n"


def test_invalid_toml_is_named(legs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    Path("pyproject.toml").write_text("[tool.dtypegate.gate\nrequire = 1\n", encoding="utf-8")
    code, out, err = _gate([legs[1]], capsys)
    assert (code, out) == (2, [])
    assert err.startswith("dtypegate gate: error: pyproject.toml: not valid TOML (")
    assert err.count("\n") == 1


def test_pyproject_without_the_table_is_an_empty_policy(legs: list[str]) -> None:
    Path("pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert pr_gate.load_gate_rules("pyproject.toml") == pr_gate.GateRules()


def test_violation_lines_stay_one_line() -> None:
    violation = pr_gate.Violation("vanished", "t.py::x\nforged [leg, bf16]: passed\r\nin the baseline")
    assert violation.line() == "vanished: t.py::x forged [leg, bf16]: passed  in the baseline"
