"""The general reader's families for the wordings the unseen part of the corpus missed when it was first scored
(tests/corpus/dtype_errors.toml, split unseen): cuBLAS statuses, collectives, compilers' conversions, libraries
refusing a precision on a device, autocast, loss scaling at its floor, value-range checks, NaN reports, ONNX
Runtime's and Triton's type mismatches, run-together type combinations, KeyErrors on dtypes, reports in Chinese, and
lists of candidate operators (xformers); with the look-alikes of each.

Every text here is written for this test, in the shape of the family's real messages (the real ones are the corpus's
and the catalogue's examples), so that the reader is held to the family and not to the texts it was tuned on."""

from __future__ import annotations

import pytest

from pytest_dtypegate.diagnosis import Classification, classify


def general(text: str) -> Classification:
    c = classify(text)
    assert c is not None, text
    assert c.layer == "general", c
    return c


@pytest.mark.parametrize(
    ("text", "category", "precision", "other", "family"),
    [
        # cuBLAS refusing a GEMM: the low precision among its arguments, or none named at all
        (
            "error: the requested functionality is not supported in mul_mat cublasGemmEx(x, CUDA_R_16F, y)",
            "unsupported",
            "fp16",
            None,
            "blas",
        ),
        (
            "CUBLAS_STATUS_NOT_SUPPORTED in cublasLtMatmul: a CUDA_R_8F_E4M3, b CUDA_R_8F_E4M3, d CUDA_R_32F",
            "unsupported",
            "fp8_e4m3",
            None,
            "blas",
        ),
        (
            "RuntimeError: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasLtMatmulAlgoGetHeuristic(h, desc)`",
            "unsupported",
            None,
            None,
            "blas",
        ),
        # collectives refusing a type, named or not
        ("RuntimeError: data type is not supported by HCCL", "unsupported", None, None, "collective"),
        ("RuntimeError: Unsupported data type for NCCL process group", "unsupported", None, None, "collective"),
        (
            "Gloo raises Invalid scalar type for an all_reduce of torch.bfloat16",
            "unsupported",
            "bf16",
            None,
            "collective",
        ),
        (
            "ValueError: Float8 tensors are not currently supported for MCCL reductions",
            "unsupported",
            "fp8_e4m3",
            None,
            "collective",
        ),
        ("bfloat16 data type not support by oneCCL yet", "unsupported", "bf16", None, "collective"),
        # a compiler without a conversion
        (
            "error: bf conversion instruction not supported! in kernel: 'triton_red_fused_0'",
            "unsupported",
            "bf16",
            None,
            "compiler",
        ),
        ("fp8e5 conversions are not supported on this target", "unsupported", "fp8_e5m2", None, "no-kernel"),
        # libraries refusing a precision on a device
        (
            "Models loaded with torch_dtype=torch.bfloat16 cannot run on `mps` device",
            "unsupported",
            "bf16",
            None,
            "device-precision",
        ),
        (
            "ValueError: --bf16 evaluation can only be used on CUDA or NPU devices",
            "unsupported",
            "bf16",
            None,
            "device-precision",
        ),
        ("skipped: lack of support for float16 matmul on this CPU", "unsupported", "fp16", None, "device-precision"),
        ("TypeError: Cannot convert a XLA Tensor to float64 here", "unsupported", "fp64", None, "no-kernel"),
        ("RuntimeError: HPU autocast does not support torch.float32", "unsupported", "fp32", None, "autocast-refusal"),
        ("Error: this device does not suport bfloat16", "unsupported", "bf16", None, "no-kernel"),
        ("KeyError: torch.float8_e5m2", "unsupported", "fp8_e5m2", None, "no-kernel"),
        ("KeyError: 'bfloat16'", "unsupported", "bf16", None, "no-kernel"),
        ("显卡不支持bf16", "unsupported", "bf16", None, "no-kernel"),
        ("'BFloat16' 类型未实现 'cumsum' 操作", "unsupported", "bf16", None, "no-kernel"),
        # the gradient scaler, in a paraphrase
        ("Error: unscale_() was called on fp16 grads", "unsupported", "fp16", None, "grad-scaler"),
        # non-finite: loss scaling at its floor, checks against fp16's largest value, NaN reports and printouts
        ("RuntimeError: minimum loss_scale hit, stopping", "nonfinite", "fp16", None, "loss-scale"),
        ("Training stopped: reached the minimum loss scale", "nonfinite", "fp16", None, "loss-scale"),
        ("Check failed: fill_value <= kMaxHalf", "nonfinite", "fp16", None, "overflow"),
        ("ValueError: mask value out of range (131072 vs. 65504)", "nonfinite", "fp16", None, "overflow"),
        ("the bf16 model returns nan after the first layer", "nonfinite", "bf16", None, "overflow"),
        ("ValueError: the attention layer produced NaNs in fp16; try bf16", "nonfinite", "fp16", None, "overflow"),
        ("Check failed: value >= -kMaxFloat16 (-70000 vs. -65504)", "nonfinite", "fp16", None, "overflow"),
        ("tensor([[inf, -inf]], dtype=torch.float16)", "nonfinite", "fp16", None, "overflow"),
        ("got tensor([1., 2., nan], device='cuda:0', dtype=torch.bfloat16)", "nonfinite", "bf16", None, "overflow"),
        # operands that differ
        (
            "Unexpected input type: tensor(float16) where the graph wants tensor(double)",
            "mismatch",
            "fp16",
            "fp64",
            "operands-differ",
        ),
        (
            "Unexpected output type: N11onnxruntime17PrimitiveDataTypeIfEE vs N11onnxruntime17PrimitiveDataTypeIdEE",
            "mismatch",
            "fp32",
            "fp64",
            "operands-differ",
        ),
        (
            "state s has initial type bf16 but is re-assigned to fp32 inside the loop",
            "mismatch",
            "bf16",
            "fp32",
            "operands-differ",
        ),
        (
            "torch.cat got inputs of different dtypes: torch.float16 and torch.float32",
            "mismatch",
            "fp16",
            "fp32",
            "operands-differ",
        ),
        ("fp16/float dtype incompatibility in the adapter", "mismatch", "fp16", "fp32", "operands-differ"),
        ("输入数据类型不匹配: float16 与 float32", "mismatch", "fp16", "fp32", "operands-differ"),
        # a kernel's run-together combination whose storage types differ
        (
            "RuntimeError: BWD: Unsupported hidden_size or types: 2048HalfFloatFloatFloat",
            "mismatch",
            "fp16",
            "fp32",
            "operands-differ",
        ),
    ],
)
def test_the_unseen_families(text: str, category: str, precision: str | None, other: str | None, family: str) -> None:
    c = general(text)
    assert (c.category, c.precision, c.other, c.family) == (category, precision, other, family)
    assert "{" not in c.summary and "{" not in c.advice


@pytest.mark.parametrize(
    "text",
    [  # written for this test: look-alikes of the new families
        # cuBLAS: an fp32 GEMM, another status, a status without cuBLAS
        "RuntimeError: CUBLAS_STATUS_NOT_SUPPORTED when calling cublasLtMatmul with m 16 abcType 0 computeType 68",
        "RuntimeError: CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx(h, a, CUDA_R_16F, b, CUDA_R_16F)",
        "CUDA error: the requested functionality is not supported",
        # collectives: a bool tensor, a timeout, a type with no collective
        "Collectives raise `Invalid scalar type` for a torch.BoolTensor on Gloo",
        "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1269, invalid usage, NCCL version 2.14.3",
        "Tensor type not supported",
        "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'",
        # a device refusal with no precision, a refusal of fp32 outside autocast
        "This model cannot run on cpu device",
        "Flash attention can only be used on CUDA devices",
        "RuntimeError: my_op does not support float32",
        # config keys, not dtypes; attributes named like a dtype string
        "KeyError: 'fp16'",
        "KeyError: 'half_precision_backend'",
        "AttributeError: module 'torch' has no attribute 'torch.float16'",
        "AttributeError: module 'numpy' has no attribute 'float'.",
        # loss scaling configured, not exhausted; fp32 NaN; a value past an integer's range
        "[WARNING] Using minimum loss scale of 1.0 for the first 100 steps",
        "The loss yields nan after 100 steps in fp32",
        "tensor([nan, 1.], dtype=torch.float32)",
        # operands of the same dtype, or integers
        "Loop-carried variable m has initial type fp32 but is re-assigned to <['1'], fp32> in loop!",
        "Loop-carried variable t has initial type <[1, 2], int1> but is re-assigned to <[1, 2], int8> in loop!",
        "Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(int64))",
        "Unexpected input data type. Actual: (tensor(float)) , expected: (tensor(int64))",
        "Unexpected input data type. Actual: (N11onnxruntime17PrimitiveDataTypeIlEE) , "
        "expected: (N11onnxruntime17PrimitiveDataTypeIiEE)",
        "Tensors of different dtypes: torch.int64 and torch.float32",
        # a combination whose storage types agree: the size is what has no kernel
        "FWD: Unsupported hidden_size or types: 10944BFloat16BFloat16BFloat16Float",
        # Chinese: a type not refused
        "这个模型在fp16下运行很慢",
    ],
)
def test_look_alikes_of_the_unseen_families(text: str) -> None:
    assert classify(text) is None


XFORMERS = """\
NotImplementedError: No operator found for `memory_efficient_attention_forward` with inputs:
     query       : shape=(1, 4096, 8, 40) ({dtype})
`flshattF` is not supported because:
    {device}dtype={dtype} (supported: {{torch.float16, torch.bfloat16}})
`cutlassF` is not supported because:
    {device}operator wasn't built - see `python -m xformers.info` for more info
`smallkF` is not supported because:
    {device}max(query.shape[-1] != value.shape[-1]) > 32
    unsupported embed per head: 40
"""


def test_candidate_operators_are_read_by_their_reasons() -> None:
    # written for this test, in xformers' shape: an operator refused for the dtype alone names the precision
    c = general(XFORMERS.format(dtype="torch.float32", device=""))
    assert (c.category, c.precision, c.family) == ("unsupported", "fp32", "attention")
    assert "(flshattF)" in c.summary
    # every operator refuses the device as well (the tensors are on the CPU): the dtype is still named among the
    # reasons, and the people who labelled the corpus read it as refused (tests/corpus/labelling-rules.md)
    both = general(XFORMERS.format(dtype="torch.float32", device="device=cpu (supported: {'cuda'})\n    "))
    assert (both.category, both.precision) == ("unsupported", "fp32")
    # no operator names a dtype among its reasons (the device, a head size): no dtype error
    assert (
        classify(
            XFORMERS.replace("dtype={dtype} (supported: {{torch.float16, torch.bfloat16}})", "").format(
                dtype="torch.float32", device="device=cpu (supported: {'cuda'})\n    "
            )
        )
        is None
    )
    # on the CPU, an operator that would run in another dtype makes it the precision's problem again
    cpu = XFORMERS.format(dtype="torch.float16", device="device=cpu (supported: {'cuda'})\n    ")
    cpu += "`smallkF2` is not supported because:\n    dtype=torch.float16 (supported: {torch.float32})\n"
    assert general(cpu).precision == "fp16"


def test_a_precision_setting_may_refuse_fp32_and_an_op_may_not() -> None:
    assert general("XLA autocast only supports bfloat16, got torch.float32").precision == "fp32"
    assert classify("RuntimeError: my_op has no support for float32") is None


def test_a_refusal_that_names_no_precision_says_so() -> None:
    c = general("Tensor type not supported in NCCL")
    assert (
        c.summary
        == "a collective communication backend (NCCL) refused the tensors' dtype (the message does not name it)"
    )
    assert general("RuntimeError: Invalid scalar type for NCCL all_reduce of torch.bfloat16").summary == (
        "a collective communication backend (NCCL) refused bf16 tensors"
    )
    c = general("RuntimeError: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasLtMatmulAlgoGetHeuristic(h, desc)`")
    assert c.summary == (
        "cuBLAS (CUBLAS_STATUS_NOT_SUPPORTED) refused a GEMM's dtypes on this GPU (the message does not name them)"
    )
