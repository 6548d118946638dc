"""rdport: byte ranges of DDR -> 16- and 32-bit items, on ``mem_reader`` and an AXI RAM.

DUT (``rdport_bench`` below): ``rdport`` + ``mem_reader``, the read path of
``ese_top`` without the loader's beat port; cocotbext-axi's ``AxiRamRead``
with random pauses on AR and R is the DDR, and the item stream has random
pauses (``o.ready``).

* ``items``: random requests back to back, 16-bit items at every halfword
  offset in a word (odd ones too), 32-bit items at every 4-byte offset,
  lengths of 1 item to several words, some ending exactly at a word boundary:
  every item against the memory, in order, exactly ``n`` of them; ``busy``
  until the last one; nothing more on the stream.
* ``cancel``: a cancel at a random point of a request (before its command,
  while its words arrive): the port drains and the next request's items are
  exactly its own (no stale word).
* ``speed``: without pauses, the items of a long request come one per cycle (16 and
  32 bits).
"""

from __future__ import annotations

import random

import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.sim import BaseTB


def rdport_bench_block():
    from myhdl import block

    from ese.hdl.interfaces import MemCmd, WordStream, uint
    from ese.hdl.mem_reader import mem_reader
    from ese.hdl.rdport import rdport

    @block
    def rdport_bench(clk, rst, cancel, req, o, busy, m_axi, cfg):
        from myhdl import Signal
        m_cmd, m = MemCmd(cfg), WordStream(cfg, last=True)
        m_busy, m_done, m_err = (Signal(bool(0)) for _ in range(3))
        m_code = uint(4).signal()
        i_rp = rdport(clk, rst, cancel, req, o, busy, m_cmd, m.without_last(), m_busy, cfg=cfg)
        i_mr = mem_reader(clk, rst, m_cmd, m, m_done, m_err, m_code, m_busy, m_axi, cfg=cfg)
        return i_rp, i_mr

    return rdport_bench


def make_bench(cfg):
    from ese.hdl import rdport as hr
    from ese.hdl.interfaces import AxiRead
    p = hr.ports(cfg)
    for k in ("m_cmd", "m", "m_busy"):
        del p[k]
    return rdport_bench_block()(**p, m_axi=AxiRead(cfg), cfg=cfg)


class TB(BaseTB):
    """The bench, its DDR and the item stream's consumer."""

    def __init__(self, dut, seed: int, p_pause: float):
        from tb.common.axi import ram_read
        super().__init__(dut, random.Random(seed))
        self.cfg = tb_config()
        self.WB = self.cfg.axi_data_bits // 8
        self.ram = ram_read(dut, self.rng, p_pause, self.cfg.axi_addr_bits)
        self.ram.mem.write(0, self.rng.randbytes(1 << 16))
        self.out_pause = self.pauses(p_pause)
        self.items = []

    async def init(self):
        d = self.dut
        for n in ("cancel", "req_valid", "req_addr", "req_n", "req_wide", "o_ready"):
            getattr(d, n).value = 0
        await self.start()
        cocotb.start_soon(self._consumer())

    async def _consumer(self):
        d = self.dut
        while True:
            await FallingEdge(d.clk)
            d.o_ready.value = int(not next(self.out_pause))
            await RisingEdge(d.clk)
            if int(d.o_valid.value) and int(d.o_ready.value):
                self.items.append(int(d.o_data.value))

    def want(self, addr: int, n: int, wide: bool) -> list:
        size = 4 if wide else 2
        raw = self.ram.mem.read(addr, n * size)
        return [int.from_bytes(raw[k * size:(k + 1) * size], "little") for k in range(n)]

    async def request(self, addr: int, n: int, wide: bool, cancel_after: int | None = None):
        """One request; returns the cycles from the request to ``busy`` low."""
        d = self.dut
        await FallingEdge(d.clk)
        while not int(d.req_ready.value):
            await FallingEdge(d.clk)
        d.req_valid.value, d.req_addr.value, d.req_n.value = 1, addr, n
        d.req_wide.value = int(wide)
        await FallingEdge(d.clk)
        d.req_valid.value = 0
        k = 1
        while int(d.busy.value):
            if cancel_after is not None and k == cancel_after:
                d.cancel.value = 1
                await FallingEdge(d.clk)
                d.cancel.value = 0
                cancel_after = None
            await FallingEdge(d.clk)
            k += 1
            assert k < 20000, f"request ({addr:#x}, {n}, wide={wide}): busy for 20000 cycles"
        return k


def random_request(rng: random.Random, wb: int) -> tuple:
    wide = rng.random() < 0.5
    size = 4 if wide else 2
    off = size * rng.randrange(wb // size)          # every item offset inside a word
    base = wb * rng.randrange(1, 400)
    n = rng.choice([1, 2, rng.randint(1, 3 * wb // size), (wb - off) // size,
                    rng.randint(1, 40 * wb // size)])
    return base + off, max(1, n), wide


@cocotb.test()
async def items(dut):
    p = tb_params()
    tb = TB(dut, p["seed"], p["p_pause"])
    await tb.init()
    tb.watchdog(200_000, "items")
    for k in range(p["requests"]):
        addr, n, wide = random_request(tb.rng, tb.WB)
        tb.items = []
        await tb.request(addr, n, wide)
        for _ in range(3):                                  # nothing more comes
            await FallingEdge(dut.clk)
        want = tb.want(addr, n, wide)
        assert tb.items == want, f"request {k} ({addr:#x}, {n}, wide={wide}): items " \
            f"{[hex(v) for v in tb.items[:6]]}... ({len(tb.items)}), memory " \
            f"{[hex(v) for v in want[:6]]}... ({n})"


@cocotb.test()
async def cancel(dut):
    p = tb_params()
    tb = TB(dut, p["seed"] + 1, p["p_pause"])
    await tb.init()
    tb.watchdog(200_000, "cancel")
    for k in range(40):
        addr, n, wide = random_request(tb.rng, tb.WB)
        await tb.request(addr, max(n, 8), wide, cancel_after=tb.rng.randint(1, 12))
        addr, n, wide = random_request(tb.rng, tb.WB)
        tb.items = []
        await tb.request(addr, n, wide)
        assert tb.items == tb.want(addr, n, wide), \
            f"after cancel {k}: request ({addr:#x}, {n}, wide={wide}) got stale or lost items"


@cocotb.test()
async def speed(dut):
    p = tb_params()
    tb = TB(dut, p["seed"] + 2, 0.0)
    await tb.init()
    for wide in (False, True):
        n = 64 * tb.WB // (4 if wide else 2)
        tb.items = []
        cycles = await tb.request(tb.WB * 8, n, wide)
        assert tb.items == tb.want(tb.WB * 8, n, wide)
        dut._log.info(f"speed: {n} {32 if wide else 16}-bit items in {cycles} cycles")
        assert cycles <= n + 16, f"{n} items (wide={wide}) took {cycles} cycles (one per " \
            f"cycle + latency)"


# ----------------------------------------------------------------------------- pytest side
CONFIGS = {"d64": dict(), "d512": dict(name="rp512", axi_data_bits=512)}


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", list(CONFIGS))
def test_rdport(sim, cname):
    from ese.config import TINY
    from ese.hdl.convert import config_key
    cfg = TINY.replace(**CONFIGS[cname]) if CONFIGS[cname] else TINY
    params = dict(cfg=cfg.to_dict(), seed=9 + len(cname), p_pause=0.3, requests=60)
    run_cocotb("rdport_bench", lambda: make_bench(cfg), __name__, sim, config_key(cfg), params)
