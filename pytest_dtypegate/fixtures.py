"""The fixtures: ``model_dtype``, ``model_precision``, ``model_device``, ``dtypegate_capabilities``.

The entry module imports them, so pytest finds them on the plugin; they read the
decision the setup phase made (``gating.DECISION``) and the session state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from . import policy
from . import precisions as _p
from .capabilities import Capabilities, Support
from .collection import tolerance_marker
from .gating import DECISION
from .markers import MarkerError
from .session import STATE, SessionState

__all__ = ["ModelPrecision", "dtypegate_capabilities", "model_device", "model_dtype", "model_precision"]


@dataclass(frozen=True)
class ModelPrecision:
    """What ``model_precision`` gives a test: the precision that runs and why."""

    name: str
    requested: str
    dtype: Any
    downgraded_from: str | None
    support: Support | None
    rtol: float
    atol: float
    device: str


_RECORD = pytest.StashKey[ModelPrecision]()


def _state(request: pytest.FixtureRequest) -> SessionState:
    state = request.config.stash[STATE]
    if state.torch_missing:
        pytest.skip("torch is not installed")
    return state


def _tolerances(item: Any, state: SessionState, name: str) -> tuple[float, float]:
    from .tolerances import resolve

    try:
        marker = tolerance_marker(item)
    except MarkerError as exc:
        pytest.fail(f"In {item.nodeid}: {exc}", pytrace=False)
    return resolve(name, marker, state.options.tolerance)


def _model_precision(request: pytest.FixtureRequest, state: SessionState) -> ModelPrecision:
    item = request.node
    decision = item.stash.get(DECISION, None)
    requested = _p.resolve(getattr(request, "param", "fp32"))
    if isinstance(decision, (policy.Run, policy.Downgrade)) and decision.precision:
        name = decision.precision
        downgraded = decision.requested if isinstance(decision, policy.Downgrade) else None
        support = decision.support
    else:
        name = requested if requested != _p.AUTO else "fp32"
        downgraded, support = None, None
    rtol, atol = _tolerances(item, state, name)
    return ModelPrecision(
        name=name,
        requested=requested,
        dtype=_p.torch_dtype(name),
        downgraded_from=downgraded,
        support=support,
        rtol=rtol,
        atol=atol,
        device=state.device(),
    )


@pytest.fixture
def model_device(request: pytest.FixtureRequest) -> str:
    """The device the test's tensors go on (``cuda:0``, ``mps``, ``cpu`` ...)."""
    return _state(request).device()


@pytest.fixture
def model_dtype(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The ``torch.dtype`` this test runs in (parametrized over the precision list)."""
    state = _state(request)
    record = _model_precision(request, state)
    request.node.stash[_RECORD] = record
    from .tolerances import precision_context

    with precision_context(record.name, record.device):
        yield record.dtype


@pytest.fixture
def model_precision(request: pytest.FixtureRequest, model_dtype: Any) -> ModelPrecision:
    """The resolved precision record: ``.name``, ``.requested``, ``.dtype``, ``.downgraded_from`` ..."""
    record: ModelPrecision = request.node.stash[_RECORD]
    return record


@pytest.fixture(scope="session")
def dtypegate_capabilities(request: pytest.FixtureRequest) -> Capabilities:
    """The gated device's capabilities, as the policy sees them."""
    return request.config.stash[STATE].capabilities()
