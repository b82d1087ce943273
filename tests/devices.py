"""The fake devices our tests use, described once.

Unit tests use the Capabilities objects; pytester runs get them through a
conftest that implements the plugin's own hook, as a user would.
"""

from __future__ import annotations

from pytest_dtypegate import Capabilities

V100 = Capabilities(
    device="cuda:0",
    name="Tesla V100-SXM2-16GB",
    backend="cuda",
    capability=(7, 0),
    support={"fp32": "native", "fp16": "native", "bf16": "emulated", "tf32": "emulated", "fp64": "native"},
)
A100 = Capabilities(
    device="cuda:0",
    name="NVIDIA A100-SXM4-40GB",
    backend="cuda",
    capability=(8, 0),
    support={"fp32": "native", "fp16": "native", "bf16": "native", "tf32": "native", "fp64": "native"},
)
MPS = Capabilities(
    device="mps",
    name="Apple M1",
    backend="mps",
    support={
        "fp32": "native",
        "fp16": "native",
        "bf16": {"support": "unsupported", "op": "alloc", "message": "TypeError: BFloat16 is not supported on MPS"},
    },
)
CPU = Capabilities(
    device="cpu",
    name="Intel Xeon",
    backend="cpu",
    support={"fp32": "native", "fp64": "native", "fp16": "emulated", "bf16": "emulated", "tf32": "emulated"},
)

DEVICES = {"v100": V100, "a100": A100, "mps": MPS, "cpu": CPU}

HOOK = """
from pytest_dtypegate import Capabilities

_CAPS = Capabilities.loads({text!r})

def pytest_dtypegate_probe(config, device):
    return _CAPS
"""


def conftest_for(name: str) -> str:
    """conftest source whose pytest_dtypegate_probe hook describes one fake device."""
    return HOOK.format(text=DEVICES[name].dumps())
