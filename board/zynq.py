"""The host protocol's bus on the Zynq UltraScale+ PS (KV260): ``/dev/mem`` and u-dma-buf.

Runs on the board, under Linux on the PS, as root.  Registers: ``/dev/mem``
mapped at :data:`ese.board.boards.KV260_REGS` (the PS's M_AXI_HPM1_FPD
window).  DDR: a physically contiguous buffer from the ``u-dma-buf`` kernel
module (``/dev/udmabuf0``, opened with O_SYNC so the PS's caches cannot hide
data from the core, which reads through the non-coherent S_AXI_HP0_FPD
port); its physical address and size come from
``/sys/class/u-dma-buf/udmabuf0/``.  PYNQ's ``MMIO``/``allocate`` would do
the same; this needs nothing but Python.

``wait_irq`` polls IRQ_STATUS (the driver enables both interrupt sources, so
``irq`` is high exactly when it is not 0) and counts cycles by the wall
clock at the SoC clock of :data:`ese.board.boards.SYS_CLK_HZ`.
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

from ese import regmap
from ese.rtlsim.host import Bus, poll_irq

from .boards import KV260_REGS, SYS_CLK_HZ, BoardError

PAGE = 4096


class ZynqBus(Bus):
    """:class:`~ese.rtlsim.host.Bus` of the PS (see the module docstring).

    ``devmem``, ``udmabuf`` and ``sysfs`` name the device files (tests point
    them at ordinary files).
    """

    def __init__(self, regs: int = KV260_REGS, devmem: str = "/dev/mem",
                 udmabuf: str = "/dev/udmabuf0", sysfs: str = "/sys/class/u-dma-buf/udmabuf0",
                 clk_hz: int = SYS_CLK_HZ["kv260"], poll_s: float = 1e-4):
        self.clk_hz, self.poll_s = clk_hz, poll_s
        try:
            self.mem_base = int(Path(sysfs, "phys_addr").read_text().strip(), 0)
            self.mem_size = int(Path(sysfs, "size").read_text().strip(), 0)
            self._fd_regs = os.open(devmem, os.O_RDWR | os.O_SYNC)
            self._fd_buf = os.open(udmabuf, os.O_RDWR | os.O_SYNC)
        except OSError as e:
            raise BoardError(f"the Zynq bus needs {e.filename} ({e.strerror}): run on the "
                             f"KV260 as root with the u-dma-buf module loaded (docs/boards.md)") \
                from None
        base = regs & ~(PAGE - 1)
        self._regs = mmap.mmap(self._fd_regs, PAGE, offset=base)
        self._regs_off = regs - base
        self._buf = mmap.mmap(self._fd_buf, self.mem_size)

    def close(self) -> None:
        self._regs.close()
        self._buf.close()
        os.close(self._fd_regs)
        os.close(self._fd_buf)

    def _reg(self, offset: int) -> memoryview:
        o = self._regs_off + offset
        return memoryview(self._regs)[o:o + 4].cast("I")

    async def read32(self, offset: int) -> int:
        return int(self._reg(offset)[0])          # one 32-bit load

    async def write32(self, offset: int, value: int) -> None:
        self._reg(offset)[0] = value & 0xFFFFFFFF  # one 32-bit store

    def _span(self, addr: int, n: int) -> slice:
        off = addr - self.mem_base
        if off < 0 or off + n > self.mem_size:
            raise ValueError(f"{addr:#x}+{n} is outside the DMA buffer "
                             f"{self.mem_base:#x}+{self.mem_size}")
        return slice(off, off + n)

    async def write_mem(self, addr: int, data: bytes) -> None:
        self._buf[self._span(addr, len(data))] = data

    async def read_mem(self, addr: int, n: int) -> bytes:
        return bytes(self._buf[self._span(addr, n)])

    async def wait_irq(self, max_cycles: int, progress=None, every: int = 50_000) -> bool:
        t0 = time.monotonic()
        return poll_irq(lambda: self._reg(regmap.ADDR["IRQ_STATUS"])[0] != 0,
                        lambda: int((time.monotonic() - t0) * self.clk_hz), max_cycles,
                        progress, every, self.poll_s)
