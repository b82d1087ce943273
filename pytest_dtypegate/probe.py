"""The capability probe: run a transformer's op mix in each precision on a device.

The probe runs in a child process (``python -m pytest_dtypegate.probe``) with a
timeout, so a driver crash or a hang costs one probe, never the test session.
Whether a precision whose kernels ran is native or emulated comes from hardware
facts (``capabilities.cuda_support`` and friends), never from a torch flag.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .capabilities import (
    Capabilities,
    CapabilitiesError,
    Evidence,
    Support,
    cpu_support,
    cuda_support,
    rocm_support,
)
from .precisions import HARDWARE, PRECISIONS

__all__ = [
    "DEVICE_PATTERN",
    "DeviceError",
    "cache_key",
    "device_facts",
    "probe_device",
    "probe_here",
    "resolve_device",
    "run_child",
    "validate_device",
]

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?)$")
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps, xpu, xpu:N"


class DeviceError(ValueError):
    """A device string that is malformed, or names a device this machine lacks."""


def validate_device(spec: str) -> str:
    """Check the syntax of a device string (no torch): returns it normalised."""
    value = spec.strip().lower()
    if not DEVICE_PATTERN.match(value):
        raise DeviceError(f"invalid device {spec!r}; valid forms: {DEVICE_CHOICES}")
    return value


def resolve_device(spec: str) -> str:
    """Turn ``auto`` into the best device here, and check an explicit one exists (imports torch)."""
    import torch

    value = validate_device(spec)
    if value == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        xpu = getattr(torch, "xpu", None)
        if xpu is not None and xpu.is_available():
            return "xpu:0"
        return "cpu"
    if value == "cpu":
        return value
    kind, _, index_text = value.partition(":")
    index = int(index_text or 0)
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError(f"device {spec!r} is not available here: torch.backends.mps.is_available() is False")
        return "mps"
    module = getattr(torch, kind, None)
    count = module.device_count() if module is not None and module.is_available() else 0
    if index >= count:
        have = f"{count} {kind} device(s)" if count else f"no {kind} device"
        raise DeviceError(f"device {spec!r} is not available here: torch {torch.__version__} sees {have}")
    return f"{kind}:{index}"


# -- the op mix ------------------------------------------------------------------
def _op_mix(torch: Any, dtype: Any, device: str) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(name, thunk) pairs: the ops a transformer forward pass runs, in ``dtype``."""
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)

    def make(*shape: int) -> Any:
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype)

    holder: dict[str, Any] = {}

    def alloc() -> Any:
        holder.update(
            a=make(32, 64),
            b=make(64, 32),
            x3=make(4, 16, 32),
            y3=make(4, 32, 16),
            w=make(48, 64),
            bias=make(48),
            img=make(2, 3, 16, 16),
            k=make(8, 3, 3, 3),
            kb=make(8),
            g=make(64),
            q=make(2, 4, 16, 32),
        )
        return holder["a"]

    yield "alloc", alloc
    yield "matmul", lambda: holder["a"] @ holder["b"]
    yield "bmm", lambda: torch.bmm(holder["x3"], holder["y3"])
    yield "linear", lambda: F.linear(holder["a"], holder["w"], holder["bias"])
    yield "conv2d", lambda: F.conv2d(holder["img"], holder["k"], holder["kb"])
    yield "layer_norm", lambda: F.layer_norm(holder["a"], (64,), holder["g"], holder["g"])
    yield "softmax", lambda: torch.softmax(holder["a"], dim=-1)
    yield "sdpa", lambda: F.scaled_dot_product_attention(holder["q"], holder["q"], holder["q"], is_causal=True)


def _fp8_mix(torch: Any, dtype: Any, device: str) -> Iterator[tuple[str, Callable[[], Any]]]:
    holder: dict[str, Any] = {}

    def alloc() -> Any:
        base = torch.randn(32, 64, generator=torch.Generator().manual_seed(0)).to(device)
        holder["a"] = base.to(dtype)
        holder["b"] = torch.randn(32, 64, generator=torch.Generator().manual_seed(1)).to(device).to(dtype)
        holder["one"] = torch.tensor(1.0, device=device)
        return holder["a"]

    def scaled_mm() -> Any:
        out_dtype = torch.bfloat16
        return torch._scaled_mm(
            holder["a"], holder["b"].t(), scale_a=holder["one"], scale_b=holder["one"], out_dtype=out_dtype
        )

    yield "alloc", alloc
    yield "cast", lambda: holder["a"].to(torch.float32)
    yield "_scaled_mm", scaled_mm


def _sync(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()
    elif device.startswith("xpu"):
        torch.xpu.synchronize()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:500]


def _cpu_info() -> tuple[str | None, set[str]]:
    """The CPU's model name and feature flags, from /proc/cpuinfo where there is one."""
    flags: set[str] = set()
    model: str | None = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model") and model is None:
                    model = value.strip() or None
                elif key in ("flags", "Features") and not flags:
                    flags.update(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model, flags


def device_facts(torch: Any, device: str) -> dict[str, Any]:
    """The device's name, compute capability and extra facts, without running an op (cheap)."""
    return _hardware(torch, device)[0]


def _hardware(torch: Any, device: str) -> tuple[dict[str, Any], Callable[[str], Support]]:
    """Device facts and the native/emulated rule for it."""
    facts: dict[str, Any] = {"name": None, "capability": None, "extra": {}}
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        props = torch.cuda.get_device_properties(index)
        facts["name"] = props.name
        hip = getattr(torch.version, "hip", None)
        if hip:
            arch = str(getattr(props, "gcnArchName", "") or "")
            facts["extra"] = {"hip": hip, "arch": arch}
            facts["backend"] = "cuda"
            return facts, lambda p: rocm_support(p, arch)
        cap = (int(props.major), int(props.minor))
        facts["capability"] = cap
        facts["extra"] = {"cuda": torch.version.cuda}
        return facts, lambda p: cuda_support(p, cap)
    if device == "mps":
        facts["name"] = f"Apple MPS (macOS {platform.mac_ver()[0] or '?'}, {platform.machine()})"
        return facts, lambda p: Support.NATIVE
    if device.startswith("xpu"):
        index = int(device.partition(":")[2] or 0)
        facts["name"] = str(torch.xpu.get_device_name(index))
        return facts, lambda p: Support.NATIVE
    model, flags = _cpu_info()
    facts["name"] = model or platform.processor() or platform.machine() or "cpu"
    interesting = sorted(f for f in flags if "bf16" in f or "fp16" in f or f in ("fphp", "asimdhp", "amx_tile"))
    facts["extra"] = {"cpu_flags": interesting, "machine": platform.machine()}
    return facts, lambda p: cpu_support(p, flags)


def probe_here(device: str) -> Capabilities:
    """Probe ``device`` in this process (the child calls this)."""
    import torch

    facts, rule = _hardware(torch, device)
    support: dict[str, Evidence] = {}
    for name in HARDWARE:
        if name == "tf32":
            ok = support.get("fp32")
            support[name] = Evidence(rule(name)) if ok and ok.support.runs else Evidence(Support.UNSUPPORTED)
            continue
        dtype = getattr(torch, PRECISIONS[name].storage, None)
        if dtype is None:
            support[name] = Evidence(Support.UNSUPPORTED, None, f"torch {torch.__version__} has no dtype for {name}")
            continue
        mix = _fp8_mix if name.startswith("fp8") else _op_mix
        failed: Evidence | None = None
        for op, thunk in mix(torch, dtype, device):
            try:
                thunk()
                _sync(torch, device)
            except Exception as exc:  # the failure is the finding
                failed = Evidence(Support.UNSUPPORTED, op, _short(exc))
                break
        support[name] = failed or Evidence(rule(name))
    return Capabilities(
        device=device,
        name=facts["name"],
        backend=facts.get("backend") or device.split(":", 1)[0],
        capability=facts["capability"],
        support=support,
        torch_version=str(torch.__version__),
        source="probe",
        extra=facts["extra"],
    )


# The child imports only this module and what it needs, not the package's __init__ (which imports pytest):
# a stand-in package whose path is ours lets ``pytest_dtypegate.probe`` load on its own.
_CHILD = (
    "import sys, types\n"
    "package = types.ModuleType('pytest_dtypegate')\n"
    "package.__path__ = [sys.argv.pop(1)]\n"
    "sys.modules['pytest_dtypegate'] = package\n"
    "from pytest_dtypegate.probe import main\n"
    "raise SystemExit(main())\n"
)
#: The child's exit code for a device this machine lacks (``--device auto`` resolves in the child).
DEVICE_MISSING = 3


def _child(device: str, timeout: float) -> tuple[Capabilities | None, subprocess.CompletedProcess[str] | None]:
    root = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, "-c", _CHILD, root, "--device", device]
    env = dict(os.environ)
    env.setdefault("PYTHONWARNINGS", "ignore")
    # the probe asks which kernels exist, on tiny tensors: a pool of CPU threads spinning for work only costs time
    env.setdefault("OMP_NUM_THREADS", "1")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return Capabilities(device=device, source="probe", error=f"the probe did not finish within {timeout:g} s"), None
    except OSError as exc:
        return Capabilities(device=device, source="probe", error=f"could not start the probe: {exc}"), None
    return None, proc


def _read_child(device: str, proc: subprocess.CompletedProcess[str]) -> Capabilities:
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        last = tail[-1] if tail else ""
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        return Capabilities(device=device, source="probe", error=f"the probe crashed ({how}): {last}".rstrip(": "))
    try:
        return Capabilities.loads(proc.stdout).replace(source="probe")
    except CapabilitiesError as exc:
        return Capabilities(device=device, source="probe", error=f"the probe printed something unreadable: {exc}")


def run_child(device: str, timeout: float) -> Capabilities:
    """Probe in a child process; a crash, hang or missing torch yields ``unknown`` with the reason."""
    failed, proc = _child(device, timeout)
    if proc is None:
        assert failed is not None
        return failed
    return _read_child(device, proc)


def probe_device(spec: str, timeout: float) -> Capabilities:
    """What ``dtypegate probe`` runs: the child resolves ``spec`` (``auto`` too) and probes, so this process
    never imports torch.  Raises :class:`DeviceError` for a device the machine lacks."""
    failed, proc = _child(validate_device(spec), timeout)
    if proc is None:
        assert failed is not None
        return failed
    if proc.returncode == DEVICE_MISSING:
        lines = proc.stderr.strip().splitlines()
        raise DeviceError(lines[-1] if lines else f"device {spec!r} is not available here")
    return _read_child(spec, proc)


def cache_key(device: str, torch_version: str) -> str:
    """What a cached probe result depends on: torch, device, driver, interpreter, host."""
    driver = ""
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as fh:
            driver = fh.readline().strip()
    except OSError:
        pass
    parts = [
        torch_version,
        device,
        driver,
        sys.executable,
        platform.node(),
        os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        os.environ.get("HIP_VISIBLE_DEVICES", ""),
    ]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return f"dtypegate/probe/{digest}"


# -- the child process: python -m pytest_dtypegate.probe --device DEVICE --------------
def main(argv: list[str] | None = None) -> int:
    """Probe in this process and print the capabilities as JSON (what :func:`run_child` reads)."""
    parser = argparse.ArgumentParser(prog="python -m pytest_dtypegate.probe")
    parser.add_argument("--device", required=True)
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except DeviceError as exc:
        sys.stderr.write(f"{exc}\n")
        return DEVICE_MISSING
    sys.stdout.write(probe_here(device).dumps() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
