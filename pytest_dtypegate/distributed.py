"""pytest-xdist: one probe for the whole run, and the workers' capabilities back to the controller.

Two small hook objects, registered only when xdist is present, as pytest-randomly
does: :class:`Controller` on the controller, :class:`Worker` in each worker.
Controller -> worker data goes in ``workerinput``, worker -> controller in
``workeroutput``; no files, no servers.
"""

from __future__ import annotations

from typing import Any

import pytest

from .session import SessionState

__all__ = ["Controller", "Worker"]

_SESSION = "dtypegate_session"
_CAPABILITIES = "dtypegate_capabilities"


class Controller:
    def __init__(self, state: SessionState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        # one probe for the whole run: workers share the controller's session id,
        # and the first worker that needs the probe runs it under a cache lock
        node.workerinput[_SESSION] = self.state.session_id

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(_CAPABILITIES)
        if data and self.state.worker_capabilities is None:
            self.state.worker_capabilities = data


class Worker:
    def __init__(self, state: SessionState) -> None:
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        caps = self.state.resolved
        if workeroutput is not None and caps is not None:
            workeroutput[_CAPABILITIES] = caps.to_json()


def shared_session_id(config: pytest.Config) -> str | None:
    """The controller's session id, in a worker."""
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict) and _SESSION in workerinput:
        return str(workerinput[_SESSION])
    return None
