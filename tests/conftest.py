"""Shared helpers for pytest-dtypegate's own tests.

Hardware we do not have is described the way a user would: a conftest in the
pytester directory implements ``pytest_dtypegate_probe`` and returns one of the
capability tables below.
"""

from __future__ import annotations

import pytest
from devices import conftest_for

try:
    # Import torch once, up front, when it is installed. An in-process pytester
    # run drops the modules it imported when it ends, and the next run that
    # needs torch would import it a second time in this process: torch does not
    # survive that (the interpreter segfaults). Imported here, it is kept.
    import torch  # noqa: F401
except ImportError:
    pass


# Plugins a user may have installed that change how an inner pytest run orders,
# repeats or prints its tests. Our pytester runs assert exact outcomes and output,
# so they run without them, whatever the outer environment holds ("-p no:NAME" is
# harmless where NAME is not installed). PYTEST_ADDOPTS reaches in-process and
# subprocess runs alike; pytester clears it, so it is set after pytester is made.
ISOLATED_PLUGINS = ("randomly", "rerunfailures", "flaky", "sugar", "instafail", "repeat")


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(f"-p no:{name}" for name in ISOLATED_PLUGINS))
    return pytester


@pytest.fixture
def fake_device(pytester: pytest.Pytester):  # type: ignore[no-untyped-def]
    """Write a conftest that describes one of the fake devices above."""

    def use(name: str) -> None:
        pytester.makeconftest(conftest_for(name))

    return use
