"""Shared helpers for pytest-dtypegate's own tests.

Hardware we do not have is described the way a user would: a conftest in the
pytester directory implements ``pytest_dtypegate_probe`` and returns one of the
capability tables below.
"""

from __future__ import annotations

import pytest

#: conftest source for pytester runs, one per fake device
V100 = '''
from pytest_dtypegate import Capabilities

def pytest_dtypegate_probe(config, device):
    return Capabilities(device="cuda:0", name="Tesla V100-SXM2-16GB", backend="cuda", capability=(7, 0),
                        support={"fp32": "native", "fp16": "native", "bf16": "emulated", "tf32": "emulated",
                                 "fp64": "native"})
'''
A100 = '''
from pytest_dtypegate import Capabilities

def pytest_dtypegate_probe(config, device):
    return Capabilities(device="cuda:0", name="NVIDIA A100-SXM4-40GB", backend="cuda", capability=(8, 0),
                        support={"fp32": "native", "fp16": "native", "bf16": "native", "tf32": "native",
                                 "fp64": "native"})
'''
MPS = '''
from pytest_dtypegate import Capabilities

def pytest_dtypegate_probe(config, device):
    return Capabilities(device="mps", name="Apple M1", backend="mps",
                        support={"fp32": "native", "fp16": "native",
                                 "bf16": {"support": "unsupported", "op": "alloc",
                                          "message": "TypeError: BFloat16 is not supported on MPS"}})
'''
CPU = '''
from pytest_dtypegate import Capabilities

def pytest_dtypegate_probe(config, device):
    return Capabilities(device="cpu", name="Intel Xeon", backend="cpu",
                        support={"fp32": "native", "fp64": "native", "fp16": "emulated", "bf16": "emulated",
                                 "tf32": "emulated"})
'''

DEVICES = {"v100": V100, "a100": A100, "mps": MPS, "cpu": CPU}


@pytest.fixture
def fake_device(pytester: pytest.Pytester):  # type: ignore[no-untyped-def]
    """Write a conftest that describes one of the fake devices above."""

    def use(name: str) -> None:
        pytester.makeconftest(DEVICES[name])

    return use
