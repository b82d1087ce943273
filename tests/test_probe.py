"""The real probe on this machine's CPU, its failure modes, its cache and xdist sharing."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pytest_dtypegate import Support
from pytest_dtypegate.probe import DeviceError, cache_key, run_child, validate_device

torch = pytest.importorskip("torch")


def test_real_cpu_probe_in_a_child_process() -> None:
    caps = run_child("cpu", timeout=120)
    assert caps.error is None
    assert caps.source == "probe"
    assert caps.device == "cpu" and caps.backend == "cpu"
    assert caps.torch_version == torch.__version__
    assert caps.support_of("fp32") is Support.NATIVE
    assert caps.support_of("fp64") is Support.NATIVE
    # every ATen CPU kernel has bf16/fp16 variants since torch 2.2: they run, natively or not
    for name in ("bf16", "fp16"):
        assert caps.support_of(name) in (Support.NATIVE, Support.EMULATED)
    flags = set(caps.extra.get("cpu_flags", []))
    expected = Support.NATIVE if flags & {"avx512_bf16", "amx_bf16", "bf16"} else Support.EMULATED
    assert caps.support_of("bf16") is expected
    assert caps.support_of("tf32") is Support.EMULATED  # CPUs have no TF32 units


def test_probe_timeout_yields_unknown_with_reason() -> None:
    caps = run_child("cpu", timeout=0.01)
    assert caps.error == "the probe did not finish within 0.01 s"
    assert caps.support_of("bf16") is Support.UNKNOWN


@pytest.fixture
def crashing_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'Fatal Python error: Segmentation fault' >&2\nkill -SEGV $$\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sys, "executable", str(fake))


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as a crashing interpreter")
@pytest.mark.usefixtures("crashing_python")
def test_probe_crash_yields_unknown_with_reason() -> None:
    caps = run_child("cpu", timeout=30)
    assert caps.error == "the probe crashed (signal 11): Fatal Python error: Segmentation fault"
    assert caps.support_of("fp32") is Support.UNKNOWN


def test_device_syntax() -> None:
    assert validate_device("CUDA:1") == "cuda:1"
    with pytest.raises(DeviceError, match="invalid device 'tpu'"):
        validate_device("tpu")


def test_cache_key_depends_on_torch_and_device() -> None:
    assert cache_key("cpu", "2.13.0") != cache_key("cpu", "2.12.0")
    assert cache_key("cpu", "2.13.0") != cache_key("cuda:0", "2.13.0")
    assert cache_key("cpu", "2.13.0") == cache_key("cpu", "2.13.0")


COUNTING_CONFTEST = """
import os
import pytest_dtypegate.probe as probe

_real = probe.run_child

def _counting(device, timeout):
    with open(os.environ["PROBE_LOG"], "a") as fh:
        fh.write(f"probe {device} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")
    return _real(device, timeout)

probe.run_child = _counting
"""


def test_probe_runs_once_and_is_reused_from_the_cache(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "probes.log"
    monkeypatch.setenv("PROBE_LOG", str(log))
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n\ndef test_b(model_precision):\n    pass\n")
    result = pytester.runpytest_subprocess("--dtypegate-device=cpu")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["dtypegate: * (cpu) [[]torch *]: fp32 native, *"])
    assert [line.split()[:2] for line in log.read_text().splitlines()] == [["probe", "cpu"]]
    # a second session reads the cache: no new probe
    pytester.runpytest_subprocess("--dtypegate-device=cpu").assert_outcomes(passed=6)
    assert len(log.read_text().splitlines()) == 1
    # --cache-clear forgets it
    pytester.runpytest_subprocess("--dtypegate-device=cpu", "--cache-clear").assert_outcomes(passed=6)
    assert len(log.read_text().splitlines()) == 2


def test_xdist_workers_share_one_probe(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    log = tmp_path / "probes.log"
    monkeypatch.setenv("PROBE_LOG", str(log))
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makepyfile("\n".join(f"def test_{i}(model_dtype):\n    pass\n" for i in range(8)))
    result = pytester.runpytest_subprocess("-n", "2", "--dtypegate-device=cpu")
    result.assert_outcomes(passed=24)
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    result.stdout.fnmatch_lines(["*- dtypegate -*", "device: * (cpu) [[]torch *", "ran: bf16 8, fp16 8, fp32 8"])


def test_no_probe_for_a_suite_without_our_markers(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "probes.log"
    monkeypatch.setenv("PROBE_LOG", str(log))
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert not log.exists()
    result.stdout.no_fnmatch_line("dtypegate: *")
    result.stdout.no_fnmatch_line("*- dtypegate -*")


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as the interpreter")
def test_probe_output_that_is_not_json_yields_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'hello from a sitecustomize'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sys, "executable", str(fake))
    caps = run_child("cpu", timeout=30)
    assert caps.error is not None
    assert caps.error.startswith("the probe printed something unreadable: not valid JSON")


def test_probe_that_cannot_start_yields_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    caps = run_child("cpu", timeout=30)
    assert caps.error is not None and caps.error.startswith("could not start the probe: ")
