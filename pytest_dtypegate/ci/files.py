"""Files the CI side writes and reads: atomic writes, and JSON read with one-line errors.

Standard library only: the plugin writes its report through :func:`write_atomic`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

__all__ = ["InputError", "read_json_file", "write_atomic", "write_text_atomic"]

PathLike = Union[str, os.PathLike[str]]


class InputError(Exception):
    """A file or value the ``matrix`` and ``gate`` commands cannot use (exit 2); one line naming it."""


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old file or the whole new one.

    A temporary file in the same directory is written, flushed to disk and then
    moved over ``path`` with ``os.replace``; on any error it is removed again.
    Missing parent directories are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomic(path: PathLike, document: Mapping[str, Any]) -> None:
    """Write a JSON document atomically (see :func:`write_text_atomic`).

    The document is serialised before the disk is touched, so a value JSON
    cannot hold raises ``TypeError``/``ValueError`` and leaves ``path`` as it was.
    """
    text = json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def _describe_json_error(exc: json.JSONDecodeError, text: str) -> str:
    # a cut-off file fails at its very end, or inside a string that never closes
    # (JSON strings cannot hold a raw newline, so only the end of the file leaves one open)
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        body = text.rstrip()
        line = body.count("\n") + 1
        column = len(body) - (body.rfind("\n") + 1)
        return f"truncated JSON (the document stops mid-way, after line {line} column {column})"
    return f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


def read_json_file(path: PathLike, what: str) -> Any:
    """Read a JSON file, raising :class:`InputError` with a one-line message naming it.

    ``what`` names the format for the messages: ``dtypegate report``, ``dtypegate matrix``.
    """
    name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a {what} (not UTF-8 text)") from None
    if not text.strip():
        raise InputError(f"{name}: empty file (the run that should have written this {what} may have crashed)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: {_describe_json_error(exc, text)}") from None
    except RecursionError:
        raise InputError(f"{name}: not a {what} (nested too deeply)") from None
