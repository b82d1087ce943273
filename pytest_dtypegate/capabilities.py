"""Support states, the Capabilities of one device, and the native/emulated rules.

Pure module: no torch, no pytest.  The probe, the simulated profiles and a
user's ``pytest_dtypegate_probe`` hook all produce a :class:`Capabilities`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import precisions as _p
from . import schemas

__all__ = [
    "Capabilities",
    "CapabilitiesError",
    "Evidence",
    "Support",
    "canonical_states",
    "cpu_support",
    "cuda_support",
    "describe_problem",
    "json_problem",
    "native_hint",
    "rocm_support",
]

SCHEMA = "dtypegate.capabilities/1"


class Support(str, enum.Enum):
    """How a device runs one precision."""

    NATIVE = "native"  # hardware units and kernels
    EMULATED = "emulated"  # kernels run, without hardware units: slow, fused kernels may be missing
    UNSUPPORTED = "unsupported"  # kernels raise
    UNKNOWN = "unknown"  # the probe could not tell (see the reason)

    def __str__(self) -> str:
        return self.value

    @property
    def runs(self) -> bool:
        return self in (Support.NATIVE, Support.EMULATED)


class CapabilitiesError(ValueError):
    """A Capabilities value or document that does not make sense."""


@dataclass(frozen=True)
class Evidence:
    """Why one precision got its support state."""

    support: Support
    op: str | None = None  # the probe op that failed, when one did
    message: str | None = None  # what it raised, or why the state is what it is

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"support": self.support.value}
        if self.op:
            out["op"] = self.op
        if self.message:
            out["message"] = self.message
        return out


def _support(value: Any, where: str) -> Support:
    if isinstance(value, Support):
        return value
    if isinstance(value, str):
        try:
            return Support(value.strip().lower())
        except ValueError:
            pass
    valid = ", ".join(s.value for s in Support)
    raise CapabilitiesError(f"{where}: {value!r} is not a support state; valid: {valid}")


def _evidence(value: Any, where: str) -> Evidence:
    if isinstance(value, Evidence):
        return value
    if isinstance(value, Mapping):
        if "support" not in value:
            raise CapabilitiesError(f"{where}: missing 'support'")
        op = value.get("op")
        msg = value.get("message")
        if op is not None and not isinstance(op, str):
            raise CapabilitiesError(f"{where}: 'op' must be a string")
        if msg is not None and not isinstance(msg, str):
            raise CapabilitiesError(f"{where}: 'message' must be a string")
        return Evidence(_support(value["support"], where), op, msg)
    return Evidence(_support(value, where))


@dataclass(frozen=True)
class Capabilities:
    """One device's answer for every precision, with the evidence.

    Construct it directly, for example in a ``pytest_dtypegate_probe`` hook::

        Capabilities(device="cuda:0", name="Tesla V100-SXM2-16GB", backend="cuda",
                     capability=(7, 0),
                     support={"fp32": "native", "fp16": "native", "bf16": "emulated"})

    Precisions ``support`` does not name count as unsupported; when ``error``
    is set (the probe failed) every precision is unknown and ``error`` says why.
    """

    device: str
    name: str | None = None
    backend: str | None = None
    capability: tuple[int, int] | None = None
    support: Mapping[str, Any] = field(default_factory=dict)
    torch_version: str | None = None
    source: str = "hook"  # probe | cache | profile | hook
    error: str | None = None
    profile: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not self.device:
            raise CapabilitiesError(f"device must be a non-empty string, got {self.device!r}")
        backend = self.backend or self.device.split(":", 1)[0]
        object.__setattr__(self, "backend", backend)
        cap = self.capability
        if cap is not None:
            if (
                not isinstance(cap, (tuple, list))
                or len(cap) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in cap)
            ):
                raise CapabilitiesError(f"capability must be a (major, minor) pair of ints, got {cap!r}")
            object.__setattr__(self, "capability", (int(cap[0]), int(cap[1])))
        if not isinstance(self.support, Mapping):
            raise CapabilitiesError(f"support must be a mapping of precision to state, got {self.support!r}")
        table: dict[str, Evidence] = {}
        for key, value in self.support.items():
            try:
                name = _p.resolve(key, allow_auto=False)
            except _p.UnknownPrecisionError as exc:
                raise CapabilitiesError(f"support: {exc}") from None
            table[name] = _evidence(value, f"support[{key!r}]")
        object.__setattr__(self, "support", table)
        problem = json_problem(self.extra, "extra")
        if problem is not None:
            raise CapabilitiesError(problem)
        object.__setattr__(self, "extra", dict(self.extra))

    # -- queries ---------------------------------------------------------
    @property
    def evidence(self) -> dict[str, Evidence]:
        return dict(self.support)

    def of(self, precision: str) -> Evidence:
        """The evidence for one precision (autocast precisions follow their compute type)."""
        name = _p.resolve(precision, allow_auto=False)
        if self.error:
            return Evidence(Support.UNKNOWN, None, self.error)
        table: dict[str, Evidence] = self.support  # type: ignore[assignment]
        if name in table:
            return table[name]
        hw = _p.PRECISIONS[name].hardware
        if hw in table and hw != name:
            return table[hw]
        return Evidence(Support.UNSUPPORTED, None, "not listed in the device's capabilities")

    def support_of(self, precision: str) -> Support:
        return self.of(precision).support

    @property
    def sm(self) -> str | None:
        if self.capability is None:
            return None
        return f"sm_{self.capability[0]}{self.capability[1]}"

    def label(self) -> str:
        """``Tesla V100-SXM2-16GB (sm_70)``, ``AMD EPYC (cpu)`` or ``cpu``: how reasons name the device."""
        base = self.name or self.device
        if self.sm:
            return f"{base} ({self.sm})"
        if self.name and self.name != self.device:
            return f"{self.name} ({self.device})"
        return base

    def summary_line(self) -> str:
        """One line: device, torch version and each precision's support."""
        who = self.label()
        if self.profile:
            who = f"simulating {self.profile} ({self.sm or self.backend}): {self.name or self.device}"
        torch_part = f"torch {self.torch_version}" if self.torch_version else "torch version unknown"
        if self.error:
            if not self.torch_version:
                return f"{who}: probe failed: {self.error}"
            return f"{who} [{torch_part}]: probe failed: {self.error}"
        parts = []
        for name in _p.PRECISIONS:
            parts.append(f"{name} {self.support_of(name).value}")
        return f"{who} [{torch_part}]: " + ", ".join(parts)

    # -- JSON --------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "device": self.device,
            "name": self.name,
            "backend": self.backend,
            "capability": list(self.capability) if self.capability else None,
            "torch_version": self.torch_version,
            "source": self.source,
            "error": self.error,
            "profile": self.profile,
            "support": {k: v.to_json() for k, v in self.evidence.items()},
            "extra": dict(self.extra),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, data: Any) -> Capabilities:
        """Rebuild from :meth:`to_json` output; raises :class:`CapabilitiesError`.

        The document is checked against ``schemas/capabilities.schema.json``;
        precision names and the rest are checked by :class:`Capabilities` itself.
        """
        data = canonical_states(data)
        problems = schemas.validate(data, "capabilities")
        if problems:
            raise CapabilitiesError(_describe(problems[0], data))
        cap = data.get("capability")
        return cls(
            device=data["device"],
            name=data.get("name"),
            backend=data.get("backend"),
            capability=tuple(cap) if cap is not None else None,
            support=data.get("support") or {},
            torch_version=data.get("torch_version"),
            source=str(data.get("source") or "hook"),
            error=data.get("error"),
            profile=data.get("profile"),
            extra=data.get("extra") or {},
        )

    @classmethod
    def loads(cls, text: str) -> Capabilities:
        """Read :meth:`dumps` output strictly: ``NaN``/``Infinity`` and pathological JSON are refused."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise CapabilitiesError(f"not valid JSON: {exc}") from None
        except RecursionError:
            raise CapabilitiesError("not valid JSON: nested too deeply") from None
        except ValueError as exc:  # NaN, or an integer beyond the interpreter's digit limit
            raise CapabilitiesError(f"not valid JSON: {exc}") from None
        return cls.from_json(data)

    def replace(self, **changes: Any) -> Capabilities:
        return dataclasses.replace(self, **changes)


# -- JSON-safe values ------------------------------------------------------------------------
#: How deep ``extra`` may nest; far more than any fact a device has.
MAX_EXTRA_DEPTH = 32


def json_problem(value: Any, where: str) -> str | None:
    """Why ``value`` is not plain JSON data (NaN, inf, a set, a non-string key, nesting too deep), or None.

    ``Capabilities.extra`` must be: it goes into the run report, the probe
    cache and the matrix, and a value JSON cannot hold would crash the writing
    of all three at the end of a session.  Iterative, so deep nesting is told,
    not a ``RecursionError``.
    """
    if not isinstance(value, Mapping):
        return f"{where} must be a mapping of names to JSON values, got {type(value).__name__}"
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, at, depth = stack.pop()
        if item is None or isinstance(item, (str, bool)):
            continue
        if isinstance(item, int):
            if abs(item) >= 10**18:
                return f"{at}: the integer {str(item)[:24]}... is too large for JSON data (at most 18 digits)"
            continue
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return f"{at}: {item!r} is not JSON data (use null, or a string such as {str(item)!r})"
            continue
        if depth >= MAX_EXTRA_DEPTH:
            return f"{at}: nested more than {MAX_EXTRA_DEPTH} levels deep"
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{at}: the key {key!r} is not a string (JSON object keys are strings)"
                stack.append((child, f"{at}[{key!r}]", depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{at}[{index}]", depth + 1) for index, child in enumerate(item))
        else:
            kind = type(item).__name__
            hint = " (use a sorted list)" if isinstance(item, (set, frozenset)) else ""
            return f"{at}: a {kind} is not JSON data{hint}"
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# -- reading the JSON form ----------------------------------------------------------------
_STATES = frozenset(state.value for state in Support)


def _canonical_state(value: Any) -> Any:
    if isinstance(value, str):
        state = value.strip().lower()
        return state if state in _STATES else value
    if isinstance(value, Mapping) and isinstance(value.get("support"), str):
        state = value["support"].strip().lower()
        if state in _STATES and state != value["support"]:
            return {**value, "support": state}
    return value


def canonical_states(data: Any) -> Any:
    """``data`` with its support states in the schema's spelling: states are read case-insensitively.

    ``"Native"`` and ``" emulated"`` mean what they mean to :class:`Capabilities`
    itself; anything else is left for the schema to refuse.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("support"), Mapping):
        return data
    return {**data, "support": {key: _canonical_state(value) for key, value in data["support"].items()}}


def describe_problem(problem: schemas.Problem, data: Mapping[str, Any]) -> str | None:
    """A problem with the device part of a capabilities document, as :class:`Capabilities` words it.

    ``problem.path`` is relative to that part (``data``): ``device``,
    ``capability``, ``support`` and what is in it.  None for other keys.
    """
    path = problem.path
    if not path:
        return None
    if path[0] == "device":
        return f"device must be a non-empty string, got {data.get('device')!r}"
    if path[0] == "capability":
        cap = data.get("capability")
        return f"capability must be a (major, minor) pair of ints, got {tuple(cap) if isinstance(cap, list) else cap!r}"
    if path[0] != "support":
        return None
    if len(path) == 1:
        return f"support must be a mapping of precision to state, got {problem.value!r}"
    for key in data["support"]:  # each entry's precision is checked before its state, as Capabilities does
        try:
            _p.resolve(key, allow_auto=False)
        except _p.UnknownPrecisionError as exc:
            return f"support: {exc}"
        if key == path[1]:
            break
    where = f"support[{path[1]!r}]"
    if len(path) == 2 and problem.keyword == "required":
        return f"{where}: missing 'support'"
    if len(path) == 3 and path[2] in ("op", "message"):
        return f"{where}: {path[2]!r} must be a string"
    valid = ", ".join(state.value for state in Support)
    return f"{where}: {problem.value!r} is not a support state; valid: {valid}"


def _describe(problem: schemas.Problem, data: Any) -> str:
    """What :meth:`Capabilities.from_json` says about the first problem of a document."""
    path = problem.path
    if not path:
        if problem.keyword == "required":
            return f"capabilities: missing {problem.key!r}"
        return "capabilities must be a JSON object"
    if path == ("schema",):
        return f"unknown capabilities schema {problem.value!r} (expected {SCHEMA!r})"
    if len(path) == 1 and path[0] in ("name", "backend", "torch_version", "error", "profile", "source", "extra"):
        kind = "an object" if path[0] == "extra" else "a string"
        return f"capabilities: {path[0]!r} must be {kind}"
    return describe_problem(problem, data) or f"capabilities: {problem}"


# -- native vs emulated: hardware facts ---------------------------------------
# A precision whose kernels ran in the probe is native when the hardware has
# units for it, emulated otherwise.
#
# CUDA: bf16 and TF32 tensor cores arrived with Ampere, sm_80 (NVIDIA Ampere
# architecture whitepaper; PyTorch's own `torch.cuda.is_bf16_supported` checks
# `major >= 8` when including_emulation=False).  FP8 tensor cores arrived with
# Ada (sm_89) and Hopper (sm_90); torch._scaled_mm raises below sm_89.  Native
# fp16 arithmetic exists from sm_53 (CUDA C Programming Guide, "Arithmetic
# Instructions" throughput table).
_CUDA_MIN: dict[str, tuple[int, int]] = {
    "bf16": (8, 0),
    "tf32": (8, 0),
    "fp8_e4m3": (8, 9),
    "fp8_e5m2": (8, 9),
    "fp16": (5, 3),
    "fp32": (0, 0),
    "fp64": (0, 0),
}


def cuda_support(precision: str, capability: tuple[int, int]) -> Support:
    """Native or emulated, for kernels that ran on a CUDA device of this capability."""
    hw = _p.PRECISIONS[_p.resolve(precision, allow_auto=False)].hardware
    need = _CUDA_MIN.get(hw, (0, 0))
    return Support.NATIVE if tuple(capability) >= need else Support.EMULATED


# ROCm: bf16 matrix cores on CDNA2/3 (gfx90a, gfx94x, gfx95x) and RDNA3/4
# (gfx11xx, gfx12xx) (AMD ROCm "precision support" documentation); fp8 on
# gfx94x/gfx95x (MI300/MI350) and gfx12xx.
def rocm_support(precision: str, arch: str) -> Support:
    hw = _p.PRECISIONS[_p.resolve(precision, allow_auto=False)].hardware
    arch = arch.split(":", 1)[0].lower()
    bf16 = arch.startswith(("gfx90a", "gfx94", "gfx95", "gfx11", "gfx12"))
    fp8 = arch.startswith(("gfx94", "gfx95", "gfx12"))
    if hw == "bf16":
        return Support.NATIVE if bf16 else Support.EMULATED
    if hw.startswith("fp8"):
        return Support.NATIVE if fp8 else Support.EMULATED
    if hw == "tf32":
        # hipBLASLt xf32 exists only on gfx94x
        return Support.NATIVE if arch.startswith("gfx94") else Support.EMULATED
    return Support.NATIVE


# CPU: x86 bf16 dot products come with AVX512_BF16 (Cooper Lake) and AMX-BF16
# (Sapphire Rapids); fp16 with AVX512_FP16 / AMX-FP16.  On Arm the `bf16` and
# `fphp`/`asimdhp` feature flags in /proc/cpuinfo say the same.  oneDNN picks
# these ISA paths; without them ATen converts to fp32 internally.
def cpu_support(precision: str, flags: Iterable[str]) -> Support:
    hw = _p.PRECISIONS[_p.resolve(precision, allow_auto=False)].hardware
    f = {x.lower() for x in flags}
    if hw in ("fp32", "fp64"):
        return Support.NATIVE
    if hw == "bf16":
        return Support.NATIVE if f & {"avx512_bf16", "amx_bf16", "bf16", "sve_bf16"} else Support.EMULATED
    if hw == "fp16":
        return Support.NATIVE if f & {"avx512_fp16", "amx_fp16", "fphp", "asimdhp"} else Support.EMULATED
    return Support.EMULATED  # tf32 and fp8 have no CPU units


def native_hint(precision: str, backend: str | None) -> str | None:
    """What native support for a precision needs on a backend, for skip reasons."""
    hw = _p.PRECISIONS[_p.resolve(precision, allow_auto=False)].hardware
    if backend == "cuda" and hw in _CUDA_MIN and _CUDA_MIN[hw] > (0, 0):
        major, minor = _CUDA_MIN[hw]
        return f"native {hw} needs sm_{major}{minor}+"
    if backend == "mps" and hw == "bf16":
        return "bf16 on MPS needs macOS 14+ on Apple silicon"
    if backend == "mps" and hw == "fp64":
        return "MPS has no float64"
    if backend == "cpu" and hw == "bf16":
        return "native bf16 on CPU needs AVX512-BF16 or AMX (x86) or the Arm bf16 extension"
    if backend == "cpu" and hw == "fp16":
        return "native fp16 on CPU needs AVX512-FP16 or AMX-FP16 (x86) or Arm fp16 arithmetic"
    if backend == "cpu" and hw in ("tf32", "fp8_e4m3", "fp8_e5m2"):
        return f"CPUs have no {hw} units"
    return None
