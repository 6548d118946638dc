"""cocotb side of the RTL engine: drive ``ese_top`` like a host would.

:class:`TopTB` binds cocotbext-axi models to the top's ports: an ``AxiRam``
(the DDR, on ``m_axi_*``) and an ``AxiLiteMaster`` (the host, on
``s_axil_*``), optionally with random pauses on every AXI channel.  It offers
register access by name (``ese/regmap.py``), DDR layout helpers (docs/
architecture.md "Frames in DDR") and :meth:`TopTB.run`, one START ... irq
round trip with a watchdog.

:func:`rtl_job` is the cocotb test launched by ``ese.hdl.run_rtl.run``: it
reads a job file (image, int inputs), runs the batch in chunks of ``n_ch``
sequences and writes the outputs and counters back.
"""

from __future__ import annotations

import random
import sys

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from ese import regmap

CLK_NS = 5
PAGE = 4096


def pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


def align(n: int, a: int) -> int:
    return -(-n // a) * a


def stride(width: int, cfg) -> int:
    """Bytes of one frame of ``width`` int16 values in DDR."""
    return align(2 * width, cfg.axi_data_bits // 8)


def pack_frames(xq: np.ndarray, cfg) -> bytes:
    """(B, T, W) ints -> DDR bytes: int16 little-endian, frames padded to the stride."""
    b, t, w = xq.shape
    s = stride(w, cfg) // 2
    buf = np.zeros((b, t, s), dtype="<i2")
    buf[:, :, :w] = xq
    return buf.tobytes()


def unpack_frames(data: bytes, b: int, t: int, w: int, cfg) -> np.ndarray:
    s = stride(w, cfg) // 2
    a = np.frombuffer(data, dtype="<i2").reshape(b, t, s)
    return a[:, :, :w].astype(np.int64)


class TopTB:
    """Clock, reset, DDR model, host model and register helpers for ``ese_top``."""

    def __init__(self, dut, cfg, mem_size: int = 1 << 20, p_pause: float = 0.0, seed: int = 1):
        from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
        self.dut, self.cfg = dut, cfg
        self.rng = random.Random(seed)
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=mem_size)
        self.host = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.set_pauses(p_pause)

    def set_pauses(self, p: float) -> None:
        """Random idle cycles with probability ``p`` on every AXI channel (0 = none)."""
        chans = [self.ram.write_if.aw_channel, self.ram.write_if.w_channel,
                 self.ram.write_if.b_channel, self.ram.read_if.ar_channel,
                 self.ram.read_if.r_channel, self.host.write_if.aw_channel,
                 self.host.write_if.w_channel, self.host.write_if.b_channel,
                 self.host.read_if.ar_channel, self.host.read_if.r_channel]
        for ch in chans:
            if p > 0:
                ch.set_pause_generator(pauses(self.rng, p))
            else:
                ch.clear_pause_generator()

    async def reset(self, cycles: int = 5) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def write(self, reg: str, value: int) -> None:
        await self.host.write_dword(regmap.ADDR[reg], value & 0xFFFFFFFF)

    async def read(self, reg: str) -> int:
        return int(await self.host.read_dword(regmap.ADDR[reg]))

    async def write64(self, reg: str, value: int) -> None:
        await self.write(reg + "_LO", value & 0xFFFFFFFF)
        await self.write(reg + "_HI", (value >> 32) & 0xFFFFFFFF)

    async def read64(self, reg: str) -> int:
        return await self.read(reg + "_LO") | (await self.read(reg + "_HI") << 32)

    async def wait_irq(self, max_cycles: int, progress=None, every: int = 50_000) -> bool:
        """Wait for irq high; False after ``max_cycles`` (the watchdog).

        ``progress(cycles)`` is called every ``every`` cycles of a long wait.
        """
        n = 0
        while not int(self.dut.irq.value):
            await RisingEdge(self.dut.clk)
            n += 1
            if n >= max_cycles:
                return False
            if progress is not None and n % every == 0:
                progress(n)
        return True

    async def run(self, *, image_addr=0, image_size=0, in_addr=0, out_addr=0, frames=1,
                  batch=1, load=False, max_cycles=2_000_000, progress=None) -> dict:
        """Program the registers, START, wait for the irq, acknowledge it.

        Returns the decoded STATUS plus the counters; raises AssertionError on a hang.
        """
        await self.write64("IMAGE_ADDR", image_addr)
        await self.write("IMAGE_SIZE", image_size)
        await self.write64("IN_ADDR", in_addr)
        await self.write64("OUT_ADDR", out_addr)
        await self.write("FRAMES", frames)
        await self.write("BATCH", batch)
        await self.write("IRQ_EN", 3)
        ctrl = regmap.FIELD["CTRL"]["START"].mask
        if load:
            ctrl |= regmap.FIELD["CTRL"]["LOAD"].mask
        await self.write("CTRL", ctrl)
        ok = await self.wait_irq(max_cycles, progress)
        assert ok, f"watchdog: no irq within {max_cycles} cycles (STATUS " \
            f"{regmap.decode('STATUS', await self.read('STATUS'))})"
        st = regmap.decode("STATUS", await self.read("STATUS"))
        await self.write("IRQ_STATUS", 3)
        if load:       # LOAD is a level: later STARTs reuse the loaded model
            await self.write("CTRL", 0)
        st["CYCLES"] = await self.read64("CYCLES")
        st["MAC"] = await self.read64("MAC")
        st["STALL"] = await self.read64("STALL")
        return st

    # DDR ------------------------------------------------------------------
    def put(self, addr: int, data: bytes) -> None:
        self.ram.write(addr, data)

    def get(self, addr: int, n: int) -> bytes:
        return self.ram.read(addr, n)


def layout(image_bytes: int, b: int, t: int, n_in: int, n_out: int, cfg) -> dict:
    """DDR addresses: image at 0, inputs and outputs on the next 4 KB pages."""
    in_addr = align(image_bytes, PAGE)
    out_addr = align(in_addr + b * t * stride(n_in, cfg), PAGE)
    end = out_addr + b * t * stride(n_out, cfg)
    return dict(image_addr=0, in_addr=in_addr, out_addr=out_addr, end=end)


def mem_size_for(end: int) -> int:
    s = 1 << 16
    while s < end:
        s <<= 1
    return s


async def infer(tb: TopTB, image: bytes, xq: np.ndarray, n_out: int, load: bool = True,
                progress=None) -> tuple:
    """Run ``xq`` (B, T, I) through the loaded (or loaded here) model, n_ch sequences a run.

    Returns (y (B, T, n_out) int64, list of per-run status dicts).
    """
    cfg = tb.cfg
    b, t, n_in = xq.shape
    lay = layout(len(image), b, t, n_in, n_out, cfg)
    if load:
        tb.put(0, image)
    tb.put(lay["in_addr"], pack_frames(xq, cfg))
    tb.put(lay["out_addr"], bytes(b * t * stride(n_out, cfg)))
    runs = []
    si, so = stride(n_in, cfg), stride(n_out, cfg)
    n_runs = -(-b // cfg.n_ch)
    for s0 in range(0, b, cfg.n_ch):
        nb = min(cfg.n_ch, b - s0)
        first = load and s0 == 0

        def tick(n, r=len(runs) + 1, first=first):
            if progress:
                what = "loading the model and running" if first else "running"
                progress(f"run {r}/{n_runs}: {what}, {n} cycles so far")

        # watchdog: the loader takes ~1 cycle per 2 image bytes; a frame costs far
        # less than (entries per PE + every vector once) x 4 even with AXI stalls
        per_frame = 4 * (cfg.pe_entry_depth + cfg.vec_depth)
        st = await tb.run(image_addr=0, image_size=len(image),
                          in_addr=lay["in_addr"] + s0 * t * si,
                          out_addr=lay["out_addr"] + s0 * t * so,
                          frames=t, batch=nb, load=first,
                          max_cycles=100_000 + 2 * len(image) + per_frame * t,
                          progress=tick)
        runs.append(st)
        if progress:
            progress(f"sequences {s0}..{s0 + nb - 1} done: {st['CYCLES']} cycles")
        if st["ERROR"]:
            break
    y = unpack_frames(tb.get(lay["out_addr"], b * t * so), b, t, n_out, cfg)
    return y, runs


@cocotb.test()
async def rtl_job(dut):
    """The job of ``ese.hdl.run_rtl.run``: inputs and outputs through .npz files."""
    import json
    import os

    from ese.config import Config
    p = json.loads(os.environ["ESE_TB_PARAMS"])
    cfg = Config.from_dict(p["cfg"])
    job = np.load(p["job"])
    image = job["image"].tobytes()
    xq = job["x_q"].astype(np.int64)
    n_out = int(job["n_out"])
    b, t, n_in = xq.shape
    lay = layout(len(image), b, t, n_in, n_out, cfg)
    tb = TopTB(dut, cfg, mem_size=mem_size_for(lay["end"]), p_pause=0.0)
    await tb.reset()

    def prog(msg):
        # ese.hdl.run_rtl follows the log and shows lines with this marker live
        dut._log.info(f"[progress] {msg}")
        sys.stdout.flush()

    y, runs = await infer(tb, image, xq, n_out, load=True, progress=prog)
    errs = [r["ERR_CODE"] for r in runs if r["ERROR"]]
    np.savez(p["out"], y=y, cycles=np.array([r["CYCLES"] for r in runs]),
             macs=np.array([r["MAC"] for r in runs]), stalls=np.array([r["STALL"] for r in runs]),
             err=np.array(errs[:1] or [0]))
    assert not errs, f"the accelerator reported error code {errs[0]} " \
        f"({regmap.ERR_NAME.get(errs[0], '?')})"
