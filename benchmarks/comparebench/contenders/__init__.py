"""The registry: every contender, in table order, and the one list of their names.

``CONTENDERS`` is the single source: the table's rows, the ``--peers`` names and sets, the
child process's lookup and the datacompy ratios are all derived from it. Floors and the
engine always run (in the benchmark process); peers run when ``--peers`` names them.
"""

from __future__ import annotations

from .base import Contender, Kind, Outcome, short_error
from .chispa_assert import CHISPA_PRECISION, Chispa
from .datacompy_compare import Datacompy
from .engine import Engine
from .floors import JoinFloor, ScanFloor
from .pyspark_assert import PysparkAssert

# The rows the runner and the scoring refer to by name.
SCAN_FLOOR, JOIN_FLOOR, ENGINE = ScanFloor.name, JoinFloor.name, "engine"

CONTENDERS: tuple[Contender, ...] = (
    ScanFloor(),
    JoinFloor(),
    Engine(ENGINE),
    Engine("engine+report", report=True),
    Engine("engine, fresh code", fresh=True),
    Datacompy("datacompy"),
    Datacompy("datacompy dates-as-str", dates_as_str=True),
    Datacompy("datacompy+report dates-as-str", dates_as_str=True, report=True),
    PysparkAssert(),
    Chispa(),
)
BY_NAME: dict[str, Contender] = {c.name: c for c in CONTENDERS}
PEERS: list[str] = [c.name for c in CONTENDERS if c.kind == "peer"]
PEER_SETS: dict[str, list[str]] = {
    "none": [],
    "fast": ["datacompy", "datacompy dates-as-str"],
    "all": list(PEERS),
}
# The peers whose time is divided by the engine's below the table and in ``ratios``.
DATACOMPY: list[str] = [c.name for c in CONTENDERS if isinstance(c, Datacompy)]

__all__ = [
    "BY_NAME",
    "CHISPA_PRECISION",
    "CONTENDERS",
    "DATACOMPY",
    "ENGINE",
    "JOIN_FLOOR",
    "PEERS",
    "PEER_SETS",
    "SCAN_FLOOR",
    "Contender",
    "Kind",
    "Outcome",
    "short_error",
]
