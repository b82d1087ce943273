"""``python -m pytest_dtypegate.cli``: the ``dtypegate`` command without its script."""

from __future__ import annotations

from . import main

raise SystemExit(main())
