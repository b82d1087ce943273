"""The error catalogue: every entry against its real error texts (the examples in the catalogue's data),
the negatives, exception chains, real torch 2.13 CPU exceptions, and the advice and report section built
from a classification."""

from __future__ import annotations

import builtins
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from devices import A100, MPS, V100

from pytest_dtypegate import Capabilities
from pytest_dtypegate.diagnosis import (
    Classification,
    Entry,
    Example,
    Operand,
    advise,
    catalogue,
    classify,
    exception_text,
    format_section,
    read_precision,
)
from pytest_dtypegate.facts import Category

T4_SIM = Capabilities(
    device="cuda:0",
    name="Tesla T4",
    capability=(7, 5),
    profile="t4",
    support={"fp32": "native", "fp16": "native", "bf16": "emulated"},
)
BROKEN = Capabilities(
    device="cuda:0", name="Tesla V100-SXM2-16GB", capability=(7, 0), error="the probe timed out after 60 s"
)


EXAMPLES: list[tuple[Entry, Example]] = [(entry, example) for entry in catalogue() for example in entry.examples]


def example_id(case: tuple[Entry, Example]) -> str:
    entry, example = case
    return f"{entry.id}:{example.text[:40]}"


# Errors that are not about precisions: classify() must return None.
NEGATIVES: list[str] = [
    # device mismatches
    "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
    "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, mps:0 and cpu!",
    "RuntimeError: Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the same "
    "or input should be a MKLDNN tensor and weight is a dense tensor",
    "Input type (CPUFloatType) and weight type (CUDAFloatType) should be the same or input should be a MKLDNN "
    "tensor and weight is a dense tensor",
    # shapes (torch 2.13 CPU)
    "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",
    # memory
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 80.00 MiB. GPU 0 has a total capacity of 6.00 GiB",
    # cuBLAS refusing an fp32 GEMM is not a dtype error
    "RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasSgemm( handle, opa, opb, m, n, "
    "k, &alpha, a, lda, b, ldb, &beta, c, ldc)`",
    "RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmEx( handle, opa, opb, m, n, "
    "k, &falpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &fbeta, c, CUDA_R_32F, ldc, CUDA_R_32F, "
    "CUBLAS_GEMM_DEFAULT_TENSOR_OP)`",
    "RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling cublasLtMatmul with transpose_mat1 1 "
    "transpose_mat2 0 m 4096 n 1 k 4096 mat1_ld 4096 mat2_ld 4096 result_ld 4096 abcType 0 computeType 68 "
    "scaleType 0",
    "RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, opa, opb, m, "
    "n, k, &alpha, a, lda, b, ldb, &beta, c, ldc)`",
    # SDPA without a dtype reason: shapes, masks, GQA
    "RuntimeError: No available kernel. Aborting execution.",
    # integer and complex types (torch 2.13 CPU)
    "RuntimeError: expected scalar type Long but found Float",
    "RuntimeError: expected target dtype to be Long or Byte, but got Float",
    "RuntimeError: Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
    "Int; but got torch.FloatTensor instead (while checking arguments for embedding)",
    "NotImplementedError: \"histogram_cpu\" not implemented for 'Byte'",
    "NotImplementedError: \"addmm_impl_cpu_\" not implemented for 'ComplexHalf'",
    # an op missing on a backend is not about precisions (only the fp8 matmul is)
    "NotImplementedError: Could not run 'aten::empty.memory_format' with arguments from the 'MPS' backend.",
    "AttributeError: module 'torch' has no attribute 'compile'",
    # an fp32 op without a kernel is about the op, not the precision
    "NotImplementedError: \"bitwise_and_cpu\" not implemented for 'Float'",
    # same dtype on both sides
    "RuntimeError: expected m1 and m2 to have the same dtype, but got: float != float",
    "",
    "AssertionError: assert 1 == 2",
]


@pytest.mark.parametrize("case", EXAMPLES, ids=example_id)
def test_each_real_text_is_classified_by_the_entry_that_owns_it(case: tuple[Entry, Example]) -> None:
    entry, example = case
    c = classify(example.text)
    assert c is not None, example.text
    assert (c.entry, c.category, c.precision, c.other, c.op) == (
        entry.id,
        entry.category,
        example.precision,
        example.other,
        example.op,
    )
    assert c.summary and "?" not in c.summary and "{" not in c.summary
    assert c.advice and "{" not in c.advice
    assert c.source == entry.source


@pytest.mark.parametrize("text", NEGATIVES)
def test_errors_that_are_not_about_dtypes_are_not_classified(text: str) -> None:
    assert classify(text) is None


def test_every_catalogue_entry_has_a_real_text() -> None:
    assert catalogue()
    for e in catalogue():
        assert e.examples, e.id
        assert all(x.text.strip() and x.seen.strip() for x in e.examples), e.id


def test_catalogue_entries_are_well_formed() -> None:
    ids = [e.id for e in catalogue()]
    assert len(ids) == len(set(ids))
    for e in catalogue():
        assert e.category in {Category.UNSUPPORTED, Category.MISMATCH, Category.NONFINITE}
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", e.id), e.id
        assert e.source.strip(), e.id
        assert set(e.roles) <= set(e.pattern.groupindex), e.id


# -- summaries: the exact words for a few entries ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        (
            "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16",
            "cuBLAS has no bf16 gemm in this torch build on this GPU",
        ),
        (
            "NotImplementedError: \"addmm_impl_cpu_\" not implemented for 'Half'",
            "the ATen kernel addmm_impl_cpu_ has no fp16 version on this device",
        ),
        (
            "RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat16 != float",
            "a matmul got m1 c10::BFloat16 (bf16), m2 float (fp32)",
        ),
        (
            "RuntimeError: mat1 and mat2 must have the same dtype",
            "a linear layer / addmm got operands of different dtypes",
        ),
        (
            "UserWarning: Expected query, key and value to all be of dtype: {Half, BFloat16}. Got Query dtype: "
            "float, Key dtype: float, and Value dtype: float instead.",
            "a fused SDPA kernel does not accept fp32 inputs (it takes Half, BFloat16)",
        ),
        (
            "RuntimeError: Current CUDA Device does not support bfloat16. Please switch dtype to float16.",
            "torch.autocast(dtype=torch.bfloat16) was asked for on a CUDA device without bf16",
        ),
        (
            "ValueError: type fp8e4nv not supported in this architecture. The supported fp8 dtypes are ('fp8e5',)",
            "Triton cannot compile fp8_e4m3 (fp8e4nv) for this GPU architecture (needs sm_89+)",
        ),
        (
            "RuntimeError: Function 'DivBackward0' returned nan values in its 0th output.",
            "autograd anomaly detection saw DivBackward0 produce NaN",
        ),
    ],
)
def test_summaries_say_what_happened(text: str, summary: str) -> None:
    c = classify(text)
    assert c is not None
    assert c.summary == summary


def test_mismatch_operands_keep_the_written_names() -> None:
    c = classify(
        "RuntimeError: Expected query, key, and value to have the same dtype, but got query.dtype: "
        "float key.dtype: c10::BFloat16 and value.dtype: float instead."
    )
    assert c is not None
    assert c.operands == (
        Operand("query", "float", "fp32"),
        Operand("key", "c10::BFloat16", "bf16"),
        Operand("value", "float", "fp32"),
    )


def test_classification_to_json() -> None:
    c = classify("RuntimeError: mat1 and mat2 must have the same dtype, but got Float and BFloat16")
    assert c is not None
    data = c.to_json()
    # a mismatch's precision is the low side (the one the test exercises), whichever the message names first
    assert data == {
        "category": "mismatch",
        "precision": "bf16",
        "other": "fp32",
        "entry": "addmm-must-have-same-dtype",
        "summary": "a linear layer / addmm got mat1 Float (fp32), mat2 BFloat16 (bf16)",
        "advice": "cast the operand that kept its old dtype (x.to(model_dtype)), or run the code under torch.autocast",
        "source": c.source,
        "op": "addmm",
        "operands": [
            {"role": "mat1", "written": "Float", "precision": "fp32"},
            {"role": "mat2", "written": "BFloat16", "precision": "bf16"},
        ],
        "layer": "catalogue",
        "family": None,
        "cut": 0,
    }


def test_the_sdpa_error_needs_its_dtype_warning_to_count() -> None:
    assert classify("RuntimeError: No available kernel. Aborting execution.") is None
    c = classify(
        "Expected query, key and value to all be of dtype: {Half, BFloat16}. Got Query dtype: "
        "float, Key dtype: float, and Value dtype: float instead.\n"
        "RuntimeError: No available kernel. Aborting execution."
    )
    assert c is not None and c.entry == "sdpa-no-kernel"


def test_classify_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="classify\\(\\) takes an error text or an exception, not int"):
        classify(42)  # type: ignore[arg-type]


# -- reading type names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "precision"),
    [
        ("BFloat16", "bf16"),
        ("Half", "fp16"),
        ("Float", "fp32"),
        ("Double", "fp64"),
        ("Float8_e4m3fn", "fp8_e4m3"),
        ("Float8_e5m2", "fp8_e5m2"),
        ("c10::BFloat16", "bf16"),
        ("struct c10::BFloat16", "bf16"),
        ("class c10::Half", "fp16"),
        ("at::Half", "fp16"),
        ("float", "fp32"),
        ("double", "fp64"),
        ("N3c108BFloat16E", "bf16"),
        ("N3c104HalfE", "fp16"),
        ("N3c1013Float8_e4m3fnE", "fp8_e4m3"),
        ("CUDA_R_16BF", "bf16"),
        ("CUDA_R_16F", "fp16"),
        ("CUDA_R_32F", "fp32"),
        ("CUDA_R_8F_E4M3", "fp8_e4m3"),
        ("HIPBLAS_R_16B", "bf16"),
        ("torch.bfloat16", "bf16"),
        ("torch.float16", "fp16"),
        ("torch.half", "fp16"),
        ("torch.float32", "fp32"),
        ("torch.float8_e5m2", "fp8_e5m2"),
        ("torch.cuda.HalfTensor", "fp16"),
        ("torch.FloatTensor", "fp32"),
        ("torch.cuda.BFloat16Tensor", "bf16"),
        ("CUDABFloat16Type", "bf16"),
        ("CPUFloatType", "fp32"),
        ("fp8e4nv", "fp8_e4m3"),
        ("fp8e5", "fp8_e5m2"),
        ("Long", None),
        ("ComplexHalf", None),
        ("Float8_e4m3fnuz", None),
        ("fp8e4b15", None),
        ("auto", None),
        ("tf32", None),
        ("68", None),
        ("", None),
        # the template argument of a mangled wrapper (ONNX Runtime's typeid names); not of complex<float>
        ("N11onnxruntime17PrimitiveDataTypeINS_9MLFloat16EEE", "fp16"),
        ("N11onnxruntime17PrimitiveDataTypeIfEE", "fp32"),
        ("N11onnxruntime10TensorTypeIdEE", "fp64"),
        ("N11onnxruntime17PrimitiveDataTypeIlEE", None),
        ("N3c107complexIfEE", None),
        ("N3foo3BarE", None),
    ],
)
def test_read_precision(token: str, precision: str | None) -> None:
    assert read_precision(token) == precision


# -- exception chains -------------------------------------------------------------------------------


def _raise_chained() -> None:
    try:
        raise RuntimeError("at::cuda::blas::gemm: not implemented for N3c108BFloat16E")
    except RuntimeError as inner:
        raise ValueError("generation failed") from inner


def test_the_cause_of_an_exception_is_classified() -> None:
    with pytest.raises(ValueError) as info:
        _raise_chained()
    c = classify(info.value)
    assert c is not None and (c.entry, c.precision) == ("cuda-blas-not-implemented", "bf16")
    assert exception_text(info.value) == [
        "ValueError: generation failed",
        "RuntimeError: at::cuda::blas::gemm: not implemented for N3c108BFloat16E",
    ]


def test_the_context_of_an_exception_is_classified() -> None:
    try:
        try:
            raise TypeError("BFloat16 is not supported on MPS")
        except TypeError:
            raise KeyError("model") from None  # __cause__ None, __context__ kept
    except KeyError as exc:
        outer = exc
    assert outer.__suppress_context__
    c = classify(outer)
    assert c is not None and c.entry == "mps-bf16"


def test_the_outermost_dtype_error_wins() -> None:
    inner = RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    outer = RuntimeError("expected scalar type Float but found BFloat16")
    outer.__cause__ = inner
    c = classify(outer)
    assert c is not None and c.entry == "expected-scalar-type"


def test_a_chain_without_dtype_errors_is_not_classified() -> None:
    inner = RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")
    outer = AssertionError("boom")
    outer.__context__ = inner
    assert classify(outer) is None


def test_a_cyclic_chain_ends() -> None:
    a = RuntimeError("first")
    b = RuntimeError("second")
    a.__context__ = b
    b.__context__ = a
    assert classify(a) is None
    assert exception_text(a) == ["RuntimeError: first", "RuntimeError: second"]


def test_exception_text_keeps_notes_and_bare_names() -> None:
    exc = RuntimeError("outer")
    exc.__notes__ = ["while running the bf16 case"]
    assert exception_text(exc) == ["RuntimeError: outer\nwhile running the bf16 case"]
    assert exception_text(StopIteration()) == ["StopIteration"]


def test_exception_groups_are_searched() -> None:
    eg = getattr(builtins, "ExceptionGroup", None)
    if eg is None:
        pytest.skip("ExceptionGroup needs Python 3.11")
    group = eg("several", [ValueError("x"), RuntimeError("FlashAttention only supports Ampere GPUs or newer.")])
    c = classify(group)
    assert c is not None and c.entry == "flash-attn-arch"


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


def test_an_exception_whose_str_fails_is_still_described() -> None:
    assert exception_text(_Unprintable("x")) == ["_Unprintable: _Unprintable('x')"]


# -- real torch 2.13 CPU exceptions -----------------------------------------------------------------


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


def _raised(fn: Callable[[], object]) -> BaseException:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            fn()
        except BaseException as exc:  # the exception is what we test
            return exc
    raise AssertionError("expected an exception")


REAL: list[tuple[str, str, str, str | None, str | None]] = [
    # (name, entry, category, precision, other); a mismatch's precision is its low-precision side
    ("matmul", "matmul-expected-same-dtype", "mismatch", "bf16", "fp32"),
    ("linear-weight", "matmul-expected-same-dtype", "mismatch", "bf16", "fp32"),
    ("linear-bias", "addmm-must-have-same-dtype", "mismatch", "bf16", "fp32"),
    ("nn-linear", "addmm-must-have-same-dtype", "mismatch", "bf16", "fp32"),
    ("conv-bias", "conv-input-type", "mismatch", "bf16", "fp32"),
    ("conv-weight", "expected-scalar-type", "mismatch", "bf16", "fp32"),
    ("bmm", "expected-scalar-type", "mismatch", "bf16", "fp32"),
    ("sdpa", "sdpa-same-dtype", "mismatch", "bf16", "fp32"),
    ("layer-norm", "mixed-dtype-cpu", "mismatch", "fp32", None),
    ("index-put", "index-put-dtype", "mismatch", "bf16", "fp32"),
    ("lerp", "expected-dtype-for-arg", "mismatch", "bf16", "fp32"),
    ("baddbmm", "baddbmm-input-dtypes", "mismatch", "bf16", "fp32"),
    ("gru", "rnn-input-dtype", "mismatch", "bf16", "fp32"),
    ("multinomial", "multinomial-nonfinite", "nonfinite", None, None),
    ("anomaly", "anomaly-nan", "nonfinite", None, None),
    ("fp8-softmax", "aten-dispatch-not-implemented", "unsupported", "fp8_e4m3", None),
    ("linalg-inv", "linalg-low-precision", "unsupported", "bf16", None),
    ("fft", "fft-unsupported-dtype", "unsupported", "fp16", None),
    ("autocast-cpu", "autocast-dtype-unsupported", "unsupported", None, None),
    # the same checks on meta tensors (what torch.compile's fake tensors run) print torch dtype strings
    ("meta-bmm", "expected-scalar-type", "mismatch", "bf16", "fp32"),
    ("meta-linalg-inv", "linalg-low-precision", "unsupported", "fp16", None),
    ("meta-baddbmm", "baddbmm-input-dtypes", "mismatch", "bf16", "fp32"),
]


def _real_failure(torch: Any, name: str) -> BaseException:
    F = torch.nn.functional
    bf = torch.bfloat16
    f32 = torch.ones(2, 2)
    b = torch.ones(2, 2, dtype=bf)
    q = torch.ones(1, 1, 4, 8)

    def anomaly() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # anomaly mode warns when enabled and when it fires
            with torch.autograd.detect_anomaly(check_nan=True):
                x = torch.ones(2, requires_grad=True)
                ((x / torch.zeros(2)) * 0).sum().backward()

    actions: dict[str, Callable[[], object]] = {
        "matmul": lambda: b @ f32,
        "linear-weight": lambda: F.linear(f32, b),
        "linear-bias": lambda: F.linear(f32, f32, torch.ones(2, dtype=bf)),
        "nn-linear": lambda: torch.nn.Linear(2, 2).to(bf)(f32),
        "conv-bias": lambda: F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), torch.ones(1, dtype=bf)),
        "conv-weight": lambda: F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, dtype=bf)),
        "bmm": lambda: torch.bmm(b[None], f32[None]),
        "sdpa": lambda: F.scaled_dot_product_attention(q, q.to(bf), q),
        "layer-norm": lambda: F.layer_norm(f32, (2,), torch.ones(2, dtype=bf)),
        "index-put": lambda: f32.index_put_((torch.tensor([0]),), torch.ones(2, dtype=bf)),
        "lerp": lambda: torch.lerp(f32, b, 0.5),
        "baddbmm": lambda: torch.baddbmm(f32[None], b[None], f32[None]),
        "gru": lambda: torch.nn.GRU(2, 2)(torch.ones(1, 1, 2, dtype=bf)),
        "multinomial": lambda: torch.multinomial(torch.tensor([float("nan"), 1.0]).half(), 1),
        "anomaly": anomaly,
        "fp8-softmax": lambda: torch.softmax(f32.to(torch.float8_e4m3fn), -1),
        "linalg-inv": lambda: torch.linalg.inv(torch.eye(2, dtype=bf)),
        "fft": lambda: torch.fft.fft(torch.ones(4, dtype=torch.half)),
        "autocast-cpu": lambda: torch.autocast("cpu", dtype=torch.float64),
        "meta-bmm": lambda: torch.bmm(torch.ones(1, 2, 2, device="meta", dtype=bf), torch.ones(1, 2, 2, device="meta")),
        "meta-linalg-inv": lambda: torch.linalg.inv(torch.eye(2, device="meta", dtype=torch.half)),
        "meta-baddbmm": lambda: torch.baddbmm(
            torch.ones(1, 2, 2, device="meta"),
            torch.ones(1, 2, 2, device="meta", dtype=bf),
            torch.ones(1, 2, 2, device="meta"),
        ),
    }
    return _raised(actions[name])


@pytest.mark.parametrize(("name", "entry", "category", "precision", "other"), REAL, ids=[r[0] for r in REAL])
def test_real_torch_exceptions_are_classified(
    torch: Any, name: str, entry: str, category: str, precision: str | None, other: str | None
) -> None:
    exc = _real_failure(torch, name)
    c = classify(exc)
    assert c is not None, exception_text(exc)
    assert (c.entry, c.category, c.precision, c.other) == (entry, category, precision, other)


def test_a_real_torch_error_raised_from_a_wrapper_is_classified(torch: Any) -> None:
    def generate() -> None:
        try:
            torch.ones(2, 2, dtype=torch.bfloat16) @ torch.ones(2, 2)
        except RuntimeError as exc:
            raise RuntimeError("model.generate() failed") from exc

    c = classify(_raised(generate))
    assert c is not None and (c.entry, c.precision, c.other) == ("matmul-expected-same-dtype", "bf16", "fp32")


@pytest.mark.parametrize(
    "name", ["shape", "embedding-index", "target-dtype", "histc-byte", "bitwise-float", "complex32"]
)
def test_real_torch_errors_about_other_things_are_not_classified(torch: Any, name: str) -> None:
    F = torch.nn.functional
    actions: dict[str, Callable[[], object]] = {
        "shape": lambda: torch.ones(2, 3) @ torch.ones(4, 5),
        "embedding-index": lambda: F.embedding(torch.ones(2, 2), torch.ones(2, 2)),
        "target-dtype": lambda: F.nll_loss(torch.ones(2, 3), torch.ones(2)),
        "histc-byte": lambda: torch.histc(torch.ones(4, dtype=torch.uint8)),
        "bitwise-float": lambda: torch.ones(2) & torch.ones(2),
        "complex32": lambda: torch.ones(2, 2, dtype=torch.complex32) @ torch.ones(2, 2, dtype=torch.complex32),
    }
    exc = _raised(actions[name])
    assert classify(exc) is None, exception_text(exc)


# -- advice in context ---------------------------------------------------------------------------------

GEMM = "RuntimeError: at::cuda::blas::gemm: not implemented for struct c10::BFloat16"
PROBE_GAP = (
    "dtypegate's probe called bf16 usable on Tesla V100-SXM2-16GB (sm_70), but this kernel has none: the "
    "probe missed it (a gap in pytest-dtypegate). Please report it: open an issue at the pytest-dtypegate "
    "issue tracker with the output of `dtypegate probe --json` and this error text"
)
DECLARE_BF16 = (
    "declare the precision so the gate can skip or downgrade the test where the device lacks it: mark the "
    "test `@requires_bf16`, or take the dtype from the `model_dtype` fixture instead of hard-coding it"
)


def _c(text: str) -> Classification:
    c = classify(text)
    assert c is not None
    return c


def test_undeclared_bf16_on_a_v100() -> None:
    assert advise(_c(GEMM), capabilities=V100) == [
        "run the model in a precision the GPU has kernels for (fp16 or fp32 before Ampere)",
        DECLARE_BF16,
        "use fp16 or fp32 on Tesla V100-SXM2-16GB (sm_70) instead of bf16",
        "or set `dtypegate_on_unsupported = downgrade` to run declared tests in their fallback precision "
        "(fp16) where bf16 is missing",
    ]


def test_declared_and_usable_is_the_probes_gap() -> None:
    lines = advise(_c(GEMM), capabilities=V100, declared=True, probe_usable=True, on_unsupported="downgrade")
    assert lines == [
        PROBE_GAP,
        "bf16 is only emulated on Tesla V100-SXM2-16GB (sm_70), and emulated precisions may lack fused kernels "
        "such as this one: set `dtypegate_allow_emulated = false` to skip them",
        "run the model in a precision the GPU has kernels for (fp16 or fp32 before Ampere)",
        "use fp16 or fp32 on Tesla V100-SXM2-16GB (sm_70) instead of bf16",
    ]


def test_the_probes_gap_on_a_native_device_has_no_emulation_hint() -> None:
    lines = advise(_c(GEMM), capabilities=A100, declared=True, probe_usable=True)
    assert lines[0] == PROBE_GAP.replace("Tesla V100-SXM2-16GB (sm_70)", "NVIDIA A100-SXM4-40GB (sm_80)")
    assert not any("emulated" in line for line in lines)


def test_the_probes_gap_names_the_requested_precision_when_the_text_has_none() -> None:
    c = _c("RuntimeError: FlashAttention only supports Ampere GPUs or newer.")
    lines = advise(c, declared=True, probe_usable=True, requested="torch.bfloat16")
    assert lines == [
        "dtypegate's probe called bf16 usable on this device, but this kernel has none: the probe missed it "
        "(a gap in pytest-dtypegate). Please report it: open an issue at the pytest-dtypegate issue tracker "
        "with the output of `dtypegate probe --json` and this error text",
        "use attn_implementation='sdpa' or 'eager' on this GPU, or mark the test `@requires_capability(8, 0)` "
        "so the gate skips it where it cannot run",
    ]


def test_fallbacks_follow_what_the_device_runs() -> None:
    c = _c("TypeError: BFloat16 is not supported on MPS")
    assert advise(c, capabilities=MPS, declared=True) == [
        "use fp16 or fp32 on MPS before macOS 14",
        f"use fp16 or fp32 on {MPS.label()} instead of bf16",
        "or set `dtypegate_on_unsupported = downgrade` to run declared tests in their fallback precision "
        "(fp16) where bf16 is missing",
    ]
    fp64 = _c(
        "TypeError: Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support "
        "float64. Please use float32 instead."
    )
    assert advise(fp64, capabilities=MPS, declared=True, on_unsupported="downgrade") == [
        "use fp32 on MPS (numpy arrays default to float64: convert with .float())",
        f"use fp32 on {MPS.label()} instead of fp64",
    ]


def test_advice_without_a_device_uses_the_fallback_chain() -> None:
    c = _c(
        "RuntimeError: torch._scaled_mm is only supported on CUDA devices with compute capability >= 9.0 "
        "or 8.9, or ROCm MI300+"
    )
    assert advise(c) == [
        "keep fp8 weights but compute in bf16/fp16 on older GPUs (dequantise before the matmul)",
        "declare the precision so the gate can skip or downgrade the test where the device lacks it: mark the "
        "test `@requires_fp8`, or take the dtype from the `model_dtype` fixture instead of hard-coding it",
        "use bf16 or fp16 or fp32 on this device instead of fp8_e4m3",
        "or set `dtypegate_on_unsupported = downgrade` to run declared tests in their fallback precision "
        "(bf16) where fp8_e4m3 is missing",
    ]


def test_fp32_unsupported_is_not_told_to_declare_fp32() -> None:
    c = _c("RuntimeError: FlashAttention only support fp16 and bf16 data type")
    assert advise(c) == ["run the model in fp16/bf16 (take it from model_dtype) or use attn_implementation='sdpa'"]


def test_a_failed_probe_still_gets_the_fallback_chain() -> None:
    assert "use fp16 or fp32 on Tesla V100-SXM2-16GB (sm_70) instead of bf16" in advise(_c(GEMM), capabilities=BROKEN)


MATMUL = "RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat16 != float"
MISMATCH_TAIL = [
    "cast the operand that kept its old dtype (x.to(model_dtype)), or run the code under torch.autocast",
    "this is a bug in the code under test, not a missing kernel: the gate does not skip it, and it fails on "
    "every device",
]


def test_mismatch_names_the_operand_that_was_not_cast() -> None:
    assert advise(_c(MATMUL), requested="bf16") == [
        "the fp32 operand (m2) was not cast to bf16, the precision the test runs in",
        *MISMATCH_TAIL,
    ]
    assert advise(_c(MATMUL), requested="fp32") == [
        "the bf16 operand (m1) was not cast to fp32, the precision the test runs in",
        *MISMATCH_TAIL,
    ]
    # amp_bf16 keeps fp32 weights: the bf16 side is the odd one
    assert advise(_c(MATMUL), requested="amp_bf16")[0] == (
        "the bf16 operand (m1) was not cast to fp32, the precision the test runs in"
    )


def test_mismatch_without_a_requested_precision_suspects_the_fp32_side() -> None:
    assert advise(_c(MATMUL)) == [
        "the fp32 operand (m2) was most likely not cast to bf16: tensors made without dtype= and buffers kept "
        "in fp32 stay fp32 when the model is cast",
        *MISMATCH_TAIL,
    ]
    two = _c(
        "RuntimeError: Expected query, key, and value to have the same dtype, but got query.dtype: float "
        "key.dtype: c10::BFloat16 and value.dtype: float instead."
    )
    assert advise(two)[0] == (
        "the fp32 operands (query and value) were most likely not cast to bf16: tensors made without dtype= "
        "and buffers kept in fp32 stay fp32 when the model is cast"
    )


def test_mismatch_between_two_low_precisions_gets_the_generic_advice() -> None:
    c = _c("RuntimeError: expected scalar type Half but found BFloat16")
    assert advise(c) == MISMATCH_TAIL
    assert advise(_c("RuntimeError: mat1 and mat2 must have the same dtype"), requested="bf16") == MISMATCH_TAIL


MULTINOMIAL = "RuntimeError: probability tensor contains either `inf`, `nan` or element < 0"
DTYPES_HINT = (
    'state the precisions this test may run in, e.g. `@dtypes("bf16", "fp32")` with the `model_dtype` '
    "fixture, so the gate runs it only where it is stable"
)


def test_nonfinite_advice_picks_bf16_where_it_is_native() -> None:
    c = _c(MULTINOMIAL)
    assert advise(c, capabilities=A100) == [
        "compute the logits in bf16 or fp32 (fp16 overflows past 65504)",
        "bf16 is native on NVIDIA A100-SXM4-40GB (sm_80) and has fp32's range: run this test in bf16",
        DTYPES_HINT,
    ]
    assert advise(c, capabilities=V100, declared=True) == [
        "compute the logits in bf16 or fp32 (fp16 overflows past 65504)",
        "Tesla V100-SXM2-16GB (sm_70) has no native bf16: run this test in fp32",
    ]
    assert advise(c, declared=True) == [
        "compute the logits in bf16 or fp32 (fp16 overflows past 65504)",
        "run this test in bf16 (same range as fp32) where the device has it, else fp32",
    ]


def test_nonfinite_in_bf16_points_at_the_computation() -> None:
    assert advise(_c(MULTINOMIAL), requested="bf16", declared=True) == [
        "compute the logits in bf16 or fp32 (fp16 overflows past 65504)",
        "bf16 has fp32's range, so look for a real overflow or a 0/0 first; fp32 tells which",
    ]


# -- the report section ----------------------------------------------------------------------------------


def test_section_for_an_unsupported_precision() -> None:
    text = format_section(_c(GEMM), capabilities=V100, declared=False, probe_usable=False)
    assert text.splitlines() == [
        "category: unsupported (bf16)",
        "what: cuBLAS has no bf16 gemm in this torch build on this GPU",
        "device: Tesla V100-SXM2-16GB (sm_70) [bf16 emulated, fp16 native, fp32 native, tf32 emulated, "
        "fp8_e4m3 unsupported, fp8_e5m2 unsupported, fp64 native]",
        "fix: run the model in a precision the GPU has kernels for (fp16 or fp32 before Ampere)",
        f"fix: {DECLARE_BF16}",
        "fix: use fp16 or fp32 on Tesla V100-SXM2-16GB (sm_70) instead of bf16",
        "fix: or set `dtypegate_on_unsupported = downgrade` to run declared tests in their fallback precision "
        "(fp16) where bf16 is missing",
        f"entry: cuda-blas-not-implemented (source: {_c(GEMM).source})",
    ]


def test_section_for_the_probes_gap() -> None:
    text = format_section(_c(GEMM), capabilities=V100, declared=True, probe_usable=True)
    assert f"fix: {PROBE_GAP}" in text.splitlines()


def test_section_for_a_mismatch() -> None:
    lines = format_section(
        _c(MATMUL), capabilities=V100, declared=True, probe_usable=True, requested="bf16"
    ).splitlines()
    assert lines[:4] == [
        "category: mismatch (bf16 vs fp32)",
        "mismatch: c10::BFloat16 (bf16) met float (fp32): the fp32 operand (m2) was not cast to bf16, the "
        "precision the test runs in",
        "what: a matmul got m1 c10::BFloat16 (bf16), m2 float (fp32)",
        "device: Tesla V100-SXM2-16GB (sm_70) [bf16 emulated, fp32 native, fp16 native, tf32 emulated, "
        "fp8_e4m3 unsupported, fp8_e5m2 unsupported, fp64 native]",
    ]
    assert lines[4:6] == [f"fix: {line}" for line in MISMATCH_TAIL]
    assert lines[6].startswith("entry: matmul-expected-same-dtype (source: pytorch/pytorch ")


def test_section_for_a_mismatch_with_unknown_sides() -> None:
    lines = format_section(
        _c("RuntimeError: mat1 and mat2 must have the same dtype"),
        capabilities=None,
        declared=False,
        probe_usable=False,
    ).splitlines()
    assert lines[:2] == ["category: mismatch", "what: a linear layer / addmm got operands of different dtypes"]


def test_section_for_nonfinite_uses_the_requested_precision() -> None:
    lines = format_section(
        _c(MULTINOMIAL), capabilities=None, declared=True, probe_usable=True, requested="fp16"
    ).splitlines()
    assert lines[0] == "category: nonfinite (fp16)"
    lines = format_section(
        _c(MULTINOMIAL), capabilities=None, declared=True, probe_usable=True, requested="bf16"
    ).splitlines()
    assert lines[0] == "category: nonfinite (bf16)"


def test_section_for_an_unknown_precision_and_a_simulated_or_failed_device() -> None:
    c = _c("RuntimeError: FlashAttention only supports Ampere GPUs or newer.")
    lines = format_section(c, capabilities=T4_SIM, declared=False, probe_usable=False).splitlines()
    assert lines[0] == "category: unsupported (precision unknown)"
    assert lines[2] == (
        "device: Tesla T4 (sm_75) [simulated: t4] [bf16 emulated, fp16 native, fp32 native, tf32 unsupported, "
        "fp8_e4m3 unsupported, fp8_e5m2 unsupported, fp64 unsupported]"
    )
    lines = format_section(_c(GEMM), capabilities=BROKEN, declared=False, probe_usable=False).splitlines()
    assert lines[2] == "device: Tesla V100-SXM2-16GB (sm_70): probe failed: the probe timed out after 60 s"
