"""The matrix rendered for people and machines: one module per format.

- :mod:`.markdown`: a pull-request comment or step summary
- :mod:`.json`: the ``dtypegate.matrix/1`` document, which ``dtypegate gate --baseline`` reads back
- :mod:`.html`: one self-contained page
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import Matrix
from .html import render_html
from .json import render_json
from .markdown import render_markdown

__all__ = ["FORMATS", "render"]

_RENDERERS: dict[str, Callable[[Matrix], str]] = {
    "markdown": render_markdown,
    "json": render_json,
    "html": render_html,
}
#: The formats ``dtypegate matrix --format`` takes, the default first.
FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def render(matrix: Matrix, fmt: str) -> str:
    """The matrix in one of :data:`FORMATS`."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return renderer(matrix)
