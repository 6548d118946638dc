"""Drivers of the PE's load and command ports (``pe_fetch`` and ``pe`` share them).

Both run inside the simulator and follow the drive convention of
:mod:`tb.common.trace`: call them just after a falling edge; they return just
after a falling edge.

* :class:`LoadDriver`: ``ld_we``, ``ld_sel``, ``ld_addr``, ``ld_data``: one
  (sel, addr, data) word a cycle, idle cycles from a pause generator.
* :class:`PeCommandDriver`: ``cmd_valid``/``cmd_ready`` with ``cmd_ptr_base``,
  ``cmd_ncols``, ``cmd_vec_base``, ``cmd_acc_base``, ``cmd_shift`` (and the
  ``avail`` input): holds a command until it is accepted and returns the
  trace row of the accepting cycle.
"""

from __future__ import annotations

from cocotb.triggers import FallingEdge, ReadOnly


class LoadDriver:
    """Writes words through the load port; ``pause`` (a :func:`~tb.common.sim.pauses`
    generator) is drawn once before each word until it says go."""

    def __init__(self, dut, pause):
        self.dut, self.pause = dut, pause

    async def write(self, loads) -> None:
        """Write every (sel, addr, data) of ``loads`` in order (``ld_we`` low when done)."""
        d = self.dut
        for sel, addr, data in loads:
            while next(self.pause):
                await FallingEdge(d.clk)
            d.ld_we.value, d.ld_sel.value, d.ld_addr.value, d.ld_data.value = 1, sel, addr, data
            await FallingEdge(d.clk)
            d.ld_we.value = 0


class PeCommandDriver:
    """Offers commands (ptr_base, ncols, vec_base, acc_base, shift) on the ``cmd_*`` port.

    ``trace`` (a started :class:`~tb.common.trace.Trace`) numbers the cycles.
    """

    def __init__(self, dut, trace):
        self.dut, self.trace = dut, trace

    async def issue(self, cmd, avail=None) -> int:
        """Hold ``cmd_valid`` (with ``avail`` if given) until accepted; return the accept row."""
        d = self.dut
        d.cmd_ptr_base.value, d.cmd_ncols.value, d.cmd_vec_base.value, \
            d.cmd_acc_base.value, d.cmd_shift.value = cmd
        if avail is not None:
            d.avail.value = avail
        d.cmd_valid.value = 1
        while True:
            t = self.trace.now
            await ReadOnly()
            ok = int(d.cmd_ready.value)
            await FallingEdge(d.clk)
            if ok:
                d.cmd_valid.value = 0
                return t

    async def wait_ready(self) -> None:
        """Wait for a cycle with ``cmd_ready`` high (no command offered)."""
        while True:
            await ReadOnly()
            ok = int(self.dut.cmd_ready.value)
            await FallingEdge(self.dut.clk)
            if ok:
                return
