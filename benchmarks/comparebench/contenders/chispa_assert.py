"""Peer: ``chispa.assert_approx_df_equality``, a popular DataFrame assertion library.

chispa's ``precision`` is an absolute tolerance: ``RTOL * VALUE_HI`` (rtol times the
largest value) accepts every within-tolerance change (<= 1e-9 absolute) and rejects every
beyond-tolerance one (>= 1e-4), so its verdict answers the same question as the others'.
It collects both sides and builds a PrettyTable of every row pair before raising.
"""

from __future__ import annotations

from typing import Any

from ..data import RTOL, VALUE_HI
from .base import Contender, Kind, Outcome

CHISPA_PRECISION = RTOL * VALUE_HI


class Chispa(Contender):
    """``assert_approx_df_equality(golden, candidate, precision, ignore_row_order, NaN ==)``."""

    name = "chispa"
    kind: Kind = "peer"

    def prepare(self) -> None:
        import chispa  # noqa: F401  (imported before the clock starts)

    def failures(self) -> tuple[type[BaseException], ...]:
        import chispa

        return (AssertionError, chispa.DataFramesNotEqualError, chispa.SchemasNotEqualError)

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        import chispa

        chispa.assert_approx_df_equality(
            golden,
            candidate,
            precision=CHISPA_PRECISION,
            ignore_row_order=True,
            allow_nan_equality=True,
        )
        return Outcome("pass", None, "")
