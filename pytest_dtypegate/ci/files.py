"""Files the CI side writes and reads: safe writes, and JSON read strictly with one-line errors.

Standard library only: the plugin writes its report through :func:`write_atomic`.

Writing: a regular file (or a new one) is replaced atomically; a symlink is
followed and its target written (the link stays a link); a FIFO, a device such
as ``/dev/null`` or ``/dev/stdout``, or anything else that is not a regular
file is written through, never replaced.  A path ending in ``.gz`` is written
gzip-compressed.

Reading: a file is refused, as an :class:`InputError` naming it and the place
in it, when it is missing, unreadable, larger than :data:`MAX_BYTES` (also once
decompressed: gzip is recognised by its magic bytes), not UTF-8, empty, cut
off, not JSON, or JSON that a strict reader refuses: ``NaN``/``Infinity``, a
number that is not finite once read (``1e999``), an integer longer than
:data:`MAX_INT_DIGITS` digits, nesting deeper than Python can follow.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import gzip
import json
import math
import os
import stat
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

from ..text import printable

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "InputError",
    "collector_paused",
    "decode_json",
    "deeper_than",
    "dumps_document",
    "read_bytes",
    "read_json_file",
    "scrub",
    "write_atomic",
    "write_chunks",
    "write_text_atomic",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The largest file (after decompression) a reader takes: far above a real report (about 10 MB per 20,000 tests).
MAX_BYTES = 1 << 30
#: The longest integer a reader takes; larger ones are no count, line or capability any report holds.
MAX_INT_DIGITS = 18
#: How deep free-form values (``extra``, ``settings``, ``environment``) may nest.
MAX_DEPTH = 32
_GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """A file or value the ``matrix`` and ``gate`` commands cannot use (exit 2); one line naming it."""


# -- memory ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a matrix is read, built or written.

    Reading 20 reports makes about a million small objects (typed records, cells,
    strings) that hold no reference cycles; the collector would walk the growing
    heap again and again, which more than doubled the time of ``matrix`` and
    ``gate``.  Reference counting still frees everything; the collector's state
    is restored on the way out.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# -- writing ------------------------------------------------------------------------------------
def scrub(value: Any) -> Any:
    """``value`` with every string (keys too) passed through :func:`~pytest_dtypegate.text.printable`.

    For documents that hold text no UTF-8 file can (a lone surrogate from a test's
    message or a command-line argument): the rare path, taken only when encoding fails.
    """
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, Mapping):
        return {scrub(key) if isinstance(key, str) else key: scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def write_chunks(path: PathLike, chunks: Iterable[str]) -> None:
    """Write text chunks as UTF-8: atomically for a regular file, through for anything else.

    A symlink is followed (its target is written, the link is kept); missing
    parent directories of a new file are created.  A regular file keeps its
    permission bits; a new one gets ``0o644``.  A path ending in ``.gz`` is
    compressed.  Text no UTF-8 file can hold is written escaped (``\\udcff``).
    """
    target = Path(os.path.realpath(os.fspath(path)))
    compress = os.fspath(path).endswith(".gz")
    try:
        mode: Optional[int] = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", os.fspath(path))
        with open(target, "wb") as raw:  # a FIFO, a device, a socket: never replace it
            _pour(raw, chunks, compress)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            _pour(handle, chunks, compress)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _pour(handle: BinaryIO, chunks: Iterable[str], compress: bool) -> None:
    if compress:
        with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=6, mtime=0) as zipped:
            for chunk in chunks:
                zipped.write(chunk.encode("utf-8", "backslashreplace"))
        return
    for chunk in chunks:
        handle.write(chunk.encode("utf-8", "backslashreplace"))


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 so that ``path`` holds either the old file or the whole new one.

    See :func:`write_chunks` for symlinks and special files; a path ending in
    ``.gz`` is compressed.  Text no UTF-8 file can hold is written escaped.
    """
    write_chunks(path, (text,))


def dumps_document(document: Mapping[str, Any]) -> str:
    """A document as JSON text, laid out for people and for fast reading alike.

    One top-level key per line; a list (a report's ``tests``) one item per line,
    each item compact; other values indented.  Pure JSON: any reader reads it.
    Refuses what JSON cannot hold (NaN, a set) with ``ValueError``/``TypeError``.
    """
    parts = []
    for key, value in document.items():
        name = json.dumps(key, ensure_ascii=False)
        if isinstance(value, list) and value:
            items = ",\n".join(json.dumps(item, ensure_ascii=False, allow_nan=False) for item in value)
            text = f"[\n{items}\n]"
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        parts.append(f"{name}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_atomic(path: PathLike, document: Mapping[str, Any]) -> None:
    """Write a JSON document atomically (see :func:`write_chunks`), laid out by :func:`dumps_document`.

    The document is serialised before the disk is touched, so a value JSON
    cannot hold (NaN, a set) raises ``TypeError``/``ValueError`` and leaves
    ``path`` as it was.  Text that UTF-8 cannot hold (a lone surrogate) is
    escaped with :func:`scrub` rather than lost with the whole report.
    """
    text = dumps_document(document)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = dumps_document(scrub(document))
    write_chunks(path, (text,))


# -- reading -------------------------------------------------------------------------------------
class _Refused(ValueError):
    """A JSON value a strict reader refuses (raised from the decoder's hooks)."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_int=_integer, parse_float=_float)


def _describe_json_error(exc: json.JSONDecodeError, text: str) -> str:
    # a cut-off file fails at its very end, or inside a string that never closes
    # (JSON strings cannot hold a raw newline, so only the end of the file leaves one open)
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        body = text.rstrip()
        line = body.count("\n") + 1
        column = len(body) - (body.rfind("\n") + 1)
        return f"truncated JSON (the document stops mid-way, after line {line} column {column})"
    return f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


def read_bytes(path: PathLike, what: str) -> bytes:
    """The file's bytes, decompressed when it is gzip; :class:`InputError` naming it otherwise."""
    name = printable(os.fspath(path))
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            inflater = zlib.decompressobj(wbits=31)
            data = inflater.decompress(raw, MAX_BYTES + 1)
        except zlib.error as exc:
            raise InputError(f"{name}: not a {what} (a damaged gzip file: {exc})") from None
        if len(data) > MAX_BYTES:
            raise InputError(f"{name}: larger than {MAX_BYTES >> 20} MiB once decompressed; not a {what}")
        if not inflater.eof:
            raise InputError(f"{name}: truncated gzip file (the compressed stream stops mid-way)")
        return data
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: larger than {MAX_BYTES >> 20} MiB; not a {what}")
    return raw


def decode_json(raw: bytes, name: str, what: str) -> Any:
    """Decode UTF-8 JSON bytes strictly; :class:`InputError` naming ``name`` and the place otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a {what} (not UTF-8 text)") from None
    if not text.strip():
        raise InputError(f"{name}: empty file (the run that should have written this {what} may have crashed)")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: {_describe_json_error(exc, text)}") from None
    except _Refused as exc:
        raise InputError(f"{name}: not a {what} ({exc})") from None
    except RecursionError:
        raise InputError(f"{name}: not a {what} (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer beyond the interpreter's digit limit
        raise InputError(f"{name}: not a {what} ({printable(exc)})") from None


def read_json_file(path: PathLike, what: str) -> Any:
    """Read a JSON file (gzip or not), raising :class:`InputError` with a one-line message naming it.

    ``what`` names the format for the messages: ``dtypegate report``, ``dtypegate matrix``.
    """
    return decode_json(read_bytes(path, what), printable(os.fspath(path)), what)


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
