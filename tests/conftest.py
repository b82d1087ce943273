"""Shared helpers for pytest-dtypegate's own tests.

Hardware we do not have is described the way a user would: a conftest in the
pytester directory implements ``pytest_dtypegate_probe`` and returns one of the
capability tables below.
"""

from __future__ import annotations

import pytest
from devices import conftest_for


@pytest.fixture
def fake_device(pytester: pytest.Pytester):  # type: ignore[no-untyped-def]
    """Write a conftest that describes one of the fake devices above."""

    def use(name: str) -> None:
        pytester.makeconftest(conftest_for(name))

    return use
