"""Fail closed on the CI side (issue B): hostile files are exit 2 naming the file and the place, never a
traceback or the "violations" exit 1; outputs are written through symlinks, FIFOs and devices."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from devices import V100
from reportdata import a100_report, entry, run_report, v100_report, write

from pytest_dtypegate.capabilities import Capabilities
from pytest_dtypegate.ci import files, pr_gate, reading
from pytest_dtypegate.ci.files import InputError


def _cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_dtypegate.cli", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def _both(path: Path) -> list[subprocess.CompletedProcess[str]]:
    return [_cli("matrix", str(path)), _cli("gate", str(path), "--config", os.devnull)]


# -- B 8: pathological JSON ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"schema": "dtypegate.report/1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "not a dtypegate report (nested too deeply)",
        ),
        (
            '{"schema": "dtypegate.report/1", "x": ' + "9" * 5000 + "}",
            "not a dtypegate report (an integer of 5000 digits (at most 18))",
        ),
        ('{"schema": "dtypegate.report/1", "x": NaN}', "not a dtypegate report (NaN is not a JSON number)"),
        ('{"schema": "dtypegate.report/1", "x": -Infinity}', "not a dtypegate report (-Infinity is not a JSON number)"),
        ('{"schema": "dtypegate.report/1", "x": 1e999}', "not a dtypegate report (the number 1e999 is out of range)"),
    ],
)
def test_pathological_json_is_exit_2_naming_the_file(tmp_path: Path, text: str, problem: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    for proc in _both(bad):
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert proc.stderr.endswith(f"error: {bad}: {problem}\n"), proc.stderr


def test_a_deep_profile_is_exit_2_for_profiles_and_probe(tmp_path: Path) -> None:
    bad = tmp_path / "deep.json"
    bad.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    for proc in (_cli("profiles", str(bad)), _cli("probe", "--simulate", str(bad))):
        assert proc.returncode == 2
        assert f"profile file '{bad}': not valid JSON (nested too deeply)" in proc.stderr
        assert "Traceback" not in proc.stderr


# -- B 9: what a strict reader refuses ------------------------------------------------------------
def _report_text(document: dict[str, Any]) -> str:
    return files.dumps_document(document)


def test_nan_in_a_report_is_refused_where_it_stands(tmp_path: Path) -> None:
    text = _report_text(v100_report()).replace('"duration": 0.25', '"duration": NaN', 1)
    bad = tmp_path / "nan.json"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"nan\.json: not a dtypegate report \(NaN is not a JSON number\)$"):
        reading.load_matrix([str(bad)])


@pytest.mark.parametrize(
    ("key", "value"), [("category", "exploded"), ("support", "magic"), ("skip_kind", "bored"), ("decision", "maybe")]
)
def test_values_outside_the_enums_are_refused(tmp_path: Path, key: str, value: str) -> None:
    document = v100_report()
    index = next(i for i, t in enumerate(document["tests"]) if t["outcome"] == "failed")
    document["tests"][index][key] = value
    path = write(tmp_path, "r.json", document)
    with pytest.raises(InputError) as info:
        reading.load_matrix([path])
    assert str(info.value).startswith(
        f"{path}: invalid dtypegate report: tests[{index}].{key}: {value!r} is not one of"
    )
    proc = _cli("gate", path, "--config", os.devnull)
    assert proc.returncode == 2  # before: the failure silently stopped counting as a violation (exit 0)


def test_free_form_parts_are_bounded(tmp_path: Path) -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"a": deep}
    document = v100_report()
    document["settings"]["custom"] = deep
    path = write(tmp_path, "r.json", document)
    with pytest.raises(InputError, match=r"invalid dtypegate report: settings: nested more than 32 levels deep$"):
        reading.load_matrix([path])
    document = v100_report()
    document["environment"]["big"] = 10**20
    path = write(tmp_path, "r.json", document)
    with pytest.raises(
        InputError, match=r"r\.json: not a dtypegate report \(an integer of 21 digits \(at most 18\)\)$"
    ):
        reading.load_matrix([path])


def test_the_fast_and_the_standard_reader_agree(tmp_path: Path) -> None:
    pytest.importorskip("msgspec")
    good = write(tmp_path, "good.json", v100_report())
    raw = Path(good).read_bytes()
    assert reading._fast_report(raw, good) is not None
    fast = reading.load_matrix([good])
    from pytest_dtypegate.ci.model import build_matrix

    assert fast.cells == build_matrix([(good, reading.load_report(good))]).cells


# -- gzip, and what the matrix JSON holds ---------------------------------------------------------
def test_gzip_reports_and_baselines(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write(reports, "v100.json.gz", v100_report())
    write(reports, "a100.json", a100_report())
    assert gzip.decompress((reports / "v100.json.gz").read_bytes()).startswith(b"{\n")
    matrix = reading.load_matrix([str(reports)])
    assert [leg.label for leg in matrix.legs] == ["a100", "v100"]
    proc = _cli("matrix", str(reports), "--format", "json", "-o", str(tmp_path / "m.json.gz"))
    assert proc.returncode == 0, proc.stderr
    assert reading.load_baseline(str(tmp_path / "m.json.gz")).cells == matrix.cells
    (tmp_path / "cut.json.gz").write_bytes(gzip.compress(b'{"schema": "x"}' * 100)[:40])
    with pytest.raises(InputError, match=r"cut\.json\.gz: truncated gzip file"):
        reading.load_matrix([str(tmp_path / "cut.json.gz")])


def test_the_json_matrix_is_strict_json(tmp_path: Path) -> None:
    # readers refuse NaN, so nothing JavaScript's JSON.parse would refuse reaches the matrix
    path = write(tmp_path, "v.json", v100_report())
    proc = _cli("matrix", path, "--format", "json")
    assert proc.returncode == 0
    json.loads(proc.stdout, parse_constant=lambda name: pytest.fail(f"{name} in the matrix"))
    assert proc.stdout.isascii()


# -- B 5: outputs are written through, not replaced ------------------------------------------------
def test_a_symlinked_output_writes_its_target(tmp_path: Path) -> None:
    path = write(tmp_path, "v.json", v100_report())
    target = tmp_path / "real" / "matrix.md"
    target.parent.mkdir()
    target.write_text("stale\n")
    os.chmod(target, 0o600)
    link = tmp_path / "matrix.md"
    link.symlink_to(target)
    assert _cli("matrix", path, "-o", str(link)).returncode == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("## dtypegate matrix")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # a regular file keeps its permissions
    report = tmp_path / "report-link.json"
    report.symlink_to(tmp_path / "real" / "report.json")  # dangling: its target is created
    files.write_atomic(report, v100_report())
    assert report.is_symlink() and reading.load_report(report)["leg"] == "v100"


def test_a_fifo_output_is_written_into(tmp_path: Path) -> None:
    path = write(tmp_path, "v.json", v100_report())
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    proc = _cli("matrix", path, "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith(b"## dtypegate matrix")


def test_a_device_output_is_written_into(tmp_path: Path) -> None:
    # a character device of our own (the same as /dev/null), so that a regression replaces only this copy:
    # before the fix, "-o /dev/null" run as root replaced the machine's /dev/null with a regular file
    path = write(tmp_path, "v.json", v100_report())
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc}); the FIFO test covers writing through")
    before = os.stat(device)
    assert _cli("matrix", path, "-o", str(device)).returncode == 0
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_directory_output_is_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "v.json", v100_report())
    proc = _cli("matrix", path, "-o", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == f"dtypegate matrix: error: {tmp_path}: cannot write it (Is a directory)\n"


# -- the probe-failure policy ---------------------------------------------------------------------
def _unprobed(tmp_path: Path) -> str:
    caps = Capabilities(device="cuda:0", source="probe", error="the probe crashed (signal 11): segfault in cuBLAS")
    doc = run_report(
        caps, [entry("t.py::test_x[bf16]", requested="bf16", precision="bf16", support="unknown")], leg="gpu-1"
    )
    return write(tmp_path, "gpu.json", doc)


def test_an_unprobed_leg_is_a_violation_unless_allowed(tmp_path: Path) -> None:
    path = _unprobed(tmp_path)
    matrix = reading.load_matrix([path])
    [violation] = pr_gate.evaluate_gate(matrix, pr_gate.GateRules())
    assert violation.line() == (
        "unprobed: leg gpu-1: the device could not be probed: the probe crashed (signal 11): segfault in cuBLAS; "
        "its results were not gated"
    )
    assert pr_gate.evaluate_gate(matrix, pr_gate.GateRules(allow_unprobed=True)) == []
    proc = _cli("gate", path, "--config", os.devnull)
    assert proc.returncode == 1 and proc.stdout.startswith("unprobed: leg gpu-1: the device could not be probed")
    assert _cli("gate", path, "--config", os.devnull, "--allow-unprobed").returncode == 0
    (tmp_path / "pyproject.toml").write_text("[tool.dtypegate.gate]\nallow-unprobed = true\n", encoding="utf-8")
    assert _cli("gate", path, cwd=tmp_path).returncode == 0


def test_the_leg_that_could_not_be_probed_shows_in_every_view(tmp_path: Path) -> None:
    path = _unprobed(tmp_path)
    markdown = _cli("matrix", path).stdout
    assert "the device could not be probed: the probe crashed (signal 11): segfault in cuBLAS" in markdown
    page = _cli("matrix", path, "--format", "html").stdout
    assert '<p class="warning">gpu-1: the device could not be probed' in page
    view = _cli("gate", path, "--config", os.devnull, "--format", "github").stdout
    assert "| gpu-1 (not probed) | 1 ran |" in view


def test_hostile_text_is_escaped_in_every_view(tmp_path: Path) -> None:
    reason = "boom \x1b[31m\n::add-mask::secret \u2028 \udcff"
    doc = run_report(
        V100,
        [
            entry(
                "t.py::test_x[bf16]",
                "failed",
                requested="bf16",
                precision="bf16",
                category="unsupported",
                reason=reason,
            )
        ],
        leg="v100\n::warning::x",
    )
    path = write(tmp_path, "r.json", doc)
    outputs = [
        _cli("matrix", path).stdout,
        _cli("matrix", path, "--format", "html").stdout,
        _cli("gate", path, "--config", os.devnull).stdout,
        _cli("gate", path, "--config", os.devnull, "--format", "github").stdout,
    ]
    for text in outputs:
        for line in text.splitlines():
            assert not line.lstrip().startswith("::"), line
        assert "\x1b" not in text and "\u2028" not in text
        text.encode("utf-8")
