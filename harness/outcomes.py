"""What a model run and its comparisons produced: the typed results the API returns.

Below both the API that fills them and the reports that read them (``report.records``),
so a report never imports the API. ``PHASES`` names the parts of a run's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame

from harness.compare import CompareResult
from harness.fixtures import Bundle, CheckResult
from harness.spec import ModelSpec


@dataclass
class ModelRun:
    spec: ModelSpec
    dataset: str
    platform: str  # the platform the run emulated (runners.PLATFORMS)
    outputs: dict[str, DataFrame]
    bundles: dict[str, Bundle]
    checks: list[CheckResult]
    rows_in: dict[str, int]
    fingerprint: dict[str, Any]
    run_seconds: float
    notes: list[str] = field(default_factory=list)
    rows_out: dict[str, int] = field(default_factory=dict)
    step_output: dict[str, str] = field(default_factory=dict)  # what each step printed
    # Seconds per phase (PHASES) and, for R steps on the driver, the split of their time
    # (runners.RunResult.r_timings): what the benchmark and summary.json report.
    timings: dict[str, float] = field(default_factory=dict)
    # Peak resident memory (MB) of this process during each R step run on the driver
    # (runners.RunResult.r_peak_mb): what sizes a driver that runs R.
    r_peak_mb: dict[str, float] = field(default_factory=dict)


# A model run's phases, in order: the harness's own (inputs, checks) and the model's (steps:
# the step functions, which for R on the driver includes the work; materialize: Spark
# executing the outputs' plans, for lazy SQL and Python steps where the model's work is).
PHASES = ("inputs", "checks", "steps", "materialize")


@dataclass
class OutputComparison:
    """One output of one run, compared with its golden."""

    output: str
    comparison: CompareResult
    golden_manifest: dict[str, Any]
    fingerprint_changes: list[str]
    compare_seconds: float

    @property
    def passed(self) -> bool:
        return self.comparison.passed
