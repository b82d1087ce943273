"""The GitHub workflows: jobs, legs, permissions, and that every command they run exists.

``tox -e X`` must name an env of tox.ini, ``dtypegate SUB ...`` a real subcommand
whose flags that subcommand's parser accepts, and ``--dtypegate-*`` options the
plugin's own.  ``${{ matrix.* }}`` expressions are expanded over each job's matrix.
"""

from __future__ import annotations

import argparse
import configparser
import fnmatch
import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_dtypegate import precisions
from pytest_dtypegate.cli import gate as gate_cli
from pytest_dtypegate.cli import matrix as matrix_cli

yaml = pytest.importorskip("yaml", reason="pyyaml is needed to read the workflows (pip install pyyaml)")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PROFILES = ["v100", "t4", "a100", "h100", "mps-macos13"]
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
ACTIONS = {
    "actions/checkout@v4",
    "actions/setup-python@v5",
    "actions/upload-artifact@v4",
    "actions/download-artifact@v4",
    "./",
}  # ./ is this repository's own action (action.yml)


def _load(name: str) -> dict[str, Any]:
    path = ROOT / name if name == "action.yml" else WORKFLOWS / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return _load("ci.yml")


@pytest.fixture(scope="module")
def gpu() -> dict[str, Any]:
    return _load("gpu.yml")


def _combos(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's matrix combinations (the product, plus each `include` entry)."""
    spec = (job.get("strategy") or {}).get("matrix") or {}
    axes = {k: v for k, v in spec.items() if k not in ("include", "exclude")}
    combos: list[dict[str, Any]] = []
    if axes:
        combos = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    combos += [dict(extra) for extra in spec.get("include", [])]
    return combos or [{}]


def _expand(text: str, combo: dict[str, Any]) -> str:
    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        assert key in combo, f"${{{{ matrix.{key} }}}} is not in the job's matrix {combo}"
        return str(combo[key])

    return re.sub(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", sub, text)


def _runs(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """(job name, expanded run script) for every run step in every matrix combination (an action: its steps)."""
    out = []
    if "runs" in workflow:  # a composite action
        return [("action", step["run"]) for step in workflow["runs"]["steps"] if "run" in step]
    for name, job in workflow["jobs"].items():
        for combo in _combos(job):
            for step in job["steps"]:
                if "run" in step:
                    out.append((name, _expand(step["run"], combo)))
    return out


def _commands(script: str) -> list[list[str]]:
    """Shell words of each command line (continuations joined, redirections and $-words dropped)."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||;|\|", line):
            part = part.split(">>")[0].split(">")[0]
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            words = ["VALUE" if "$" in w else w for w in words]  # a shell variable stands for some value
            if words:
                out.append(words)
    return out


def _steps(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action + "@")]


def _tox_envs() -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    assert parser.read(ROOT / "tox.ini", encoding="utf-8"), "tox.ini is missing"
    envs = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("testenv:")}
    for key in ("env_list", "envlist"):
        if parser.has_option("tox", key):
            envs |= set(re.split(r"[\s,]+", parser.get("tox", key).strip()))
    envs.discard("")
    return envs


def _cli_subcommands() -> set[str]:
    from pytest_dtypegate.cli import SUBCOMMANDS

    return set(SUBCOMMANDS)


class _Refuse(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise AssertionError(f"{self.prog}: {message}")


# -- both workflows ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ci.yml", "gpu.yml"])
def test_minimal_permissions_and_pinned_actions(name: str) -> None:
    workflow = _load(name)
    assert workflow["permissions"] == {"contents": "read"}
    for job_name, job in workflow["jobs"].items():
        for scope, level in (job.get("permissions") or {}).items():
            assert level in ("read", "none"), f"{name} {job_name}: {scope}: {level}"
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"] in ACTIONS, f"{name} {job_name}: {step['uses']}"


@pytest.mark.parametrize("name", ["ci.yml", "gpu.yml"])
def test_every_tox_env_exists(name: str) -> None:
    envs = _tox_envs()
    assert {"py", "notorch", "lint", "type", "examples"} <= envs
    used = set()
    for job, script in _runs(_load(name)):
        for words in _commands(script):
            if words[0] == "tox":
                assert "-e" in words, f"{job}: {words}"
                for env in words[words.index("-e") + 1].split(","):
                    assert env in envs, f"{name} {job}: tox env {env!r} is not in tox.ini ({sorted(envs)})"
                    used.add(env)
    assert used


def test_every_dtypegate_command_exists_and_parses() -> None:
    subcommands = _cli_subcommands()
    assert {"matrix", "gate"} <= subcommands
    parsers = {"matrix": matrix_cli.add_arguments, "gate": gate_cli.add_arguments}
    seen = set()
    for name, (job, script) in ((n, run) for n in ("ci.yml", "gpu.yml", "action.yml") for run in _runs(_load(n))):
        for words in _commands(script):
            if words[0] != "dtypegate":
                continue
            sub = words[1]
            assert sub in subcommands, f"{name} {job}: dtypegate {sub} is not a subcommand ({sorted(subcommands)})"
            seen.add(sub)
            parser = _Refuse(prog=f"dtypegate {sub}")
            parsers[sub](parser)
            args = parser.parse_args(words[2:])
            for flag in ("require", "require_native"):
                for value in getattr(args, flag, None) or ():
                    for part in value.split(","):
                        precisions.resolve(part, allow_auto=False)
    assert seen == {"matrix", "gate"}


def test_report_and_simulate_flags_take_their_value_with_an_equals_sign() -> None:
    # issue A: `--dtypegate-report reports/x.json` with a space lets pytest take an existing report for a
    # test path (and move the rootdir); every place we show the flags writes `--dtypegate-report=PATH`
    texts = {name: (WORKFLOWS / name).read_text(encoding="utf-8") for name in ("ci.yml", "gpu.yml")}
    texts["tox.ini"] = (ROOT / "tox.ini").read_text(encoding="utf-8")
    texts["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, text in texts.items():
        spaced = re.findall(r"--dtypegate-(?:report|simulate|leg|device) +[^\s`|-][^\s`|]*", text)
        assert not spaced, f"{name}: {spaced}"
    assert "--dtypegate-report=reports/v100.json" in texts["tox.ini"]


@pytest.mark.parametrize("name", ["ci.yml", "gpu.yml"])
def test_every_plugin_option_exists(name: str, tmp_path: Path) -> None:
    used = set()
    for _, script in _runs(_load(name)):
        used |= set(re.findall(r"--dtypegate-[\w-]+", script))
    assert used
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    for option in sorted(used):
        assert re.search(rf"(^|\s){re.escape(option)}[\s=]", proc.stdout, re.M), f"{option} is not a plugin option"


# -- ci.yml -----------------------------------------------------------------------------
def test_ci_triggers_and_jobs(ci: dict[str, Any]) -> None:
    assert set(ci["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert ci["on"]["push"] == {"branches": ["main"]}
    assert {"lint", "type", "tests", "simulate", "matrix"} <= set(ci["jobs"])
    runs = dict.fromkeys(ci["jobs"], "")
    for job, script in _runs(ci):
        runs[job] += script + "\n"
    assert "tox -e lint" in runs["lint"]
    assert "tox -e type" in runs["type"]


def test_ci_tests_across_pythons(ci: dict[str, Any]) -> None:
    job = ci["jobs"]["tests"]
    combos = {(c["python"], c["env"]) for c in _combos(job)}
    # torch 2.13.0 needs 3.10+: the torch legs start there, the torch-free leg covers 3.9
    assert {(py, "py") for py in PYTHONS if py != "3.9"} <= combos
    assert ("3.9", "notorch") in combos
    assert ("3.9", "py") not in combos
    assert {py for py, _ in combos} == set(PYTHONS)
    assert [s["with"]["python-version"] for s in _steps(job, "actions/setup-python")] == ["${{ matrix.python }}"]
    assert job["strategy"]["fail-fast"] is False
    # the browser test's screenshot leaves the job as an artifact
    assert job["env"]["DTYPEGATE_ARTIFACTS"].endswith("/.artifacts")
    upload = _steps(job, "actions/upload-artifact")
    assert upload and upload[0]["with"]["path"] == ".artifacts/" and upload[0]["if"] == "always()"


def test_ci_simulated_legs(ci: dict[str, Any]) -> None:
    job = ci["jobs"]["simulate"]
    assert job["strategy"]["matrix"]["profile"] == PROFILES
    assert job["strategy"]["fail-fast"] is False
    scripts = [script for name, script in _runs(ci) if name == "simulate"]
    for profile in PROFILES:
        assert f"tox -e examples -- --dtypegate-simulate={profile} --dtypegate-report=reports/{profile}.json" in scripts
    [upload] = _steps(job, "actions/upload-artifact")
    assert upload["if"] == "always()"
    names = {_expand(upload["with"]["name"], c) for c in _combos(job)}
    paths = {_expand(upload["with"]["path"], c) for c in _combos(job)}
    assert len(names) == len(PROFILES)  # one artifact per leg, or uploads would collide
    assert paths == {f"reports/{p}.json" for p in PROFILES}


def _check_merge_job(workflow: dict[str, Any], job_name: str, legs_job: str) -> None:
    job = workflow["jobs"][job_name]
    assert job["needs"] == [legs_job]
    assert job["if"] == "always()"
    legs = workflow["jobs"][legs_job]
    [upload] = _steps(legs, "actions/upload-artifact")
    uploaded = {_expand(upload["with"]["name"], c) for c in _combos(legs)}
    [download] = _steps(job, "actions/download-artifact")
    assert download["with"]["merge-multiple"] is True
    pattern = download["with"]["pattern"]
    assert {n for n in uploaded if fnmatch.fnmatchcase(n, pattern)} == uploaded
    reports_dir = download["with"]["path"].rstrip("/")
    # the merge is this repository's own action (action.yml), fed the downloaded reports
    [gate] = [step for step in job["steps"] if step.get("uses") == "./"]
    inputs = gate["with"]
    assert inputs["reports"].rstrip("/") == reports_dir
    for key in ("require", "require-native"):
        for part in inputs[key].split(","):
            precisions.resolve(part, allow_auto=False)
    action = _load("action.yml")
    assert set(inputs) <= set(action["inputs"]), set(inputs) - set(action["inputs"])
    uploads = [s for s in _steps(job, "actions/upload-artifact")]
    assert [u["with"]["path"].rstrip("/") for u in uploads] == [inputs["output-dir"]]
    assert uploads[0]["if"] == "always()"
    steps = [step.get("name") or step.get("uses") for step in job["steps"]]
    assert steps.index("Matrix and gate") < steps.index("Upload the matrix")


def test_ci_matrix_job(ci: dict[str, Any]) -> None:
    _check_merge_job(ci, "matrix", "simulate")
    assert ci["jobs"]["matrix"]["permissions"] == {"contents": "read", "actions": "read"}


# -- gpu.yml ----------------------------------------------------------------------------
def test_gpu_triggers_never_pull_requests(gpu: dict[str, Any]) -> None:
    assert set(gpu["on"]) == {"workflow_dispatch", "schedule", "push"}
    assert gpu["on"]["push"] == {"branches": ["main"]}
    assert gpu["on"]["schedule"][0]["cron"].count(" ") == 4


def test_gpu_legs_run_on_labelled_self_hosted_runners(gpu: dict[str, Any]) -> None:
    job = gpu["jobs"]["gpu"]
    assert job["runs-on"] == "${{ matrix.runs-on }}"
    combos = _combos(job)
    assert {c["leg"] for c in combos} == {"a100", "t4"}
    for combo in combos:
        labels = combo["runs-on"]
        assert labels[:3] == ["self-hosted", "linux", "gpu"] and combo["leg"] in labels
    scripts = [script for name, script in _runs(gpu) if name == "gpu"]
    for combo in combos:
        leg = combo["leg"]
        assert (
            f"tox -e examples -- --dtypegate-device=cuda --dtypegate-leg={leg} --dtypegate-report=reports/{leg}.json"
        ) in [" ".join(s.split()) for s in scripts]


def test_gpu_matrix_job(gpu: dict[str, Any]) -> None:
    _check_merge_job(gpu, "matrix", "gpu")
    assert gpu["jobs"]["matrix"]["runs-on"] == "ubuntu-latest"
