"""Helpers for Hugging Face transformers model tests: what those tests would write by hand.

- :func:`dtype_kwargs`: the keyword that passes a dtype to ``from_pretrained`` /
  ``from_config`` (``dtype=`` from transformers 4.56, ``torch_dtype=`` before);
- :func:`load_model`: ``from_pretrained`` in a test's precision, on its device;
- :func:`tiny_model` / :func:`tiny_config`: a small random-weight model of a named
  architecture (``qwen3``, ``qwen2``, ``llama``, ``mistral``, ``gpt2``) for tests that
  need a real model without downloading weights.

Accepts every form a precision takes in a test: the ``model_dtype`` fixture (a
``torch.dtype``), the ``model_precision`` record, a name or alias (``"bf16"``).
``amp_*`` and ``tf32`` load fp32 weights: their difference is a runtime context the
``model_dtype`` fixture enters, not a storage dtype.

transformers (and torch) are imported when a helper is called, never at import time;
without transformers each helper raises :class:`MissingTransformersError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import precisions as _p

__all__ = [
    "DTYPE_KWARG_SINCE",
    "TINY_ARCHS",
    "MissingTransformersError",
    "dtype_kwargs",
    "load_model",
    "tiny_config",
    "tiny_model",
]

#: transformers renamed ``torch_dtype=`` to ``dtype=`` in 4.56 (huggingface/transformers#39782).
DTYPE_KWARG_SINCE = (4, 56)

_INSTALL_HINT = 'pytest_dtypegate.transformers needs transformers: pip install "pytest-dtypegate[transformers]"'


class MissingTransformersError(ImportError):
    """transformers is not installed (or cannot be imported)."""


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:  # also `sys.modules["transformers"] = None`
        raise MissingTransformersError(_INSTALL_HINT) from exc
    return transformers


def _release(version: str) -> tuple[int, ...]:
    """``"4.56.0.dev0"`` -> ``(4, 56, 0)``: the release numbers, pre/dev tags ignored."""
    parts: list[int] = []
    for piece in version.split("."):
        m = re.match(r"\d+", piece)
        if m is None:
            break
        parts.append(int(m.group(0)))
        if m.end() != len(piece):
            break
    return tuple(parts)


def _storage_dtype(precision: Any) -> Any:
    """A torch.dtype for every form a precision takes (dtype, record, name, alias)."""
    import torch

    if isinstance(precision, torch.dtype):
        return precision
    dtype = getattr(precision, "dtype", None)  # the model_precision record
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        name = _p.resolve(precision, allow_auto=False)
    except _p.UnknownPrecisionError as exc:
        if isinstance(precision, str) and precision.strip().lower() == _p.AUTO:
            raise ValueError(
                "'auto' is resolved per device by the plugin: pass model_dtype or model_precision "
                "(for transformers' own dtype='auto', pass that keyword yourself)"
            ) from None
        raise ValueError(str(exc)) from None
    return _p.torch_dtype(name)


def _kwarg_name() -> str:
    version = str(getattr(_transformers(), "__version__", "0"))
    return "dtype" if _release(version) >= DTYPE_KWARG_SINCE else "torch_dtype"


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """``{"dtype": d}`` on transformers >= 4.56, ``{"torch_dtype": d}`` before.

    ``dtype`` is a ``torch.dtype``, the ``model_precision`` record, or a precision
    name or alias; the value passed is the storage dtype (fp32 for ``tf32``/``amp_*``)::

        model = AutoModelForCausalLM.from_pretrained(path, **dtype_kwargs(model_dtype))
    """
    return {_kwarg_name(): _storage_dtype(dtype)}


def _check_loadable(dtype: Any) -> None:
    import torch

    fp8 = {getattr(torch, name, None) for name in ("float8_e4m3fn", "float8_e5m2")} - {None}
    if dtype in fp8:
        raise ValueError(
            f"transformers cannot create or load weights stored as {dtype}: fp8 models are loaded "
            "through a quantization_config (e.g. FineGrainedFP8Config); load in bf16 and quantize"
        )


def _model_class(cls_or_auto: Any) -> Any:
    if isinstance(cls_or_auto, str):
        transformers = _transformers()
        cls = getattr(transformers, cls_or_auto, None)
        if cls is None or not hasattr(cls, "from_pretrained"):
            raise ValueError(
                f"transformers has no model class {cls_or_auto!r}; pass a class such as "
                "AutoModelForCausalLM or its name"
            )
        return cls
    if not hasattr(cls_or_auto, "from_pretrained"):
        raise TypeError(f"{cls_or_auto!r} has no from_pretrained(); pass a transformers model or Auto class")
    return cls_or_auto


def load_model(
    cls_or_auto: Any,
    name_or_path: str | Any,
    precision_or_dtype: Any,
    device: str | Any = "cpu",
    **kw: Any,
) -> Any:
    """``cls.from_pretrained(name_or_path)`` in a test's precision, on its device, in eval mode.

    ``cls_or_auto`` is a model class or Auto class (or its name in ``transformers``,
    e.g. ``"AutoModelForCausalLM"``); ``precision_or_dtype`` is ``model_dtype``,
    ``model_precision`` or a name; ``device`` is ``model_device``.  Other keywords go
    to ``from_pretrained``.  The dtype keyword is the installed transformers' own
    (:func:`dtype_kwargs`); passing ``dtype=``/``torch_dtype=`` here is an error.
    """
    for key in ("dtype", "torch_dtype"):
        if key in kw:
            raise TypeError(f"load_model() got {key}=; give the precision as its third argument instead")
    cls = _model_class(cls_or_auto)
    dtype = _storage_dtype(precision_or_dtype)
    _check_loadable(dtype)
    model = cls.from_pretrained(name_or_path, **dtype_kwargs(dtype), **kw)
    return model.to(device).eval()


# -- tiny models ---------------------------------------------------------------
# Small enough to build in milliseconds and run generate() on a laptop CPU; big enough
# to exercise everything a real checkpoint runs: grouped-query attention (4 heads,
# 2 kv heads), RoPE, RMSNorm, gated MLP, the KV cache.  Special ids are inside the
# vocabulary so generate() has real pad/eos tokens (and logs no pad-token warning).
_SPECIAL = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
_DECODER = {
    "vocab_size": 128,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    **_SPECIAL,
}

#: arch -> (config class, causal-LM class, default config values)
TINY_ARCHS: dict[str, tuple[str, str, Mapping[str, Any]]] = {
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {**_DECODER, "head_dim": 16}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(_DECODER)),
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(_DECODER)),
    "mistral": ("MistralConfig", "MistralForCausalLM", {**_DECODER, "sliding_window": None}),
    "gpt2": (
        "GPT2Config",
        "GPT2LMHeadModel",
        {"vocab_size": 128, "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 256, **_SPECIAL},
    ),
}


def _arch(arch: str) -> tuple[str, str, Mapping[str, Any]]:
    key = arch.strip().lower() if isinstance(arch, str) else arch
    if key not in TINY_ARCHS:
        raise ValueError(f"no tiny model for architecture {arch!r}; known: {', '.join(TINY_ARCHS)}")
    return TINY_ARCHS[key]


def tiny_config(arch: str, **config_overrides: Any) -> Any:
    """The tiny config of ``arch`` (see :data:`TINY_ARCHS`), with overrides.

    An override must name a field the config has (``hidden_size``, ``num_hidden_layers``,
    ``n_layer`` for gpt2 ...): transformers would silently keep a misspelt one.
    """
    config_name, _, defaults = _arch(arch)
    transformers = _transformers()
    config_cls = getattr(transformers, config_name, None)
    if config_cls is None:
        raise ValueError(
            f"transformers {transformers.__version__} has no {config_name}: {arch!r} needs a newer transformers"
        )
    reference = config_cls()
    unknown = sorted(k for k in config_overrides if not hasattr(reference, k))
    if unknown:
        raise ValueError(f"{config_name} has no field {', '.join(map(repr, unknown))}")
    return config_cls(**{**defaults, **config_overrides})


def tiny_model(
    arch: str,
    dtype: Any = "fp32",
    device: str | Any = "cpu",
    seed: int = 0,
    *,
    attn_implementation: str | None = None,
    **config_overrides: Any,
) -> Any:
    """A tiny random-weight causal LM of ``arch``, in ``dtype`` on ``device``, in eval mode.

    No download: the model is built from :func:`tiny_config` with ``from_config``.
    The weights depend on ``seed`` only: they are drawn in fp32 under a forked RNG
    (the global torch RNG is left as it was) and then cast, so ``tiny_model("qwen3",
    torch.bfloat16)`` is ``tiny_model("qwen3")`` rounded to bf16 -- what comparing a
    precision with fp32 needs.  ``dtype`` takes ``model_dtype``, ``model_precision``
    or a name; ``config_overrides`` change the config (``num_hidden_layers=1``).
    """
    import torch

    _, model_name, _ = _arch(arch)
    config = tiny_config(arch, **config_overrides)
    target = _storage_dtype(dtype)
    _check_loadable(target)
    auto = _transformers().AutoModelForCausalLM
    extra: dict[str, Any] = {}
    if attn_implementation is not None:
        extra["attn_implementation"] = attn_implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = auto.from_config(config, **dtype_kwargs(torch.float32), **extra)
    if type(model).__name__ != model_name:  # the Auto mapping changed under us
        raise RuntimeError(f"expected {model_name} for {arch!r}, transformers built {type(model).__name__}")
    return model.to(device=device, dtype=target).eval()
