"""Diagnosis of dtype failures: the error catalogue, the classifier, and advice in context.

The catalogue is data: the TOML files in ``catalogue/`` (``index.toml`` says
how they are written).  Each entry holds a message pattern, its category, how
to read the precision out of the message, a summary, the fix, the source of
the message and the real error texts it reads.  Categories
(:class:`pytest_dtypegate.facts.Category`):

- ``unsupported``: the device or the torch build has no kernel for a precision;
- ``mismatch``: two tensors of different dtypes met inside the code under test
  (a bug in that code, not a device limit);
- ``nonfinite``: a low precision overflowed (fp16 NaN/inf reaching sampling).

Importing this package is cheap: no torch, no pytest, and the catalogue is
read only when a failure is first classified.

Modules: ``loader`` reads and checks the data files; ``typenames`` reads type
names in messages; ``classifier`` applies the entries; ``advice`` gives the fix
for a classified failure in the context of the test and the device.
"""

from __future__ import annotations

from .advice import TRACKER, advise, format_section
from .classifier import Classification, Operand, classify, exception_text
from .loader import CATEGORIES, CatalogueError, Entry, Example, catalogue, read_catalogue
from .typenames import read_precision

__all__ = [
    "CATEGORIES",
    "TRACKER",
    "CatalogueError",
    "Classification",
    "Entry",
    "Example",
    "Operand",
    "advise",
    "catalogue",
    "classify",
    "exception_text",
    "format_section",
    "read_catalogue",
    "read_precision",
]
