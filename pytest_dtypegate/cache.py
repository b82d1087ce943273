"""Probe results in pytest's cache, shared by xdist workers under a file lock.

A successful probe is reused by later sessions until torch, the device, the
driver, the interpreter or the host changes (``probe.cache_key``), and only while
it still describes the live device: an entry whose device, name, compute
capability or torch version differ from what this process sees is probed again.
A failed probe is reused only within the session that produced it, so every
xdist worker does not retry a probe that just hung, and the next session tries
again. A cache that cannot be read or written (a read-only checkout, a broken
cache folder) is warned about, as pytest warns about its own cache, and the
probe runs uncached.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .capabilities import Capabilities, CapabilitiesError

__all__ = ["file_lock", "probe_cached"]


def _try_lock(fd: int) -> bool:
    """One non-blocking attempt at an exclusive lock on an open file."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[bool]:
    """An exclusive lock on ``path``; yields False when it could not be had in time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        locked = _try_lock(fd)
        while not locked and time.monotonic() < deadline:
            time.sleep(0.1)
            locked = _try_lock(fd)
        yield locked
    finally:
        os.close(fd)  # closing releases the lock


def _read(cache: Any, key: str, session_id: str, live: Identity) -> Capabilities | None:
    try:
        entry = cache.get(key, None)
    except Exception:  # a cache that cannot be read is no cache
        return None
    if not isinstance(entry, dict) or "capabilities" not in entry:
        return None
    try:
        caps = Capabilities.from_json(entry["capabilities"])
    except (CapabilitiesError, TypeError, ValueError, RecursionError):
        return None
    if caps.error:
        return caps if entry.get("session") == session_id and caps.device == live.device else None
    if not live.describes(caps):
        return None
    return caps.replace(source="cache")


def _uncached(config: pytest.Config, device: str, timeout: float, problem: BaseException) -> Capabilities:
    from .probe import run_child

    warnings.warn(
        pytest.PytestCacheWarning(
            f"dtypegate: the pytest cache cannot be used ({type(problem).__name__}: {problem}); "
            "probing this device without it"
        ),
        stacklevel=2,
    )
    return run_child(device, timeout)


def probe_cached(config: pytest.Config, device: str, timeout: float, session_id: str) -> Capabilities:
    """The device's capabilities: from the cache when valid, else from a child-process probe."""
    import torch

    from .probe import cache_key, run_child

    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return run_child(device, timeout)
    live = Identity.of(torch, device)
    key = cache_key(device, live.torch_version)
    found = _read(cache, key, session_id, live)
    if found is not None:
        return found
    try:
        lock_path = Path(cache.mkdir("dtypegate")) / "probe.lock"
        with file_lock(lock_path, timeout + 30) as locked:
            if locked:
                found = _read(cache, key, session_id, live)  # another worker may have probed meanwhile
                if found is not None:
                    return found
            caps = run_child(device, timeout)
            cache.set(key, {"session": session_id, "capabilities": caps.to_json()})
            return caps
    except OSError as exc:
        return _uncached(config, device, timeout, exc)


@dataclass(frozen=True)
class Identity:
    """What this process sees of the device, to check a cached entry against."""

    device: str
    name: str | None
    capability: tuple[int, int] | None
    torch_version: str

    @classmethod
    def of(cls, torch: Any, device: str) -> Identity:
        from .probe import device_facts

        facts = device_facts(torch, device)
        return cls(device, facts["name"], facts["capability"], str(torch.__version__))

    def describes(self, caps: Capabilities) -> bool:
        return (
            caps.device == self.device
            and caps.name == self.name
            and caps.capability == self.capability
            and caps.torch_version == self.torch_version
        )
