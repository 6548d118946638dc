"""The SoCs around ``ese_top`` (LiteX): one description of the core's integration, three hosts.

``ese_top`` enters every SoC the same way (:func:`add_ese`): the Verilog the
project converts for the board's configuration, instantiated as a black box
(:class:`EseCore`), with

* its AXI4-Lite slave (``s_axil_*``) a region of the SoC bus at
  :attr:`AddressMap.regs <ese.board.boards.AddressMap>` (LiteX inserts the
  Wishbone -> AXI4-Lite bridge);
* its AXI4 master (``m_axi_*``, ``axi_data_bits`` wide) straight into DRAM:
  a LiteDRAM crossbar port through ``LiteDRAMAXI2Native`` (ULX3S and the
  simulation; the port's ``base_address`` makes the core see the bus's own
  addresses, so host and core agree on every pointer) or the PS's
  S_AXI_HP0_FPD port (KV260: physical DDR addresses);
* its ``irq`` visible to the host: :class:`HostIO` CSRs (``irq`` and a
  free-running cycle counter that makes the driver's watchdog count clock
  cycles on every back-end), and the PS's ``pl_ps_irq0[0]`` on the KV260.

The SoCs (no soft CPU: the host drives everything through the bridge):

* :class:`Ulx3sSoC`: litex-boards' ULX3S SoC (PLL from the 25 MHz clock,
  reset, LiteDRAM on the SDRAM, the LED chaser that blinks while the
  bitstream runs) with the UART bridge on the FT231X; the L2 cache is off
  (the core's port bypasses the bus, and a write-back cache would hide the
  host's writes from it);
* :class:`SimSoC`: the same LiteDRAM controller and SDRAM module on
  LiteDRAM's SDRAM PHY model, the same UART bridge on the simulator's
  stream UART (``serial2tcp``): what ``litex_server`` talks to is the same
  protocol as on the board;
* :class:`Kv260SoC`: litex-boards' KV260 SoC with the Zynq UltraScale+ PS;
  the PS reaches the registers through its M_AXI_HPM1_FPD port
  (:data:`ese.board.boards.KV260_REGS`), the core reaches the PS's DDR
  through S_AXI_HP0_FPD.

Imports LiteX (the ``board`` extra): only ``ese.board.build`` and
``ese.board.sim`` import this module.
"""

from __future__ import annotations

from migen import ClockSignal, Instance, ResetSignal, Signal

from litex.gen import LiteXModule
from litex.soc.interconnect import axi
from litex.soc.interconnect.csr import CSRStatus
from litex.soc.integration.soc import SoCRegion

from .boards import HOST_CSR_LOC, LITEX_MAP, SYS_CLK_HZ, ULX3S_BAUD

#: bytes of the register region on the SoC bus (the core decodes lite_addr_bits of them)
REGS_REGION = 0x1000


class EseCore(LiteXModule):
    """``ese_top`` of configuration ``cfg`` as a Verilog instance (ports: docs/architecture.md).

    ``axi``: its AXI4 master (``cfg.axi_data_bits`` wide, 1-bit IDs);
    ``axil``: its AXI4-Lite slave (32-bit, byte addresses; the core decodes
    the low ``cfg.lite_addr_bits``); ``irq``: its interrupt.  ``sources``:
    the converted Verilog files, added to the platform.  Clock and reset are
    those of clock domain ``cd`` (default the SoC's ``sys``, whose reset LiteX's
    ECP5 CRG releases synchronously).
    """

    def __init__(self, platform, cfg, sources, cd: str = "sys"):
        self.axi = axi.AXIInterface(data_width=cfg.axi_data_bits,
                                    address_width=cfg.axi_addr_bits, id_width=1)
        self.axil = axi.AXILiteInterface(data_width=32, address_width=32)
        self.irq = Signal()
        m, s = self.axi, self.axil
        ports = dict(i_clk=ClockSignal(cd), i_rst=ResetSignal(cd), o_irq=self.irq)
        # AXI4-Lite slave
        ports.update(
            i_s_axil_awaddr=s.aw.addr[:cfg.lite_addr_bits], i_s_axil_awvalid=s.aw.valid,
            o_s_axil_awready=s.aw.ready,
            i_s_axil_wdata=s.w.data, i_s_axil_wstrb=s.w.strb, i_s_axil_wvalid=s.w.valid,
            o_s_axil_wready=s.w.ready,
            o_s_axil_bresp=s.b.resp, o_s_axil_bvalid=s.b.valid, i_s_axil_bready=s.b.ready,
            i_s_axil_araddr=s.ar.addr[:cfg.lite_addr_bits], i_s_axil_arvalid=s.ar.valid,
            o_s_axil_arready=s.ar.ready,
            o_s_axil_rdata=s.r.data, o_s_axil_rresp=s.r.resp, o_s_axil_rvalid=s.r.valid,
            i_s_axil_rready=s.r.ready)
        # AXI4 master
        for ch in ("aw", "ar"):
            c = getattr(m, ch)
            ports.update({f"o_m_axi_{ch}id": c.id, f"o_m_axi_{ch}addr": c.addr,
                          f"o_m_axi_{ch}len": c.len, f"o_m_axi_{ch}size": c.size,
                          f"o_m_axi_{ch}burst": c.burst, f"o_m_axi_{ch}valid": c.valid,
                          f"i_m_axi_{ch}ready": c.ready})
        ports.update(
            o_m_axi_wdata=m.w.data, o_m_axi_wstrb=m.w.strb, o_m_axi_wlast=m.w.last,
            o_m_axi_wvalid=m.w.valid, i_m_axi_wready=m.w.ready,
            i_m_axi_bid=m.b.id, i_m_axi_bresp=m.b.resp, i_m_axi_bvalid=m.b.valid,
            o_m_axi_bready=m.b.ready,
            i_m_axi_rid=m.r.id, i_m_axi_rdata=m.r.data, i_m_axi_rresp=m.r.resp,
            i_m_axi_rlast=m.r.last, i_m_axi_rvalid=m.r.valid, o_m_axi_rready=m.r.ready)
        self.specials += Instance("ese_top", **ports)
        # fixed AXI4 attributes the core does not drive: normal, non-secure, data, modifiable
        self.comb += [m.aw.prot.eq(0), m.ar.prot.eq(0), m.aw.cache.eq(0b0011),
                      m.ar.cache.eq(0b0011)]
        for f in sources:
            platform.add_source(str(f))


class HostIO(LiteXModule):
    """Host CSRs: ``irq`` (the core's interrupt line) and ``cycles`` (a free-running
    32-bit count of ``sys`` clock cycles: the driver's watchdog counts cycles with it,
    as the cocotb host does, whatever the bridge's latency or the simulator's speed)."""

    def __init__(self, irq):
        self.irq = CSRStatus(1, description="The accelerator's interrupt line (ese_top.irq).")
        self.cycles = CSRStatus(32, description="Free-running count of sys clock cycles "
                                                "(wraps).")
        count = Signal(32)
        self.sync += count.eq(count + 1)
        self.comb += [self.irq.status.eq(irq), self.cycles.status.eq(count)]


def add_ese(soc, cfg, sources, dram_port=None):
    """Add ``ese_top`` (``cfg``, Verilog ``sources``) to a LiteX ``soc`` (module docstring).

    ``dram_port``: where the core's AXI4 master goes; None = a new LiteDRAM
    crossbar port of ``soc.sdram`` with the bus's main-RAM addresses.
    """
    from litedram.frontend.axi import LiteDRAMAXI2Native
    soc.ese = core = EseCore(soc.platform, cfg, sources)
    soc.bus.add_slave("ese", core.axil, region=SoCRegion(origin=LITEX_MAP.regs,
                                                          size=REGS_REGION, cached=False))
    if dram_port is None:
        port = soc.sdram.crossbar.get_port(data_width=cfg.axi_data_bits)
        soc.ese_dram = LiteDRAMAXI2Native(core.axi, port, base_address=LITEX_MAP.dram_core)
    else:
        dram_port(core.axi)
    soc.ese_host = HostIO(core.irq)
    return core


def _litex_soc_args() -> dict:
    """SoCCore arguments common to the ULX3S and the simulation: no CPU, no ROM/SRAM,
    no timer; the HostIO CSRs at the reserved location of the address map."""
    return dict(cpu_type=None, integrated_rom_size=0, integrated_sram_size=0,
                with_timer=False)


def ulx3s_soc(cfg, sources, sys_clk_hz=None, baud=ULX3S_BAUD, toolchain="trellis"):
    """The ULX3S 85F SoC (see the module docstring); ``cfg`` None: the SoC without the core
    (the flow test of tests/test_board.py)."""
    from litex_boards.targets.radiona_ulx3s import BaseSoC

    class Ulx3sSoC(BaseSoC):
        csr_map = {"ese_host": HOST_CSR_LOC}

    soc = Ulx3sSoC(device="LFE5U-85F", toolchain=toolchain,
                   sys_clk_freq=sys_clk_hz or SYS_CLK_HZ["ulx3s"],
                   uart_name="uartbone", uart_baudrate=baud, l2_size=0, **_litex_soc_args())
    if cfg is not None:
        add_ese(soc, cfg, sources)
    return soc


def sim_soc(cfg, sources, sdram_module="MT48LC16M16"):
    """The simulated SoC: the ULX3S's DRAM controller and bridge on simulation models."""
    from litedram import modules as litedram_modules
    from litedram.phy.model import SDRAMPHYModel
    from litex.build.generic_platform import Pins, Subsignal
    from litex.build.sim import SimPlatform
    from litex.soc.cores.uart import RS232PHYModel, UARTBone
    from litex.soc.integration.soc_core import SoCCore
    from migen.genlib.io import CRG

    # clock, reset and the simulator's stream UART (the serial2tcp module's pads)
    io = [("sys_clk", 0, Pins(1)), ("sys_rst", 0, Pins(1)),
          ("serial", 0, *[Subsignal(n, Pins(w)) for n, w in (
              ("source_valid", 1), ("source_ready", 1), ("source_data", 8),
              ("sink_valid", 1), ("sink_ready", 1), ("sink_data", 8))])]
    platform = SimPlatform("SIM", io)
    clk = SYS_CLK_HZ["sim"]

    class SimSoC(SoCCore):
        csr_map = {"ese_host": HOST_CSR_LOC}

        def __init__(self):
            self.crg = CRG(platform.request("sys_clk"))
            SoCCore.__init__(self, platform, clk, ident="ESE sparse-LSTM accelerator (simulation)",
                             with_uart=False, **_litex_soc_args())
            # UART bridge on the simulator's stream UART
            self.uartbone_phy = RS232PHYModel(platform.request("serial"))
            self.uartbone = UARTBone(phy=self.uartbone_phy, clk_freq=clk,
                                     address_width=self.bus.address_width)
            self.bus.add_master(name="uartbone", master=self.uartbone.wishbone)
            # LiteDRAM on the SDRAM model: the ULX3S's module, 16-bit, single rate
            module = getattr(litedram_modules, sdram_module)(clk, "1:1")
            self.sdrphy = SDRAMPHYModel(module=module, data_width=16, clk_freq=clk)
            self.add_sdram("sdram", phy=self.sdrphy, module=module, origin=LITEX_MAP.dram_host,
                           size=LITEX_MAP.dram_size, l2_cache_size=0)
            add_ese(self, cfg, sources)

    return SimSoC()


def kv260_soc(cfg, sources, sys_clk_hz=None):
    """The KV260 SoC (see the module docstring): the PS drives the registers through
    M_AXI_HPM1_FPD (:data:`ese.board.boards.KV260_REGS`), the core reads and writes the
    PS's DDR through S_AXI_HP0_FPD (``axi_data_bits`` wide), its irq is ``pl_ps_irq0[0]``."""
    from litex.soc.integration.soc_core import SoCCore
    from litex_boards.targets.xilinx_kv260 import BaseSoC
    from migen import ClockDomain
    from migen.genlib.resetsync import AsyncResetSynchronizer

    class Kv260SoC(BaseSoC):
        def finalize(self, *args, **kwargs):
            # The target's finalize also writes BIOS headers (it clones Xilinx's embeddedsw
            # from the network): there is no BIOS here, the PS runs Linux.
            SoCCore.finalize(self, *args, **kwargs)

    clk = sys_clk_hz or SYS_CLK_HZ["kv260"]
    soc = Kv260SoC(sys_clk_freq=clk, cpu_type="zynqmp", with_uart=False,
                   integrated_rom_size=0)   # (it keeps its timer: LiteX needs one IRQ)
    # the core's domain: sys (the PS's pl_clk0) with the PS's reset synchronized to it
    soc.cd_ese = ClockDomain("ese")
    soc.comb += soc.cd_ese.clk.eq(ClockSignal("sys"))
    soc.specials += AsyncResetSynchronizer(soc.cd_ese, ResetSignal("sys"))
    soc.ese = core = EseCore(soc.platform, cfg, sources, cd="ese")
    ps = soc.cpu
    # the sys clock is the PS's pl_clk0: its frequency from the one table of clocks
    ps.config["PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"] = int(clk // 1_000_000)
    # registers: the PS's second FPD master (LiteX names the first one's clock only)
    gp1 = ps.add_axi_gp_master(n=1, data_width=32)
    ps.cpu_params["i_maxihpm1_fpd_aclk"] = ClockSignal("ps")
    soc.ese_regs = axi.AXI2AXILite(gp1, core.axil)
    # DDR: S_AXI_HP0_FPD ("saxigp2" on the zynq_ultra_ps_e IP), PS physical addresses
    ps.config.update({"PSU__USE__S_AXI_GP2": 1, "PSU__SAXIGP2__DATA_WIDTH": cfg.axi_data_bits})
    m = core.axi
    hp = {"i_saxihp0_fpd_aclk": ClockSignal("ps"), "i_saxigp2_awuser": 0, "i_saxigp2_aruser": 0}
    for ch in ("aw", "ar"):
        c = getattr(m, ch)
        hp.update({f"i_saxigp2_{ch}id": c.id, f"i_saxigp2_{ch}addr": c.addr,
                   f"i_saxigp2_{ch}len": c.len, f"i_saxigp2_{ch}size": c.size,
                   f"i_saxigp2_{ch}burst": c.burst, f"i_saxigp2_{ch}lock": 0,
                   f"i_saxigp2_{ch}cache": c.cache, f"i_saxigp2_{ch}prot": c.prot,
                   f"i_saxigp2_{ch}qos": 0, f"i_saxigp2_{ch}valid": c.valid,
                   f"o_saxigp2_{ch}ready": c.ready})
    hp.update(i_saxigp2_wdata=m.w.data, i_saxigp2_wstrb=m.w.strb, i_saxigp2_wlast=m.w.last,
              i_saxigp2_wvalid=m.w.valid, o_saxigp2_wready=m.w.ready,
              o_saxigp2_bid=m.b.id, o_saxigp2_bresp=m.b.resp, o_saxigp2_bvalid=m.b.valid,
              i_saxigp2_bready=m.b.ready,
              o_saxigp2_rid=m.r.id, o_saxigp2_rdata=m.r.data, o_saxigp2_rresp=m.r.resp,
              o_saxigp2_rlast=m.r.last, o_saxigp2_rvalid=m.r.valid, i_saxigp2_rready=m.r.ready)
    ps.cpu_params.update(hp)
    soc.comb += ps.interrupt[0].eq(core.irq)
    return soc
