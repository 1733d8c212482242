"""Acceptance of an approved change: the metrics a modeler's change is judged by, computed
by Spark on the full outputs (analysis below the API; it never runs a model).

* :mod:`.cumulative`: exact running sums and mid-ranks over a whole column, partition-parallel;
* :mod:`.metrics`: PSI, KS, AUC/Gini, lift, capture, calibration, Spearman, top-N overlap;
* :mod:`.evaluate`: one output's declared criteria measured, with thresholds and verdicts.
"""

from harness.acceptance.evaluate import AcceptanceError, evaluate, failures

__all__ = ["AcceptanceError", "evaluate", "failures"]
