"""ese_top: the whole accelerator.

``csr`` (AXI4-Lite registers, irq) + ``controller`` (START, checks, errors,
counters) + ``loader`` (memory image -> on-chip memories) + ``ctrl_io``
(frames in and out) + ``rdport`` (byte ranges -> items) + ``mem_reader`` /
``mem_writer`` (one AXI4 master: read and write channels; ``read_mux`` shares
the reader between the read port and the loader's beat port) + ``core``
(the stream scheduler ``ctrl_exec``, the ``pe_array`` of ``n_pe`` PEs with
``n_ch`` lanes each, ``n_ch`` ``channel`` blocks), wired by the interfaces of
hdl/interfaces.py and hdl/stream_if.py (names in brackets)::

    s_axil <--> [csr] --regs--> [controller] --ldr--> [loader] --ld (LoadBeat), pw--> [core]
                  |                   \\--ex, flush, cancel------------------------> [core]
                  v irq                    [core] --in_frame, out_frame--> [ctrl_io]
    [loader], [ctrl_io] --req/items--> [rdport] --m_cmd/m--+
    [loader] --bcmd/beat-----------------------------------+--> [read_mux] <--> [mem_reader]
    [ctrl_io] --xw--> [core] --o_raddr/o_rdata--> [ctrl_io] --w_cmd/w--> [mem_writer]
    [mem_reader] <--> m_axi AR/R;   [mem_writer] <--> m_axi AW/W/B

The loader and ctrl_io share the read port (the loader while it loads); the
loader takes mem_reader over (``bsel``) for the bias, peephole and PE regions,
one AXI beat per cycle.

Ports
-----
clk, rst             clock (200 MHz target); synchronous active-high reset
s_axil_*             AXI4-Lite slave (register map ``ese/regmap.py``), lite_addr_bits
                     address: the attributes of ``AxiLite``
m_axi_ar*, m_axi_r*  AXI4 read master (id 0, INCR, full width), axi_addr_bits/axi_data_bits:
                     ``AxiRead``
m_axi_aw*, m_axi_w*, m_axi_b*  AXI4 write master: ``AxiWrite``
irq                  level interrupt: |(IRQ_STATUS & IRQ_EN)

The ports are listed one by one (not as interface arguments) so that their
Verilog order stays the conventional one: MyHDL puts interface ports after
every plain signal.  :func:`ports` builds them from the interfaces and the
block adopts them back (``Interface.bind``, which checks every width).

CTRL.SOFT_RESET resets everything but the register block and the AXI
masters (use it while idle).  Every START also resets the core for one
cycle (the controller's ``flush``): a run starts from a clean pipeline, the
memories keep the loaded model.

Parameters
----------
cfg                  ese.config.Config (act/pre/weight/cell bits <= 16, axi_data_bits >= 64)

Timing of a run: see ``ctrl_exec`` (schedule), ``loader`` (load) and
docs/architecture.md.
"""

from myhdl import Signal, always, always_comb, block

from ese.config import Config

from .controller import controller, mac_count_bits
from .core import core
from .csr import csr
from .ctrl_io import ctrl_io
from .interfaces import (ERR_BITS, AxiLite, AxiRead, AxiWrite, ExecCtl, FrameReq, HostRegs,
                         ItemStream, LoaderCtl, MemCmd, ParamWrite, ReadReq, StageWrite,
                         WordStream, clock_reset, reset_signal, uint, upto, widths)
from .loader import loader, read_mux
from .mem_reader import mem_reader
from .mem_writer import mem_writer
from .rdport import rdport
from .stream_if import LayerInfo, LoadBeat


@block
def ese_top(clk, rst,
            s_axil_awaddr, s_axil_awvalid, s_axil_awready,
            s_axil_wdata, s_axil_wstrb, s_axil_wvalid, s_axil_wready,
            s_axil_bresp, s_axil_bvalid, s_axil_bready,
            s_axil_araddr, s_axil_arvalid, s_axil_arready,
            s_axil_rdata, s_axil_rresp, s_axil_rvalid, s_axil_rready,
            m_axi_arid, m_axi_araddr, m_axi_arlen, m_axi_arsize, m_axi_arburst,
            m_axi_arvalid, m_axi_arready,
            m_axi_rid, m_axi_rdata, m_axi_rresp, m_axi_rlast, m_axi_rvalid, m_axi_rready,
            m_axi_awid, m_axi_awaddr, m_axi_awlen, m_axi_awsize, m_axi_awburst,
            m_axi_awvalid, m_axi_awready,
            m_axi_wdata, m_axi_wstrb, m_axi_wlast, m_axi_wvalid, m_axi_wready,
            m_axi_bid, m_axi_bresp, m_axi_bvalid, m_axi_bready,
            irq, cfg: Config):
    NCH, AB = cfg.n_ch, cfg.act_bits
    W = widths(cfg)
    flat_ports = dict(locals())
    lite_bits = len(s_axil_awaddr)
    s_axil = AxiLite.bind("s_axil", flat_ports, cfg, addr_bits=lite_bits)
    m_axi_rd = AxiRead.bind("m_axi", flat_ports, cfg)
    m_axi_wr = AxiWrite.bind("m_axi", flat_ports, cfg)
    del flat_ports
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: uint(n).signal()  # noqa: E731

    # ---- resets: the datapath also on CTRL.SOFT_RESET, the core also at every START ----
    soft_reset, flush = b(), b()
    drst, core_rst = reset_signal(), reset_signal()

    # registered: each reset fans out to thousands of flip-flops from one flip-flop, not
    # from an OR of three (soft_reset -> OR -> every enable was a critical path).  Both
    # follow their sources a cycle late: the next host write after a SOFT_RESET, and
    # the core's first command after a START (flush), come many cycles later
    @always(clk.posedge)
    def reset_mux():
        drst.next = rst or soft_reset
        core_rst.next = rst or soft_reset or flush

    # ---- register block ---------------------------------------------------
    regs = HostRegs(cfg)
    i_csr = csr(clk, rst, s_axil, soft_reset=soft_reset, irq=irq, **regs.signals(),
                cfg=cfg, lite_addr_bits=lite_bits)

    # ---- controller -------------------------------------------------------
    ldr = LoaderCtl(cfg)
    ex = ExecCtl(cfg)
    in_frame, out_frame = FrameReq(cfg), FrameReq(cfg)
    m_n_in = upto(cfg.max_input + 1).signal()
    m_n_out = upto(cfg.max_proj + 1).signal()
    cancel, rp_busy = b(), b()
    rd_err, wr_err = b(), b()
    rd_err_code, wr_err_code = u(ERR_BITS), u(ERR_BITS)
    mac_count = u(mac_count_bits(cfg))
    run_frames, run_batch = u(W.frames), u(W.batch)
    run_in_addr, run_out_addr, run_image_addr = u(W.axi_addr), u(W.axi_addr), u(W.axi_addr)
    i_ctl = controller(clk, drst, regs, ldr, m_n_in, m_n_out, ex, cancel, rp_busy,
                       in_frame.busy, out_frame.busy, rd_err, rd_err_code, wr_err, wr_err_code,
                       mac_count, flush, run_frames, run_batch, run_in_addr, run_out_addr,
                       run_image_addr, cfg=cfg)

    # ---- read port: the loader's request, else the input mover's ----------
    rq = ReadReq(cfg)                          # the port's request (muxed)
    rp_o = ItemStream(cfg)                     # its items; ready: either client's
    lq = ReadReq(cfg).view(ready=rq.ready)     # the loader's request
    iq = ReadReq(cfg).view(ready=rq.ready)     # the input mover's
    li = rp_o.view(ready=b())                  # the loader's item side
    ii = rp_o.view(ready=b())                  # the input mover's

    # the clients never request at once (the controller runs no frame while it loads),
    # so the loader's own valid register picks the fields: the span adder of rdport
    # starts one LUT from flip-flops (a select from the loader's state decode was a
    # critical path)
    @always_comb
    def rd_mux():
        rq.valid.next = lq.valid or iq.valid
        if lq.valid:
            rq.addr.next = lq.addr
            rq.n.next = lq.n
            rq.wide.next = lq.wide
        else:
            rq.addr.next = iq.addr
            rq.n.next = iq.n
            rq.wide.next = iq.wide
        rp_o.ready.next = li.ready or ii.ready

    # ---- loader -----------------------------------------------------------
    bcmd, beat, bsel = MemCmd(cfg), WordStream(cfg), b()   # its beat port on mem_reader
    mr_busy = b()
    ld = LoadBeat(cfg)                         # PE memories, one beat into a group of PEs
    pw = ParamWrite(cfg)                       # every channel's biases and peepholes
    n_layers = upto(cfg.max_layers + 1).signal()
    lsel = upto(max(cfg.max_layers, 2)).signal()
    lrow = LayerInfo(cfg)
    i_ld = loader(clk, drst, ldr, cancel, run_image_addr, regs.image_size, lq, li, bcmd, beat,
                  bsel, mr_busy, ld, pw, n_layers, m_n_in, m_n_out, lsel, lrow, cfg=cfg)

    # ---- frame movers -----------------------------------------------------
    xw = StageWrite(cfg)
    w_cmd, w, w_done = MemCmd(cfg), WordStream(cfg), b()
    o_raddr = u(W.out_addr)
    o_rdata = u(NCH * cfg.vbuf_bank_count * AB)   # B values of every channel per read
    i_io = ctrl_io(clk, drst, cancel, run_frames, run_batch, run_in_addr, run_out_addr,
                   m_n_in, m_n_out, in_frame, out_frame, iq, ii, xw, w_cmd, w, w_done,
                   o_raddr, o_rdata, cfg=cfg)

    # ---- AXI masters ------------------------------------------------------
    rp_cmd, rp_m = MemCmd(cfg), WordStream(cfg)
    mr_cmd, mr_o = MemCmd(cfg), WordStream(cfg, last=True)
    mr_done, mw_busy = b(), b()
    i_rp = rdport(clk, drst, cancel, rq, rp_o, rp_busy, rp_cmd, rp_m, mr_busy, cfg=cfg)
    i_mx = read_mux(bsel, rp_cmd, rp_m, bcmd, beat, mr_cmd, mr_o.without_last())
    i_mr = mem_reader(clk, rst, mr_cmd, mr_o, mr_done, rd_err, rd_err_code, mr_busy, m_axi_rd,
                      cfg=cfg)
    i_mw = mem_writer(clk, rst, w_cmd, w, w_done, wr_err, wr_err_code, mw_busy, m_axi_wr,
                      cfg=cfg)

    # ---- the compute side -------------------------------------------------
    i_core = core(clk, core_rst, ex, cancel, run_frames, n_layers, lsel, lrow, ld, pw.we,
                  pw.sel, pw.addr, pw.data, in_frame, out_frame, xw.we, xw.ch, xw.addr,
                  xw.data, o_raddr, o_rdata, mac_count, cfg=cfg)

    return (reset_mux, i_csr, i_ctl, rd_mux, i_ld, i_io, i_rp, i_mx, i_mr, i_mw, i_core)


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``ese_top`` (names = port names)."""
    return dict(**clock_reset(), **AxiLite(cfg).flat("s_axil"), **AxiRead(cfg).flat("m_axi"),
                **AxiWrite(cfg).flat("m_axi"), irq=Signal(bool(0)))


def top(cfg: Config):
    """``ese_top`` on fresh port signals for ``cfg``."""
    return ese_top(**ports(cfg), cfg=cfg)
