"""Reading an einsum call the way ``at::einsum`` runs it: which operands, which equation, which GEMM first.

Pure module (no torch): the interceptor asks it whether an einsum runs a GEMM at
all and of which kind, so that ``"i,j->ij"`` (an outer product, RoPE's
frequencies) passes on a platform whose GEMMs fail, as it does there.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, Optional

__all__ = ["first_gemm", "operands_and_equation"]


def _subscripts(sublist: Any) -> str:
    """One operand's labels in einsum's sublist format, as equation letters (as torch converts them)."""
    out = []
    for s in sublist:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, int) and 0 <= s < 52:
            out.append(chr(ord("A") + s) if s < 26 else chr(ord("a") + s - 26))
        else:
            raise ValueError(s)
    return "".join(out)


def operands_and_equation(args: tuple[Any, ...]) -> Optional[tuple[str, tuple[Any, ...]]]:
    """``(equation, operands)`` of an ``einsum(*args)`` call; None when einsum will raise on its own."""
    if len(args) < 2:
        return None
    equation: Any = args[0]
    if isinstance(equation, str):
        operands: Any = args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = operands[0]
    else:  # sublist format: operand, sublist, operand, sublist, ..., [output sublist]
        try:
            equation = ",".join(_subscripts(s) for s in args[1::2])
            if len(args) % 2:
                equation += "->" + _subscripts(args[-1])
        except (TypeError, ValueError):  # not a sublist: einsum raises its own error
            return None
        operands = args[:-1:2] if len(args) % 2 else args[::2]
    if not operands:
        return None
    return equation, tuple(operands)


@functools.lru_cache(maxsize=512)
def first_gemm(equation: str, n: int) -> Optional[str]:
    """The kind of the first GEMM ``at::einsum`` runs for ``equation`` on ``n`` operands; None if it runs none.

    Follows ``at::einsum``'s pairwise contraction, left to right: a label is
    summed by a pair's bmm when both sides have it and neither the output nor a
    later operand does; the labels both sides keep are that bmm's batch.
    """
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.replace("...", ".").split(",")
    if n < 2 or len(terms) != n:  # one operand runs no GEMM; a miscount makes einsum raise on its own
        return None
    if arrow:
        out = frozenset(rhs.replace("...", "."))
    else:  # implicit output: the ellipsis and the labels written once
        counts = Counter(label for term in terms for label in term)
        out = frozenset(label for label, k in counts.items() if k == 1) | {"."}
    ops = [frozenset(term) for term in terms]
    left = ops[0]
    for i in range(1, n):
        right = ops[i]
        keep = out.union(*ops[i + 1 :])
        shared = left & right
        if shared - keep:
            return "bgemm" if shared & keep else "gemm"
        left = (left | right) & keep
    return None
