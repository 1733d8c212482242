"""The peak memory of a stretch of work (harness.memory), as R steps on the driver record
it: exact on Linux (the peak resident set is reset at the start), and a block that holds
more memory than another shows a higher peak."""

from __future__ import annotations

import sys

import pytest

from harness.memory import PeakMemory, _status_mb


def hold(mb: int) -> int:
    block = bytearray(mb * 1024 * 1024)  # zero-filled: every page touched
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's VmHWM")
def test_peak_of_a_block_is_its_own_not_the_processes_lifetime_peak() -> None:
    with PeakMemory() as big:
        hold(300)
    with PeakMemory() as small:
        hold(20)
    assert big.exact and small.exact
    now = _status_mb("VmRSS")
    assert now is not None
    assert big.mb >= now + 250  # the 300 MB block was resident during the first block
    assert small.mb < big.mb - 200  # the second block's peak started again from now


def test_peak_is_never_below_what_the_process_holds() -> None:
    kept = bytearray(50 * 1024 * 1024)
    with PeakMemory() as peak:
        kept[::4096] = b"\x01" * len(kept[::4096])
    assert peak.mb >= 50
