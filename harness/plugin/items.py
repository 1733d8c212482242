"""The tests the plugin generates: one suite per ``suites/<model>/model.yaml``.

Per model x dataset: an ``inputs`` test, one test per output and aspect (``schema``,
``keys``, ``values``) and, when asked, a ``determinism`` test; all of a model's tests carry
one ``xdist_group``, so they stay on one pytest-xdist worker and the model runs once there.
"""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.golden.provenance import describe, golden_source
from harness.plugin.state import STATE, HarnessState
from harness.pytest_options import datasets_of
from harness.pytest_options import opt as _opt
from harness.spec import ModelSpec, load_spec

ASPECTS = ("schema", "keys", "values")  # what each output is tested on, one test each


class ParityFailure(AssertionError):
    """An output differs from its golden; the message is the readable report."""


class NondeterminismFailure(AssertionError):
    """A model's outputs differ between two runs on the same inputs; the message says where."""


def checks_determinism(config: pytest.Config, spec: ModelSpec) -> bool:
    """``--harness-determinism all``, or ``spec`` and the model's spec asks for it."""
    chosen = _opt(config, "determinism")
    return chosen == "all" or (chosen == "spec" and spec.determinism)


class ModelFile(pytest.File):
    def collect(self):
        try:
            spec = load_spec(self.path)
        except HarnessError as exc:
            yield SpecErrorItem.from_parent(
                self, name=f"{self.path.parent.name}-spec", error=str(exc)
            )
            return
        yield ModelSuite.from_parent(self, name=spec.name, spec=spec)


class ModelSuite(pytest.Collector):
    def __init__(self, *, spec: ModelSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self):
        def item(dataset: str, name: str, output: str | None, aspect: str) -> ModelItem:
            return ModelItem.from_parent(
                self,
                name=f"{dataset}-{name}",
                spec=self.spec,
                dataset=dataset,
                output=output,
                aspect=aspect,
            )

        for dataset in datasets_of(self.config):
            if dataset not in self.spec.datasets:
                continue
            yield item(dataset, "inputs", None, "inputs")
            for output in self.spec.outputs:
                for aspect in ASPECTS:
                    yield item(dataset, f"{output}-{aspect}", output, aspect)
            if checks_determinism(self.config, self.spec):  # last: it reruns the model twice
                yield item(dataset, "determinism", None, "determinism")


class ModelItem(pytest.Item):
    def __init__(self, *, spec: ModelSpec, dataset: str, output: str | None, aspect: str, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        # output None: the "inputs" and "determinism" items
        self.dataset, self.output, self.aspect = dataset, output, aspect
        self.add_marker(pytest.mark.xdist_group(spec.name))
        self.add_marker(pytest.mark.harness)
        if dataset == "full":
            self.add_marker(pytest.mark.slow)

    @property
    def model(self) -> str:
        return self.spec.name

    def runtest(self) -> None:
        state = self.config.stash[STATE]
        if self.aspect == "determinism":
            self._check_determinism(state)
            return
        if self.output is None:  # the "inputs" item
            run = state.run(self.model, self.dataset)
            if (self.model, self.dataset) in state.retried:
                self.user_properties.append(
                    ("retried_after", state.retried[(self.model, self.dataset)])
                )
            warned = [c.line() for c in run.checks if not c.ok]
            for line in warned:
                self.user_properties.append(("data_quality_warning", line))
            return
        result = state.compare(self.model, self.dataset, self.output)
        cmp = result.comparison
        source = golden_source(result.golden_manifest)
        self.user_properties.append(("golden_source", describe(source)))  # JUnit <properties>
        ok = {"schema": cmp.schema_ok, "keys": cmp.keys_ok, "values": cmp.values_ok}[self.aspect]
        if not ok:
            from harness.report.text import (
                format_changes,
                format_comparison,
                format_golden_source,
            )
            from harness.steplog import format_step_output

            run = state.run(self.model, self.dataset)
            text = "\n".join(
                t
                for t in (
                    format_comparison(cmp),
                    format_golden_source(source),
                    format_changes(result.fingerprint_changes),
                    format_step_output(run.step_output),
                )
                if t
            )
            raise ParityFailure(
                f"{self.model}/{self.dataset}/{self.output}: {self.aspect} "
                f"differ from the golden\n{text}"
            )

    def _check_determinism(self, state: HarnessState) -> None:
        from harness.workflows.determinism import WITHIN_TOLERANCE, check

        report = check(state.spark, state.project, self.spec, self.dataset, scale=state.scale())
        state.record(self.model, self.dataset).determinism = report.to_dict()
        if report.failed:
            raise NondeterminismFailure(report.text())
        if report.status == WITHIN_TOLERANCE:
            self.user_properties.append(("determinism", report.text()))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (HarnessError, ParityFailure, NondeterminismFailure)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.model}::{self.name}"


class SpecErrorItem(pytest.Item):
    def __init__(self, *, error: str, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise HarnessError(self.error)

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, None, self.name
