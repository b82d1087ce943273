"""Bad input from a user gets a clear message and a proper exit code, never a traceback."""

from __future__ import annotations

import pytest


def _usage_error(result: pytest.RunResult, *lines: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(list(lines))
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_unknown_precision_on_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("--dtypegate-dtypes=bf16,fp17")
    _usage_error(
        result,
        "ERROR: dtypegate: invalid dtypes 'bf16,fp17' (from --dtypegate-dtypes): unknown precision 'fp17'; "
        "valid names: fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, fp64, amp_bf16, amp_fp16, auto",
    )


def test_unknown_precision_in_the_ini_names_the_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndtypegate_dtypes = bf16 bfloat17\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    _usage_error(
        pytester.runpytest(),
        "ERROR: dtypegate: invalid dtypes 'bf16 bfloat17' (from ini option dtypegate_dtypes in tox.ini): "
        "unknown precision 'bfloat17'; valid names: *",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--dtypegate-on-unsupported=ignore"],
            "ERROR: dtypegate: invalid on_unsupported 'ignore' (from --dtypegate-on-unsupported): "
            "valid choices: skip, downgrade, fail",
        ),
        (
            ["--dtypegate-allow-emulated=sometimes"],
            "ERROR: dtypegate: invalid allow_emulated 'sometimes' (from --dtypegate-allow-emulated): "
            "valid choices: auto, true, false",
        ),
        (
            ["--dtypegate-device=gpu0"],
            "ERROR: dtypegate: invalid device 'gpu0' (from --dtypegate-device): "
            "valid forms: auto, cpu, cuda, cuda:N, mps, xpu, xpu:N",
        ),
        (
            ["--dtypegate-probe-timeout=soon"],
            "ERROR: dtypegate: invalid probe_timeout 'soon' (from --dtypegate-probe-timeout): "
            "give a positive number of seconds",
        ),
        (
            ["--dtypegate-dtypes= , "],
            "ERROR: dtypegate: invalid dtypes ' , ' (from --dtypegate-dtypes): no precision given; valid names: *",
        ),
    ],
)
def test_bad_option_values(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    _usage_error(pytester.runpytest(*args), message)


def test_bad_ini_choice_names_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndtypegate_on_unsupported = downgrad\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    _usage_error(
        pytester.runpytest(),
        "ERROR: dtypegate: invalid on_unsupported 'downgrad' (from ini option dtypegate_on_unsupported in tox.ini): "
        "valid choices: skip, downgrade, fail",
    )


@pytest.mark.parametrize(
    ("decorator", "message"),
    [
        (
            '@pytest.mark.dtypes("bf16", "fp17")',
            "In test_bad.py::test_a: @dtypes: unknown precision 'fp17'; valid names: *",
        ),
        (
            '@pytest.mark.requires_dtype("bf17")',
            "In test_bad.py::test_a: @requires_dtype: unknown precision 'bf17'; valid names: *",
        ),
        (
            '@pytest.mark.requires_capability("8")',
            "In test_bad.py::test_a: @requires_capability expects integers (major, minor=0), "
            "e.g. requires_capability(8, 0); got '8'",
        ),
        (
            "@pytest.mark.requires_capability(8, 0, 1)",
            "In test_bad.py::test_a: @requires_capability expects integers (major, minor=0), *got 8, 0, 1",
        ),
        (
            '@pytest.mark.requires_bf16("fast")',
            "In test_bad.py::test_a: @requires_bf16 takes no arguments, got ('fast',)",
        ),
        ("@pytest.mark.requires_dtype()", "In test_bad.py::test_a: @requires_dtype needs at least one precision name"),
        (
            '@pytest.mark.requires_dtype("bf16", native="yes")',
            "In test_bad.py::test_a: @requires_dtype: native must be True or False, got 'yes'",
        ),
        ("@pytest.mark.dtypes()", "In test_bad.py::test_a: @dtypes needs at least one precision name"),
    ],
)
def test_bad_marker_arguments_are_a_collection_error_naming_the_test(
    pytester: pytest.Pytester, decorator: str, message: str
) -> None:
    pytester.makepyfile(
        test_bad=f"import pytest\n\n{decorator}\ndef test_a(model_dtype):\n    pass\n\ndef test_fine():\n    pass\n"
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_bad.py*", message])
    assert "Traceback" not in result.stdout.str()


def test_hook_returning_something_else_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_dtypegate_probe(config, device):
            return {"device": "cuda:0", "bf16": "native"}
        """
    )
    pytester.makepyfile("import pytest\n\n@pytest.mark.requires_bf16\ndef test_a():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert (
        "dtypegate: a pytest_dtypegate_probe hook returned dict ({'device': 'cuda:0', 'bf16': 'native'}); "
        "it must return pytest_dtypegate.Capabilities or None"
    ) in out
    assert "Traceback" not in out


def test_absent_explicit_device_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest("--dtypegate-device=cuda:3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "dtypegate: device 'cuda:3' is not available here: torch " in out
    assert "(from --dtypegate-device / dtypegate_device)" in out


def test_marker_error_is_shown_once_without_a_chained_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('import pytest\n\n@pytest.mark.requires_capability("8")\ndef test_a():\n    pass\n')
    out = pytester.runpytest().stdout.str()
    # Count only in the error section: under CI=true pytest prints the whole
    # message a second time in the short test summary, by design.
    errors = out.split("short test summary info")[0]
    assert errors.count("@requires_capability expects integers") == 1
    assert "During handling of the above exception" not in out


def test_user_parametrized_unknown_precision_fails_cleanly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        'import pytest\n\n@pytest.mark.parametrize("model_dtype", ["bf17"], indirect=True)\n'
        "def test_a(model_dtype):\n    pass\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*In test_user_parametrized_unknown_precision_fails_cleanly.py::test_a[[]bf17]: model_dtype parameter: "
            "unknown precision 'bf17'; valid names: *"
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "dtypegate_audit = maybe",
            "ERROR: dtypegate: invalid audit 'maybe' (from ini option dtypegate_audit in tox.ini): valid choices: true, false",
        ),
        (
            "dtypegate_probe_timeout = inf",
            "ERROR: dtypegate: invalid probe_timeout 'inf' (from ini option dtypegate_probe_timeout in tox.ini): "
            "give a positive number of seconds",
        ),
    ],
)
def test_bad_ini_values(pytester: pytest.Pytester, ini: str, message: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    _usage_error(pytester.runpytest(), message)


def test_true_ini_boolean_turns_audit_on(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makeini("[pytest]\ndtypegate_audit = true\n")
    pytester.makepyfile(
        "import torch\n\ndef test_a(model_dtype):\n    torch.ones(2, 2, dtype=model_dtype) @ torch.ones(2, 2, dtype=model_dtype)\n"
    )
    pytester.runpytest("--dtypegate-dtypes=fp32", "--junitxml=j.xml").assert_outcomes(passed=1)
    assert "matmul:fp32" in (pytester.path / "j.xml").read_text()


def test_report_path_that_is_a_directory(pytester: pytest.Pytester) -> None:
    (pytester.path / "reports").mkdir()
    pytester.makepyfile("def test_a():\n    pass\n")
    _usage_error(
        pytester.runpytest("--dtypegate-report=reports"),
        "ERROR: dtypegate: invalid report 'reports' (from --dtypegate-report): it is a directory; give a file name, "
        "e.g. reports/run.json",
    )


@pytest.mark.parametrize(
    ("hook_body", "expected"),
    [
        pytest.param(
            'return "nonsense"',
            "a pytest_dtypegate_classify_error hook returned str ('nonsense'); it must return "
            "pytest_dtypegate.errors.Classification or None",
            id="returns-a-str",
        ),
        pytest.param(
            'raise KeyError("oops")',
            "dtypegate could not explain this failure: KeyError: 'oops'",
            id="raises",
        ),
    ],
)
def test_bad_classify_hook_is_named_not_an_internal_error(
    pytester: pytest.Pytester, hook_body: str, expected: str
) -> None:
    pytest.importorskip("torch")  # model_dtype hands the test a torch.dtype
    pytester.makeconftest(
        "from pytest_dtypegate import Capabilities\n\n"
        "def pytest_dtypegate_probe(config, device):\n"
        '    return Capabilities(device="cpu", support={"fp32": "native"})\n\n'
        "def pytest_dtypegate_classify_error(config, text):\n"
        f"    {hook_body}\n"
    )
    pytester.makepyfile("def test_a(model_dtype):\n    raise RuntimeError('x')\n")
    result = pytester.runpytest("--dtypegate-dtypes=fp32")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([expected])
    assert "INTERNALERROR" not in result.stdout.str()


def test_bad_input_under_xdist_is_not_an_internal_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("xdist")
    pytester.makepyfile("def test_a(model_dtype):\n    pass\n")
    result = pytester.runpytest_subprocess("-n", "2", "--dtypegate-device=cuda:5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "dtypegate: device 'cuda:5' is not available here" in out
    assert "INTERNALERROR" not in out
    pytester.makeconftest("def pytest_dtypegate_probe(config, device):\n    return 42\n")
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(errors=3)
    assert "During handling" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*a pytest_dtypegate_probe hook returned int (42); it must return *"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_decide_hook_returning_something_else_fails_the_test_naming_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from pytest_dtypegate import Capabilities

        def pytest_dtypegate_probe(config, device):
            return Capabilities(device="cpu", support={"fp32": "native"})

        def pytest_dtypegate_decide(config, item, request, capabilities):
            return "run it"
        """
    )
    pytester.makepyfile("import pytest\n\n@pytest.mark.requires_fp16\ndef test_a():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*dtypegate: pytest_dtypegate_decide returned str; it must return a Run, Downgrade, Skip or Fail from "
            "pytest_dtypegate.policy, or None"
        ]
    )
