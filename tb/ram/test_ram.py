"""ram and banked_ram: random writes and reads with enables, checked against a dict model.

Checks the read latency (1 cycle; 3 for ``banked_ram``), that ``rdata`` holds
the last read's word while ``re`` is low and that a word written in cycle n is
read by a read issued in cycle n+1.  A read of the address written in the same
cycle is undefined (docstring): its result is not checked.
"""

import random

import pytest

from tb.common.runner import SIMS, run_cocotb, tb_params

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from tb.common.sim import BaseTB


class TB(BaseTB):
    """ram (no reset port): the clock, the write and read ports, a dict model of the contents."""

    def __init__(self, dut, rng: random.Random):
        super().__init__(dut, rng, rst=None)
        self.model: dict[int, int] = {}
        dut.we.value = 0
        dut.re.value = 0

    async def fill(self, width: int, depth: int) -> None:
        """Write every word once (random values) so that every read has a defined expectation."""
        dut = self.dut
        for a in range(depth):
            await FallingEdge(dut.clk)
            v = self.rng.getrandbits(width)
            dut.we.value, dut.waddr.value, dut.wdata.value = 1, a, v
            self.model[a] = v
        await FallingEdge(dut.clk)
        dut.we.value = 0


@cocotb.test()
async def random_access(dut):
    p = tb_params()
    rng = random.Random(p["seed"])
    width, depth, n = p["width"], p["depth"], p["ops"]
    tb = TB(dut, rng)
    tb.start_clock()
    tb.watchdog(4 * n + 100, "ram test")
    await tb.fill(width, depth)
    model = tb.model
    lat = p["lat"]
    line = ["hold"] * (lat - 1)   # the reads on their way, oldest first (None = undefined)
    expect = None          # what rdata must show this cycle (the last read lat or more ago)
    hot = list(range(min(depth, 4))) + [depth - 1]   # a few addresses hit often
    checked = 0
    for _ in range(n):
        await FallingEdge(dut.clk)
        we = rng.random() < 0.5
        re = rng.random() < 0.5
        wa = rng.choice(hot) if rng.random() < 0.3 else rng.randrange(depth)
        ra = rng.choice(hot) if rng.random() < 0.3 else rng.randrange(depth)
        wv = rng.getrandbits(width)
        dut.we.value, dut.waddr.value, dut.wdata.value = int(we), wa, wv
        dut.re.value, dut.raddr.value = int(re), ra
        await ReadOnly()
        if expect is not None:
            assert int(dut.rdata.value) == expect, \
                f"rdata {int(dut.rdata.value):#x}, expected {expect:#x}"
            checked += 1
        # a read loads on this edge and shows lat cycles later; without one rdata holds
        line.append((None if (we and wa == ra) else model[ra]) if re else "hold")
        due = line.pop(0)
        if due != "hold":
            expect = due
        if we:
            model[wa] = wv
    assert checked > n // 2, f"only {checked} reads checked"


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("width,depth", [(16, 64), (13, 37)])
def test_ram(sim, width, depth):
    from ese.config import TINY
    from ese.hdl.ram import top

    params = dict(seed=width + depth, width=width, depth=depth, ops=600, lat=1)
    run_cocotb("ram", lambda: top(TINY, width=width, depth=depth), __name__, sim,
               f"w{width}d{depth}", params)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("width,depth,bank", [(16, 64, 16), (13, 37, 8)])
def test_banked_ram(sim, width, depth, bank):
    from ese.config import TINY
    from ese.hdl.ram import top_banked

    params = dict(seed=width + depth + bank, width=width, depth=depth, ops=600, lat=3)
    run_cocotb("banked_ram", lambda: top_banked(TINY, width, depth, bank), __name__, sim,
               f"w{width}d{depth}b{bank}", params, testcase="random_access")
