"""What op interception costs: a tiny transformer forward pass, off vs simulate vs audit.

    python benchmarks/bench_intercept.py [--profile t4] [--attn sdpa|eager] [--repeats 21]

Builds a small Qwen3 from a config (no download), then times its forward pass
on the CPU in fp32 with interception off, under ``--dtypegate-simulate``
(``Interceptor(profile, audit=False)``), under ``--dtypegate-audit``
(``Interceptor(None, audit=True)``) and both.  For comparison it also times
two designs the interceptor does not use: a ``TorchFunctionMode`` that checks
every torch call against a frozenset of GEMM functions, and a naive
``TorchDispatchMode`` that looks at every aten op.

The configurations are timed in turn, round after round, so drift hits them
alike; each figure is the median over rounds of the mean time per forward pass.
A tiny model is the worst case: its ops are cheap, so any per-op Python cost
shows.  Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from pytest_dtypegate import profiles
from pytest_dtypegate.intercept import Interceptor

_F = torch.nn.functional
_GEMM_FUNCS = frozenset({
    torch.mm, torch.addmm, torch.matmul, torch.bmm, torch.baddbmm, _F.linear,
    _F.conv1d, _F.conv2d, _F.conv3d, _F.scaled_dot_product_attention,
    torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.mm, torch.Tensor.bmm,
})
_GEMM_ATEN = frozenset({
    "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::convolution",
    "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::_scaled_mm",
})


class _FunctionModeGate(TorchFunctionMode):
    """A __torch_function__ gate: every torch call pays a Python round trip."""

    def __init__(self, unsupported: frozenset[Any]) -> None:
        super().__init__()
        self.unsupported = unsupported

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func in _GEMM_FUNCS and args and getattr(args[0], "dtype", None) in self.unsupported:
            raise RuntimeError("simulated")
        return func(*args, **(kwargs or {}))


class _DispatchModeGate(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """A naive __torch_dispatch__ gate: every aten op pays a Python round trip."""

    def __init__(self, unsupported: frozenset[Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.unsupported = unsupported

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func._schema.name in _GEMM_ATEN:
            for a in args:
                if isinstance(a, torch.Tensor) and a.dtype in self.unsupported:
                    raise RuntimeError("simulated")
        return func(*args, **(kwargs or {}))


def _model(attn: str, layers: int, hidden: int) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(
        "qwen3", vocab_size=512, hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        head_dim=hidden // 4, max_position_embeddings=256,
    )
    config._attn_implementation = attn
    torch.manual_seed(0)
    model: torch.nn.Module = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--profile", default="t4", help="profile for the simulate rows (default t4)")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--calls", type=int, default=20, help="forward passes per timing")
    ap.add_argument("--repeats", type=int, default=21, help="rounds; the median is reported")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    profile = profiles.load(args.profile)
    model = _model(args.attn, args.layers, args.hidden)
    ids = torch.randint(0, 512, (1, args.seq))
    unsupported = frozenset({torch.float8_e4m3fn, torch.float8_e5m2})

    configs: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] = {
        "off": contextlib.nullcontext,
        f"simulate {profile.name}": lambda: Interceptor(profile, audit=False),
        "audit": lambda: Interceptor(None, audit=True),
        "simulate + audit": lambda: Interceptor(profile, audit=True),
        "(TorchFunctionMode)": lambda: _FunctionModeGate(unsupported),
        "(naive TorchDispatchMode)": lambda: _DispatchModeGate(unsupported),
    }

    def run() -> None:
        with torch.no_grad():
            for _ in range(args.calls):
                model(ids)

    samples: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(3):  # warm-up, every configuration once
        for make in configs.values():
            with make():
                run()
    for _ in range(args.repeats):
        for name, make in configs.items():
            with make():
                t0 = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - t0) / args.calls)

    print(
        f"tiny qwen3 forward: {args.layers} layers, hidden {args.hidden}, seq {args.seq}, "
        f"attn {args.attn}, fp32, {args.threads} thread(s), torch {torch.__version__}"
    )
    print(f"median of {args.repeats} rounds x {args.calls} forward passes")
    base = statistics.median(samples["off"])
    print(f"{'configuration':28} {'ms/forward':>11} {'ratio':>7}")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"{name:28} {med * 1e3:11.3f} {med / base:7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
