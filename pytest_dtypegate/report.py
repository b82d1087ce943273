"""The plugin's five entry points into the CI side, until the plugin imports them from their homes.

Each lives in :mod:`pytest_dtypegate.ci`; this module goes away once the plugin switched.
"""

from __future__ import annotations

from .ci.files import write_atomic
from .ci.github import publish_github
from .ci.runreport import build_report, entries_from_reports, environment_info

__all__ = ["build_report", "entries_from_reports", "environment_info", "publish_github", "write_atomic"]
