"""FIFO: random traffic with stalls on both sides, checked by an in-order scoreboard."""

import random

import pytest

from tb.common.runner import SIMS, run_cocotb, tb_params

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.scoreboard import Scoreboard
from tb.common.sim import BaseTB


class TB(BaseTB):
    """fifo: clock and reset, a pause generator on each side, a scoreboard of the words."""

    def __init__(self, dut, rng: random.Random, p_idle_in: float, p_idle_out: float):
        super().__init__(dut, rng)
        self.wr_pause = self.pauses(p_idle_in)
        self.rd_pause = self.pauses(p_idle_out)
        self.words = Scoreboard("fifo output", fmt=hex)

    async def run(self, words: list[int], depth: int, max_cycles: int) -> None:
        """Push ``words`` and pop them with random pauses on both sides; check order and count."""
        dut = self.dut
        n = len(words)
        i = 0
        dut.in_valid.value = 0
        dut.out_ready.value = 0
        for _ in range(max_cycles):
            await FallingEdge(dut.clk)
            # drive this cycle's requests
            dut.in_valid.value = int(i < n and not next(self.wr_pause))
            if i < n:
                dut.in_data.value = words[i]
            dut.out_ready.value = int(not next(self.rd_pause))
            await RisingEdge(dut.clk)
            # sample the handshakes that happened on this edge (signals still pre-edge)
            if int(dut.in_valid.value) and int(dut.in_ready.value):
                self.words.expect(words[i])
                i += 1
            if int(dut.out_valid.value) and int(dut.out_ready.value):
                self.words.observe(int(dut.out_data.value))
            assert int(dut.count.value) <= depth
            if self.words.matched == n:
                break
        self.words.finish(n)


@cocotb.test()
async def random_traffic(dut):
    p = tb_params()
    rng = random.Random(p["seed"])
    width, depth, n = p["width"], p["depth"], p["words"]
    tb = TB(dut, rng, p["p_idle_in"], p["p_idle_out"])
    await tb.start()
    words = [rng.getrandbits(width) for _ in range(n)]
    await tb.run(words, depth, max_cycles=40 * n)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("width,depth", [(8, 4), (37, 5)])
def test_fifo(sim, width, depth):
    key = f"w{width}d{depth}"
    params = dict(seed=width * depth, width=width, depth=depth, words=300,
                  p_idle_in=0.3, p_idle_out=0.4)
    from ese.config import TINY
    from ese.hdl.fifo import top
    run_cocotb("fifo", lambda: top(TINY, width=width, depth=depth), __name__, sim, key, params)
