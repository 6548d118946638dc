"""Small cocotb helpers shared by the testbenches (run inside the simulator)."""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

CLK_NS = 5  # 200 MHz


async def start(dut, clk: str = "clk", rst: str = "rst", cycles: int = 3):
    """Start a 200 MHz clock and hold the synchronous reset for ``cycles`` cycles."""
    cocotb.start_soon(Clock(getattr(dut, clk), CLK_NS, unit="ns").start())
    r = getattr(dut, rst)
    r.value = 1
    await ClockCycles(getattr(dut, clk), cycles)
    r.value = 0
    await RisingEdge(getattr(dut, clk))


def pauses(rng: random.Random, p_idle: float):
    """Endless idle pattern: True = pause this cycle (probability ``p_idle``)."""
    while True:
        yield rng.random() < p_idle


async def watchdog(clk, cycles: int, what: str = "test"):
    """Fail the test (instead of hanging) after ``cycles`` clock cycles."""
    await ClockCycles(clk, cycles)
    raise AssertionError(f"watchdog: {what} did not finish within {cycles} cycles")
