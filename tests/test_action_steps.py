"""The composite action (``action.yml``): its steps' commands, run here the way the runner runs them.

Each ``run`` step is executed with ``bash -eo pipefail`` (GitHub's ``shell: bash``), its ``env``
expanded from the inputs given, and ``$GITHUB_STEP_SUMMARY``/``$GITHUB_OUTPUT`` pointing at
files, against run reports written the way the plugin writes them.  The install step is
skipped (the package is installed here); ``if: always()`` steps run after a failed one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reportdata import a100_report, v100_report, write

yaml = pytest.importorskip("yaml", reason="pyyaml is needed to read action.yml (pip install pyyaml)")

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _expand(text: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "inputs":
            return inputs[name]
        if kind == "github" and name == "action_path":
            return str(ROOT)
        if kind == "steps":
            step, _, key = name.partition(".outputs.")
            return outputs.get(f"{step}.{key}", "")
        raise AssertionError(f"unexpected expression {match.group(0)}")

    return re.sub(r"\$\{\{\s*(inputs|github|steps)\.([\w.-]+)\s*\}\}", sub, text)


def run_action(action: dict[str, Any], tmp_path: Path, **given: str) -> dict[str, Any]:
    """Run the action's steps; returns the failed step's status, the summary and the outputs."""
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update({key.replace("_", "-"): value for key, value in given.items()})
    summary, out_file = tmp_path / "summary.md", tmp_path / "output.txt"
    outputs: dict[str, str] = {}
    failed = 0
    log = []
    for step in action["runs"]["steps"]:
        condition = step.get("if")
        if condition == "inputs.install == 'true'":
            assert inputs["install"] == "false", "the test runs the installed package"
            continue
        if failed and condition != "always()":
            continue
        assert step["shell"] == "bash"
        env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(out_file)}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        env.pop("GITHUB_ACTIONS", None)
        env.update({key: _expand(str(value), inputs, outputs) for key, value in (step.get("env") or {}).items()})
        assert "${{" not in step["run"], "inputs reach the scripts through env only"
        out_file.write_text("", encoding="utf-8")
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        log.append((step["name"], proc.returncode, proc.stdout, proc.stderr))
        for line in out_file.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            outputs[f"{step.get('id')}.{key}"] = value
        if proc.returncode:
            failed = proc.returncode
    return {
        "status": failed,
        "summary": summary.read_text(encoding="utf-8") if summary.exists() else "",
        "outputs": outputs,
        "log": log,
    }


def test_inputs_outputs_and_steps_are_declared(action: dict[str, Any]) -> None:
    assert action["runs"]["using"] == "composite"
    assert {
        "reports",
        "require",
        "require-native",
        "baseline",
        "allow-unprobed",
        "output-dir",
        "artifact",
        "install",
    } == set(action["inputs"])
    assert set(action["outputs"]) == {"verdict", "matrix-json", "matrix-html"}
    names = [step["name"] for step in action["runs"]["steps"]]
    assert names[0] == "Install pytest-dtypegate" and names[-1] == "Verdict"
    for step in action["runs"]["steps"][2:]:
        assert step["if"] == "always()", step["name"]  # the summary is written whatever failed before


def test_a_clean_run(action: dict[str, Any], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write(reports, "a100.json", a100_report())
    result = run_action(
        action,
        tmp_path,
        install="false",
        reports="reports/",
        require="fp32,bf16",
        require_native="bf16",
        baseline="baseline/missing.json",
    )
    assert result["status"] == 0, result["log"]
    out = tmp_path / "dtypegate-matrix"
    assert {p.name for p in out.iterdir()} == {
        "dtypegate-matrix.json",
        "dtypegate-matrix.html",
        "dtypegate-matrix.md",
        "dtypegate-gate.md",
    }
    assert result["outputs"]["gate.verdict"] == "passed"
    assert result["outputs"]["matrix.json"] == "dtypegate-matrix/dtypegate-matrix.json"
    summary = result["summary"]
    assert summary.startswith("## dtypegate gate: \u2705 passed\n")
    assert summary.index("## dtypegate gate") < summary.index("## dtypegate matrix")
    assert "No baseline was given" in summary
    assert any("no baseline at baseline/missing.json" in entry[2] for entry in result["log"])


def test_a_violation_fails_the_step_after_the_summary(action: dict[str, Any], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write(reports, "a100.json", a100_report())
    # main's matrix, where v100 passed what it now fails
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_dtypegate.cli",
            "matrix",
            str(reports / "a100.json"),
            "--format",
            "json",
            "-o",
            str(tmp_path / "base" / "m.json"),
        ],
        check=True,
        capture_output=True,
    )
    write(reports, "v100.json", v100_report())
    result = run_action(
        action, tmp_path, install="false", reports="reports/a100.json reports/v100.json", baseline="base/m.json"
    )
    assert result["status"] == 1
    assert result["outputs"]["gate.verdict"] == "failed"
    summary = result["summary"]
    assert summary.startswith("## dtypegate gate: \u274c failed: 1 violation\n")
    assert "### Changes against the baseline" in summary
    assert "- **dtype-failure**: tests/test\\_model.py::test\\_attention \\[v100, bf16\\]" in summary
    assert "## dtypegate matrix" in summary
    assert result["log"][-1][2].startswith("dtypegate gate: exit 1")


def test_unreadable_reports_are_exit_2_with_a_summary(action: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "broken.json").write_text('{"schema": "dtypegate.report/1", "leg": "v1', "utf-8")
    result = run_action(action, tmp_path, install="false")
    assert result["status"] == 2
    assert result["outputs"]["gate.verdict"] == "error"
    messages = "".join(entry[3] for entry in result["log"])
    assert "reports/broken.json: truncated JSON" in messages
