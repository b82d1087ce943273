"""The general reader and what it stands on: the regex rules that keep every pattern linear, the lexicon of
precision spellings, normalization, the phrase families, and how the two layers combine in classify().

Texts marked "written for this test" are constructed in the shape of real messages; the real texts the reader is
measured on are the corpus (test_diagnosis_corpus.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_dtypegate import precisions as _precisions
from pytest_dtypegate.diagnosis import Classification, classify, diagnose_log, format_section
from pytest_dtypegate.diagnosis import classifier as classifier_module
from pytest_dtypegate.diagnosis.general import read_reader
from pytest_dtypegate.diagnosis.lexicon import mentions, rank, read_lexicon, side_order
from pytest_dtypegate.diagnosis.loader import CatalogueError
from pytest_dtypegate.diagnosis.normalize import MAX_MESSAGE, blocks, bound, canonical, clean, printable, segments
from pytest_dtypegate.diagnosis.regexcheck import RegexProblem, check, keyword, keywords, tolerant

# -- regexcheck: every pattern runs in linear time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"not implemented for \w+", "has an unbounded repeat (+, * or {n,}); write a bound such as {1,100}"),
        (r"x(?:ab){2,}", "has an unbounded repeat (+, * or {n,}); write a bound such as {1,100}"),
        (r"x\w{1,5000}", "has a repeat bounded by 5000; the largest bound allowed is 4096"),
        (r"x(?:\w{1,5}){1,10}", "nests a variable-width repeat in a repeat (catastrophic backtracking)"),
        (
            r"[\w.]{1,64}: Low precision",
            "starts with a variable-width run, which rescans at every position; start it with literal text or "
            "guard the run with a lookbehind such as (?<![\\w.])",
        ),
        (r"(x", "does not compile: missing ), unterminated subpattern at position 0"),
    ],
)
def test_patterns_that_could_backtrack_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(RegexProblem) as info:
        check(pattern)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?:(?<![\w.])(?P<op>[\w.]{1,100}): )?Low precision",  # guarded by a lookbehind
        r"(?:ab){3}x{2}",  # fixed repeats nest freely
        r"\bnot (?:yet )?implemented for\b",
        r"(?:a|b)?c",
    ],
)
def test_linear_patterns_pass(pattern: str) -> None:
    check(pattern)


def test_a_scan_window_may_start_with_a_run() -> None:
    check(r"[\w]{1,20}Type", leading=False)


def test_the_keyword_is_the_longest_literal_every_match_holds() -> None:
    assert keyword(re.compile(r"at::cuda::blas::(?P<op>\w{1,100}): not implemented for ")) == (": not implemented for ")
    assert keyword(re.compile(r"(?i)Mixed DTYPE")) == "mixed dtype"
    assert keyword(re.compile(r"(?:ab|cd)\w{1,3}")) is None


def test_the_keywords_are_texts_one_of_which_every_match_holds() -> None:
    assert keywords(re.compile(r"(?i)\bunsupported\b|\bNot understood\b")) == ("not understood", "unsupported")
    assert keywords(re.compile(r"\b(?:does|do) not support (?:fp16|bf16)")) == (" not support ",)
    assert keywords(re.compile(r"x(?:ab|cd)y")) is None  # no literal of 3+ characters in every match
    assert keywords(re.compile(r"\bfoo\b|!=")) is None  # one alternative holds nothing worth a test
    assert keywords(re.compile(r"(?:long one|short)?tail")) == ("tail",)  # an optional group holds nothing


def test_the_tolerant_pattern_takes_any_quote_for_a_quote() -> None:
    loose = re.compile(tolerant(r"""calling `?(?P<op>\w{1,10})'"""))
    found = loose.search("calling \u2018gemm\u2019")  # typographic quotes from a paste
    assert found is not None and found.group("op") == "gemm"
    assert loose.search("calling gemm") is not None  # quotes a paste lost
    lead = re.compile(tolerant(r"""'(?P<op>\w{1,10})' failed"""))
    assert lead.search("\u2018gemm failed") is not None
    assert lead.search("gemm failed") is None  # a quote that opens the pattern stays required (any quote)
    assert tolerant(r"""for [^'"]{1,9}""") == r"""for [^'"]{1,9}"""  # quotes in a class stay as they are
    check(tolerant(r""""(?P<op>[^"\s]{1,200})" not implemented"""))


# -- the lexicon -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("CUDA_R_16BF", [("CUDA_R_16BF", "bf16")]),
        ("struct c10::BFloat16", [("c10::BFloat16", "bf16")]),
        ("DT_BFLOAT16, ACL_FLOAT16", [("DT_BFLOAT16", "bf16"), ("ACL_FLOAT16", "fp16")]),
        ("ncclBfloat16 CUDNN_DATA_HALF", [("ncclBfloat16", "bf16"), ("CUDNN_DATA_HALF", "fp16")]),
        ("torch.cuda.HalfTensor", [("HalfTensor", "fp16")]),
        ("CUDAHalfTensor", [("CUDAHalfTensor", "fp16")]),
        ("np.float16", [("float16", "fp16")]),
        ("dnnl::memory::data_type::bf16", [("bf16", "bf16")]),
        ("(tensor<1x3x9x9xf16>, tensor<1xf32>)", [("1x3x9x9xf16", "fp16"), ("1xf32", "fp32")]),
        ("v2bf16,ch", [("v2bf16", "bf16")]),
        ("tl.float8e4nv fp8e4nv", [("float8e4nv", "fp8_e4m3"), ("fp8e4nv", "fp8_e4m3")]),
        ("f8E4M3FNUZ", [("f8E4M3FNUZ", "fp8_e4m3")]),  # ROCm's fnuz fp8: filed under fp8 by the general reader
        ("cvt.bf16.f32", [("bf16", "bf16"), ("f32", "fp32")]),
        ("Feature '.bf16'", [("bf16", "bf16")]),
        ("but gotFloat and Half", [("Float", "fp32"), ("Half", "fp16")]),
        ("uses-fp64-math", [("fp64", "fp64")]),
        ("NVFP4 and e8m0 scales", [("NVFP4", None), ("e8m0", None)]),
        ("batch size, bf16bf16bf16_128 kernel", []),
        # a kernel's type combination, streamed run together after a size: each name
        ("types: 4096BFloat16FloatFloat", [("BFloat16", "bf16"), ("Float", "fp32"), ("Float", "fp32")]),
        ("HalfDouble", [("Half", "fp16"), ("Double", "fp64")]),
        ("123456789Half", []),  # a number, not a size before a combination
        # the template argument of a mangled wrapper, builtin codes included
        (
            "(N11onnxruntime17PrimitiveDataTypeINS_9MLFloat16EEE)",
            [("N11onnxruntime17PrimitiveDataTypeINS_9MLFloat16EEE", "fp16")],
        ),
        ("N11onnxruntime10TensorTypeIDhEE", [("N11onnxruntime10TensorTypeIDhEE", "fp16")]),
        ("N3c107complexIfEE", []),
        # cuBLASLt's numbered operand types; the scale type is not an operand's
        ("abcType 14 computeType 68 scaleType 0", [("14", "bf16")]),
        ("abcType 2", [("2", "fp16")]),
        ("bf conversion", [("bf", "bf16")]),
        ("float8e5m2, fp8_e4m3fn", [("float8e5m2", "fp8_e5m2"), ("fp8_e4m3fn", "fp8_e4m3")]),
        ("910A支持bfloat16格式", [("bfloat16", "bf16")]),  # a name against Chinese text
    ],
)
def test_the_lexicon_reads_every_spelling(text: str, names: list[tuple[str, str | None]]) -> None:
    assert [(m.written, m.precision) for m in mentions(text) if m.is_float] == names


def test_integer_types_are_types_but_not_precisions() -> None:
    found = mentions("got Half and Char, Long, DT_INT64, si32, torch.int32")
    assert [(m.written, m.is_float) for m in found] == [
        ("Half", True),
        ("Char", False),
        ("Long", False),
        ("DT_INT64", False),
        ("si32", False),
        ("int32", False),
    ]


def test_plain_words_are_weak() -> None:
    (half,) = mentions("reduce the batch size by half")
    assert (half.precision, half.info.weak) == ("fp16", True)
    (strong,) = mentions("'Half'")
    assert not strong.info.weak
    (bf,) = mentions("bf conversion")  # an abbreviation a precision lists as weak
    assert (bf.precision, bf.info.weak) == ("bf16", True)


def test_numbered_and_mangled_integers_are_types_but_not_precisions() -> None:
    found = mentions("abcType 3 and N11onnxruntime17PrimitiveDataTypeIlEE, 5120IntLong")
    assert [(m.written, m.is_float) for m in found] == [
        ("3", False),
        ("N11onnxruntime17PrimitiveDataTypeIlEE", False),
        ("Int", False),
        ("Long", False),
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[colours]\n", "unknown section 'colours'; known: precision, weak, other_float, other, scan"),
        ('[precision.bfloat16]\nnames = ["x"]\n', "[precision.bfloat16]: write the canonical name 'bf16'"),
        ('[precision.bf16]\nnames = ["X"]\n[precision.fp16]\nnames = ["X"]\n', "'X' is already listed"),
        ('[precision.bf16]\nnames = "X"\n', "'names' must be a list of spellings"),
        ('[scan]\n"7" = "bogus"\n', "[scan]: '7' must name a canonical precision"),
        ('[joined]\nnames = ["Bogus"]\n', "[joined]: 'Bogus' must be an exact name listed above, a single word"),
        ('[mangled]\nf = "bogus"\n', "[mangled]: 'f' must give a spelling listed above (not a plain word)"),
    ],
)
def test_a_malformed_lexicon_is_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        read_lexicon(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


# -- normalization -----------------------------------------------------------------------------------------------


def test_a_long_message_is_bounded_and_says_how_much_was_left_out() -> None:
    text = "head " + "x" * (2 * MAX_MESSAGE) + " tail"
    read, cut = bound(text)
    assert cut == len(text) - MAX_MESSAGE
    assert read.startswith("head ") and read.endswith(" tail")
    assert f"[... {cut} characters not read ...]" in read
    assert bound("short") == ("short", 0)


def test_clean_and_printable() -> None:
    assert clean("\x1b[31mRuntimeError\x1b[0m: a\x00b\r\nc \udcff") == "RuntimeError: a b\nc \ufffd"
    assert printable("a\udcff\x1b[0m\tb\nc\x7f") == "a\\udcff\\x1b[0m\tb\nc\\x7f"
    assert canonical("got: float!=  c10::Half and 'Half'\n`x`") == "got: float != c10::Half and 'Half' `x`"


@pytest.mark.parametrize(
    "line",
    [
        "E       RuntimeError: boom",
        "[rank3]: RuntimeError: boom",
        "[1,1]<stderr>:RuntimeError: boom",
        "(RayWorkerWrapper pid=2202821) RuntimeError: boom",
        "2024-05-09T20:21:44.1934818Z RuntimeError: boom",
        "Oct 06 20:13:12 RuntimeError: boom",
        "[2021-06-08 12:02:45,001] [ERROR] [engine.py:12:step] RuntimeError: boom",
        "ERROR 04-24 16:06:40 worker_base.py:157] RuntimeError: boom",
        "E1105 18:09:29.303000 9336 torch/_inductor/x.py:715] [0/0] RuntimeError: boom",
        "14:10:16-737529 ERROR    RuntimeError: boom",
        "\x1b[1m\x1b[31mE   RuntimeError\x1b[0m: boom",
        "│ RuntimeError: boom",
        "> RuntimeError: boom",
        "> > RuntimeError: boom",
    ],
)
def test_line_prefixes_are_stripped(line: str) -> None:
    assert [b.text for b in blocks(line)] == ["RuntimeError: boom"]


def test_frames_and_source_lines_are_dropped_and_wrapped_messages_joined() -> None:
    text = (  # written for this test
        "Traceback (most recent call last):\n"
        '  File "model.py", line 3, in forward\n'
        "    raise ValueError('bf16 is not supported')\n"
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "ValueError: Float8 quantization requires a GPU with compute capability >= 8.9\n"
        "(e.g., Ada Lovelace or Hopper GPUs)\n"
    )
    (block,) = blocks(text)
    assert block.text == (
        "ValueError: Float8 quantization requires a GPU with compute capability >= 8.9 "
        "(e.g., Ada Lovelace or Hopper GPUs)"
    )
    assert block.line == 5


def test_a_log_splits_into_its_errors_and_keeps_a_chain_together() -> None:
    log = (  # written for this test
        "Traceback (most recent call last):\n"
        "ValueError: inner\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "Traceback (most recent call last):\n"
        "RuntimeError: outer\n"
        "______ test_b ______\n"
        "E   RuntimeError: second\n"
        "FAILED tests/test_x.py::test_c - RuntimeError: third\n"
    )
    parts = segments(log)
    assert [[b.text for b in p.blocks] for p in parts] == [
        ["ValueError: inner", "RuntimeError: outer"],
        ["RuntimeError: second"],
        ["FAILED tests/test_x.py::test_c - RuntimeError: third"],
    ]
    assert [p.line for p in parts] == [2, 9, 10]


def test_a_pytest_source_line_is_dropped_and_a_quoted_paste_kept() -> None:
    text = ">       raise RuntimeError('fp16 is not supported')\nE       RuntimeError: boom\n> ValueError: kept"
    assert [b.text for b in blocks(text)] == ["RuntimeError: boom", "ValueError: kept"]


def test_log_levels_are_recorded() -> None:
    (info, error) = blocks("[INFO] routine step\nERROR:root: RuntimeError: boom")
    assert (info.level, error.level) == ("INFO", "ERROR")


# -- the general reader: categories, sides, lists, families, vetoes ----------------------------------------------


def general(text: str) -> Classification:
    c = classify(text)
    assert c is not None, text
    assert c.layer == "general", c
    return c


@pytest.mark.parametrize(
    ("text", "category", "precision", "other", "family"),
    [  # written for this test, in the shapes of real messages
        (
            "RuntimeError: ProcessGroupGloo does not support BFloat16 in allreduce",
            "unsupported",
            "bf16",
            None,
            "collective",
        ),
        ("triton.CompilationError: fp8e5 is not supported on this target", "unsupported", "fp8_e5m2", None, "compiler"),
        ("RuntimeError: oneDNN has no support for dnnl_f16 here", "unsupported", "fp16", None, "vendor-intel"),
        ("call aclnnMatmul failed: self not implemented for DT_BFLOAT16", "unsupported", "bf16", None, "vendor-ascend"),
        ("MPSGraph does not support tensor<4xbf16> here", "unsupported", "bf16", None, "vendor-apple"),
        ("hipBLASLt: Float8_e4m3fn is not supported on gfx90a", "unsupported", "fp8_e4m3", None, "vendor-amd"),
        ("FP8 kernels require compute capability >= 8.9", "unsupported", "fp8_e4m3", None, "capability"),
        ("ValueError: bf16 requires a newer GPU (sm_80 or newer)", "unsupported", "bf16", None, "capability"),
        ("RuntimeError: my_op has no support for Half inputs", "unsupported", "fp16", None, "no-kernel"),
        ("Block element type(bf16) and value element type(fp32) mismatch", "mismatch", "bf16", "fp32", None),
        ("Type mismatch: torch.float64 != torch.float32", "mismatch", "fp32", "fp64", None),
        ("x and y must have the same dtype", "mismatch", None, None, None),
        ("Loss scale already at the minimum allowed value", "nonfinite", "fp16", None, "loss-scale"),
        ("RuntimeError: bf16 overflow in the attention logits", "nonfinite", "bf16", None, "overflow"),
        # plain words in a type's slot count wherever they stand
        (
            "expected x.dtype to match, but got x.dtype: float and then y.dtype: double",
            "mismatch",
            "fp32",
            "fp64",
            None,
        ),
        ("OverflowError: value cannot be converted to type double without overflow", "nonfinite", "fp64", None, None),
        # a device extension's name, and the gradient scaler in a paraphrase
        ("error: the cast requires the SPIR-V extension SPV_KHR_bfloat16", "unsupported", "bf16", None, "no-kernel"),
        ("ValueError: refusing to unscale fp16 grads", "unsupported", "fp16", None, "grad-scaler"),
    ],
)
def test_general_recognitions(text: str, category: str, precision: str | None, other: str | None, family: str | None):  # type: ignore[no-untyped-def]
    c = general(text)
    assert (c.category, c.precision, c.other) == (category, precision, other)
    if family is not None:
        assert c.family == family
    assert c.entry == f"general:{c.family}"
    assert "no catalogue entry" in c.source
    assert "?" not in c.summary and "{" not in c.summary and "{" not in c.advice


def test_a_supported_list_is_not_the_refused_type() -> None:
    # written for this test: the refused precision stands past the list of supported ones
    c = general(
        "ValueError: MyAttention only supports torch.float16 and torch.bfloat16 dtypes, you passed torch.float32"
    )
    assert c.precision == "fp32"
    # only the list names types: a refusal of an unnamed precision
    c = general("TypeError: MyKernel only supports fp16, bf16 and fp32.")
    assert (c.category, c.precision) == ("unsupported", None)


def test_a_refusal_on_the_wrong_side_is_not_read() -> None:
    # "X is not supported for Y": the subject is refused, and it is an option, not a type
    assert classify("ValueError: `amax_history` is not supported for fp8 recipes") is None
    # ... unless the subject says it is a type
    assert general("RuntimeError: data type is not supported for NCCL: BFloat16").precision == "bf16"


def test_an_op_without_an_fp32_kernel_is_about_the_op() -> None:
    assert classify("RuntimeError: my_op not implemented for 'Float'") is None
    assert general("only supports fp16 and bf16: my_op not implemented for 'Float'").precision == "fp32"


@pytest.mark.parametrize(
    "text",
    [  # written for this test: look-alikes with precisions nearby
        "torch.OutOfMemoryError: CUDA out of memory while running the bf16 model (not supported)",
        "RuntimeError: CUDA error: device-side assert triggered in the fp16 kernel, unsupported index",
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (fp16 vs fp32 buffers)",
        "Expected all tensors to be on the same device, but got Half on cuda:0 and Float on cpu",
        "half.h:12:3: warning: overflow in conversion from 'double' to 'half' [-Woverflow]",
        "[INFO] OVERFLOW! Skipping step. Attempted loss scale: 1024, reducing to 512 (fp16)",
        "self and mat2 must have the same dtype, but got Half and Char",
        "Expected object of scalar type Long but got scalar type Float",
        "reduce the batch size by half: the run does not support 80 GB",
        "RuntimeError: value cannot be converted to type int64_t without overflow",
        "a float overflow in the loss: it was so large that the run diverged, type float and all",
    ],
)
def test_look_alikes_are_not_dtype_errors(text: str) -> None:
    assert classify(text) is None


def test_the_catalogue_wins_over_the_general_reader_across_a_chain() -> None:
    inner = RuntimeError("at::cuda::blas::gemm: not implemented for N3c108BFloat16E")
    outer = ValueError("wrapper: fp16 is not supported by this wrapper")
    outer.__cause__ = inner
    c = classify(outer)
    assert c is not None and (c.layer, c.entry) == ("catalogue", "cuda-blas-not-implemented")


def test_the_tolerant_pass_reads_a_catalogue_message_in_a_log() -> None:
    # a prefix, a sentence-case start and typographic quotes: the catalogue's entry still reads it
    c = classify("[rank0]: E   Probability tensor contains either \u2018inf\u2019, `nan` or element < 0")
    assert c is not None and (c.layer, c.entry, c.precision) == ("catalogue", "multinomial-nonfinite", None)


def test_a_message_that_lost_its_quotes_is_the_general_readers() -> None:
    c = classify("E   RuntimeError: addmm_impl_cpu_ not implemented for Half")
    assert c is not None and (c.layer, c.category, c.precision) == ("general", "unsupported", "fp16")


def test_a_general_hit_says_so_in_the_report_section() -> None:
    c = general("RuntimeError: Unconvertible NCCL type BFloat16")
    section = format_section(c, capabilities=None, declared=True, probe_usable=False)
    assert section.splitlines()[0] == "category: unsupported (bf16)"
    assert section.splitlines()[1] == "what: a collective communication backend (NCCL) refused bf16 tensors"
    assert section.splitlines()[-1] == (
        "recognized: by the general reader, family collective: no catalogue entry matches this wording, so the "
        "fixes are the family's advice; report the message at the pytest-dtypegate issue tracker so it can get "
        "an entry"
    )
    assert f"fix: {c.advice}" in section.splitlines()


def test_a_cut_message_says_so_in_the_report_section() -> None:
    text = "RuntimeError: " + "x " * MAX_MESSAGE + "expected scalar type Half but found Float"
    c = classify(text)
    assert c is not None and c.entry == "expected-scalar-type" and c.cut > 0
    assert c.to_json()["cut"] == c.cut
    section = format_section(c, capabilities=None, declared=False, probe_usable=False)
    assert (
        f"note: the message is longer than dtypegate reads; {c.cut} characters in its middle were not read"
        in section.splitlines()
    )


def test_a_log_answers_each_distinct_error_once(monkeypatch: pytest.MonkeyPatch) -> None:
    log = (  # written for this test
        "FAILED a - RuntimeError: expected scalar type Half but found Float\n"
        "FAILED b - RuntimeError: CUDA out of memory\n"
        "FAILED c - RuntimeError: expected scalar type Half but found Float\n"
        "FAILED d - RuntimeError: Unconvertible NCCL type BFloat16\n"
    )
    findings, cut = diagnose_log(log)
    assert cut == 0
    assert [(f.classification.entry, f.line, f.count) for f in findings] == [
        ("expected-scalar-type", 1, 2),
        ("general:collective", 4, 1),
    ]
    monkeypatch.setattr(classifier_module, "MAX_LOG", 100)
    findings, cut = diagnose_log(log)
    assert cut == len(log) - 100 and len(findings) == 1


# -- the general reader's data -----------------------------------------------------------------------------------

GENERAL = """\
[reader]
contrast = ["fp32"]
[lists]
markers = ['\\bonly\\b']
fillers = ["and"]
[[phrase]]
category = "unsupported"
pattern = '\\bnot supported\\b'
look = "before"
[[family]]
id = "u"
category = "unsupported"
summary = "s"
advice = "a"
source = "src"
[[family]]
id = "m"
category = "mismatch"
summary = "s"
advice = "a"
source = "src"
[[family]]
id = "n"
category = "nonfinite"
summary = "s"
advice = "a"
source = "src"
"""


def test_a_well_formed_reader_is_read(tmp_path: Path) -> None:
    path = tmp_path / "general.toml"
    path.write_text(GENERAL, encoding="utf-8")
    data = read_reader(path)
    assert [f.id for f in data.families] == ["u", "m", "n"]
    assert data.contrast == frozenset({"fp32"})
    assert (data.setting, data.candidates, data.candidate_family) == (None, (), "")
    (phrase,) = data.phrases
    assert (phrase.bare, phrase.low, phrase.reach) == (False, False, None)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('look = "before"', 'look = "sideways"', "look 'sideways' is not one of after, before, both, subject"),
        ("pattern = '\\bnot supported\\b'", "pattern = 'not \\w+ supported'", "has an unbounded repeat"),
        ('category = "unsupported"\npattern', 'category = "odd"\npattern', "category 'odd' is not one of"),
        ('contrast = ["fp32"]', 'contrast = ["float"]', "[reader] contrast must be a list of canonical"),
        ('id = "n"\ncategory = "nonfinite"', 'id = "n"\ncategory = "mismatch"', "no family without context for"),
        ('source = "src"\n[[family]]\nid = "m"', 'source = ""\n[[family]]\nid = "m"', "'source' must be a non-empty"),
        ('look = "before"', 'look = "before"\nreach = 0', "reach must be a number of characters from 1 to 2000"),
        ('look = "before"', 'look = "before"\nreach = true', "reach must be a number of characters from 1 to 2000"),
        (
            'contrast = ["fp32"]',
            "contrast = [\"fp32\"]\nsetting = 'x\\w+'",
            "[reader] setting: the pattern has an unbounded",
        ),
        (
            "[lists]",
            "[candidates]\nfamily = 'm'\nheader = 'h'\ndtype = 'dtype=(?P<dtype>x)'\ndevice = 'device='\n[lists]",
            "[candidates] family must name a family of category unsupported",
        ),
    ],
)
def test_a_malformed_reader_is_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert GENERAL.count(old) == 1, old
    path = tmp_path / "general.toml"
    path.write_text(GENERAL.replace(old, new), encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        read_reader(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_a_catalogue_answer_takes_the_types_the_general_reader_reads_in_the_same_text() -> None:
    # the entry's pattern stops before the types; its summary and advice stand, the sides come from the text
    bare = classify("RuntimeError: query and key must have the same dtype")
    named = classify("ValueError: query and key must have the same dtype, got torch.bfloat16 and torch.float16")
    assert bare is not None and named is not None
    assert (bare.entry, bare.precision, bare.other) == ("flash-attn-same-dtype", None, None)
    assert (named.layer, named.entry, named.precision, named.other) == (
        "catalogue",
        "flash-attn-same-dtype",
        "fp16",
        "bf16",
    )
    assert (named.summary, named.advice) == (bare.summary, bare.advice)
    assert [o.precision for o in named.operands] == ["bf16", "fp16"]


def test_the_order_of_precisions_covers_every_stored_precision_once() -> None:
    # rank (how low) and side_order (a mismatch's sides) are derived from one table of the storage precisions
    stored = {n for n, p in _precisions.PRECISIONS.items() if p.autocast is None}
    order = sorted(stored, key=side_order)
    assert order == ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16", "tf32", "fp32", "fp64"]
    assert [rank(n) for n in order] == [0, 0, 1, 1, 2, 2, 3]
    assert all(side_order(a) < side_order(b) for a, b in zip(order, order[1:]))
