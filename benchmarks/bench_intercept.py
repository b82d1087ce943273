"""What op interception costs: a tiny transformer's forward pass and training step, off vs simulate vs audit.

    python benchmarks/bench_intercept.py [--profile t4] [--attn sdpa|eager] [--repeats 15]

Builds a small Qwen3 from a config (no download), then times, on the CPU in fp32:

- ``forward``: the model's forward pass under ``torch.no_grad()``;
- ``train step``: forward, cross-entropy loss, ``backward()`` and an SGD step,
  so the backward pass (whose GEMMs only the dispatch-level backstop sees) counts;
- ``C++ GEMM paths``: ``nn.MultiheadAttention``'s inference fast path and
  ``torch.linalg.multi_dot``, GEMMs that torch composes in C++ (the backstop
  alone sees them);

each with interception off, with the interception installed but no interceptor
active (what the plugin holds between tests), under ``--dtypegate-simulate``
(``Interceptor(profile, audit=False)``), under ``--dtypegate-audit``
(``Interceptor(None, audit=True)``, which also records each GEMM's call site)
and both.  For comparison it also times two designs the interceptor does not
use: a ``TorchFunctionMode`` that checks every torch call against a frozenset of
GEMM functions (it sees neither the C++ composites nor the backward pass), and a
naive ``TorchDispatchMode`` that looks at every aten op.

With neither simulation nor audit on, the plugin installs nothing: the ``off``
row is what such a session runs.  The configurations are timed in turn, round
after round, so drift hits them alike; each figure is the median over rounds of
the mean CPU time of this process per call (``time.process_time``: with one torch
thread, what other load on a shared machine disturbs least).  A tiny model is the worst case: its ops are cheap, so
any per-op Python cost shows.  Prints a table of ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from pytest_dtypegate import intercept, profiles
from pytest_dtypegate.intercept import Interceptor

_F = torch.nn.functional
_GEMM_FUNCS = frozenset({
    torch.mm, torch.addmm, torch.matmul, torch.bmm, torch.baddbmm, _F.linear,
    _F.conv1d, _F.conv2d, _F.conv3d, _F.scaled_dot_product_attention,
    torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.mm, torch.Tensor.bmm,
})  # fmt: skip
_GEMM_ATEN = frozenset({
    "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::convolution",
    "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::_scaled_mm",
})  # fmt: skip


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


@contextlib.contextmanager
def _held() -> Iterator[None]:
    """The interception installed (wrappers and backstop) with no interceptor active: between two tests."""
    intercept.hold()
    try:
        yield
    finally:
        intercept.release()


def _model(attn: str, layers: int, hidden: int) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(
        "qwen3", vocab_size=512, hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        head_dim=hidden // 4, max_position_embeddings=256,
    )  # fmt: skip
    config._attn_implementation = attn
    torch.manual_seed(0)
    model: torch.nn.Module = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    return model


def _workloads(args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    model = _model(args.attn, args.layers, args.hidden)
    ids = torch.randint(0, 512, (1, args.seq))
    labels = torch.randint(0, 512, (1, args.seq))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    mha = torch.nn.MultiheadAttention(args.hidden, 4, batch_first=True).eval()
    x = torch.randn(1, args.seq, args.hidden)
    chain = [torch.randn(args.hidden, args.hidden) for _ in range(4)]

    def forward() -> None:
        model.eval()
        with torch.no_grad():
            model(ids)

    def train_step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        logits = model(ids).logits
        loss = _F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
        loss.backward()
        optimizer.step()

    def cpp_paths() -> None:
        with torch.no_grad():
            mha(x, x, x)  # eval + no_grad + batch_first: the C++ fast path
            torch.linalg.multi_dot(chain)

    return {"forward": forward, "train step": train_step, "C++ GEMM paths": cpp_paths}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--profile", default="t4", help="profile for the simulate rows (default t4)")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--calls", type=int, default=10, help="calls per timing")
    ap.add_argument("--repeats", type=int, default=15, help="rounds; the median is reported")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    profile = profiles.load(args.profile)
    unsupported = frozenset({torch.float8_e4m3fn, torch.float8_e5m2})
    configs: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] = {
        "off (neither on)": contextlib.nullcontext,
        "installed, idle": _held,
        f"simulate {profile.name}": lambda: Interceptor(profile, audit=False),
        "audit": lambda: Interceptor(None, audit=True),
        "simulate + audit": lambda: Interceptor(profile, audit=True),
        "(TorchFunctionMode)": lambda: _FunctionModeGate(unsupported),
        "(naive TorchDispatchMode)": lambda: _DispatchModeGate(unsupported),
    }
    workloads = _workloads(args)

    print(
        f"tiny qwen3: {args.layers} layers, hidden {args.hidden}, seq {args.seq}, attn {args.attn}, fp32, "
        f"{args.threads} thread(s), torch {torch.__version__}; median of {args.repeats} rounds x {args.calls} calls"
    )
    for label, work in workloads.items():
        samples: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(2):  # warm-up, every configuration
            for make in configs.values():
                with make():
                    for _ in range(args.calls):
                        work()
        for _ in range(args.repeats):
            for name, make in configs.items():
                with make():
                    t0 = time.process_time()
                    for _ in range(args.calls):
                        work()
                    samples[name].append((time.process_time() - t0) / args.calls)
        base = statistics.median(samples["off (neither on)"])
        print(f"\n{label:28} {'cpu ms/call':>11} {'ratio':>7}")
        for name, values in samples.items():
            med = statistics.median(values)
            print(f"{name:28} {med * 1e3:11.3f} {med / base:7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
