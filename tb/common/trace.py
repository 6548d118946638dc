"""Cycle-accurate tracing and driving for cocotb testbenches (run inside the simulator).

Convention: inputs are driven just after the falling edge; :class:`Trace`
samples the named signals in the ``ReadOnly`` phase after that falling edge,
so a row of the trace holds one clock cycle's stable values (inputs as driven,
registered outputs, and combinational outputs of those inputs).  Row ``t`` is
the cycle ending with rising edge ``t+1`` counted from the trace's start.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


class Trace:
    """Record ``names`` every cycle: ``rows[t][name]`` (ints; signed where asked)."""

    def __init__(self, dut, names, signed=(), clk="clk"):
        self.dut = dut
        self.clk = getattr(dut, clk)
        self.names = list(names)
        self.signed = set(signed)
        self.handles = [getattr(dut, n) for n in self.names]
        self.rows: list = []
        self._task = None

    def start(self):
        self._task = cocotb.start_soon(self._run())
        return self

    @property
    def now(self) -> int:
        """Index of the row the current cycle will get (valid after the falling edge)."""
        return len(self.rows)

    async def _run(self):
        while True:
            await FallingEdge(self.clk)
            await ReadOnly()
            row = {}
            for n, h in zip(self.names, self.handles):
                v = h.value
                row[n] = v.to_signed() if n in self.signed else int(v)
            self.rows.append(row)

    def column(self, name):
        return [r[name] for r in self.rows]


async def next_cycle(clk):
    """Wait until it is safe to drive the next cycle's inputs (after the falling edge)."""
    await FallingEdge(clk)


async def settle():
    """Wait for this cycle's combinational outputs (read only; drive again after next_cycle)."""
    await ReadOnly()


async def rising(clk):
    await RisingEdge(clk)
