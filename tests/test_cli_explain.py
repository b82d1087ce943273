"""`dtypegate explain`: cli.explain.add_arguments / cli.explain.run through a parser built here
(cli/__init__.py wires the same two functions), plus one real process reading stdin."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest

from pytest_dtypegate.cli import explain as explain_cli

GEMM = "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16"
UNKNOWN = "not a dtype error I know: neither dtypegate's catalogue nor its general reader recognizes this text"
# the keys of a classification, the fixes in context, and where in the text the error first appears, how often
CLASSIFIED_KEYS = {
    "category",
    "precision",
    "other",
    "summary",
    "advice",
    "entry",
    "source",
    "op",
    "operands",
    "layer",
    "family",
    "cut",
    "fixes",
    "line",
    "count",
}
MATMUL = "RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat16 != float"


def explain(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dtypegate explain")
    explain_cli.add_arguments(parser)
    return explain_cli.run(parser.parse_args(argv))


def test_a_known_error_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain([GEMM]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        "category: unsupported (bf16)",
        "what: cuBLAS has no bf16 gemm in this torch build on this GPU",
        "fix: run the model in a precision the GPU has kernels for (fp16 or fp32 before Ampere)",
        "fix: declare the precision so the gate can skip or downgrade the test where the device lacks it: mark "
        "the test `@requires_bf16`, or take the dtype from the `model_dtype` fixture instead of hard-coding it",
        "fix: use fp16 or fp32 on this device instead of bf16",
        "fix: or set `dtypegate_on_unsupported = downgrade` to run declared tests in their fallback precision "
        "(fp16) where bf16 is missing",
        "entry: cuda-blas-not-implemented (source: pytorch/pytorch aten/src/ATen/cuda/CUDABlas.h and "
        "CUDABlas.cpp (generic gemm/bgemm template, typeid name); https://github.com/QwenLM/Qwen3/issues/755 "
        "(Windows form), https://github.com/pytorch/pytorch/issues/67682 (mangled form))",
    ]


def test_unquoted_words_are_joined(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(GEMM.split(" ")) == 0
    assert capsys.readouterr().out.startswith("category: unsupported (bf16)\n")


def test_a_mismatch_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain([MATMUL]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "category: mismatch (bf16 vs fp32)",
        "mismatch: c10::BFloat16 (bf16) met float (fp32): the fp32 operand (m2) was most likely not cast to "
        "bf16: tensors made without dtype= and buffers kept in fp32 stay fp32 when the model is cast",
        "what: a matmul got m1 c10::BFloat16 (bf16), m2 float (fp32)",
    ]


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(["--json", MATMUL]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # JSON Lines: one object per distinct error
    data = json.loads(out)
    assert set(data) == CLASSIFIED_KEYS
    assert (data["category"], data["precision"], data["other"], data["entry"]) == (
        "mismatch",
        "bf16",
        "fp32",
        "matmul-expected-same-dtype",
    )
    assert data["summary"] == "a matmul got m1 c10::BFloat16 (bf16), m2 float (fp32)"
    assert data["advice"] == (
        "cast the operand that kept its old dtype (x.to(model_dtype)), or run the code under torch.autocast"
    )
    assert data["fixes"][0].startswith("the fp32 operand (m2) was most likely not cast to bf16")
    assert data["operands"] == [
        {"role": "m1", "written": "c10::BFloat16", "precision": "bf16"},
        {"role": "m2", "written": "float", "precision": "fp32"},
    ]


def test_an_unknown_error_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(["RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"]) == 1
    out, err = capsys.readouterr()
    assert out == UNKNOWN + "\n"
    assert err == ""


def test_an_unknown_error_in_json_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(["--json", "boom"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    data = json.loads(out)
    # the same keys as a classified text, so a consumer can always read category, precision, summary, advice
    assert set(data) == CLASSIFIED_KEYS | {"message"}
    assert data == {
        "category": None,
        "precision": None,
        "other": None,
        "summary": UNKNOWN,
        "advice": None,
        "entry": None,
        "source": None,
        "op": None,
        "operands": [],
        "layer": None,
        "family": None,
        "cut": 0,
        "fixes": [],
        "line": None,
        "count": 0,
        "message": "not a dtype error I know",
    }


def test_json_keys_are_the_same_classified_or_not(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(["--json", GEMM]) == 0
    known = json.loads(capsys.readouterr().out)
    assert explain(["--json", "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"]) == 1
    unknown = json.loads(capsys.readouterr().out)
    assert set(known) == CLASSIFIED_KEYS
    assert set(unknown) - {"message"} == set(known)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_bad_input(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert explain([text]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "dtypegate explain: the error text is empty; pass the error message as TEXT, or - to read it from stdin\n"
    )


def test_text_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys,
        "stdin",
        io.StringIO("Traceback (most recent call last):\n  ...\nTypeError: BFloat16 is not supported on MPS\n"),
    )
    assert explain(["-"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "category: unsupported (bf16)",
        "what: MPS has no bf16 on this macOS (it needs macOS 14 or newer)",
    ]


def test_empty_stdin_is_bad_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert explain(["-"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("dtypegate explain: stdin was empty; pass the error message as TEXT, or - to read it from stdin\n")


class _BadStdin(io.StringIO):
    def read(self, size: int | None = -1) -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def test_unreadable_stdin_is_bad_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _BadStdin())
    assert explain(["-"]) == 2
    assert capsys.readouterr().err == (
        "dtypegate explain: cannot read the error text from stdin: 'utf-8' codec can't decode byte 0xff in "
        "position 0: invalid start byte\n"
    )


def test_missing_text_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        explain([])
    assert info.value.code == 2
    assert "the following arguments are required: TEXT" in capsys.readouterr().err


SCRIPT = """
import argparse, sys
from pytest_dtypegate.cli import explain
parser = argparse.ArgumentParser(prog="dtypegate explain")
explain.add_arguments(parser)
sys.exit(explain.run(parser.parse_args(sys.argv[1:])))
"""


def run(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], input=stdin, capture_output=True, text=True, check=False, timeout=120
    )


def test_a_real_process_reads_stdin_and_sets_the_exit_code() -> None:
    done = run(["--json", "-"], "RuntimeError: probability tensor contains either `inf`, `nan` or element < 0\n")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["category"], data["precision"], data["entry"]) == ("nonfinite", None, "multinomial-nonfinite")
    done = run(["-"], "")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip().splitlines()[-1] == (
        "dtypegate explain: stdin was empty; pass the error message as TEXT, or - to read it from stdin"
    )
    done = run(["-"], "KeyError: 'model'\n")
    assert (done.returncode, done.stdout) == (1, UNKNOWN + "\n")
    done = run(["--json", "-"], "KeyError: 'model'\n")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert (data["category"], data["precision"], data["advice"]) == (None, None, None)
    assert data["summary"] == UNKNOWN


# -- the general reader, logs with several errors, text that cannot be printed ----------------------------------

NCCL = "RuntimeError: Unconvertible NCCL type BFloat16"


def test_a_general_recognition_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain([NCCL]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "category: unsupported (bf16)",
        "what: a collective communication backend (NCCL) refused bf16 tensors",
        "fix: cast the tensors to a dtype the backend takes before the collective (all_reduce in fp32 and cast "
        "back), or use a backend that has bf16: NCCL has bf16 from 2.10, Gloo had no bf16 before torch 2.2",
    ]
    assert lines[-1].startswith("recognized: by the general reader, family collective: no catalogue entry matches")


def test_a_general_recognition_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(["--json", NCCL]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["layer"], data["family"], data["entry"], data["precision"]) == (
        "general",
        "collective",
        "general:collective",
        "bf16",
    )


LOG = """\
____________________ test_generate[bf16] ____________________
E       RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16
____________________ test_head[fp16] ____________________
E       RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::Half != float
____________________ test_oom ____________________
E       torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB
=================== short test summary info ===================
FAILED tests/test_model.py::test_generate[bf16] - RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16
FAILED tests/test_model.py::test_oom - torch.OutOfMemoryError: CUDA out of memory.
"""


def test_a_log_gets_each_distinct_error_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(LOG))
    assert explain(["-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "2 distinct dtype errors in this text, in order of first appearance\n\n[1/2] line 2, seen 2 times\n"
    )
    assert "\n\n[2/2] line 4\ncategory: mismatch (fp16 vs fp32)\n" in out
    assert out.count("category: ") == 2


def test_a_log_in_json_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(LOG))
    assert explain(["--json", "-"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["entry"], r["line"], r["count"]) for r in rows] == [
        ("cuda-blas-not-implemented", 2, 2),
        ("matmul-expected-same-dtype", 4, 1),
    ]
    assert all(set(r) == CLASSIFIED_KEYS for r in rows)


def test_what_cannot_be_printed_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    text = "RuntimeError: \x1b[31mmy_op\x1b[0m \udcff\x07 has no support for BFloat16 \udcff"
    assert explain([text]) == 0
    out = capsys.readouterr().out
    assert "category: unsupported (bf16)" in out
    assert "\x1b" not in out and "\x07" not in out and "\udcff" not in out
    assert explain(["--json", "\udcff\x00 bf16 is not supported \x1b[0m"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["precision"] == "bf16"


def test_a_log_longer_than_dtypegate_reads_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(explain_cli, "MAX_LOG", 64)
    data = (NCCL + "\n" + "x" * 100).encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert explain(["-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        f"note: the text is longer than dtypegate reads; its last {len(data) - 64} characters were not read"
    )


def test_bytes_that_are_not_utf8_are_replaced() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "-"],
        input=b"RuntimeError: \xff\xfe expected scalar type Half but found Float\n",
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("utf-8").startswith("category: mismatch (fp16 vs fp32)\n")
