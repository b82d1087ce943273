"""Numerical health: find the first module whose low-precision output holds NaN or inf.

fp16 overflows above 65504.  When a layer overflows, the inf turns into NaN a few
layers later and the run ends far away from the cause: ``RuntimeError: probability
tensor contains either `inf`, `nan` or element < 0`` inside ``generate(do_sample=True)``,
or logits that are all NaN.  :class:`FiniteWatch` finds the module where it started::

    with FiniteWatch("fp16") as watch:
        model.generate(input_ids, max_new_tokens=8, do_sample=False)
    if watch.finding is not None:
        pytest.fail(watch.finding.message())

While active it registers global module hooks (``torch.nn.modules.module``), so it
sees every ``nn.Module`` call without being told about the model.  Each floating
tensor in a module's output (a tensor, tuple, list, dict or ``ModelOutput``) costs one
``torch.isfinite(x).all()``; the first non-finite one is recorded with the module's
class, its dotted path (``model.layers.1.mlp.down_proj``, from the calls in flight),
the dtype and the NaN/inf counts, and checking stops there.  Every module is
checked, leaves and containers, so an overflow in a container's own code (a residual
add) is pinned on that container; a leaf whose inputs were already non-finite says so.
Reading the flag synchronises the device: on CUDA that is one sync per module output,
acceptable for a diagnostic mode, not for a benchmark.

Only low precisions are watched (fp16, bf16, fp8, amp_*); for fp32, tf32 and fp64 the
watch registers nothing.  No torch at module level.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import precisions as _p
from .facts import Category

__all__ = ["CATEGORY", "Finding", "FiniteWatch", "watched"]

CATEGORY = Category.NONFINITE

# What each precision's non-finite values usually mean, and the fix.  Ranges:
# fp16 max 65504; bf16 shares fp32's exponent (max ~3.4e38); float8_e4m3fn max 448
# with no inf encoding (torch's cast clamps, even inf, to +-448; only nan stays
# non-finite); float8_e5m2 max 57344, above which a cast gives inf.
_HINTS: dict[str, str] = {
    "fp16": "fp16 overflows above 65504 — run this model in bf16 or fp32, or keep the overflowing layer in fp32",
    "amp_fp16": "fp16 overflows above 65504 — run this model under amp_bf16 or in fp32, or run the overflowing "
    "layer outside autocast (torch.autocast(..., enabled=False))",
    "bf16": "bf16 has fp32's range, so this is rarely an overflow: look for a value that rounded to 0 before a "
    "division, log or rsqrt, or for an inf mask — compare with an fp32 run",
    "fp8_e4m3": "fp8_e4m3 has no inf (a cast clamps to ±448), so this nan came from the values cast — scale "
    "tensors before casting to fp8, or keep this layer in bf16",
    "fp8_e5m2": "fp8_e5m2 overflows above 57344 — scale tensors before casting to fp8, or keep this layer in bf16",
}
_HINTS["amp_bf16"] = _HINTS["bf16"]

_MAX_DEPTH = 3  # how deep into nested tuples/dicts of an output to look


def watched(precision: Any) -> bool:
    """Whether a :class:`FiniteWatch` for ``precision`` checks anything."""
    return _p.resolve(precision, allow_auto=False) in _p.LOW  # fp32, tf32, fp64 have fp32's range or more


def _dtype_name(dtype: Any) -> str:
    try:
        return _p.resolve(dtype, allow_auto=False)
    except _p.UnknownPrecisionError:
        return str(dtype).replace("torch.", "")


@dataclass(frozen=True)
class Finding:
    """The first module output with non-finite values, while a FiniteWatch was active."""

    precision: str  # the precision the test ran in (canonical name)
    module_class: str  # qualified: transformers.models.qwen3.modeling_qwen3.Qwen3MLP
    module_path: str | None  # "model.layers.1.mlp"; "" for the outermost module; None if unknown
    parent_class: str | None  # qualified class of the calling module, if any
    output: str  # which part of the output: "" (the output itself), "[0]", ".logits"
    dtype: str  # the output's dtype as a precision name: "fp16", "bf16", "fp32" ...
    nan: int
    inf: int
    numel: int
    inputs_finite: bool | None  # were the module's tensor inputs all finite? None: no tensor inputs

    category = CATEGORY

    @staticmethod
    def _short(qualified: str) -> str:
        return qualified.rsplit(".", 1)[-1]

    def where(self) -> str:
        """``Linear (model.layers.1.mlp.down_proj)``."""
        name = self._short(self.module_class)
        if self.module_path is None:
            return name
        if self.module_path == "":
            return f"{name} (the outermost module)"
        return f"{name} ({self.module_path})"

    def message(self) -> str:
        """One paragraph for the test report, starting with ``nonfinite:``."""
        running = f" (running {self.precision})" if self.dtype != self.precision else ""
        head = (
            f"{CATEGORY}: {self.dtype} output{self.output} of {self.where()}{running} has "
            f"{self.inf} inf, {self.nan} nan values"
        )
        if self.inputs_finite is False:
            if self.parent_class is not None:
                parent = self._short(self.parent_class)
                head += (
                    f" (its inputs were already non-finite: they came from code in {parent}.forward, "
                    f"not from a submodule)"
                )
            else:
                head += " (its inputs were already non-finite)"
        hint = _HINTS.get(self.precision)
        return f"{head}; {hint}" if hint else head


def _qualified(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _tensors(value: Any, label: str, depth: int, torch: Any) -> Iterator[tuple[str, Any]]:
    """Floating tensors in a module output, with where they sit (``[0]``, ``.logits``)."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and value.device.type != "meta" and value.numel():
            yield label, value
        return
    if depth >= _MAX_DEPTH:
        return
    if isinstance(value, Mapping):  # dict, ModelOutput (an OrderedDict)
        for key, item in value.items():
            yield from _tensors(item, f"{label}.{key}", depth + 1, torch)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{label}[{i}]", depth + 1, torch)


def _bad(t: Any, torch: Any) -> bool:
    try:
        return not bool(torch.isfinite(t).all())
    except (RuntimeError, NotImplementedError):  # fp8 has no isfinite kernel
        return not bool(torch.isfinite(t.float()).all())


def _counts(t: Any, torch: Any) -> tuple[int, int]:
    wide = t if t.dtype in (torch.float32, torch.float64) else t.float()
    return int(torch.isnan(wide).sum()), int(torch.isinf(wide).sum())


def _child_name(parent: Any, child: Any) -> str | None:
    for name, module in parent.named_modules(remove_duplicate=False):
        if module is child and name:
            return str(name)
    return None


class FiniteWatch:
    """Context manager: record the first module output with NaN/inf at a low precision.

    ``precision`` is the precision the code under watch runs in (name or alias).  For
    fp32, tf32 and fp64 nothing is registered and ``finding`` stays ``None``.
    ``checked`` counts the tensors checked (for tests and cost measurements).
    """

    def __init__(self, precision: Any) -> None:
        self.precision = _p.resolve(precision, allow_auto=False)
        self.active = self.precision in _p.LOW
        self.finding: Finding | None = None
        self.checked = 0
        self._stack: list[Any] = []
        self._handles: list[Any] = []
        self._torch: Any = None

    def __enter__(self) -> FiniteWatch:
        if not self.active:
            return self
        if self._handles:
            raise RuntimeError("this FiniteWatch is already active; create a new one")
        import torch

        self._torch = torch
        self._stack = []
        hooks = torch.nn.modules.module
        try:  # always_call: the post hook also runs when forward raises, keeping the call stack right
            post = hooks.register_module_forward_hook(self._post, always_call=True)
        except TypeError:  # a torch without always_call
            post = hooks.register_module_forward_hook(self._post)
        self._handles = [hooks.register_module_forward_pre_hook(self._pre), post]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._stack = []

    # -- hooks ------------------------------------------------------------------
    def _pre(self, module: Any, args: Any) -> None:
        self._stack.append(module)

    def _post(self, module: Any, args: Any, output: Any) -> None:
        stack = self._stack
        # pop this call (always_call: also when forward raised); tolerate a module
        # entered before the watch started
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is module:
                parents = stack[:i]
                del stack[i:]
                break
        else:
            parents = list(stack)
        if self.finding is not None or output is None:
            return
        torch = self._torch
        for label, tensor in _tensors(output, "", 0, torch):
            self.checked += 1
            if _bad(tensor, torch):
                self.finding = self._describe(module, parents, args, label, tensor)
                return

    def _describe(self, module: Any, parents: list[Any], args: Any, label: str, tensor: Any) -> Finding:
        torch = self._torch
        nan, inf = _counts(tensor, torch)
        path: str | None = ""
        chain = [*parents, module]
        for parent, child in zip(chain, chain[1:]):
            name = _child_name(parent, child)
            if name is None:
                path = None
                break
            path = f"{path}.{name}" if path else name
        inputs = list(_tensors(tuple(args) if isinstance(args, tuple) else (args,), "", 0, torch))
        inputs_finite = None if not inputs else not any(_bad(t, torch) for _, t in inputs)
        return Finding(
            precision=self.precision,
            module_class=_qualified(module),
            module_path=path,
            parent_class=_qualified(parents[-1]) if parents else None,
            output=label,
            dtype=_dtype_name(tensor.dtype),
            nan=nan,
            inf=inf,
            numel=int(tensor.numel()),
            inputs_finite=inputs_finite,
        )

    def raise_if_found(self) -> None:
        """Raise ``AssertionError(finding.message())`` when something was found."""
        if self.finding is not None:
            raise AssertionError(self.finding.message())
