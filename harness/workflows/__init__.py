"""Procedures that run models through :mod:`harness.api` and return typed results.

Above the API, beside the commands: each module here runs one or more models (the API's
``run_model`` and comparisons) and hands what it found to the reports and the CLI.

- ``determinism``: a model run under two physical plans and compared exactly, to name the
  columns the model itself computes nondeterministically.
"""
