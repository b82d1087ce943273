"""Probe results in pytest's cache, shared by xdist workers under a file lock.

A successful probe is reused by later sessions until torch, the device, the
driver, the interpreter or the host changes (``probe.cache_key``).  A failed
probe is reused only within the session that produced it, so every xdist
worker does not retry a probe that just hung, and the next session tries again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
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


def _read(cache: Any, key: str, session_id: str) -> Capabilities | None:
    entry = cache.get(key, None)
    if not isinstance(entry, dict) or "capabilities" not in entry:
        return None
    try:
        caps = Capabilities.from_json(entry["capabilities"])
    except CapabilitiesError:
        return None
    if caps.error and entry.get("session") != session_id:
        return None
    return caps.replace(source="cache") if not caps.error else caps


def probe_cached(config: pytest.Config, device: str, timeout: float, session_id: str) -> Capabilities:
    """The device's capabilities: from the cache when valid, else from a child-process probe."""
    import torch

    from .probe import cache_key, run_child

    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return run_child(device, timeout)
    key = cache_key(device, str(torch.__version__))
    found = _read(cache, key, session_id)
    if found is not None:
        return found
    lock_path = Path(cache.mkdir("dtypegate")) / "probe.lock"
    with file_lock(lock_path, timeout + 30) as locked:
        if locked:
            found = _read(cache, key, session_id)  # another worker may have probed meanwhile
            if found is not None:
                return found
        caps = run_child(device, timeout)
        cache.set(key, {"session": session_id, "capabilities": caps.to_json()})
        return caps
