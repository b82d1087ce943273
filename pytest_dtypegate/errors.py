"""Compatibility: the error catalogue and the classifier live in :mod:`pytest_dtypegate.diagnosis`.

Kept for ``from pytest_dtypegate.errors import Classification`` (a classify
hook's return type) and the other names the plugin used from here.
"""

from __future__ import annotations

from .diagnosis import Classification, Operand, advise, classify, exception_text, format_section, read_precision

__all__ = ["Classification", "Operand", "advise", "classify", "exception_text", "format_section", "read_precision"]
