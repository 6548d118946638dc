"""Small cocotb helpers shared by the testbenches (run inside the simulator).

:class:`BaseTB` is what every bench's ``TB`` class builds on: the dut, a
seeded ``random.Random``, the clock, the reset, pause generators and a
watchdog.  The clock period and :func:`pauses` are the runner's
(:mod:`ese.rtlsim.host`), written once.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from ese.rtlsim.host import CLK_NS, pauses  # noqa: F401  (re-exported)


async def start(dut, clk: str = "clk", rst: str = "rst", cycles: int = 3):
    """Start the clock and hold the synchronous reset for ``cycles`` cycles."""
    await BaseTB(dut, None, clk, rst).start(cycles)


async def watchdog(clk, cycles: int, what: str = "test"):
    """Fail the test (instead of hanging) after ``cycles`` clock cycles."""
    await ClockCycles(clk, cycles)
    raise AssertionError(f"watchdog: {what} did not finish within {cycles} cycles")


class BaseTB:
    """The dut, its clock and reset, a seeded rng, pause generators and a watchdog.

    ``rng`` is shared by every pause generator made by :meth:`pauses` (they
    draw from it lazily, so the order of draws follows the simulation).
    """

    def __init__(self, dut, rng: random.Random | None, clk: str = "clk", rst: str | None = "rst"):
        self.dut, self.rng = dut, rng
        self.clk = getattr(dut, clk)
        self.rst = getattr(dut, rst) if rst else None

    def pauses(self, p_idle: float):
        """An endless idle pattern (True = pause) with probability ``p_idle``."""
        return pauses(self.rng, p_idle)

    def start_clock(self) -> None:
        cocotb.start_soon(Clock(self.clk, CLK_NS, unit="ns").start())

    async def start(self, cycles: int = 3) -> None:
        """Start the clock, hold the synchronous reset for ``cycles`` cycles, return after
        the next rising edge."""
        self.start_clock()
        self.rst.value = 1
        await ClockCycles(self.clk, cycles)
        self.rst.value = 0
        await RisingEdge(self.clk)

    def watchdog(self, cycles: int, what: str = "test") -> None:
        """Fail the test after ``cycles`` cycles from now."""
        cocotb.start_soon(watchdog(self.clk, cycles, what))
