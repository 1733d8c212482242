"""Model-migration parity harness: prove a migrated model gives the legacy numbers.

Data flows one way: spec -> inputs (fixtures) -> model run (runners) -> outputs
-> comparison (compare) -> report. Each step is a module of its own; the pytest
plugin (``harness.plugin``) and the CLI (``harness.cli``) are thin layers on top.
"""

from harness.errors import HarnessError

__all__ = ["HarnessError"]
__version__ = "0.1.0"
