"""Fail closed: a failed probe, an unusable cache, a raising hook or hostile text never turns a failure green.

One test per defect the "fail closed" issue reproduced on the plugin side; each
failed on the code before it and passes now.
"""

from __future__ import annotations

import json

import pytest

FAILING_MODEL_TESTS = """
def test_always_fails(model_dtype):
    raise RuntimeError("the model is broken in every precision")
"""


def _no_line_starts_a_workflow_command(result: pytest.RunResult) -> None:
    for line in result.outlines + result.errlines:
        assert not line.lstrip().startswith("::"), line


def test_a_probe_that_times_out_never_turns_failures_into_skips(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makepyfile(FAILING_MODEL_TESTS)
    result = pytester.runpytest_subprocess(
        "--dtypegate-device=cpu", "--dtypegate-probe-timeout=0.01", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "dtypegate: cpu: probe failed: the probe did not finish within 0.01 s",
            "device: cpu: probe failed: the probe did not finish within 0.01 s",
            "WARNING: dtypegate could not tell what this device supports, so no test was gated: "
            "each ran as asked and its own result stands",
        ]
    )


def test_a_crashing_probe_hook_is_a_usage_error_naming_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_dtypegate_probe(config, device):\n    raise KeyError('no such card')\n")
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    conftest = pytester.path / "conftest.py"
    result.stderr.fnmatch_lines(
        [f"ERROR: dtypegate: the pytest_dtypegate_probe hook in {conftest}:2 raised KeyError: 'no such card'"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_crashing_decide_hook_fails_the_test_naming_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "from pytest_dtypegate import Capabilities\n"
        "def pytest_dtypegate_probe(config, device):\n"
        "    return Capabilities(device='cpu', support={'fp32': 'native'})\n"
        "def pytest_dtypegate_decide(config, item, request, capabilities):\n"
        "    raise ValueError('oops')\n"
    )
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest("--dtypegate-dtypes=fp32")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*dtypegate: the pytest_dtypegate_decide hook in {pytester.path / 'conftest.py'}:5 raised ValueError: oops"]
    )
    assert "INTERNALERROR" not in result.stdout.str()


def test_an_unusable_cache_warns_and_probes_uncached(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    (pytester.path / "not-a-folder").write_text("a file where the cache folder should be\n")
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--dtypegate-device=cpu", "--dtypegate-dtypes=fp32", "-o", "cache_dir=not-a-folder/cache"
    )
    result.assert_outcomes(passed=1, warnings=2)  # pytest's own cache warning, and ours
    result.stdout.fnmatch_lines(["*dtypegate: the pytest cache cannot be used (*); probing this device without it"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_cache_entry_for_another_device_is_probed_again(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    pytester.runpytest_subprocess("--dtypegate-device=cpu", "--dtypegate-dtypes=fp32").assert_outcomes(passed=1)
    [entry] = (pytester.path / ".pytest_cache" / "v" / "dtypegate" / "probe").iterdir()
    data = json.loads(entry.read_text())
    caps = data["capabilities"]
    caps.update(name="NVIDIA H100 80GB HBM3", backend="cuda", capability=[9, 0])
    caps["support"] = {name: {"support": "unsupported"} for name in caps["support"]}
    entry.write_text(json.dumps(data))
    result = pytester.runpytest_subprocess("--dtypegate-device=cpu", "--dtypegate-dtypes=fp32")
    result.assert_outcomes(passed=1)  # the forged entry would have skipped it
    assert "H100" not in result.stdout.str()
    assert json.loads(entry.read_text())["capabilities"]["backend"] == "cpu"  # re-probed and rewritten


@pytest.mark.parametrize("value", ["3000000", "1e308", "1e999"])
def test_huge_probe_timeouts_are_usage_errors(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest(f"--dtypegate-probe-timeout={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    problem = "give a positive number of seconds" if value == "1e999" else "give at most 86400 seconds (a day)"
    result.stderr.fnmatch_lines(
        [f"ERROR: dtypegate: invalid probe_timeout '{value}' (from --dtypegate-probe-timeout): {problem}"]
    )


def test_hostile_device_names_and_reasons_print_as_one_escaped_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n"
        "from pytest_dtypegate import Capabilities\n"
        "from pytest_dtypegate.policy import Skip\n"
        "def pytest_dtypegate_probe(config, device):\n"
        "    return Capabilities(device='cpu', name='card\\n::add-mask::x\\x1b[31m', support={'fp32': 'native'})\n"
        "def pytest_dtypegate_decide(config, item, request, capabilities):\n"
        "    return Skip('not today\\n::error::forged\\udcff')\n"
    )
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest("-rs", "--dtypegate-dtypes=fp32")
    result.assert_outcomes(skipped=1)
    _no_line_starts_a_workflow_command(result)
    result.stdout.fnmatch_lines(
        [
            r"dtypegate: card\n::add-mask::x\x1b[[]31m*",
            r"SKIPPED [[]1[]] test_hostile_device_names_and_reasons_print_as_one_escaped_line.py:1: "
            r"not today\n::error::forged\udcff",
        ]
    )


def test_an_assertion_quoting_a_dtype_error_is_the_tests_own_words(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import sys\ndef pytest_sessionfinish(session):\n    print('torch imported:', 'torch' in sys.modules)\n"
    )
    pytester.makepyfile(
        "import pytest\n"
        "def test_assert():\n"
        "    assert False, 'expected scalar type Float but found Half'\n"
        "def test_fail():\n"
        "    pytest.fail('expected scalar type Float but found BFloat16')\n"
    )
    result = pytester.runpytest_subprocess("-s", "--dtypegate-report=run.json")
    result.assert_outcomes(failed=2)
    assert "category: mismatch" not in result.stdout.str()  # no explanation section on either failure
    result.stdout.fnmatch_lines(["*torch imported: False"])
    tests = json.loads((pytester.path / "run.json").read_text())["tests"]
    assert all(not t.get("category") and not (t.get("facts") or {}).get("category") for t in tests), tests


def test_ini_paths_are_relative_to_the_ini_file(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\ndtypegate_report = reports/run.json\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    result = pytester.runpytest_subprocess("-c", str(pytester.path / "tox.ini"), str(pytester.path))
    result.assert_outcomes(passed=1)
    assert (pytester.path / "reports" / "run.json").is_file()
    assert not (elsewhere / "reports").exists()
