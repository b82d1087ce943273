"""The general reader's wordings that the final part of the corpus missed when it was first scored
(tests/corpus/dtype_errors.toml, split final): a refusal with a word between "not" and "supported", "un-supported",
a bare "Invalid scalar type" or "Data type not supported", a device "without native FP16 support", C++ checks on
``scalar_type()``, a list of what is supported followed by what was given, and a loss scale at zero; then the
wordings that probing the reader with the shapes of other real messages found missing (dtype requirements,
refusals that end their sentence, conversion intrinsics, NaN losses in a low precision); with the look-alikes
of each.

Every text here is written for this test, in the shape of the family's real messages (the real ones are the
corpus's), so that the reader is held to the family and not to the texts it was tuned on."""

from __future__ import annotations

import pytest

from pytest_dtypegate.diagnosis import Classification, classify


def general(text: str) -> Classification:
    c = classify(text)
    assert c is not None, text
    assert c.layer == "general", c
    return c


@pytest.mark.parametrize(
    ("text", "category", "precision", "other"),
    [
        # a word between "not" and "supported", spelt right or not
        ("RuntimeError: BFloat16 tensors are not presently supported for gloo reductions", "unsupported", "bf16", None),
        ("ValueError: Float8 inputs are not currenlty supported by this kernel", "unsupported", "fp8_e4m3", None),
        ("TypeError: torch.float16 is not fully supported on this backend", "unsupported", "fp16", None),
        # "un-supported", and a type refusal that names nothing
        ("RuntimeError: un-supported dtype: torch.float16", "unsupported", "fp16", None),
        ("NotImplementedError: Un-supported data type bfloat16 in quantize()", "unsupported", "bf16", None),
        ("RuntimeError: Invalid scalar type", "unsupported", None, None),
        ("E   RuntimeError: Data type not supported", "unsupported", None, None),
        ("ValueError: Unsupported data type", "unsupported", None, None),
        # a device or build without a precision
        ("RuntimeError: this device does not have BF16 support", "unsupported", "bf16", None),
        ("[W] Running fp16 layers on hardware without native FP16 support is slow", "unsupported", "fp16", None),
        ("the platform has no float16 support", "unsupported", "fp16", None),
        # C++ checks: one type required (a mismatch naming that side), several allowed (a list: the refused one
        # unnamed), or two tensors' types equal
        ("RuntimeError: Expected x.scalar_type() == at::kHalf to be true, but got false.", "mismatch", "fp16", None),
        (
            "RuntimeError: Expected w.scalar_type() == torch::kBFloat16 || w.scalar_type() == torch::kHalf to be true",
            "unsupported",
            None,
            None,
        ),
        ("RuntimeError: Expected input.dtype() == weight.dtype() to be true, but got false.", "mismatch", None, None),
        ("AssertionError: q.dtype == k.dtype", "mismatch", None, None),
        # a list of what is supported that names no precision, then what was given
        ("ValueError: this kernel only supports 32-bit floats, but got torch.float16", "unsupported", "fp16", None),
        ("TypeError: Quantization only accepts 16/32-bit floats, but was given bfloat16", "unsupported", "bf16", None),
        # a requirement on a tensor's dtype, a refusal ending its sentence, a precision a device cannot use
        ("RuntimeError: q must have dtype fp16 or bf16", "unsupported", None, None),
        (
            "ValueError: weights in float8_e4m3fn, which your GPU (sm_80) does not support.",
            "unsupported",
            "fp8_e4m3",
            None,
        ),
        ("ValueError: Can't use dtype torch.bfloat16 with CPU device", "unsupported", "bf16", None),
        ("RuntimeError: Cannot run float16 on this device", "unsupported", "fp16", None),
        (
            "NotImplementedError: aten::_scaled_mm not supported on this device (requires sm_89)",
            "unsupported",
            "fp8_e4m3",
            None,
        ),
        ("RuntimeError: Half2 is not supported for this arch", "unsupported", "fp16", None),
        ("LLVM ERROR: Cannot select: intrinsic %llvm.nvvm.f2bf16.rn", "unsupported", "bf16", None),
        ("transformer_engine: cuBLAS Error: the requested functionality is not supported", "unsupported", None, None),
        # two types at once, and a C++ check's "but got false" that is no second operand
        ("error: 'mps.add' op detected operation with both F16 and F32 operands", "mismatch", "fp16", "fp32"),
        (
            "RuntimeError: Expected x.dtype() == at::kHalf || x.dtype() == at::kBFloat16 to be true, but got false.",
            "unsupported",
            None,
            None,
        ),
        # a C++ check written with a variable, numpy without the type, operands that must equal, "expected X, got Y"
        (
            "RuntimeError: Expected q_dtype == torch::kFloat16 || ((is_sm8x || is_sm90) && q_dtype == "
            "torch::kBFloat16) to be true, but got false.",
            "unsupported",
            None,
            None,
        ),
        ("TypeError: Cannot interpret 'torch.bfloat16' as a data type", "unsupported", "bf16", None),
        ("RuntimeError: input.dtype (float) must equal weight.dtype (c10::BFloat16)", "mismatch", "bf16", "fp32"),
        ("TypeError: Expected all inputs to be float16, got float32", "mismatch", "fp16", "fp32"),
        ("CompilationError: invalid operands of type fp16 and fp32", "mismatch", "fp16", "fp32"),
        # types refused together: the first named, whichever stands nearest the phrase
        ("RuntimeError: fp16 and bf16 are not supported on this device", "unsupported", "fp16", None),
        ("ValueError: FP8 and BF16 are unsupported on T4", "unsupported", "fp8_e4m3", None),
        ("this build does not support float16, bfloat16", "unsupported", "fp16", None),
        # the sealed part's wordings: operands in their slots, old torch, "does not has", "for Half" at the end
        ("got query.dtype: struct c10::Half key.dtype: float and value.dtype: float", "mismatch", "fp16", "fp32"),
        ("RuntimeError: expected Half tensor (got Float tensor)", "mismatch", "fp16", "fp32"),
        ("[W] Device does not has fast native bf16.", "unsupported", "bf16", None),
        ("RuntimeError: _thnn_conv3d_forward not supported on CPUType for BFloat16", "unsupported", "bf16", None),
        ("fp16 run stops: min loss scale reached", "nonfinite", "fp16", None),
        # old torch's "doesn't implement", a dtype "not a supported dtype", cuBLAS's architecture status
        ("TypeError: Type torch.cuda.HalfTensor doesn't implement stateless method addmm", "unsupported", "fp16", None),
        ("RuntimeError: 'bf16' is not a supported dtype on Tesla V100", "unsupported", "bf16", None),
        (
            "RuntimeError: CUDA error: CUBLAS_STATUS_ARCH_MISMATCH when calling `cublasGemmEx(h, a, CUDA_R_16BF, b)`",
            "unsupported",
            "bf16",
            None,
        ),
        # an MLIR error with its note, each line time-stamped
        (
            "2024-05-01T10:00:00Z loc(mps_add): error: 'mps.add' op requires the same element type for all operands\n"
            "2024-05-01T10:00:00Z note: see current operation: (tensor<1x4xf16>, tensor<1xf32>) -> tensor<*xf32>",
            "mismatch",
            "fp16",
            "fp32",
        ),
        # the second sealed part's wordings
        (
            "RuntimeError: cuFFT only supports dimensions whose sizes are powers of two when computing in half "
            "precision, but got a signal size of[1280]",
            "unsupported",
            "fp16",
            None,
        ),
        (
            "gather (nccl backend) does not work for any tensor type other than Float and Half",
            "unsupported",
            None,
            None,
        ),
        ("The `-1e9` can't be converted to half precision", "nonfinite", "fp16", None),
        ("NaN when fine-tuning llama with bf16 on 8 GPUs", "nonfinite", "bf16", None),
        ("`inf` output from layer_norm when using FP16", "nonfinite", "fp16", None),
        # a supported list then what was given; ONNX Runtime naming the node's type; a GPU architecture, no type
        (
            "ValueError: Quantization is only supported for float16 or bfloat16 weights, got torch.float32",
            "unsupported",
            "fp32",
            None,
        ),
        (
            "NotImplemented: [ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for "
            "ConvTranspose(11) node with name 'ConvTranspose_12' (tensor(float16))",
            "unsupported",
            "fp16",
            None,
        ),
        ("Your GPU doesn't support FlashAttention 2 (requires Ampere or newer)", "unsupported", None, None),
        ("FA2 is not supported on Turing GPUs", "unsupported", None, None),
        # the third sealed part's wordings
        (
            "Fail: [ONNXRuntimeError] : 1 : FAIL : Type Error: Type parameter (T) of Optype (Mul) bound to different "
            "types (tensor(float) and tensor(float16) in node (Mul_3).",
            "mismatch",
            "fp16",
            "fp32",
        ),
        (
            "error: could not convert 'tmp0' from 'Vectorized<float>' to 'Vectorized<c10::Half>'",
            "mismatch",
            "fp16",
            "fp32",
        ),
        ("RuntimeError: Expected B.dtype() == at::kHalf to be true, but got false.", "mismatch", "fp16", None),
        ('assertion error "assert kv.dtype == torch.bfloat16"', "mismatch", "bf16", None),
        ("xpu not support float64", "unsupported", "fp64", None),
        ("[Bug] 推理fp16出现NaN", "nonfinite", "fp16", None),
        ("`index_add_()`: Expected `self.dtype` to be equal to `source.dtype`", "mismatch", None, None),
        # "should be same" with Ascend type names; a list after "should be in" / "only compatible with", then what
        # was given; Lightning's precision names
        (
            "EZ9999: The dtype of x1 and x2 should be same, but x1 is DT_FLOAT16, x2 is DT_FLOAT",
            "mismatch",
            "fp16",
            "fp32",
        ),
        ("query dtype should be in [DT_FLOAT16, DT_BFLOAT16], but got DT_FLOAT.", "unsupported", "fp32", None),
        (
            "ValueError: kernels are only compatible with float16 activations, but got torch.bfloat16",
            "unsupported",
            "bf16",
            None,
        ),
        (
            "MisconfigurationException: `Trainer(precision='16-mixed')` is not supported on CPU",
            "unsupported",
            "fp16",
            None,
        ),
        (
            "UserWarning: 16-bit mixed precision is not supported on CPU; falling back to 32-bit",
            "unsupported",
            "fp16",
            None,
        ),
        # the fourth sealed part's wordings
        (
            "ValueError: The quantization method gptq is not supported for the current GPU. Minimum capability: 80. "
            "Current capability: 70.",
            "unsupported",
            None,
            None,
        ),
        (
            "RuntimeError: flash attention backward for head dim 256 requires A100 or H100 GPUs",
            "unsupported",
            None,
            None,
        ),
        ("SafetensorError: Dtype not understood: F8_E5M2", "unsupported", "fp8_e5m2", None),
        (
            "RuntimeError: gemm input type at::BFloat16 and output type float is not supported",
            "unsupported",
            "bf16",
            None,
        ),
        (
            "Promotion for Float8 Types is not supported, attempted to promote Float8_e4m3fn and Float",
            "mismatch",
            "fp8_e4m3",
            "fp32",
        ),
        (
            "expected input and grid to have same dtype, but input has c10::Half and grid has float",
            "mismatch",
            "fp16",
            "fp32",
        ),
        # the fifth sealed part's wordings
        ("AssertionError: --half only compatible with GPU export, i.e. use --device 0", "unsupported", "fp16", None),
        (
            "FP16 export is supported only when exporting on GPU. Please pass --device cuda.",
            "unsupported",
            "fp16",
            None,
        ),
        ("RuntimeError: Cannot convert ScalarType Float8_e5m2 to hipDataType.", "unsupported", "fp8_e5m2", None),
        (
            "Error: SM90 kernel is not available. Make sure you use GPUs with compute capability 9.0",
            "unsupported",
            None,
            None,
        ),
        (
            "ncclInvalidArgument: Invalid value. FP8 reduction support begins with sm90 capable devices.",
            "unsupported",
            "fp8_e4m3",
            None,
        ),
        ("RuntimeError: output tensor must have the same type as input tensor", "mismatch", None, None),
        (
            "RuntimeError: Detected mismatch between collectives on ranks. ... Collectives differ in the following "
            "aspects:   Tensor Tensor dtypes: Floatvs BFloat16",
            "mismatch",
            "bf16",
            "fp32",
        ),
        (
            "RuntimeError: _weight_int8pack_mm_cpu : expect A to be float16 or bfloat16 tensor.",
            "unsupported",
            None,
            None,
        ),
        # a loss, output or gradient reported as NaN or inf in a low precision
        ("ValueError: Loss is NaN in fp16 training at step 120", "nonfinite", "fp16", None),
        ("GradScaler: found inf in fp16 gradients at every step", "nonfinite", "fp16", None),
        ("Getting NaN loss with bf16 mixed precision", "nonfinite", "bf16", None),
        # a loss or gradient scale that reached zero
        ("Step 200  loss nan  fp16 loss scale: 0.0", "nonfinite", "fp16", None),
        ("WARNING trainer: grad_scale=0 after 40 skipped steps", "nonfinite", "fp16", None),
    ],
)
def test_the_final_parts_wordings(text: str, category: str, precision: str | None, other: str | None) -> None:
    c = general(text)
    assert (c.category, c.precision, c.other) == (category, precision, other)


@pytest.mark.parametrize(
    "text",
    [
        # a type refusal about a type that is not a float precision, or about no type at all
        "Tensor type not supported",
        "RuntimeError: Invalid scalar type for a torch.BoolTensor on this backend",
        "RuntimeError: Unsupported data type: Long",
        "RuntimeError: un-supported device: mps",
        "the card does not have tensor core support",
        "RuntimeError: Expected index.scalar_type() == at::kLong to be true, but got false.",
        "ValueError: Blockwise quantization only supports 16/32-bit floats, but got torch.uint8",
        # an integer operand in a type's slot ("long int" is how C++ prints int64), NaN in fp32, a bare CUDA status
        "RuntimeError: Expected attn_mask dtype to be bool or float or to match query dtype, but got "
        "attn_mask.dtype: long int and  query.dtype: c10::Half instead.",
        "Loss: nan at step 10 (fp32 run)",
        "ValueError: the loss is nan in float32 as well",
        "CUDA error: the requested functionality is not supported",
        "this is taking too long in fp16",
        # a refused type that is no precision, beside a list of supported ones that are; integer operands
        "TypeError: can't convert np.ndarray of type numpy.object_. The only supported types are: float64, float32, "
        "float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool.",
        "TypeError: Cannot interpret 'torch.int64' as a data type",
        "CompilationError: invalid operands of type int32 and int64",
        # an option refused for a format that is not the last word; a routine loss-scale step; an INFO record
        "ValueError: `margin` is not supported for FP8 delayed scaling.",
        "overflow detected, setting loss scale to: 32768.0",
        "2020-03-23 11:41:18 | INFO | fairseq.trainer | NOTE: overflow detected, setting loss scale to: 0.0009765625",
        # an operator list whose reasons name no dtype (a head size, a bias's alignment, a capability)
        "NotImplementedError: No operator found for `memory_efficient_attention_forward` with inputs:\n"
        "     query       : shape=(2, 498, 8, 32) (torch.float16)\n"
        "`fa3F@0.0.0` is not supported because:\n"
        "    requires device with capability > (9, 0) but your GPU has capability (8, 9) (too old)\n"
        "    only head-dim 64, 128, 192 or 256 is supported\n"
        "`cutlassF-pt` is not supported because:\n"
        "    attn_bias.stride(-2) % 8 != 0",
        # a configuration typo rather than a refusal; cuBLAS's architecture status with no type; an integer overflow
        "ValueError: 'torch.bfloat16' is not a valid dtype",
        "RuntimeError: cuBLAS error: CUBLAS_STATUS_ARCH_MISMATCH",
        "RuntimeError: value cannot be converted to type uint8_t without overflow",
        # a plural legacy tensor type that is no precision, quotes lost
        "Collective operations do not work with torch.BoolTensors on gloo and raise Invalid scalar type",
        # a routine loss-scale step at any scale; a finiteness requirement; NaN with no low precision near it
        "| WARNING: overflow detected, setting loss scale to: 0.015625",
        "ValueError: bf16.loss_scale must be a finite number (not inf/-inf/nan)",
        "Warning: NaN or Inf found in input tensor.",
        "Loss: nan at step 10 in float32",
        "Tensor self not implemented for DT_COMPLEX32, should be in dtype support list [DT_FLOAT16,DT_FLOAT,DT_BFLOAT16].",
        # a type the lexicon does not know after "unsupported dtype"; integer formats; ONNX without a type named
        "RuntimeError: Unsupported dtype: torch.uint12",
        "RuntimeError: Unsupported dtype: torch.int4",
        "NOT_IMPLEMENTED : Could not find an implementation for Abs(13) node with name 'Abs0'",
        "This feature requires torch>=2.1",
        # a width that is no precision name
        "RuntimeError: tensor of 16 elements is not supported on CPU",
        # collectives that differ in shapes only, their fingerprints naming two dtypes
        "RuntimeError: Detected mismatch between collectives on ranks. Rank 1 is running collective: "
        "CollectiveFingerPrint(TensorDtypes=BFloat16), but Rank 0 is running collective: "
        "CollectiveFingerPrint(TensorDtypes=Float).Collectives differ in the following aspects:   Tensor Tensor "
        "shapes: 195812480vs 51123456",
        # a loss scale that is not zero
        "Step 200  loss 2.31  fp16 loss scale: 0.5",
        "grad_scale=0.0625",
        "loss scale: 0.001",
    ],
)
def test_look_alikes_of_the_final_parts_wordings(text: str) -> None:
    assert classify(text) is None


def test_a_catalogue_message_that_lost_its_quotes_in_a_paste_is_still_the_catalogues() -> None:
    c = classify(
        "ValueError: FP16 Mixed precision training with AMP or APEX (--fp16) and FP16 half precision evaluation "
        "(--fp16_full_eval) can only be used on CUDA devices."
    )
    assert c is not None and (c.layer, c.entry, c.precision) == ("catalogue", "transformers-fp16-cuda-only", "fp16")


def test_a_message_in_markdown_emphasis_is_read_without_it() -> None:
    c = classify("_RuntimeError: expected scalar type Float but found BFloat16_")
    assert c is not None and (c.entry, c.precision, c.other) == ("expected-scalar-type", "bf16", "fp32")
