"""Across CI runs: the run report, the matrix of runs, and the pull-request gate.

One module per responsibility; nothing is imported here, so the plugin's
writer side loads only what it uses.

- :mod:`.runreport`: the run-report document, built from pytest's test reports (the plugin's side; stdlib only)
- :mod:`.files`: atomic writes, and JSON files read with one-line errors that name the file
- :mod:`.reading`: run reports and matrix baselines loaded and checked against their schemas
- :mod:`.model`: the matrix (cells, legs) and how reports merge into it
- :mod:`.render`: the matrix as markdown, JSON or one HTML page, one module each
- :mod:`.pr_gate`: the pull-request rules, their ``[tool.dtypegate.gate]`` table, and the verdict
- :mod:`.github`: the step summary, the ``::error`` annotations, and escaping for both

The commands themselves are :mod:`pytest_dtypegate.cli.matrix` and :mod:`pytest_dtypegate.cli.gate`.
"""
