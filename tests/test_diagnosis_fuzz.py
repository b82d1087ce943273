"""Fuzzing classify() and `dtypegate explain` (text and --json) with hostile text: fragments of real messages and
type names mixed with runs of word characters, colons, quotes, brackets, newlines, ANSI sequences, control
characters and lone surrogates.  Never a traceback, always valid output, and bounded time: a generous hypothesis
deadline per example (speed itself is measured by benchmarks/bench_classify.py, not asserted)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_dtypegate import precisions
from pytest_dtypegate.cli import explain as explain_cli
from pytest_dtypegate.diagnosis import Classification, catalogue, classify
from pytest_dtypegate.diagnosis.lexicon import lexicon
from pytest_dtypegate.diagnosis.normalize import MAX_MESSAGE

CATEGORIES = {"unsupported", "mismatch", "nonfinite"}
NAMES = set(precisions.PRECISIONS)
EXAMPLES = sorted({e.text for entry in catalogue() for e in entry.examples})
TYPE_NAMES = sorted(lexicon().exact)[:200] + sorted(lexicon().words)[:100]
PHRASES = [
    "not implemented for ",
    " is not supported",
    "does not support ",
    "only supports ",
    " must have the same dtype, but got ",
    " != ",
    "requires compute capability >= 8.0",
    "without overflow",
    "Unsupported ",
    "Traceback (most recent call last):\n",
    'File "x.py", line 1, in f\n',
    "The above exception was the direct cause of the following exception:\n",
    "E   ",
    "[rank0]: ",
    "2024-01-01T00:00:00Z ",
    "FAILED t.py::t - ",
    "_____ test _____\n",
]
SPECIAL = ["\udcff", "\ud800", "\x00", "\x07", "\x1b[31m", "\x1b[0m", "\x1b]8;;x\x07", "\r", "\t", "\u2018", "'", '"']
RUNS = ["A", ":", ".", "'", '"', "`", "(", "[", "{", "<", " ", "\n", "_", "-", "^", "x", "bf16", "Half "]

piece = st.one_of(
    st.sampled_from(EXAMPLES),
    st.sampled_from(TYPE_NAMES),
    st.sampled_from(PHRASES),
    st.sampled_from(SPECIAL),
    st.text(max_size=40),
    st.builds(lambda unit, n: unit * n, st.sampled_from(RUNS), st.integers(min_value=1, max_value=300)),
)
hostile = st.lists(piece, max_size=25).map("".join)
# long texts: a piece repeated past what classify() reads of one message
long_hostile = st.builds(
    lambda p, n: p * n,
    st.one_of(st.sampled_from(EXAMPLES), st.sampled_from(PHRASES), st.sampled_from(RUNS)),
    st.integers(min_value=MAX_MESSAGE // 40, max_value=MAX_MESSAGE // 4),
)

FAST = settings(
    max_examples=150, deadline=timedelta(seconds=2), database=None, suppress_health_check=[HealthCheck.too_slow]
)
SLOW = settings(
    max_examples=25, deadline=timedelta(seconds=10), database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _valid(c: Classification | None) -> None:
    if c is None:
        return
    assert c.category in CATEGORIES
    assert c.precision is None or c.precision in NAMES
    assert c.other is None or c.other in NAMES
    assert c.layer in ("catalogue", "general")
    assert "{" not in c.summary and "{" not in c.advice
    json.dumps(c.to_json())  # serialisable
    for value in (c.summary, c.advice, c.op or "", *(o.written for o in c.operands)):
        value.encode("utf-8")  # no lone surrogates in what a report prints


@FAST
@given(hostile)
def test_classify_never_fails_on_hostile_text(text: str) -> None:
    _valid(classify(text))


@FAST
@given(hostile, hostile)
def test_classify_never_fails_on_a_hostile_exception_chain(outer: str, inner: str) -> None:
    exc = RuntimeError(outer)
    exc.__cause__ = ValueError(inner)
    _valid(classify(exc))


@SLOW
@given(long_hostile)
def test_classify_reads_a_bounded_part_of_a_long_message(text: str) -> None:
    c = classify(text)
    _valid(c)
    if c is not None and len(text) > MAX_MESSAGE:
        assert c.cut == len(text) - MAX_MESSAGE


def _explain(argv: list[str], stdin: str | None = None) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="dtypegate explain")
    explain_cli.add_arguments(parser)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if stdin is not None:
            data = stdin.encode("utf-8", errors="surrogatepass")
            with _stdin(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")):
                code = explain_cli.run(args)
        else:
            code = explain_cli.run(args)
    out.flush()
    buffer = out.buffer
    assert isinstance(buffer, io.BytesIO)
    raw = buffer.getvalue()
    return code, raw.decode("utf-8")  # strict: explain writes valid UTF-8


@contextlib.contextmanager
def _stdin(stream: io.TextIOWrapper):  # type: ignore[no-untyped-def]
    import sys

    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


@FAST
@given(hostile)
def test_explain_text_output_is_always_printable(text: str) -> None:
    code, out = _explain(["-"], stdin=text)
    assert code in (0, 1, 2)
    assert "\x1b" not in out and "\x00" not in out
    if code == 0:
        assert "category: " in out
    elif code == 1:
        assert out.startswith("not a dtype error I know")


@FAST
@given(hostile)
def test_explain_json_lines_are_always_valid(text: str) -> None:
    code, out = _explain(["--json", "-"], stdin=text)
    assert code in (0, 1, 2)
    if code == 2:
        assert out == ""
        return
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows
    for row in rows:
        assert {"category", "precision", "summary", "fixes", "line", "count", "layer"} <= set(row)
        assert row["category"] in CATEGORIES | {None}


@SLOW
@given(long_hostile)
def test_explain_reads_a_long_log_in_bounded_time(text: str) -> None:
    code, out = _explain(["--json", "-"], stdin=text * 4)
    assert code in (0, 1) or (code == 2 and not text.strip())  # 2: nothing but whitespace to explain
    for line in out.splitlines():
        json.loads(line)


@FAST
@given(hostile)
def test_explain_escapes_what_argv_carries(text: str) -> None:
    # undecodable argv bytes reach Python as lone surrogates (surrogateescape): explain must still print
    code, out = _explain(["--", text])
    assert code in (0, 1, 2)
    assert "\x1b" not in out and "\x00" not in out
