"""The host of ``ese_top`` inside a cocotb simulation (runs inside the simulator).

:class:`CocotbBus` is the :class:`~ese.rtlsim.host.Bus` of a simulation:
cocotbext-axi models bound to the top's ports, an ``AxiRam`` (the DDR, on
``m_axi_*``) over a :class:`BusMemory` and an ``AxiLiteMaster`` (the host
CPU, on ``s_axil_*``), optionally with random pauses on every AXI channel;
``wait_irq`` watches the ``irq`` port clock by clock.

:class:`HostDriver` is the protocol (:class:`~ese.rtlsim.host.Host`, the
same code that drives a board) on that bus, plus what only a simulation
has: the clock, the reset, AXI pauses, and back-door access to the DDR
model (:meth:`HostDriver.put`, :meth:`HostDriver.get`, :attr:`HostDriver.mem`
with fault injection).
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from ese.rtlsim.host import CLK_NS, Bus, Host, pauses


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


class CocotbBus(Bus):
    """The bus of a simulation: AXI4-Lite master on ``s_axil_*``, DDR model on ``m_axi_*``.

    Memory blocks go straight into the DDR model (no bus cycles: the host's
    own path to DDR is not part of the design under test).
    """

    def __init__(self, dut, mem_size: int):
        from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
        self.dut = dut
        self.mem = BusMemory(mem_size)
        self.mem_base, self.mem_size = 0, mem_size
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, mem=self.mem)
        self.lite = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)

    def channels(self) -> list:
        """Every AXI channel of both models (for pause generators)."""
        return [self.ram.write_if.aw_channel, self.ram.write_if.w_channel,
                self.ram.write_if.b_channel, self.ram.read_if.ar_channel,
                self.ram.read_if.r_channel, self.lite.write_if.aw_channel,
                self.lite.write_if.w_channel, self.lite.write_if.b_channel,
                self.lite.read_if.ar_channel, self.lite.read_if.r_channel]

    async def read32(self, offset: int) -> int:
        return int(await self.lite.read_dword(offset))

    async def write32(self, offset: int, value: int) -> None:
        await self.lite.write_dword(offset, value)

    async def write_mem(self, addr: int, data: bytes) -> None:
        self.mem.write(addr, data)

    async def read_mem(self, addr: int, n: int) -> bytes:
        return self.mem.read(addr, n)

    async def wait_irq(self, max_cycles: int, progress=None, every: int = 50_000) -> bool:
        n = 0
        while not int(self.dut.irq.value):
            await RisingEdge(self.dut.clk)
            n += 1
            if n >= max_cycles:
                return False
            if progress is not None and n % every == 0:
                progress(n)
        return True


class HostDriver(Host):
    """Clock, reset, DDR model, host model and the host protocol of ``ese_top``.

    ``mem_size`` bytes of DDR (:attr:`mem`, a :class:`BusMemory`); ``p_pause``:
    probability of an idle cycle on every AXI channel (0 = none), drawn from
    a ``random.Random(seed)``.
    """

    def __init__(self, dut, cfg, mem_size: int = 1 << 20, p_pause: float = 0.0, seed: int = 1):
        self.dut = dut
        self.rng = random.Random(seed)
        cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
        super().__init__(CocotbBus(dut, mem_size), cfg)
        self.mem = self.bus.mem
        self.set_pauses(p_pause)

    def set_pauses(self, p: float) -> None:
        """Random idle cycles with probability ``p`` on every AXI channel (0 = none)."""
        for ch in self.bus.channels():
            if p > 0:
                ch.set_pause_generator(pauses(self.rng, p))
            else:
                ch.clear_pause_generator()

    async def reset(self, cycles: int = 5) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def wait_irq(self, max_cycles: int, progress=None, every: int = 50_000) -> bool:
        """Wait for irq high; False after ``max_cycles`` (the watchdog)."""
        return await self.bus.wait_irq(max_cycles, progress, every)

    # DDR back door ----------------------------------------------------------
    def put(self, addr: int, data: bytes) -> None:
        self.mem.write(addr, data)

    def get(self, addr: int, n: int) -> bytes:
        return self.mem.read(addr, n)
