"""``dtypegate matrix``: merging run reports and rendering markdown, JSON and HTML."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reportdata import A100, V100, a100_report, entry, run_report, v100_report, write

from pytest_dtypegate.ci import model, reading
from pytest_dtypegate.ci.files import InputError
from pytest_dtypegate.ci.render import render
from pytest_dtypegate.ci.render.html import render_html
from pytest_dtypegate.ci.render.json import matrix_to_json
from pytest_dtypegate.ci.render.legend import COLOURS
from pytest_dtypegate.ci.render.markdown import render_markdown
from pytest_dtypegate.cli import matrix as matrix_cli


@pytest.fixture
def two_legs(tmp_path: Path) -> list[str]:
    return [write(tmp_path, "v100.json", v100_report()), write(tmp_path, "a100.json", a100_report())]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dtypegate matrix")
    matrix_cli.add_arguments(parser)
    return parser


def _main(argv: list[str]) -> int:
    return matrix_cli.run(_parser().parse_args(argv))


# -- rows and cells ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("nodeid", "requested", "row"),
    [
        ("tests/t.py::test_gen[bf16]", "bf16", "tests/t.py::test_gen"),
        ("tests/t.py::TestModel::test_gen[fp16]", "fp16", "tests/t.py::TestModel::test_gen"),
        ("tests/t.py::test_gen[small-bf16]", "bf16", "tests/t.py::test_gen[small]"),
        ("tests/t.py::test_gen[bf16-large-2]", "bf16", "tests/t.py::test_gen[large-2]"),
        ("tests/t.py::test_gen[bfloat16]", "bf16", "tests/t.py::test_gen"),
        ("tests/t.py::test_gen[auto]", "auto", "tests/t.py::test_gen"),
        ("tests/t.py::test_gen[fp8_e4m3]", "fp8_e4m3", "tests/t.py::test_gen"),
        ("tests/t.py::test_gen[small]", "bf16", "tests/t.py::test_gen[small]"),
        ("tests/t.py::test_gen", None, "tests/t.py::test_gen"),
        ("tests/t[1].py::test_gen[bf16]", "bf16", "tests/t[1].py::test_gen"),
    ],
)
def test_row_name(nodeid: str, requested: str | None, row: str) -> None:
    assert model.row_name(nodeid, requested) == row


def test_build_matrix(two_legs: list[str]) -> None:
    m = reading.load_matrix(two_legs)
    assert [leg.label for leg in m.legs] == ["v100", "a100"]
    assert m.tests() == [
        "tests/test_model.py::test_generate",
        "tests/test_model.py::test_attention",
        "tests/test_model.py::test_forward",
    ]  # the ungated tokenizer test is not part of the dtype matrix
    assert m.precisions() == ["bf16", "fp16", "fp32"]
    assert m.columns() == [
        ("v100", "bf16"),
        ("v100", "fp16"),
        ("v100", "fp32"),
        ("a100", "bf16"),
        ("a100", "fp16"),
        ("a100", "fp32"),
    ]
    texts = {(c.test.split("::")[1], c.leg, c.column): c.text for c in m.cells}
    assert texts[("test_generate", "v100", "bf16")] == "skipped (emulated)"
    assert texts[("test_attention", "v100", "bf16")] == "failed (unsupported, emulated)"
    assert texts[("test_forward", "v100", "bf16")] == "passed (downgraded to fp16)"
    assert texts[("test_forward", "a100", "bf16")] == "passed"
    assert ("test_attention", "v100", "fp16") not in texts


@pytest.mark.parametrize(
    ("kwargs", "text", "css"),
    [
        ({"outcome": "passed", "requested": "bf16", "precision": "bf16", "support": "native"}, "passed", "passed"),
        (
            {"outcome": "passed", "requested": "bf16", "precision": "bf16", "support": "emulated"},
            "passed (emulated)",
            "passed",
        ),
        ({"outcome": "passed", "requested": "auto", "precision": "bf16"}, "passed (as bf16)", "passed"),
        (
            {"outcome": "passed", "requested": "bf16", "precision": "fp16", "downgraded_from": "bf16"},
            "passed (downgraded to fp16)",
            "downgraded",
        ),
        (
            {
                "outcome": "failed",
                "requested": "bf16",
                "precision": "fp16",
                "downgraded_from": "bf16",
                "category": "mismatch",
            },
            "failed (mismatch, downgraded to fp16)",
            "failed",
        ),
        ({"outcome": "failed", "requested": "fp16"}, "failed", "failed"),
        ({"outcome": "error", "requested": "bf16", "category": "unsupported"}, "error (unsupported)", "failed"),
        (
            {"outcome": "skipped", "requested": "bf16", "skip_kind": "unsupported"},
            "skipped (unsupported)",
            "skipped-hw",
        ),
        ({"outcome": "skipped", "requested": "bf16", "skip_kind": "capability"}, "skipped (capability)", "skipped-hw"),
        ({"outcome": "skipped", "requested": "bf16", "skip_kind": "unknown"}, "skipped (unknown)", "skipped-hw"),
        ({"outcome": "skipped", "requested": "bf16", "skip_kind": "duplicate"}, "skipped (duplicate)", "skipped"),
        ({"outcome": "skipped", "requested": "auto"}, "skipped", "skipped"),
        ({"outcome": "xfailed", "requested": "fp16"}, "xfailed", "skipped"),
        ({"outcome": "xpassed", "requested": "fp16"}, "xpassed", "passed"),
    ],
)
def test_cell_text_and_colour(kwargs: dict[str, str], text: str, css: str) -> None:
    cell = model.Cell(test="t", leg="l", column=kwargs.get("requested") or "-", nodeid="t[x]", **kwargs)
    assert cell.text == text
    assert cell.css == css


def test_marker_only_tests_stand_in_the_precision_they_require(tmp_path: Path) -> None:
    # issue A: a @requires_bf16 test is listed under bf16 (it was under "-"); one that requires nothing stays there
    doc = run_report(
        V100,
        [
            entry("t.py::test_needs_bf16", "skipped", requires=["bf16"], decision="skip", skip_kind="emulated"),
            entry(
                "t.py::test_needs_native_fp8",
                "skipped",
                requires=["native:fp8_e4m3"],
                decision="skip",
                skip_kind="unsupported",
            ),
            entry("t.py::test_gen[fp16]", requested="fp16", precision="fp16"),
            entry("t.py::test_sm80", "skipped", decision="skip", skip_kind="capability"),
        ],
    )
    m = model.build_matrix([("r.json", doc)])
    assert m.columns() == [("v100", "bf16"), ("v100", "fp8_e4m3"), ("v100", "fp16"), ("v100", "-")]
    assert m.lookup()[("t.py::test_needs_bf16", "v100", "bf16")].text == "skipped (emulated)"
    assert m.lookup()[("t.py::test_needs_native_fp8", "v100", "fp8_e4m3")].requested is None
    assert m.lookup()[("t.py::test_sm80", "v100", "-")].text == "skipped (capability)"


def test_colliding_rows_keep_both_cases() -> None:
    doc = run_report(
        V100,
        [
            entry("t.py::test_gen[bf16]", requested="bf16", precision="bf16"),
            entry("t.py::test_gen[bfloat16]", "failed", requested="bf16", precision="bf16"),
        ],
    )
    m = model.build_matrix([("r.json", doc)])
    assert m.tests() == ["t.py::test_gen", "t.py::test_gen[bfloat16]"]


# -- bad input ------------------------------------------------------------------------
def test_duplicate_legs_are_an_error(tmp_path: Path) -> None:
    first = write(tmp_path, "one.json", v100_report())
    second = write(tmp_path, "two.json", v100_report())
    with pytest.raises(InputError) as info:
        reading.load_matrix([first, second])
    assert str(info.value) == (
        f"{first} and {second} both have the leg label 'v100'; give each run its own --dtypegate-leg "
        "(or merge only one of them)"
    )
    # distinct labels for the same hardware are fine
    third = write(tmp_path, "three.json", v100_report(leg="v100-nightly"))
    assert [leg.label for leg in reading.load_matrix([first, third]).legs] == ["v100", "v100-nightly"]


def test_same_file_twice_is_an_error(two_legs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match=r"^(.*)v100\.json is given twice$"):
        reading.load_matrix([two_legs[0], two_legs[0]])
    monkeypatch.chdir(Path(two_legs[0]).parent)
    with pytest.raises(InputError, match=r"^\./v100\.json is given twice \(also as v100\.json\)$"):
        reading.load_matrix(["v100.json", "./v100.json"])


def test_directories_expand_to_their_reports(two_legs: list[str], tmp_path: Path) -> None:
    m = reading.load_matrix([str(tmp_path)])
    assert [leg.label for leg in m.legs] == ["a100", "v100"]  # sorted file names
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty: a directory with no \*\.json or \*\.json\.gz reports in it$"):
        reading.load_matrix([str(empty)])


def test_matrix_main_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "v100.json", v100_report())
    cases = {
        "missing.json": None,
        "empty.json": b"",
        "truncated.json": json.dumps(a100_report()).encode()[:300],
        "foreign.json": b'{"name": "some other tool"}',
    }
    expected = {
        "missing.json": "no such file",
        "empty.json": "empty file (the run that should have written this dtypegate report may have crashed)",
        "truncated.json": "truncated JSON (the document stops mid-way, after line 1 column 300)",
        "foreign.json": "not a dtypegate report (no 'schema' key; expected 'dtypegate.report/1')",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        assert _main([good, str(path)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"dtypegate matrix: error: {path}: {expected[name]}\n"


def test_matrix_main_unwritable_output(two_legs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert _main([*two_legs, "-o", str(blocker / "out.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dtypegate matrix: error: {blocker / 'out.md'}: cannot write it (")


def test_no_traceback_from_a_process(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    code = (
        "import argparse, sys\n"
        "from pytest_dtypegate.cli import matrix\n"
        "p = argparse.ArgumentParser()\n"
        "matrix.add_arguments(p)\n"
        "sys.exit(matrix.run(p.parse_args(sys.argv[1:])))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "bad.json", "missing.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert (
        proc.stderr == "dtypegate matrix: error: bad.json: truncated JSON (the document stops "
        "mid-way, after line 1 column 1)\n"
    )


# -- markdown -------------------------------------------------------------------------
def test_markdown(two_legs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(two_legs) == 0
    text = capsys.readouterr().out
    assert text == render_markdown(reading.load_matrix(two_legs))
    lines = text.splitlines()
    assert lines[:4] == [
        "## dtypegate matrix",
        "",
        "2 legs, 3 tests, 12 cells: 9 passed, 1 downgraded, 1 failed, 1 skipped by the hardware",
        "",
    ]
    assert lines[4:9] == [
        "| test | v100<br>bf16 | v100<br>fp16 | v100<br>fp32 | a100<br>bf16 | a100<br>fp16 | a100<br>fp32 |",
        "|---|---|---|---|---|---|---|",
        "| `tests/test_model.py::test_generate` | \U0001f7e7 skipped (emulated) | \U0001f7e9 passed | "
        "\U0001f7e9 passed | \U0001f7e9 passed | \U0001f7e9 passed | \U0001f7e9 passed |",
        "| `tests/test_model.py::test_attention` | \U0001f7e5 failed (unsupported, emulated) | \u2014 | "
        "\U0001f7e9 passed | \U0001f7e9 passed | \u2014 | \U0001f7e9 passed |",
        "| `tests/test_model.py::test_forward` | \U0001f7e8 passed (downgraded to fp16) | \u2014 | \u2014 | "
        "\U0001f7e9 passed | \u2014 | \u2014 |",
    ]
    assert "\U0001f7e9 passed \u00b7 \U0001f7e8 passed in a fallback precision (downgraded) \u00b7 " in text
    assert (
        f"- **v100** (`{two_legs[0]}`): Tesla V100-SXM2-16GB (sm\\_70), simulated profile v100; "
        "fp32 native, tf32 emulated, fp16 native, bf16 emulated" in text
    )
    assert text.rstrip().endswith("amp\\_fp16 native; torch 2.3.1, Python 3.11.7")


def test_markdown_escapes_table_syntax() -> None:
    doc = run_report(
        None, [entry("t.py::test_x[a|b-bf16]", "failed", requested="bf16", category="mismatch")], leg="cpu|<b>"
    )
    text = render_markdown(model.build_matrix([("r.json", doc)]))
    assert "| test | cpu\\|\\<b\\><br>bf16 |" in text
    assert "| `t.py::test_x[a\\|b]` | \U0001f7e5 failed (mismatch) |" in text
    assert "- **cpu\\|\\<b\\>** (`r.json`): no device probed; torch 2.3.1, Python 3.11.7" in text


def test_markdown_with_no_gated_tests() -> None:
    doc = run_report(None, [entry("t.py::plain", gated=False)], leg="cpu")
    text = render_markdown(model.build_matrix([("r.json", doc)]))
    assert "1 leg, 0 tests, 0 cells\n" in text
    assert "No test in these reports used dtypegate (no precision parameter, no requires\\_\\* marker)." in text
    assert "| test |" not in text


# -- JSON -----------------------------------------------------------------------------
def test_json_round_trip(two_legs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "matrix.json"
    assert _main([*two_legs, "--format", "json", "-o", str(out)]) == 0
    assert capsys.readouterr().err == f"dtypegate matrix: wrote {out} (2 legs, 3 tests)\n"
    data = json.loads(out.read_text(encoding="utf-8"))
    # issue A: dtypegate.matrix/2 is compact (a cell is one line, an array of CELL_FIELDS; reasons are indexed)
    assert data["schema"] == "dtypegate.matrix/2"
    assert data["tests"][0] == "tests/test_model.py::test_generate"
    assert data["columns"][0] == {"leg": "v100", "precision": "bf16"}
    assert data["legs"][0]["device"] == "Tesla V100-SXM2-16GB (sm_70), simulated profile v100"
    assert data["legs"][0]["capabilities"] == V100.to_json()
    assert data["fields"] == list(model.CELL_FIELDS)
    forward = data["tests"].index("tests/test_model.py::test_forward")
    cell = next(c for c in data["cells"] if c[0] == forward and c[1] == 0)
    assert cell[:11] == [forward, 0, "bf16", None, "passed", "bf16", "fp16", "native", "bf16", None, None]
    assert data["reasons"][cell[11]] == (
        "bf16 is emulated on Tesla V100-SXM2-16GB (sm_70) [simulated: v100]: native bf16 needs sm_80+"
    )
    assert sum(1 for line in out.read_text().splitlines() if line.startswith("[")) == len(data["cells"]) == 12
    back = reading.matrix_from_json(data)
    original = reading.load_matrix(two_legs)
    assert back.cells == original.cells
    assert back.columns() == original.columns()
    assert back.legs[1].caps() == A100
    assert reading.load_baseline(str(out)).cells == original.cells


def test_matrix_1_is_still_read(two_legs: list[str], tmp_path: Path) -> None:
    original = reading.load_matrix(two_legs)
    legs = [leg.to_json() for leg in original.legs]
    cells = [cell.to_json() for cell in original.cells]
    old = {"schema": "dtypegate.matrix/1", "legs": legs, "columns": [], "tests": original.tests(), "cells": cells}
    assert reading.matrix_from_json(old, "old.json").cells == original.cells
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    assert reading.load_baseline(str(path)).cells == original.cells
    old["cells"][0]["outcome"] = "maybe"
    with pytest.raises(
        InputError,
        match=r"^m\.json: invalid dtypegate matrix: cells\[0\]\.outcome: "
        r"'maybe' is not one of passed, ",
    ):
        reading.matrix_from_json(old, "m.json")


def test_matrix_json_is_checked(tmp_path: Path) -> None:
    with pytest.raises(
        InputError,
        match=r"^m\.json: not a dtypegate matrix \(schema 'dtypegate\.report/1', "
        r"expected 'dtypegate\.matrix/2'\)$",
    ):
        reading.matrix_from_json({"schema": "dtypegate.report/1"}, "m.json")
    data = matrix_to_json(model.build_matrix([("r.json", v100_report())]))
    data["cells"][0][4] = "maybe"
    with pytest.raises(
        InputError,
        match=r"^m\.json: invalid dtypegate matrix: cells\[0\]\[4\]: "
        r"'maybe' is not one of passed, ",
    ):
        reading.matrix_from_json(data, "m.json")
    data = matrix_to_json(model.build_matrix([("r.json", v100_report())]))
    data["cells"][0][0] = 99
    with pytest.raises(InputError, match=r"^m\.json: invalid dtypegate matrix: cells\[0\]: no test of that index$"):
        reading.matrix_from_json(data, "m.json")


# -- HTML -----------------------------------------------------------------------------
def _page_data(page: str) -> dict[str, Any]:
    blob = page.split('<script type="application/json" id="matrix-data">', 1)[1].split("</script>", 1)[0]
    result: dict[str, Any] = json.loads(blob)
    return result


def test_html_is_self_contained(two_legs: list[str], tmp_path: Path) -> None:
    out = tmp_path / "matrix.html"
    assert _main([*two_legs, "--format", "html", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')
    for external in ("<link", "src=", "href=", "url(", "@import", "http:", "https:", "fetch(", "XMLHttpRequest"):
        assert external not in page, external
    # issue A: the matrix is drawn by one inline script from data in the page (nothing fetched)
    assert re.findall(r"<script[^>]*>", page) == ['<script type="application/json" id="matrix-data">', "<script>"]
    for key, colour in COLOURS.items():
        assert f".{key} {{ background: {colour}; }}" in page
    # first what ran where, then the failures, then the matrix, then the legs
    order = [
        page.index(h) for h in ("<h2>What ran where</h2>", "<h2>Failures (1)</h2>", "<h2>Matrix</h2>", "<h2>Legs</h2>")
    ]
    assert order == sorted(order)
    assert (
        '<tr><th scope="row">v100</th>\n<td><span class="count downgraded">1 downgraded</span>'
        '<span class="count skipped-hw">1 skipped by the device</span><span class="count failed">1 failed</span></td>\n'
        '<td><span class="count passed">1 native</span></td>'
    ) in page
    assert (
        '<td class="failed">failed (unsupported, emulated)</td><td class="reason">RuntimeError: '
        "at::cuda::blas::gemm: not implemented for struct c10::BFloat16</td>"
    ) in page
    assert '<input id="q" type="search"' in page and '<select id="outcome"' in page and '<select id="leg"' in page
    data = _page_data(page)
    assert data["legs"] == ["v100", "a100"]
    assert data["files"] == ["tests/test_model.py"]
    assert [row[1] for row in data["rows"]] == ["test_generate", "test_attention", "test_forward"]
    kinds = [tuple(kind) for kind in data["kinds"]]
    attention = data["rows"][1]
    assert kinds[attention[2][0]] == ("failed", "failed (unsupported, emulated)")
    assert kinds[attention[2][1]] == ("empty", "\u2014")
    assert (
        data["reasons"][attention[3]["0"]]
        == "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16"
    )
    # the legend and each leg's device/capability summary
    assert (
        '<li><span class="swatch skipped-hw"></span>skipped: the device cannot run it (unsupported, '
        "emulated, capability, unknown)</li>" in page
    )
    assert "<dt>device</dt><dd>Tesla V100-SXM2-16GB (sm_70), simulated profile v100</dd>" in page
    assert '<span class="chip skipped-hw">bf16 emulated</span>' in page
    assert '<span class="chip passed">bf16 native</span>' in page
    assert "<dt>tests</dt><dd>7 total, 5 passed, 1 failed, 1 skipped, 1 downgraded</dd>" in page


def test_html_escapes_everything() -> None:
    doc = run_report(
        None,
        [
            entry(
                't.py::test_x[</script><script>"-bf16]',
                "failed",
                requested="bf16",
                reason="<img src=x onerror=alert(1)>\udcff\x1b[31m",
            )
        ],
        leg="<b>leg</b>",
    )
    page = render_html(model.build_matrix([("r.json", doc)]))
    assert "<script><" not in page and "<img" not in page and "<b>leg" not in page and "</script><" not in page
    assert "t.py::test_x[&lt;/script&gt;&lt;script&gt;&quot;-bf16]" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert _page_data(page)["legs"] == ["<b>leg</b>"]  # inside the data it is JSON, escaped for the script element
    page.encode("utf-8")  # no lone surrogate left


def test_render_rejects_unknown_format(two_legs: list[str]) -> None:
    with pytest.raises(ValueError, match=r"unknown format 'pdf'; valid: markdown, json, html"):
        render(reading.load_matrix(two_legs), "pdf")
    with pytest.raises(SystemExit):
        _parser().parse_args([*two_legs, "--format", "pdf"])


def test_report_loader_is_the_one_in_report(two_legs: list[str]) -> None:
    # the matrix reads exactly what load_report accepts
    docs = [reading.load_report(p) for p in two_legs]
    assert model.build_matrix(list(zip(two_legs, docs))).cells == reading.load_matrix(two_legs).cells
