"""Why an output may differ: the analysis that reads a model's code and results, below the API.

It reads specs, fixtures and comparison results and never runs a model (no Spark job):
``sqlsource`` (a model's SQL parsed with file:line), ``lint`` (the catalogue's constructs
found), ``lineage`` (which output columns each construct feeds), ``findings`` (the shapes
they share), ``acceptance`` (a spec's ``accepted:`` entries applied), ``formats`` (lint's
text, JSON and SARIF), ``attribute`` (a failing column or failed run traced to ranked
causes), ``numeric`` (the hints that need no code) and ``determinism_report`` (what a
determinism check found). The rules themselves are :mod:`harness.catalogue`; the check that
runs a model twice is :mod:`harness.workflows.determinism`.
"""
