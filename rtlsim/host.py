"""The host protocol of ``ese_top``, written once over a small bus interface.

What a host does with the accelerator (docs/registers.md, docs/architecture.md
"Frames in DDR") is the same in a cocotb simulation, against the simulated
SoC and on a board: put the memory image and the input frames in DDR,
program the registers, START (with LOAD the first time), wait for the
interrupt, read STATUS and the counters, read the outputs.  :class:`Host`
does exactly that, over any :class:`Bus`:

==============  ============================================================
``read32``      a 32-bit register of the core, by byte offset
``write32``
``write_mem``   a block of bytes into the memory the core reads (DDR), at
``read_mem``    an address as the core's AXI4 master sees it
``wait_irq``    until ``irq`` is high or ``max_cycles`` clock cycles passed
==============  ============================================================

and the bus's memory window (:attr:`Bus.mem_base`, :attr:`Bus.mem_size`).
Back-ends: :class:`ese.rtlsim.cocotb_host.CocotbBus` (inside the simulator:
cocotbext-axi models on the ports), :class:`ese.board.remote.LitexBus`
(LiteX's ``RemoteClient`` through ``litex_server``: the simulated SoC or a
ULX3S over its UART bridge) and :class:`ese.board.zynq.ZynqBus` (the Zynq PS:
``/dev/mem`` and a u-dma-buf buffer).

Every method of the protocol is a coroutine: cocotb awaits them; a
synchronous back-end (nothing inside ever suspends) runs them with
:func:`run_sync`.  Nothing here imports cocotb.

The DDR layout (:func:`layout`): the memory image at the window's base, the
input frames and then the output frames each on the next 4 KB page; a frame
of W values is W int16 little-endian, padded to a whole AXI word
(:func:`stride`).  Also here, written once for the testbenches: the clock
period :data:`CLK_NS`, the AXI page :data:`PAGE`, :func:`align` and the
idle-pattern generator :func:`pauses`.
"""

from __future__ import annotations

import random
import time
from typing import Callable, Optional

import numpy as np

from ese import perf, regmap

#: clock period of every simulation, in ns (the 200 MHz target of ese.perf)
CLK_NS = round(perf.CLOCK_NS)
#: an AXI burst never crosses a 4 KB boundary; DDR regions start on one
PAGE = 4096


class HostError(RuntimeError):
    """The accelerator behind the bus is not the one expected, or did not answer."""


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


def layout(image_bytes: int, b: int, t: int, n_in: int, n_out: int, cfg, base: int = 0) -> dict:
    """DDR addresses: image at ``base`` (page aligned), inputs and outputs on the next pages."""
    in_addr = base + align(image_bytes, PAGE)
    out_addr = align(in_addr + b * t * stride(n_in, cfg), PAGE)
    end = out_addr + b * t * stride(n_out, cfg)
    return dict(image_addr=base, in_addr=in_addr, out_addr=out_addr, end=end)


def mem_size_for(end: int) -> int:
    """The smallest power of two >= 64 KB that holds ``end`` bytes."""
    s = 1 << 16
    while s < end:
        s <<= 1
    return s


def run_sync(coro):
    """Run a coroutine of a synchronous bus to its end and return its value.

    A synchronous back-end's coroutines never suspend, so one ``send`` runs
    them through; one that does suspend is a programming error.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("run_sync: the coroutine waited on an event; only a synchronous bus "
                       "can be driven without an event loop")


def poll_irq(irq_high: Callable[[], bool], elapsed: Callable[[], int], max_cycles: int,
             progress=None, every: int = 50_000, poll_s: float = 0.001) -> bool:
    """The wait of a synchronous bus: poll ``irq_high()`` until it is true (True) or
    ``elapsed()`` clock cycles reach ``max_cycles`` (False); ``progress(cycles)`` about
    every ``every`` cycles."""
    report = every
    while not irq_high():
        n = elapsed()
        if n >= max_cycles:
            return False
        if progress is not None and n >= report:
            progress(n)
            report = n + every
        time.sleep(poll_s)
    return True


class Bus:
    """The bus a :class:`Host` talks through (see the module docstring).

    ``mem_base``/``mem_size``: the window of DDR the host may use, in the
    addresses of the core's AXI4 master.  Subclasses implement the five
    coroutines; all accesses are little-endian.
    """

    mem_base: int = 0
    mem_size: int = 0

    async def read32(self, offset: int) -> int:
        raise NotImplementedError

    async def write32(self, offset: int, value: int) -> None:
        raise NotImplementedError

    async def write_mem(self, addr: int, data: bytes) -> None:
        raise NotImplementedError

    async def read_mem(self, addr: int, n: int) -> bytes:
        raise NotImplementedError

    async def wait_irq(self, max_cycles: int, progress: Optional[Callable[[int], None]] = None,
                       every: int = 50_000) -> bool:
        """True once irq is high; False after ``max_cycles`` cycles (the watchdog).
        ``progress(cycles)`` is called about every ``every`` cycles of a long wait."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection (a no-op where there is none)."""


class Host:
    """The register and memory protocol of ``ese_top`` over a :class:`Bus`.

    ``cfg``: the hardware's configuration (``n_ch`` sequences a START, the
    AXI word that pads a frame).  Registers by name (``ese/regmap.py``).
    """

    def __init__(self, bus: Bus, cfg):
        self.bus, self.cfg = bus, cfg

    # registers ------------------------------------------------------------
    async def write(self, reg: str, value: int) -> None:
        await self.bus.write32(regmap.ADDR[reg], value & 0xFFFFFFFF)

    async def read(self, reg: str) -> int:
        return int(await self.bus.read32(regmap.ADDR[reg]))

    async def write64(self, reg: str, value: int) -> None:
        await self.write(reg + "_LO", value & 0xFFFFFFFF)
        await self.write(reg + "_HI", (value >> 32) & 0xFFFFFFFF)

    async def read64(self, reg: str) -> int:
        return await self.read(reg + "_LO") | (await self.read(reg + "_HI") << 32)

    async def identify(self) -> dict:
        """Check the ID register and read the hardware configuration registers.

        Returns ``{"n_ch", "n_pe", "axi_bytes", "registers": {HWCFGk: value}}``;
        raises :class:`HostError` when the ID is not the accelerator's (a wrong
        address map, or no bitstream).
        """
        ident = await self.read("ID")
        fields = regmap.decode("ID", ident)
        if fields["MAGIC"] != regmap.MAGIC or fields["VERSION"] != regmap.VERSION:
            raise HostError(f"no ESE accelerator answers: ID register reads {ident:#010x}, "
                            f"expected {(regmap.MAGIC << 8) | regmap.VERSION:#010x}")
        regs = {r: await self.read(r) for r in regmap.ADDR if r.startswith("HWCFG")}
        hw0, hw3 = regmap.decode("HWCFG0", regs["HWCFG0"]), regmap.decode("HWCFG3", regs["HWCFG3"])
        return {"n_ch": hw0["N_CH"], "n_pe": hw0["N_PE"], "axi_bytes": hw3["AXI_BYTES"],
                "registers": regs}

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
        ok = await self.bus.wait_irq(max_cycles, progress)
        assert ok, f"watchdog: no irq within {max_cycles} cycles (STATUS " \
            f"{regmap.decode('STATUS', await self.read('STATUS'))})"
        st = regmap.decode("STATUS", await self.read("STATUS"))
        await self.write("IRQ_STATUS", 3)
        if load:       # LOAD is a level: later STARTs reuse the loaded model
            await self.write("CTRL", 0)
        st["CYCLES"] = await self.read64("CYCLES")
        st["MAC"] = await self.read64("MAC")
        st["STALL"] = await self.read64("STALL")
        st["LOAD_CYCLES"] = await self.read64("LOAD_CYCLES")
        return st

    def watchdog_cycles(self, image_bytes: int, frames: int) -> int:
        """The most cycles one START may take before :meth:`run` calls it a hang.

        The loader takes about a cycle per AXI beat (a few per 2 bytes with AXI
        pauses or a narrow DRAM); a frame costs far less than 4 x (the entries
        of a PE + every value of the largest layer's vectors) even with stalls.
        """
        cfg = self.cfg
        per_frame = 4 * (cfg.pe_entry_depth + cfg.n_ch * (cfg.max_input + 2 * cfg.max_proj
                                                          + cfg.max_cells))
        return 100_000 + 4 * image_bytes + per_frame * frames

    async def infer(self, image: bytes, xq: np.ndarray, n_out: int, load: bool = True,
                    progress=None) -> tuple:
        """Run ``xq`` (B, T, I) through the loaded (or loaded here) model, n_ch sequences a run.

        Returns (y (B, T, n_out) int64, list of per-run status dicts); stops
        after the first run that reports an error.
        """
        cfg = self.cfg
        b, t, n_in = xq.shape
        lay = layout(len(image), b, t, n_in, n_out, cfg, base=self.bus.mem_base)
        if lay["end"] > self.bus.mem_base + self.bus.mem_size:
            raise HostError(f"image and frames need {lay['end'] - self.bus.mem_base} bytes of "
                            f"DDR; the bus offers {self.bus.mem_size}")
        if load:
            await self.bus.write_mem(lay["image_addr"], image)
        await self.bus.write_mem(lay["in_addr"], pack_frames(xq, cfg))
        # zeroed, so that an output the hardware failed to write cannot pass for one
        await self.bus.write_mem(lay["out_addr"], bytes(b * t * stride(n_out, cfg)))
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

            st = await self.run(image_addr=lay["image_addr"], image_size=len(image),
                                in_addr=lay["in_addr"] + s0 * t * si,
                                out_addr=lay["out_addr"] + s0 * t * so,
                                frames=t, batch=nb, load=first,
                                max_cycles=self.watchdog_cycles(len(image), t),
                                progress=tick)
            runs.append(st)
            if progress:
                progress(f"sequences {s0}..{s0 + nb - 1} done: {st['CYCLES']} cycles")
            if st["ERROR"]:
                break
        y = unpack_frames(await self.bus.read_mem(lay["out_addr"], b * t * so), b, t, n_out, cfg)
        return y, runs
