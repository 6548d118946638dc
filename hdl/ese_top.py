"""ese_top: the whole accelerator.

``csr`` (AXI4-Lite registers, irq) + ``controller`` (START, checks, errors,
counters) + ``loader`` (memory image -> on-chip memories) + ``ctrl_exec``
(the frame/layer schedule) + ``ctrl_io`` (frames in and out) + ``rdport``
(byte ranges -> items) + ``mem_reader`` / ``mem_writer`` (one AXI4 master:
read and write channels) + ``n_pe`` ``pe`` blocks of ``n_ch`` lanes each +
``n_ch`` ``channel`` blocks, wired by the interfaces of hdl/interfaces.py
(names in brackets)::

    s_axil --> [csr] --regs--> [controller] --ldr--> [loader] --ld--> PE memories
                 ^ irq                  |  \\                  \\--pw--> channel bias/peep memories
                 |                      |   \\--ex--> [ctrl_exec] --cmd/clr/drn/vec--> [pe] x n_pe
                 |                      |              |   \\--xr/ew/pj/wbc--> [channel] x n_ch
                 |                      |        in_frame/out_frame
                 |                      |              v
                 |                      +------> [ctrl_io] --xw--> channel staging buffers
                 |                        req/items |    \\--w_cmd/w--> [mem_writer] --> m_axi AW/W/B
                 |                          [rdport] <--m_cmd/m-- [mem_reader] <-- m_axi AR/R
    [pe p] lane c --drn--> [channel c] (ew_unit, requant, memories) --wb--> vec data of lane c

The loader and ctrl_io share the read port (the loader while it loads).

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
masters (use it while idle).

Parameters
----------
cfg                  ese.config.Config (n_pe a multiple of 4; act/pre/weight/cell bits <= 16)

Timing of a run: see ``ctrl_exec`` (schedule) and docs/architecture.md
"Controller".
"""

from myhdl import ConcatSignal, Signal, always_comb, block

from ese.config import Config

from .channel import channel
from .controller import controller
from .csr import csr
from .ctrl_exec import ctrl_exec
from .ctrl_io import ctrl_io
from .interfaces import (ERR_BITS, AxiLite, AxiRead, AxiWrite, Clear, Drain, EwCtl, ExecCtl,
                         FrameReq, HostRegs, ItemStream, LayerRow, LoadBus, LoaderCtl, MemCmd,
                         ParamWrite, PeCmd, ProjCtl, ReadReq, StageRead, StageWrite, VecWrite,
                         WbCtl, WordStream, clock_reset, reset_signal, uint, upto, widths)
from .loader import loader
from .mem_reader import mem_reader
from .mem_writer import mem_writer
from .pe import pe
from .rdport import rdport


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
    NPE, NCH = cfg.n_pe, cfg.n_ch
    ACC, AB = cfg.acc_bits, cfg.act_bits
    W = widths(cfg)
    assert NPE % 4 == 0, f"ese_top: n_pe must be a multiple of 4, got {NPE}"
    flat_ports = dict(locals())
    lite_bits = len(s_axil_awaddr)
    s_axil = AxiLite.bind("s_axil", flat_ports, cfg, addr_bits=lite_bits)
    m_axi_rd = AxiRead.bind("m_axi", flat_ports, cfg)
    m_axi_wr = AxiWrite.bind("m_axi", flat_ports, cfg)
    del flat_ports
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: uint(n).signal()  # noqa: E731

    # ---- reset: the datapath also resets on CTRL.SOFT_RESET ---------------
    soft_reset = b()
    drst = reset_signal()

    @always_comb
    def reset_mux():
        drst.next = rst or soft_reset

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
    pe_busy_l = [b() for _ in range(NPE)]
    pe_busy = ConcatSignal(*reversed(pe_busy_l)) if NPE > 1 else pe_busy_l[0]
    run_frames, run_batch = u(W.frames), u(W.batch)
    run_in_addr, run_out_addr, run_image_addr = u(W.axi_addr), u(W.axi_addr), u(W.axi_addr)
    i_ctl = controller(clk, drst, regs, ldr, m_n_in, m_n_out, ex, cancel, rp_busy,
                       in_frame.busy, out_frame.busy, rd_err, rd_err_code, wr_err, wr_err_code,
                       pe_busy, run_frames, run_batch, run_in_addr, run_out_addr,
                       run_image_addr, cfg=cfg)

    # ---- read port: the loader while it loads, else the input mover -------
    rq = ReadReq(cfg)                          # the port's request (muxed)
    rp_o = ItemStream(cfg)                     # its items; ready: either client's
    lq = ReadReq(cfg).view(ready=rq.ready)     # the loader's request
    iq = ReadReq(cfg).view(ready=rq.ready)     # the input mover's
    li = rp_o.view(ready=b())                  # the loader's item side
    ii = rp_o.view(ready=b())                  # the input mover's

    @always_comb
    def rd_mux():
        rq.valid.next = lq.valid or iq.valid
        if ldr.busy:
            rq.addr.next = lq.addr
            rq.n.next = lq.n
            rq.wide.next = lq.wide
        else:
            rq.addr.next = iq.addr
            rq.n.next = iq.n
            rq.wide.next = iq.wide
        rp_o.ready.next = li.ready or ii.ready

    # ---- loader -----------------------------------------------------------
    ld = LoadBus(cfg)                          # PE memories (ld.pe selects the PE)
    pw = ParamWrite(cfg)                       # every channel's biases and peepholes
    n_layers = upto(cfg.max_layers + 1).signal()
    layer_sel = upto(cfg.max_layers + 1).signal()
    layer = LayerRow(cfg)
    i_ld = loader(clk, drst, ldr, cancel, run_image_addr, regs.image_size, lq, li, ld, pw,
                  n_layers, m_n_in, m_n_out, layer_sel, layer, cfg=cfg)

    # ---- frame movers -----------------------------------------------------
    xw = StageWrite(cfg)
    w_cmd, w, w_done = MemCmd(cfg), WordStream(cfg), b()
    o_raddr = u(W.out_addr)
    ch_o_rdata = [u(AB) for _ in range(NCH)]
    o_rdata = ConcatSignal(*reversed(ch_o_rdata)) if NCH > 1 else ch_o_rdata[0]
    i_io = ctrl_io(clk, drst, cancel, run_frames, run_batch, run_in_addr, run_out_addr,
                   m_n_in, m_n_out, in_frame, out_frame, iq, ii, xw, w_cmd, w, w_done,
                   o_raddr, o_rdata, cfg=cfg)

    # ---- AXI masters ------------------------------------------------------
    mr_cmd, mr_o = MemCmd(cfg), WordStream(cfg, last=True)
    mr_busy, mr_done, mw_busy = b(), b(), b()
    i_rp = rdport(clk, drst, cancel, rq, rp_o, rp_busy, mr_cmd, mr_o.without_last(), mr_busy,
                  cfg=cfg)
    i_mr = mem_reader(clk, rst, mr_cmd, mr_o, mr_done, rd_err, rd_err_code, mr_busy, m_axi_rd,
                      cfg=cfg)
    i_mw = mem_writer(clk, rst, w_cmd, w, w_done, wr_err, wr_err_code, mw_busy, m_axi_wr,
                      cfg=cfg)

    # ---- schedule ---------------------------------------------------------
    cmd = PeCmd(cfg)                 # to every PE; cmd.ready = all PEs ready
    avail = u(W.ncols)
    clr = Clear(cfg)
    vec = VecWrite(cfg, lanes=NCH)   # we/addr from the schedule, data from the channels
    drn_addr = u(W.acc_addr)
    xr, ew, pj, wbc = StageRead(cfg), EwCtl(cfg), ProjCtl(cfg), WbCtl(cfg)
    pe_rdy_l = [b() for _ in range(NPE)]
    pe_done_l = [b() for _ in range(NPE)]
    done_bus = ConcatSignal(*reversed(pe_done_l)) if NPE > 1 else pe_done_l[0]
    rdy_bus = ConcatSignal(*reversed(pe_rdy_l)) if NPE > 1 else pe_rdy_l[0]
    ch_wb_valid = [b() for _ in range(NCH)]
    i_ex = ctrl_exec(clk, drst, ex, cancel, run_frames, n_layers, m_n_in, layer_sel, layer,
                     in_frame, out_frame, cmd, avail, done_bus, clr, drn_addr, vec.we, vec.addr,
                     ch_wb_valid[0], xr, ew, pj, wbc, cfg=cfg)
    ALL = (1 << NPE) - 1

    @always_comb
    def ready_and():
        cmd.ready.next = rdy_bus == ALL

    # ---- PEs ----------------------------------------------------------------
    ld_we_bus = u(NPE)

    @always_comb
    def ld_decode():
        if ld.we:
            ld_we_bus.next = 1 << ld.pe
        else:
            ld_we_bus.next = 0

    ch_wb_data = [u(AB) for _ in range(NCH)]
    vec_cat = ConcatSignal(*reversed(ch_wb_data)) if NCH > 1 else ch_wb_data[0]

    @always_comb
    def vec_copy():
        # a plain signal: the PEs slice it (no slice of a shadow signal)
        vec.data.next = vec_cat

    pe_drn = [u(NCH * ACC) for _ in range(NPE)]
    pes = []
    for p in range(NPE):
        pes.append(pe(clk, drst, ld.for_pe(ld_we_bus(p)), cmd.view(ready=pe_rdy_l[p]), avail,
                      pe_busy_l[p], vec, clr, Drain.of(addr=drn_addr, data=pe_drn[p]),
                      pe_done_l[p], cfg=cfg, n_lanes=NCH))

    # ---- channels -----------------------------------------------------------
    xw_we_bus = u(NCH)           # the staging write goes to channel xw.ch only

    @always_comb
    def xw_decode():
        if xw.we:
            xw_we_bus.next = 1 << xw.ch
        else:
            xw_we_bus.next = 0

    chans = []
    for c in range(NCH):
        parts = [pe_drn[p]((c + 1) * ACC, c * ACC) for p in range(NPE)]
        drn_bus = ConcatSignal(*reversed(parts))
        chans.append(channel(clk, drst, drn_bus, pw, xw.view(we=xw_we_bus(c)), xr, ew, pj,
                             ch_wb_valid[c], ch_wb_data[c], wbc, o_raddr, ch_o_rdata[c],
                             cfg=cfg))

    return (reset_mux, i_csr, i_ctl, rd_mux, i_ld, i_io, i_rp, i_mr, i_mw, i_ex, ready_and,
            ld_decode, vec_copy, pes, xw_decode, chans)


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``ese_top`` (names = port names)."""
    return dict(**clock_reset(), **AxiLite(cfg).flat("s_axil"), **AxiRead(cfg).flat("m_axi"),
                **AxiWrite(cfg).flat("m_axi"), irq=Signal(bool(0)))


def top(cfg: Config):
    """``ese_top`` on fresh port signals for ``cfg``."""
    return ese_top(**ports(cfg), cfg=cfg)
