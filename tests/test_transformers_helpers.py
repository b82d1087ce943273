"""pytest_dtypegate.transformers: dtype keyword, load_model, tiny models; real transformers on the CPU."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_dtypegate import transformers as H

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

INSTALL = 'pytest_dtypegate.transformers needs transformers: pip install "pytest-dtypegate[transformers]"'
PROMPT = [[5, 17, 42, 99, 7, 3, 64, 21]]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def set_version(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    # the live module: transformers 5 swaps its sys.modules entry on some lazy
    # attribute lookups, so the object imported at the top may be stale
    monkeypatch.setattr(sys.modules["transformers"], "__version__", version)


@dataclass(frozen=True)
class FakeModelPrecision:
    name: str
    dtype: Any


# -- dtype_kwargs --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("4.40.0", "torch_dtype"),
        ("4.55.4", "torch_dtype"),
        ("4.56.0.dev0", "dtype"),  # the rename landed during 4.56's development
        ("4.56.0", "dtype"),
        ("4.57.1", "dtype"),
        ("5.0.0rc1", "dtype"),
    ],
)
def test_dtype_kwargs_follows_the_installed_version(monkeypatch: pytest.MonkeyPatch, version: str, key: str) -> None:
    set_version(monkeypatch, version)
    assert H.dtype_kwargs(torch.bfloat16) == {key: torch.bfloat16}


def test_dtype_kwargs_on_the_installed_transformers() -> None:
    expected = "dtype" if H._release(transformers.__version__) >= (4, 56) else "torch_dtype"
    assert list(H.dtype_kwargs(torch.float16)) == [expected]


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (torch.float16, torch.float16),
        ("bf16", torch.bfloat16),
        ("bfloat16", torch.bfloat16),
        ("torch.float16", torch.float16),
        ("amp_bf16", torch.float32),  # autocast: fp32 weights
        ("tf32", torch.float32),
        (FakeModelPrecision("bf16", torch.bfloat16), torch.bfloat16),
    ],
)
def test_dtype_kwargs_takes_every_form_of_a_precision(value: Any, dtype: Any) -> None:
    assert list(H.dtype_kwargs(value).values()) == [dtype]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "auto",
            "'auto' is resolved per device by the plugin: pass model_dtype or model_precision (for transformers' "
            "own dtype='auto', pass that keyword yourself)",
        ),
        (
            "bf17",
            "unknown precision 'bf17'; valid names: fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, fp64, "
            "amp_bf16, amp_fp16",
        ),
    ],
)
def test_dtype_kwargs_rejects_what_is_not_a_precision(value: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        H.dtype_kwargs(value)
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "release"), [("4.56.0.dev0", (4, 56, 0)), ("5.0.0rc1", (5, 0, 0)), ("4.40", (4, 40))])
def test_release_numbers(text: str, release: tuple[int, ...]) -> None:
    assert H._release(text) == release


# -- without transformers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda: H.dtype_kwargs(torch.float16),
        lambda: H.tiny_model("qwen3"),
        lambda: H.tiny_config("llama"),
        lambda: H.load_model("AutoModelForCausalLM", "somewhere", "fp32"),
    ],
    ids=["dtype_kwargs", "tiny_model", "tiny_config", "load_model"],
)
def test_every_helper_says_how_to_install_transformers(monkeypatch: pytest.MonkeyPatch, call: Any) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # what `import transformers` sees when absent
    with pytest.raises(H.MissingTransformersError) as info:
        call()
    assert str(info.value) == INSTALL
    assert isinstance(info.value, ImportError)


def test_importing_the_helpers_imports_neither_torch_nor_transformers() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["transformers"] = None
        import pytest_dtypegate.transformers, pytest_dtypegate.tolerances, pytest_dtypegate.finite
        print(sorted(m for m in ("torch", "transformers") if sys.modules.get(m) is not None))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- tiny models ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arch", "cls"),
    [
        ("qwen3", "Qwen3ForCausalLM"),
        ("qwen2", "Qwen2ForCausalLM"),
        ("llama", "LlamaForCausalLM"),
        ("mistral", "MistralForCausalLM"),
        ("gpt2", "GPT2LMHeadModel"),
    ],
)
def test_tiny_model_builds_and_generates(arch: str, cls: str) -> None:
    rng = torch.get_rng_state()
    model = H.tiny_model(arch, torch.bfloat16, "cpu", seed=0)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is left alone
    assert type(model).__name__ == cls
    assert model.dtype == torch.bfloat16
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) < 200_000
    ids = torch.tensor(PROMPT)
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, 8, 128)
    out = model.generate(ids, max_new_tokens=3, do_sample=False)
    assert out.shape == (1, 11)
    assert torch.equal(out[:, :8], ids)


def test_tiny_model_weights_depend_on_the_seed_only_and_are_cast_from_fp32() -> None:
    a, b, c = H.tiny_model("llama"), H.tiny_model("llama"), H.tiny_model("llama", seed=1)
    low = H.tiny_model("llama", "bf16")
    for pa, pb, plow in zip(a.parameters(), b.parameters(), low.parameters()):
        assert torch.equal(pa, pb)
        assert torch.equal(plow, pa.to(torch.bfloat16))
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_tiny_model_config_overrides_and_attention() -> None:
    model = H.tiny_model("qwen3", num_hidden_layers=1, vocab_size=64, attn_implementation="eager")
    assert len(model.model.layers) == 1
    assert model.config.vocab_size == 64
    assert model.config._attn_implementation == "eager"
    assert H.tiny_config("gpt2", n_layer=3).n_layer == 3


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: H.tiny_model("bert"),
            ValueError,
            "no tiny model for architecture 'bert'; known: qwen3, qwen2, llama, mistral, gpt2",
        ),
        (lambda: H.tiny_config("qwen3", hiden_size=32), ValueError, "Qwen3Config has no field 'hiden_size'"),
        (
            lambda: H.tiny_model("qwen3", "fp8_e4m3"),
            ValueError,
            "transformers cannot create or load weights stored as torch.float8_e4m3fn: fp8 models are loaded "
            "through a quantization_config (e.g. FineGrainedFP8Config); load in bf16 and quantize",
        ),
    ],
)
def test_tiny_model_errors(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_tiny_model_on_a_transformers_without_the_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    # as qwen3 on a transformers before 4.51: the config class does not exist
    monkeypatch.setattr(sys.modules["transformers"], "__version__", "4.45.2")
    monkeypatch.setitem(H.TINY_ARCHS, "future", ("FutureConfig", "FutureForCausalLM", {}))
    with pytest.raises(ValueError) as info:
        H.tiny_model("future")
    assert str(info.value) == "transformers 4.45.2 has no FutureConfig: 'future' needs a newer transformers"


# -- load_model -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        model = H.tiny_model("qwen3")
        path = tmp_path_factory.mktemp("tiny-qwen3")
        model.save_pretrained(path)
        yield path, model


@pytest.mark.parametrize(
    ("cls", "precision", "dtype"),
    [
        ("AutoModelForCausalLM", "bf16", torch.bfloat16),
        (transformers.AutoModelForCausalLM, torch.float16, torch.float16),
        (transformers.Qwen3ForCausalLM, FakeModelPrecision("amp_bf16", torch.float32), torch.float32),
    ],
)
def test_load_model_loads_in_the_precision_on_the_device(
    saved_qwen3: tuple[Path, Any], cls: Any, precision: Any, dtype: Any
) -> None:
    path, original = saved_qwen3
    model = H.load_model(cls, str(path), precision, "cpu")
    assert type(model).__name__ == "Qwen3ForCausalLM"
    assert model.dtype == dtype
    assert model.device.type == "cpu"
    assert not model.training
    for loaded, saved in zip(model.parameters(), original.parameters()):
        assert torch.equal(loaded, saved.to(dtype))


def test_load_model_passes_the_keyword_of_old_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Model:
        def to(self, device: str) -> Model:
            seen["device"] = device
            return self

        def eval(self) -> Model:
            return self

    class OldAuto:
        @classmethod
        def from_pretrained(cls, name: str, **kw: Any) -> Model:
            seen.update(name=name, **kw)
            return Model()

    set_version(monkeypatch, "4.45.2")
    H.load_model(OldAuto, "org/model", "fp16", "cuda:1", revision="main")
    assert seen == {"name": "org/model", "torch_dtype": torch.float16, "revision": "main", "device": "cuda:1"}


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (
            ("AutoModelForCausalLM", "p", "bf16"),
            {"dtype": torch.float16},
            TypeError,
            "load_model() got dtype=; give the precision as its third argument instead",
        ),
        (
            ("AutoModelForCausalLM", "p", "bf16"),
            {"torch_dtype": torch.float16},
            TypeError,
            "load_model() got torch_dtype=; give the precision as its third argument instead",
        ),
        (
            ("AutoModelForCasualLM", "p", "bf16"),
            {},
            ValueError,
            "transformers has no model class 'AutoModelForCasualLM'; pass a class such as AutoModelForCausalLM "
            "or its name",
        ),
        (
            (dict, "p", "bf16"),
            {},
            TypeError,
            "<class 'dict'> has no from_pretrained(); pass a transformers model or Auto class",
        ),
    ],
)
def test_load_model_errors(args: Any, kwargs: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        H.load_model(*args, **kwargs)
    assert str(info.value) == message
