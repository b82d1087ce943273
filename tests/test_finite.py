"""FiniteWatch: the first non-finite low-precision module output, on real modules and a real tiny model."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from pytest_dtypegate import finite as F
from pytest_dtypegate import precisions as _p

torch = pytest.importorskip("torch")
nn = torch.nn

FP16_HINT = "fp16 overflows above 65504 — run this model in bf16 or fp32, or keep the overflowing layer in fp32"


def overflowing_linear(dtype: Any = torch.float16, weight: float = 1000.0) -> Any:
    linear = nn.Linear(4, 4).to(dtype)
    with torch.no_grad():
        linear.weight.fill_(weight)
        linear.bias.zero_()
    return linear


class Block(nn.Module):
    """A container with its own arithmetic between submodules (like a residual add)."""

    def __init__(self, scale: float, dtype: Any = torch.float16) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4).to(dtype)
        self.scale = scale

    def forward(self, x: Any) -> Any:
        return self.proj(x * self.scale)


class Model(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.embed = nn.Identity()
        self.layers = nn.ModuleList([nn.Identity(), block])

    def forward(self, x: Any) -> Any:
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        return x


def x16(value: float = 100.0, dtype: Any = torch.float16) -> Any:
    return torch.full((2, 4), value, dtype=dtype)


@pytest.mark.parametrize("name", list(_p.PRECISIONS))
def test_only_low_precisions_are_watched(name: str) -> None:
    low = name in ("fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "amp_bf16", "amp_fp16")
    assert F.watched(name) is low
    assert F.FiniteWatch(name).active is low


@pytest.mark.parametrize("name", ["fp32", "tf32", "fp64"])
def test_high_precision_watch_checks_nothing(name: str) -> None:
    with F.FiniteWatch(name) as watch:
        overflowing_linear()(x16())
    assert watch.finding is None
    assert watch.checked == 0


def test_fp16_overflow_in_a_leaf() -> None:
    model = nn.Sequential(overflowing_linear(), nn.ReLU())
    with F.FiniteWatch("half") as watch:
        model(x16())
    finding = watch.finding
    assert finding is not None
    assert finding == F.Finding(
        precision="fp16",
        module_class="torch.nn.modules.linear.Linear",
        module_path="0",
        parent_class="torch.nn.modules.container.Sequential",
        output="",
        dtype="fp16",
        nan=0,
        inf=8,
        numel=8,
        inputs_finite=True,
    )
    assert finding.category == "nonfinite"
    assert finding.message() == f"nonfinite: fp16 output of Linear (0) has 8 inf, 0 nan values; {FP16_HINT}"


def test_overflow_in_a_containers_own_code_is_pinned_on_the_container() -> None:
    # Block multiplies by 1e5 (overflow) before its submodule runs: proj's *inputs*
    # are already inf, and the message points at Block's own forward
    model = Model(Block(scale=1e5))
    with F.FiniteWatch("fp16") as watch:
        model(x16(1.0))
    finding = watch.finding
    assert finding is not None
    assert finding.module_path == "layers.1.proj"
    assert finding.inputs_finite is False
    assert finding.message().startswith("nonfinite: fp16 output of Linear (layers.1.proj) has ")
    assert (
        "values (its inputs were already non-finite: they came from code in Block.forward, not from a "
        f"submodule); {FP16_HINT}"
    ) in finding.message()


def test_overflow_in_the_outermost_module() -> None:
    class Scale(nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 1e5

    with F.FiniteWatch("fp16") as watch:
        Scale()(x16(1.0))
    assert watch.finding is not None
    assert (
        watch.finding.message()
        == f"nonfinite: fp16 output of Scale (the outermost module) has 8 inf, 0 nan values; {FP16_HINT}"
    )


@pytest.mark.parametrize(
    ("wrap", "label"),
    [(lambda y: (y.abs().clamp(max=1), y), "[1]"), (lambda y: {"hidden": y.clamp(max=1), "logits": y}, ".logits")],
)
def test_structured_outputs_name_the_element(wrap: Any, label: str) -> None:
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = overflowing_linear()

        def forward(self, x: Any) -> Any:
            with torch.no_grad():
                y = x * 1e5  # inf made here, in Head's own code
            return wrap(y)

    with F.FiniteWatch("fp16") as watch:
        Head()(x16(1.0))
    assert watch.finding is not None
    assert watch.finding.output == label
    assert watch.finding.message().startswith(f"nonfinite: fp16 output{label} of Head (the outermost module) has 8 inf")


def test_only_the_first_offender_is_recorded_and_checking_stops() -> None:
    model = nn.Sequential(overflowing_linear(), overflowing_linear(), nn.ReLU())
    with F.FiniteWatch("fp16") as watch:
        model(x16())
        checked = watch.checked
        model(x16())
    assert watch.finding is not None
    assert watch.finding.module_path == "0"
    assert watch.checked == checked == 1


def test_bf16_and_fp8_and_amp_messages() -> None:
    with F.FiniteWatch("bf16") as watch:
        overflowing_linear(torch.bfloat16, 3e38)(x16(3e38, torch.bfloat16))
    assert watch.finding is not None
    assert watch.finding.message() == (
        "nonfinite: bf16 output of Linear (the outermost module) has 8 inf, 0 nan values; bf16 has fp32's range, "
        "so this is rarely an overflow: look for a value that rounded to 0 before a division, log or rsqrt, or "
        "for an inf mask — compare with an fp32 run"
    )

    class Quantize(nn.Module):
        def forward(self, x: Any) -> Any:
            return x.to(torch.float8_e4m3fn)

    with F.FiniteWatch("fp8_e4m3") as watch:
        Quantize()(torch.tensor([1.0, float("nan")]))
    assert watch.finding is not None
    assert watch.finding.message() == (
        "nonfinite: fp8_e4m3 output of Quantize (the outermost module) has 0 inf, 1 nan values (its inputs were "
        "already non-finite); fp8_e4m3 has no inf (a cast clamps to ±448), so this nan came from the values "
        "cast — scale tensors before casting to fp8, or keep this layer in bf16"
    )

    class Quantize52(nn.Module):
        def forward(self, x: Any) -> Any:
            return x.to(torch.float8_e5m2)

    with F.FiniteWatch("fp8_e5m2") as watch:
        Quantize52()(torch.tensor([1.0, 1e6]))
    assert watch.finding is not None
    assert watch.finding.message() == (
        "nonfinite: fp8_e5m2 output of Quantize52 (the outermost module) has 1 inf, 0 nan values; fp8_e5m2 "
        "overflows above 57344 — scale tensors before casting to fp8, or keep this layer in bf16"
    )

    with F.FiniteWatch("amp_fp16") as watch, torch.autocast("cpu", dtype=torch.float16):
        overflowing_linear(torch.float32)(x16(100.0, torch.float32))
    assert watch.finding is not None
    assert watch.finding.message() == (
        "nonfinite: fp16 output of Linear (the outermost module) (running amp_fp16) has 8 inf, 0 nan values; "
        "fp16 overflows above 65504 — run this model under amp_bf16 or in fp32, or run the overflowing layer "
        "outside autocast (torch.autocast(..., enabled=False))"
    )


def test_hooks_are_removed_on_exit_also_after_an_exception() -> None:
    linear = overflowing_linear()
    with pytest.raises(ZeroDivisionError):
        with F.FiniteWatch("fp16") as watch:
            1 / 0  # noqa: B018
    linear(x16())
    assert watch.finding is None
    assert watch.checked == 0


def test_paths_stay_right_after_a_module_raised() -> None:
    class Boom(nn.Module):
        def forward(self, x: Any) -> Any:
            raise ValueError("boom")

    failing = nn.Sequential(nn.Identity(), nn.Sequential(Boom()))
    model = Model(Block(scale=1.0))
    with torch.no_grad():
        model.layers[1].proj.weight.fill_(1e4)
    with F.FiniteWatch("fp16") as watch:
        with pytest.raises(ValueError):
            failing(x16(1.0))
        model(x16(10.0))
    assert watch.finding is not None
    assert watch.finding.module_path == "layers.1.proj"


def test_a_watch_cannot_be_entered_twice_and_raise_if_found() -> None:
    watch = F.FiniteWatch("fp16")
    with watch:
        with pytest.raises(RuntimeError) as info:
            watch.__enter__()
        assert str(info.value) == "this FiniteWatch is already active; create a new one"
        overflowing_linear()(x16())
    with pytest.raises(AssertionError) as raised:
        watch.raise_if_found()
    assert str(raised.value) == watch.finding.message()  # type: ignore[union-attr]
    F.FiniteWatch("fp32").raise_if_found()


def test_unknown_precision() -> None:
    with pytest.raises(_p.UnknownPrecisionError, match="unknown precision 'fp17'"):
        F.FiniteWatch("fp17")


# -- a real tiny transformers model ------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen3_fp16() -> Any:
    pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pytest_dtypegate.transformers import tiny_model

    return tiny_model("qwen3", torch.float16, "cpu", seed=0)


PROMPT = [[5, 17, 42, 99, 7, 3, 64, 21]]


def test_healthy_tiny_model_has_no_finding(qwen3_fp16: Any) -> None:
    with F.FiniteWatch("fp16") as watch:
        qwen3_fp16.generate(torch.tensor(PROMPT), max_new_tokens=4, do_sample=False)
    assert watch.finding is None
    assert watch.checked > 50  # every module call of every decoding step


def test_fp16_overflow_in_a_tiny_qwen3_is_found_where_it_starts(qwen3_fp16: Any) -> None:
    import copy

    model = copy.deepcopy(qwen3_fp16)
    with torch.no_grad():
        model.model.layers[1].mlp.up_proj.weight.mul_(1e6)
    torch.manual_seed(0)
    with F.FiniteWatch("fp16") as watch:
        # what a user sees: a sampling error far from the layer that overflowed
        with pytest.raises(RuntimeError, match=r"probability tensor contains either `inf`, `nan` or element < 0"):
            model.generate(torch.tensor(PROMPT), max_new_tokens=4, do_sample=True)
    finding = watch.finding
    assert finding is not None
    assert finding.module_path == "model.layers.1.mlp.up_proj"
    assert finding.parent_class == "transformers.models.qwen3.modeling_qwen3.Qwen3MLP"
    assert re.fullmatch(
        rf"nonfinite: fp16 output of Linear \(model\.layers\.1\.mlp\.up_proj\) has [1-9]\d* inf, \d+ nan values; "
        rf"{re.escape(FP16_HINT)}",
        finding.message(),
    )
