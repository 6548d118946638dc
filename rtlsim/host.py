"""The host side of ``ese_top`` in a cocotb simulation (runs inside the simulator).

:class:`HostDriver` binds cocotbext-axi models to the top's ports: an
``AxiRam`` (the DDR, on ``m_axi_*``) over a :class:`BusMemory`, and an
``AxiLiteMaster`` (the host CPU, on ``s_axil_*``), optionally with random
pauses on every AXI channel.  It offers register access by name
(``ese/regmap.py``), one START ... irq round trip with a watchdog
(:meth:`HostDriver.run`) and a whole batch (:meth:`HostDriver.infer`).

The DDR layout (docs/architecture.md "Frames in DDR"): the memory image at 0,
the input frames and then the output frames each on the next 4 KB page; a
frame of W values is W int16 little-endian, padded to a whole AXI word
(:func:`stride`).

Also here, written once for the testbenches (``tb/common`` imports them):
the clock period :data:`CLK_NS`, the AXI page :data:`PAGE`, :func:`align`
and the idle-pattern generator :func:`pauses`.
"""

from __future__ import annotations

import random

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from ese import perf, regmap

#: clock period of every simulation, in ns (the 200 MHz target of ese.perf)
CLK_NS = round(perf.CLOCK_NS)
#: an AXI burst never crosses a 4 KB boundary; DDR regions start on one
PAGE = 4096


def pauses(rng: random.Random, p_idle: float):
    """Endless idle pattern: True = pause this cycle (probability ``p_idle``)."""
    while True:
        yield rng.random() < p_idle


def align(n: int, a: int) -> int:
    """``n`` rounded up to a multiple of ``a``."""
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
    """DDR bytes -> (B, T, W) int64 (the inverse of :func:`pack_frames`)."""
    s = stride(w, cfg) // 2
    a = np.frombuffer(data, dtype="<i2").reshape(b, t, s)
    return a[:, :, :w].astype(np.int64)


def layout(image_bytes: int, b: int, t: int, n_in: int, n_out: int, cfg) -> dict:
    """DDR addresses: image at 0, inputs and outputs on the next 4 KB pages."""
    in_addr = align(image_bytes, PAGE)
    out_addr = align(in_addr + b * t * stride(n_in, cfg), PAGE)
    end = out_addr + b * t * stride(n_out, cfg)
    return dict(image_addr=0, in_addr=in_addr, out_addr=out_addr, end=end)


def mem_size_for(end: int) -> int:
    """The smallest power of two >= 64 KB that holds ``end`` bytes."""
    s = 1 << 16
    while s < end:
        s <<= 1
    return s


class BusMemory:
    """The memory behind cocotbext-axi's RAM models (their ``mem=`` argument).

    The models read and write it by slices (one AXI word per beat).  A slice
    that covers an address in :attr:`faults` raises, and the model answers
    that beat with SLVERR (RRESP of the read beat, BRESP of the write burst;
    the faulted write leaves the memory unchanged).  The bench's own
    accesses, :meth:`read` and :meth:`write`, go straight to the store and
    never fault.
    """

    def __init__(self, size: int):
        from cocotbext.axi.sparse_memory import SparseMemory
        self.store = SparseMemory(size)
        self.faults: set[int] = set()   #: byte addresses whose bus accesses fail

    def __len__(self) -> int:
        return len(self.store)

    def _check(self, key) -> None:
        if not self.faults:
            return
        lo, hi = (key.indices(len(self.store))[:2] if isinstance(key, slice) else (key, key + 1))
        hit = sorted(a for a in self.faults if lo <= a < hi)
        if hit:
            raise IOError(f"injected bus fault at 0x{hit[0]:x}")

    def __getitem__(self, key):
        self._check(key)
        return self.store[key]

    def __setitem__(self, key, value):
        self._check(key)
        self.store[key] = value

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes at ``addr`` (wrapping at the size), bypassing :attr:`faults`."""
        return self.store.read(addr % len(self.store), n)

    def write(self, addr: int, data: bytes) -> None:
        """Write ``data`` at ``addr`` (wrapping at the size), bypassing :attr:`faults`."""
        self.store.write(addr % len(self.store), data)


class HostDriver:
    """Clock, reset, DDR model, host model and register access of ``ese_top``.

    ``mem_size`` bytes of DDR (:attr:`mem`, a :class:`BusMemory`); ``p_pause``:
    probability of an idle cycle on every AXI channel (0 = none), drawn from
    a ``random.Random(seed)``.
    """

    def __init__(self, dut, cfg, mem_size: int = 1 << 20, p_pause: float = 0.0, seed: int = 1):
        from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
        self.dut, self.cfg = dut, cfg
        self.rng = random.Random(seed)
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
        self.mem = BusMemory(mem_size)
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, mem=self.mem)
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

    # registers ------------------------------------------------------------
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
        self.mem.write(addr, data)

    def get(self, addr: int, n: int) -> bytes:
        return self.mem.read(addr, n)

    async def infer(self, image: bytes, xq: np.ndarray, n_out: int, load: bool = True,
                    progress=None) -> tuple:
        """Run ``xq`` (B, T, I) through the loaded (or loaded here) model, n_ch sequences a run.

        Returns (y (B, T, n_out) int64, list of per-run status dicts); stops
        after the first run that reports an error.
        """
        cfg = self.cfg
        b, t, n_in = xq.shape
        lay = layout(len(image), b, t, n_in, n_out, cfg)
        if load:
            self.put(0, image)
        self.put(lay["in_addr"], pack_frames(xq, cfg))
        self.put(lay["out_addr"], bytes(b * t * stride(n_out, cfg)))
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
            st = await self.run(image_addr=0, image_size=len(image),
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
        y = unpack_frames(self.get(lay["out_addr"], b * t * so), b, t, n_out, cfg)
        return y, runs
