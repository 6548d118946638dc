"""FIFO: random traffic with stalls on both sides, checked against a deque."""

import random
from collections import deque

import pytest

from tb.common.runner import SIMS, run_cocotb, tb_params

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.sim import pauses, start


@cocotb.test()
async def random_traffic(dut):
    p = tb_params()
    rng = random.Random(p["seed"])
    width, depth, n = p["width"], p["depth"], p["words"]
    await start(dut)
    words = [rng.getrandbits(width) for _ in range(n)]
    model = deque()
    got = []
    wr_pause = pauses(rng, p["p_idle_in"])
    rd_pause = pauses(rng, p["p_idle_out"])
    i = 0
    dut.in_valid.value = 0
    dut.out_ready.value = 0
    for _ in range(40 * n):
        await FallingEdge(dut.clk)
        # drive this cycle's requests
        dut.in_valid.value = int(i < n and not next(wr_pause))
        if i < n:
            dut.in_data.value = words[i]
        dut.out_ready.value = int(not next(rd_pause))
        await RisingEdge(dut.clk)
        # sample the handshakes that happened on this edge (signals still pre-edge)
        if int(dut.in_valid.value) and int(dut.in_ready.value):
            model.append(words[i])
            i += 1
        if int(dut.out_valid.value) and int(dut.out_ready.value):
            got.append(int(dut.out_data.value))
        assert int(dut.count.value) <= depth
        if len(got) == n:
            break
    assert got == words, f"FIFO reordered or lost words: {len(got)} of {n} received"


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
