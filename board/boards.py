"""The boards: every per-board fact in one table, and the SoC's address map.

A :class:`Board` names the LiteX platform and target it builds on, the FPGA,
the accelerator preset it carries (``ese.config.PRESETS``), the system clock
and the host bridge.  **The system clocks are the one place that depends on
the RTL's timing** (:data:`SYS_CLK_HZ`): ``make board`` constrains nextpnr
(ULX3S) or Vivado (KV260) to them and fails when they are not met.

The address map (:class:`AddressMap`) is what the host driver uses: where
the core's AXI4-Lite registers are, where the host CSRs of
:class:`ese.board.soc.HostIO` are (``irq``, a free-running cycle counter),
and where the DRAM the core reads is, seen from the host and from the
core.  The SoC (``ese.board.soc``) is built from the same constants, and
a test checks them against the ``csr.json`` LiteX writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ese.config import PRESETS, Config

#: System clock of each target, in Hz.  RTL-timing-dependent: the core closed
#: 34 MHz routed on an ECP5-85F (`tiny`, December 2026) before the pipelining
#: of issue 18; 50 MHz is LiteX's usual ULX3S clock and the target once the
#: core closes >= 100 MHz.  The simulated SoC has no timing: its clock only
#: scales the bridge's and the DRAM model's timings.
SYS_CLK_HZ = {
    "ulx3s": 50_000_000,
    "kv260": 100_000_000,
    "sim": 50_000_000,
}

#: The ULX3S bridge: LiteX's UART bridge ("uartbone") on the FT231X USB serial.
#: 1 Mbaud (the FT231X does up to 3 Mbaud): a 0.3 MB memory image in ~4 s.
ULX3S_BAUD = 1_000_000


@dataclass(frozen=True)
class AddressMap:
    """Addresses of a SoC (bytes).

    ``regs``: the core's AXI4-Lite register block (``ese/regmap.py`` offsets
    from here); ``host_csr``: the :class:`ese.board.soc.HostIO` CSRs (``irq``
    at +0, ``cycles`` at +4); ``dram_host``/``dram_core``: the first byte of
    the DRAM the driver may use, from the host and from the core's AXI4
    master (equal when the core sees the SoC's bus addresses);
    ``dram_size``: its bytes.
    """

    regs: int
    host_csr: int
    dram_host: int
    dram_core: int
    dram_size: int


#: LiteX with no CPU: CSRs from 0 (``csr_paging`` 0x800 per module), main RAM at
#: 0x4000_0000 (the core's AXI4 master reaches LiteDRAM with the same addresses).
CSR_PAGING = 0x800
#: the HostIO module's CSR location (the SoC reserves it: ``csr_map``)
HOST_CSR_LOC = 16
LITEX_MAP = AddressMap(regs=0x8000_0000, host_csr=HOST_CSR_LOC * CSR_PAGING,
                       dram_host=0x4000_0000, dram_core=0x4000_0000,
                       dram_size=32 << 20)


#: KV260: the core's registers as the PS sees them (physical address, M_AXI_HPM1_FPD's
#: window 0xB000_0000-0xBFFF_FFFF; the core decodes the low lite_addr_bits).
KV260_REGS = 0xB000_0000


@dataclass(frozen=True)
class Board:
    """One target board (see the module docstring)."""

    name: str
    what: str            #: one line for help texts and docs
    platform: str        #: litex_boards platform / target module name
    device: str          #: the FPGA as LiteX names it
    preset: str          #: the accelerator configuration (ese.config.PRESETS)
    flow: str            #: "open" (Yosys + nextpnr + ecppack here) or "vivado"

    @property
    def sys_clk_hz(self) -> int:
        return SYS_CLK_HZ[self.name]

    @property
    def cfg(self) -> Config:
        return PRESETS[self.preset]


BOARDS: dict[str, Board] = {
    "ulx3s": Board("ulx3s", "Radiona ULX3S 85F (Lattice ECP5 LFE5U-85F, 32 MB SDRAM)",
                   "radiona_ulx3s", "LFE5U-85F", "ulx3s", "open"),
    "kv260": Board("kv260", "AMD Kria KV260 (Zynq UltraScale+ XCK26, 4 GB DDR4 on the PS)",
                   "xilinx_kv260", "xck26-sfvc784-2lv-c", "kv260", "vivado"),
}


class BoardError(ValueError):
    """A bad board request (unknown board, missing tool, no board attached): rc 2."""


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r} (boards: {', '.join(BOARDS)})") from None
