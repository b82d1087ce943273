"""Diagnosis of dtype failures: the error catalogue, the general reader, the classifier, and advice in context.

The catalogue is data: the TOML files in ``catalogue/`` (``index.toml`` says
how they are written).  Each entry holds a message pattern, its category, how
to read the precision out of the message, a summary, the fix, the source of
the message and the real error texts it reads.  Categories
(:class:`pytest_dtypegate.facts.Category`):

- ``unsupported``: the device or the torch build has no kernel for a precision;
- ``mismatch``: two tensors of different dtypes met inside the code under test
  (a bug in that code, not a device limit);
- ``nonfinite``: a low precision overflowed (fp16 NaN/inf reaching sampling).

Under the catalogue, the general reader (``general.toml``) recognizes the shape
of a dtype error in any wording: a lexicon of every spelling of every precision
(``lexicon.toml``) and families of phrases ("not supported", "operands
differ", "overflow").  The catalogue wins where it matches; a general hit says
so (``Classification.layer``) and gives its family's advice.

Importing this package is cheap: no torch, no pytest, and the data files are
read only when a failure is first classified.

Modules: ``loader`` reads and checks the catalogue; ``regexcheck`` keeps every
pattern linear; ``lexicon`` and ``typenames`` read type names; ``normalize``
brings a log line or a paste to its message; ``general`` is the general reader;
``classifier`` applies both layers; ``advice`` gives the fix for a classified
failure in the context of the test and the device.
"""

from __future__ import annotations

from .advice import TRACKER, advise, format_section, shown_precision
from .classifier import Classification, Finding, Operand, classify, diagnose_log, exception_text
from .loader import CATEGORIES, CatalogueError, Entry, Example, catalogue, read_catalogue
from .typenames import read_precision

__all__ = [
    "CATEGORIES",
    "TRACKER",
    "CatalogueError",
    "Classification",
    "Entry",
    "Example",
    "Finding",
    "Operand",
    "advise",
    "catalogue",
    "classify",
    "diagnose_log",
    "exception_text",
    "format_section",
    "read_catalogue",
    "read_precision",
    "shown_precision",
]
