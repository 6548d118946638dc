"""CSR block: AXI4-Lite with pauses on every channel, checked against CsrModel.

One build per (simulator, configuration); all cocotb tests below run in one
simulation.  Every read is compared with the register-level model
(tb/csr/csr_model.py, itself generated from ese/regmap.py), every output port
after every operation.
"""

import random

import pytest

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from ese import regmap
from tb.common.sim import BaseTB, pauses

# ------------------------------------------------------------------ cocotb side


class TB(BaseTB):
    """csr: clock and reset, an AXI4-Lite master with pauses on every channel,
    the register-level model (CsrModel), a monitor of the pulse outputs."""

    def __init__(self, dut):
        from cocotbext.axi import AxiLiteBus, AxiLiteMaster
        from tb.csr.csr_model import CsrModel

        self.p = tb_params()
        super().__init__(dut, random.Random(self.p["seed"]))
        self.cfg = tb_config()
        self.ab = self.p["addr_bits"]
        self.model = CsrModel(self.cfg, self.ab)
        for n in regmap.IN_PORTS:
            getattr(dut, n).value = 0
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        pi = self.p["p_idle"]
        wr, rd = self.axil.write_if, self.axil.read_if
        for ch in (wr.aw_channel, wr.w_channel, wr.b_channel, rd.ar_channel, rd.r_channel):
            ch.set_pause_generator(pauses(random.Random(self.rng.random()), pi))
        self.hist = {"start": [], "soft_reset": []}
        self.cycle = 0

    async def init(self):
        await self.start()
        cocotb.start_soon(self._monitor())
        self.watchdog(self.p["watchdog"], "csr test")

    async def _monitor(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1
            for n in self.hist:
                if int(getattr(self.dut, n).value):
                    self.hist[n].append(self.cycle)

    # -- bus operations, checked --------------------------------------------------
    async def write(self, addr, data, strb=0xF):
        from cocotbext.axi.constants import AxiResp
        nb = {n: len(h) for n, h in self.hist.items()}
        lanes = [i for i in range(4) if strb >> i & 1]
        if lanes == list(range(lanes[0], lanes[-1] + 1)):     # contiguous bytes: one write
            b = bytes((data >> (8 * i)) & 0xFF for i in lanes)
            resp = await self.axil.write(addr + lanes[0], b)
            assert resp.resp == AxiResp.OKAY, f"write {addr:#x}: {resp.resp}"
        else:
            for i in lanes:
                resp = await self.axil.write(addr + i, bytes([(data >> (8 * i)) & 0xFF]))
                assert resp.resp == AxiResp.OKAY
        self.model.write(addr, data, strb)
        await ClockCycles(self.dut.clk, 2)
        for n, h in self.hist.items():
            want = 1 if n in self.model.pulses else 0
            got = len(h) - nb[n]
            assert got == want, f"write {data:#x} to {addr:#x}: {n} high for {got} cycles, " \
                f"expected {want}"
        self.check_outputs()

    async def read(self, addr):
        from cocotbext.axi.constants import AxiResp
        resp = await self.axil.read(addr, 4)
        assert resp.resp == AxiResp.OKAY, f"read {addr:#x}: {resp.resp}"
        got = int.from_bytes(resp.data, "little")
        want = self.model.read(addr)
        assert got == want, f"read {addr:#x}: got {got:#010x}, model {want:#010x}"
        return got

    def check_outputs(self):
        for n, v in self.model.outputs().items():
            got = int(getattr(self.dut, n).value)
            assert got == v, f"output {n}: got {got:#x}, model {v:#x}"

    async def set_input(self, name, value):
        await FallingEdge(self.dut.clk)
        getattr(self.dut, name).value = value
        self.model.inputs[name] = value

    async def pulse(self, name, **values):
        await FallingEdge(self.dut.clk)
        for n, v in values.items():
            getattr(self.dut, n).value = v
        getattr(self.dut, name).value = 1
        await FallingEdge(self.dut.clk)
        getattr(self.dut, name).value = 0
        self.model.pulse(name, **values)
        await ClockCycles(self.dut.clk, 1)
        self.check_outputs()

    async def same_cycle_as_write(self, addr, data, name, **values):
        """Write ``data`` to ``addr`` and pulse input ``name`` in the very cycle the
        register write happens (found from the block's internal ``do_write``)."""
        task = cocotb.start_soon(self.axil.write(addr, data.to_bytes(4, "little")))
        for _ in range(1000):
            await FallingEdge(self.dut.clk)
            if int(self.dut.do_write.value):
                break
        else:
            raise AssertionError("do_write never rose")
        for n, v in values.items():
            getattr(self.dut, n).value = v
        getattr(self.dut, name).value = 1
        await FallingEdge(self.dut.clk)
        getattr(self.dut, name).value = 0
        await task
        self.model.write(addr, data)
        self.model.pulse(name, **values)
        await ClockCycles(self.dut.clk, 2)
        self.check_outputs()

    def addresses(self):
        """Every mapped register, every hole, and a few addresses beyond the map."""
        top = 1 << self.ab
        beyond = sorted({regmap.span(), top - 4, *(self.rng.randrange(regmap.span(), top) & ~3
                                                   for _ in range(4))})
        return list(range(0, regmap.span(), 4)) + beyond


def _rw_regs():
    return [r for r in regmap.REGS if any(f.access == "RW" for f in r.fields)]


@cocotb.test()
async def reset_values(dut):
    tb = TB(dut)
    await tb.init()
    for r in regmap.REGS:
        assert tb.model.read(r.offset) == regmap.reset_value(r, tb.cfg)
    for a in tb.addresses():
        await tb.read(a)
    tb.check_outputs()
    assert int(dut.start.value) == 0 and int(dut.soft_reset.value) == 0
    got = await tb.read(regmap.ADDR["ID"])
    assert regmap.decode("ID", got) == {"VERSION": regmap.VERSION, "MAGIC": regmap.MAGIC}
    hw = regmap.decode("HWCFG0", await tb.read(regmap.ADDR["HWCFG0"]))
    assert (hw["N_PE"], hw["N_CH"]) == (tb.cfg.n_pe, tb.cfg.n_ch)


@cocotb.test()
async def rw_readback(dut):
    tb = TB(dut)
    await tb.init()
    for _ in range(2):
        for r in _rw_regs():
            await tb.write(r.offset, tb.rng.getrandbits(32) & ~regmap.FIELD["CTRL"]["START"].mask
                          & ~regmap.FIELD["CTRL"]["SOFT_RESET"].mask)
            await tb.read(r.offset)
    for r in _rw_regs():      # every RW register after all writes, then byte strobes
        await tb.read(r.offset)
    for _ in range(12):
        r = tb.rng.choice(_rw_regs())
        if r.name == "CTRL":
            continue
        await tb.write(r.offset, tb.rng.getrandbits(32), tb.rng.randrange(1, 16))
        await tb.read(r.offset)


@cocotb.test()
async def ro_ignore_writes(dut):
    tb = TB(dut)
    await tb.init()
    await tb.set_input("busy", 1)
    for n in ("cycles", "macs", "stalls"):
        await tb.set_input(n, tb.rng.getrandbits(64))
    ro = [r for r in regmap.REGS if all(f.access == "RO" for f in r.fields)]
    for r in ro:
        before = await tb.read(r.offset)
        await tb.write(r.offset, 0xFFFFFFFF)
        await tb.write(r.offset, tb.rng.getrandbits(32))
        assert await tb.read(r.offset) == before, f"{r.name}: RO register changed on a write"
    holes = [a for a in tb.addresses() if all(r.offset != a for r in regmap.REGS)]
    for a in holes:
        await tb.write(a, 0xFFFFFFFF)
        assert await tb.read(a) == 0
    # writing 1s to IRQ_STATUS does not set it
    await tb.write(regmap.ADDR["IRQ_STATUS"], 0xFFFFFFFF)
    assert await tb.read(regmap.ADDR["IRQ_STATUS"]) == 0
    for r in regmap.REGS:       # nothing else moved
        await tb.read(r.offset)


@cocotb.test()
async def w1p_pulses(dut):
    tb = TB(dut)
    await tb.init()
    ctrl = regmap.ADDR["CTRL"]
    F = regmap.FIELD["CTRL"]
    for v in (F["START"].mask, F["SOFT_RESET"].mask, F["START"].mask | F["LOAD"].mask,
              F["START"].mask | F["SOFT_RESET"].mask, 0, F["LOAD"].mask, 0xFFFFFFFF, 0):
        await tb.write(ctrl, v)                 # write() checks: pulses exactly one cycle
        got = await tb.read(ctrl)
        assert got & (F["START"].mask | F["SOFT_RESET"].mask) == 0, "W1P bits must read 0"
    await tb.write(ctrl, 0xFFFFFFFF, strb=0b1110)   # byte 0 not enabled: no pulse
    n = len(tb.hist["start"])
    await tb.write(ctrl, F["START"].mask)
    await ClockCycles(dut.clk, 5)
    assert len(tb.hist["start"]) == n + 1
    # pulses are isolated single cycles
    for h in tb.hist.values():
        assert all(b - a > 1 for a, b in zip(h, h[1:])), f"pulse longer than one cycle: {h}"


@cocotb.test()
async def sticky_and_irq(dut):
    tb = TB(dut)
    await tb.init()
    A = regmap.ADDR
    st = regmap.FIELD["STATUS"]
    await tb.pulse("done")
    assert regmap.decode("STATUS", await tb.read(A["STATUS"]))["DONE"] == 1
    assert await tb.read(A["IRQ_STATUS"]) == 1
    assert int(dut.irq.value) == 0, "irq without IRQ_EN"
    await tb.write(A["IRQ_EN"], 1)
    assert int(dut.irq.value) == 1
    await tb.write(A["IRQ_STATUS"], 0)           # writing 0 clears nothing
    assert int(dut.irq.value) == 1
    await tb.write(A["IRQ_STATUS"], 1)           # W1C
    assert int(dut.irq.value) == 0
    assert regmap.decode("STATUS", await tb.read(A["STATUS"]))["DONE"] == 1, "DONE is sticky"
    await tb.write(A["CTRL"], regmap.FIELD["CTRL"]["START"].mask)
    assert regmap.decode("STATUS", await tb.read(A["STATUS"]))["DONE"] == 0, "START clears DONE"
    # error with a code; IRQ on error only when enabled
    code = tb.rng.choice([v for k, v in regmap.ERR.items() if k != "OK"])
    await tb.pulse("error", err_code=code)
    s = regmap.decode("STATUS", await tb.read(A["STATUS"]))
    assert (s["ERROR"], s["ERR_CODE"], s["DONE"]) == (1, code, 0)
    assert int(dut.irq.value) == 0
    await tb.write(A["IRQ_EN"], 3)
    assert int(dut.irq.value) == 1
    await tb.write(A["CTRL"], regmap.FIELD["CTRL"]["SOFT_RESET"].mask)
    assert await tb.read(A["IRQ_STATUS"]) == 0 and int(dut.irq.value) == 0
    assert await tb.read(A["STATUS"]) & (st["ERROR"].mask | st["ERR_CODE"].mask) == 0
    assert await tb.read(A["IRQ_EN"]) == 3, "SOFT_RESET keeps configuration registers"
    # a hardware set wins over a clear in the same cycle: pulse done exactly in the
    # cycle the W1C write takes effect (the CSR's internal do_write), then error in
    # the cycle a START takes effect
    await tb.same_cycle_as_write(A["IRQ_STATUS"], 1, "done")
    assert await tb.read(A["IRQ_STATUS"]) == 1 and int(dut.irq.value) == 1
    await tb.same_cycle_as_write(A["CTRL"], regmap.FIELD["CTRL"]["START"].mask, "error",
                                err_code=7)
    s = regmap.decode("STATUS", await tb.read(A["STATUS"]))
    assert (s["ERROR"], s["ERR_CODE"]) == (1, 7)


@cocotb.test()
async def random_vs_model(dut):
    """Random writes (any address, data, strobes), reads, pulses and input changes."""
    tb = TB(dut)
    await tb.init()
    addrs = tb.addresses()
    nosr = ~regmap.FIELD["CTRL"]["SOFT_RESET"].mask
    for _ in range(tb.p["ops"]):
        k = tb.rng.random()
        a = tb.rng.choice(addrs)
        if k < 0.4:
            d = tb.rng.getrandbits(32)
            await tb.write(a, d if tb.rng.random() < 0.3 else d & nosr, tb.rng.randrange(1, 16))
        elif k < 0.75:
            await tb.read(a)
        elif k < 0.85:
            await tb.pulse(tb.rng.choice(["done", "error"]), err_code=tb.rng.getrandbits(8))
        else:
            n = tb.rng.choice(list(regmap.IN_PORTS))
            if n not in ("done", "error"):
                await tb.set_input(n, tb.rng.getrandbits(regmap.IN_PORTS[n]))
    # concurrent traffic: writes to distinct RW words and reads in flight together
    regs = [r for r in _rw_regs() if r.name != "CTRL"]
    tb.rng.shuffle(regs)
    vals = {r.offset: tb.rng.getrandbits(32) for r in regs}
    tasks = [cocotb.start_soon(tb.axil.write(o, v.to_bytes(4, "little"))) for o, v in vals.items()]
    tasks += [cocotb.start_soon(tb.axil.read(tb.rng.choice(addrs), 4)) for _ in range(6)]
    for t in tasks:
        await t
    for o, v in vals.items():
        tb.model.write(o, v)
    tb.check_outputs()
    for a in addrs:
        await tb.read(a)


# ------------------------------------------------------------------ pytest side

def _configs():
    from ese.config import TINY
    return {
        "tiny": (TINY, TINY.lite_addr_bits),
        "wide": (TINY.replace(name="csr_wide", n_pe=8, n_ch=3, max_frames=1000, lite_addr_bits=12,
                              max_input=153, act_bits=14, act_frac=10, gate_frac=12), 12),
    }


def _make(cfg, ab):
    from ese.hdl.csr import top
    return top(cfg, lite_addr_bits=ab)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("which", ["tiny", "wide"])
def test_csr(sim, which):
    from ese.hdl.convert import config_key
    cfg, ab = _configs()[which]
    params = dict(cfg=cfg.to_dict(), addr_bits=ab, seed=len(which) * 7919,
                  p_idle=0.3, ops=150, watchdog=200_000)
    run_cocotb("csr", lambda: _make(cfg, ab), __name__, sim, config_key(cfg, {"ab": ab}), params)


def test_csr_rejects_small_address():
    """The register map needs 7 address bits: the configuration refuses fewer."""
    from ese.config import TINY, ConfigError
    with pytest.raises(ConfigError, match="lite_addr_bits"):
        TINY.replace(lite_addr_bits=6)
