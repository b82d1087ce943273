"""The `dtypegate` command end to end: probe, profiles, explain, and the matrix/gate flow on real runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def dtypegate(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dtypegate")
    cmd = [exe] if exe else [sys.executable, "-m", "pytest_dtypegate.cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, input=stdin, check=False)


def test_no_subcommand_is_bad_input() -> None:
    proc = dtypegate()
    assert proc.returncode == 2
    assert "dtypegate: error: the following arguments are required: COMMAND" in proc.stderr


def test_probe_real_cpu_as_json() -> None:
    pytest.importorskip("torch")
    proc = dtypegate("probe", "--device", "cpu", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["device"] == "cpu" and data["support"]["fp32"]["support"] == "native"


def test_probe_simulated_profile_table() -> None:
    proc = dtypegate("probe", "--simulate", "t4")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0] == "simulating t4 (sm_75)"
    assert "  bf16      emulated" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("probe", "--simulate", "x100"), "dtypegate probe: unknown profile 'x100'; known profiles: a100, "),
        (("probe", "--device", "tpu"), "dtypegate probe: invalid device 'tpu'; valid forms: auto, cpu, cuda"),
    ],
)
def test_probe_bad_input(args: tuple[str, ...], message: str) -> None:
    proc = dtypegate(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message)
    assert "Traceback" not in proc.stderr


def test_profiles_json_lists_every_builtin() -> None:
    proc = dtypegate("profiles", "--json")
    assert proc.returncode == 0
    names = {p["name"] for p in json.loads(proc.stdout)}
    assert {
        "p100",
        "v100",
        "t4",
        "a100",
        "l4",
        "h100",
        "mps-macos13",
        "mps-macos14",
        "cpu-torch2.1",
        "qwen-windows-cuda10",
    } <= names


def test_explain_from_stdin_and_json() -> None:
    proc = dtypegate("explain", "--json", "-", stdin="RuntimeError: \"addmm_impl_cpu_\" not implemented for 'Half'\n")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert (data["category"], data["precision"]) == ("unsupported", "fp16")
    assert {"summary", "advice"} <= set(data)
    proc = dtypegate("explain", "CUDA out of memory. Tried to allocate 2.00 GiB")
    assert proc.returncode == 1


SUITE = """
import pytest
import torch


def test_forward(model_dtype):
    torch.nn.Linear(8, 8).to(model_dtype)(torch.ones(2, 8, dtype=model_dtype))


@pytest.mark.dtypes("bf16")
def test_generate(model_dtype):
    torch.nn.Linear(8, 8).to(model_dtype)(torch.ones(2, 8, dtype=model_dtype))
"""


def test_reports_from_two_legs_merge_and_gate(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makepyfile(test_model=SUITE)
    for profile in ("v100", "a100"):
        result = pytester.runpytest(
            f"--dtypegate-simulate={profile}",
            f"--dtypegate-report=reports/{profile}.json",
            "--dtypegate-on-unsupported=downgrade",
        )
        assert result.ret == 0
    cwd = pytester.path
    proc = dtypegate("matrix", "reports/v100.json", "reports/a100.json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "| test_model.py::test_forward |" in proc.stdout.replace("`", "")
    assert "downgraded to fp16" in proc.stdout
    proc = dtypegate("matrix", "reports", "--format", "json", "-o", "matrix.json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    proc = dtypegate("matrix", "reports", "--format", "html", "-o", "matrix.html", cwd=cwd)
    assert proc.returncode == 0 and "<table" in (cwd / "matrix.html").read_text()

    # the gate: fine as it is; bf16 native is met by the a100 leg
    proc = dtypegate("gate", "reports", "--require", "bf16,fp16", "--require-native", "bf16", cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # fp8 was never run anywhere: a violation, exit 1
    proc = dtypegate("gate", "reports", "--require", "fp8_e4m3", cwd=cwd)
    assert proc.returncode == 1
    assert "fp8_e4m3" in proc.stdout

    # a regression against the baseline: the a100 leg now fails test_forward[bf16]
    pytester.makepyfile(
        test_model=SUITE.replace(
            "def test_forward(model_dtype):\n",
            "def test_forward(model_dtype):\n    assert model_dtype is not torch.bfloat16, 'regressed'\n",
        )
    )
    pytester.runpytest("--dtypegate-simulate=a100", "--dtypegate-report=reports/a100.json")
    proc = dtypegate("gate", "reports", "--baseline", "matrix.json", cwd=cwd)
    assert proc.returncode == 1
    assert "test_model.py::test_forward" in proc.stdout and "a100" in proc.stdout


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty"),
        ('{"schema": "dtypegate.report/1", "leg": "x", "tests": [', "JSON"),
        ('{"schema": "someone.else/3"}', "schema"),
    ],
)
def test_gate_and_matrix_name_a_corrupt_file(tmp_path: Path, content: str, problem: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for command in ("matrix", "gate"):
        proc = dtypegate(command, str(bad))
        assert proc.returncode == 2
        assert "bad.json" in proc.stderr and problem in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = dtypegate("gate", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "missing.json" in proc.stderr


def test_probe_bad_timeout_and_missing_torch() -> None:
    proc = dtypegate("probe", "--timeout", "inf")
    assert proc.returncode == 2
    assert proc.stderr == "dtypegate probe: invalid --timeout inf; give a positive number of seconds\n"
    code = (
        "import sys; sys.modules['torch'] = None; from pytest_dtypegate.cli import main; "
        "raise SystemExit(main(['probe', '--device', 'cpu']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr == 'dtypegate probe: torch is not installed (pip install "pytest-dtypegate[torch]")\n'


def test_version() -> None:
    from pytest_dtypegate import __version__

    proc = dtypegate("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"dtypegate {__version__}\n"


def test_probe_imports_torch_only_in_its_child() -> None:
    pytest.importorskip("torch")
    code = (
        "import sys; from pytest_dtypegate.cli import main; code = main(['probe', '--device', 'auto', '--json']); "
        "sys.stderr.write('torch imported: %s' % ('torch' in sys.modules)); raise SystemExit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.endswith("torch imported: False")
    caps = json.loads(proc.stdout)
    assert caps["source"] == "probe" and caps["support"]["fp32"]["support"] == "native"


def test_probe_a_device_this_machine_lacks() -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = dtypegate("probe", "--device", "cuda:3")
    assert proc.returncode == 2
    assert proc.stderr.startswith("dtypegate probe: device 'cuda:3' is not available here: torch ")
