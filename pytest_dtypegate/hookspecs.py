"""The plugin's own hooks.  Implement them in a ``conftest.py`` or a plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .policy import Decision, Request


@pytest.hookspec(firstresult=True)
def pytest_dtypegate_probe(config: pytest.Config, device: str) -> Capabilities | None:
    """Describe the gated device instead of probing it.

    Called once per session, the first time a test needs to know what the
    device supports.  ``device`` is the configured device (``auto``, ``cpu``,
    ``cuda:0`` ...).  Return a :class:`pytest_dtypegate.Capabilities` to use it
    as it is (also for a device this machine lacks), or ``None`` to let the
    next implementation, and finally the probe, answer.
    """


@pytest.hookspec(firstresult=True)
def pytest_dtypegate_classify_error(config: pytest.Config, text: str) -> Any:
    """Classify a failure's exception text before the built-in catalogue does.

    Return a :class:`pytest_dtypegate.Classification` (see ``pytest_dtypegate.diagnosis``) for a
    message your project knows, or ``None`` to leave it to the catalogue.
    """


@pytest.hookspec(firstresult=True)
def pytest_dtypegate_decide(
    config: pytest.Config, item: pytest.Item, request: Request, capabilities: Capabilities
) -> Decision | None:
    """Replace the built-in policy for one item.

    Return a ``Run``, ``Downgrade``, ``Skip`` or ``Fail`` from
    ``pytest_dtypegate.policy`` (for example: a model family that must never
    run fp16), or ``None`` for the built-in decision.
    """
