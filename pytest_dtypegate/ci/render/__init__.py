"""The matrix rendered for people and machines: one module per format.

- :mod:`.markdown`: a pull-request comment or step summary (kept under GitHub's size limit)
- :mod:`.json`: the ``dtypegate.matrix/2`` document, which ``dtypegate gate --baseline`` reads back
- :mod:`.html`: one self-contained page, usable at the size of a big suite

Each renders in chunks (:func:`render_chunks`), so a large matrix is written without
being held as one string.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Matrix
from .html import render_html_chunks
from .json import render_json_chunks
from .markdown import render_markdown

__all__ = ["FORMATS", "render", "render_chunks"]

#: The formats ``dtypegate matrix --format`` takes, the default first.
FORMATS: tuple[str, ...] = ("markdown", "json", "html")


def render_chunks(matrix: Matrix, fmt: str, *, artifact: str | None = None, budget: int | None = None) -> Iterator[str]:
    """The matrix in one of :data:`FORMATS`, piece by piece.

    ``artifact`` says in the markdown where the full matrix is when the table is
    cut to ``budget`` bytes (default :data:`.markdown.BUDGET`).
    """
    if fmt == "markdown":
        options: dict[str, Any] = {"artifact": artifact}
        if budget is not None:
            options["budget"] = budget
        yield render_markdown(matrix, **options)
    elif fmt == "json":
        yield from render_json_chunks(matrix)
    elif fmt == "html":
        yield from render_html_chunks(matrix)
    else:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


def render(matrix: Matrix, fmt: str, **options: Any) -> str:
    """The matrix in one of :data:`FORMATS`, as one string."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return "".join(render_chunks(matrix, fmt, **options))
