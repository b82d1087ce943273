"""The exit codes of the ``dtypegate`` command, declared once.

pytest's own run keeps pytest's codes (``pytest.ExitCode``: 4 for a usage error).
"""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0  # success: nothing found, or the gate passes
    FINDING = 1  # a finding: an unclassified error, a gate violation
    BAD_INPUT = 2  # bad input: an unknown name, a malformed file, a bad option
    INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT)
