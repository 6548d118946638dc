"""ese_top: the whole accelerator.

``csr`` (AXI4-Lite registers, irq) + ``controller`` (START, checks, errors,
counters) + ``loader`` (memory image -> on-chip memories) + ``ctrl_exec``
(the frame/layer schedule) + ``ctrl_io`` (frames in and out) + ``rdport``
(byte ranges -> items) + ``mem_reader`` / ``mem_writer`` (one AXI4 master:
read and write channels) + ``n_pe`` ``pe`` blocks of ``n_ch`` lanes each +
``n_ch`` ``channel`` blocks.

::

    s_axil --> [csr] --regs--> [controller] --+--> [loader] --ld_*--> PE memories
                 ^ irq                         |        \\--pw_*--> channel bias/peep memories
                 |                             +--> [ctrl_exec] --cmd/clr/drn/vec--> [pe] x n_pe
                                               +--> [ctrl_io] <--> [rdport] <--> [mem_reader] --> m_axi AR/R
                                                        \\---------------------> [mem_writer] --> m_axi AW/W/B
    [pe p] lane c --drn--> [channel c] (ew_unit, requant, memories) --wb--> vec_data of lane c

Ports
-----
clk, rst             clock (200 MHz target); synchronous active-high reset
s_axil_*             AXI4-Lite slave (register map ``ese/regmap.py``), lite_addr_bits address
m_axi_ar*, m_axi_r*  AXI4 read master (id 0, INCR, full width), axi_addr_bits/axi_data_bits
m_axi_aw*, m_axi_w*, m_axi_b*  AXI4 write master
irq                  level interrupt: |(IRQ_STATUS & IRQ_EN)

CTRL.SOFT_RESET resets everything but the register block and the AXI
masters (use it while idle).

Parameters
----------
cfg                  ese.config.Config (n_pe a multiple of 4; act/pre/weight/cell bits <= 16)

Timing of a run: see ``ctrl_exec`` (schedule) and docs/architecture.md
"Controller".
"""

from myhdl import ConcatSignal, ResetSignal, Signal, always_comb, block, intbv

from ese import regmap
from ese.config import Config, clog2

from .channel import channel
from .controller import controller
from .csr import csr
from .ctrl_exec import ctrl_exec
from .ctrl_io import ctrl_io
from .loader import ld_addr_bits, ld_data_bits, loader, param_addr_bits
from .mem_reader import mem_reader
from .mem_writer import mem_writer
from .pe import pe
from .pe_fetch import fetch_widths
from .rdport import rdport

NB = 24   #: width of read-port item counts
ID_PORTS = ("m_axi_arid", "m_axi_rid", "m_axi_awid", "m_axi_bid")


def axi_port_names() -> list:
    """Top-level AXI port names, in order."""
    return ("m_axi_arid m_axi_araddr m_axi_arlen m_axi_arsize m_axi_arburst m_axi_arvalid "
            "m_axi_arready m_axi_rid m_axi_rdata m_axi_rresp m_axi_rlast m_axi_rvalid "
            "m_axi_rready m_axi_awid m_axi_awaddr m_axi_awlen m_axi_awsize m_axi_awburst "
            "m_axi_awvalid m_axi_awready m_axi_wdata m_axi_wstrb m_axi_wlast m_axi_wvalid "
            "m_axi_wready m_axi_bid m_axi_bresp m_axi_bvalid m_axi_bready").split()


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
    A, D = cfg.axi_addr_bits, cfg.axi_data_bits
    ACC, AB = cfg.acc_bits, cfg.act_bits
    L = cfg.max_layers
    W = fetch_widths(cfg)
    PA = param_addr_bits(cfg)
    assert NPE % 4 == 0, f"ese_top: n_pe must be a multiple of 4, got {NPE}"
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731

    # ---- reset: the datapath also resets on CTRL.SOFT_RESET ---------------
    soft_reset = b()
    drst = ResetSignal(0, active=1, isasync=False)

    @always_comb
    def reset_mux():
        drst.next = rst or soft_reset

    # ---- register block ---------------------------------------------------
    image_addr, in_addr, out_addr = u(64), u(64), u(64)
    image_size, frames, batch = u(32), u(32), u(32)
    start, load = b(), b()
    busy, done, error = b(), b(), b()
    err_code = u(8)
    cycles, macs, stalls = u(64), u(64), u(64)
    i_csr = csr(clk, rst, s_axil_awaddr, s_axil_awvalid, s_axil_awready,
                s_axil_wdata, s_axil_wstrb, s_axil_wvalid, s_axil_wready,
                s_axil_bresp, s_axil_bvalid, s_axil_bready,
                s_axil_araddr, s_axil_arvalid, s_axil_arready,
                s_axil_rdata, s_axil_rresp, s_axil_rvalid, s_axil_rready,
                image_addr, image_size, in_addr, out_addr, frames, batch,
                start, soft_reset, load, irq,
                busy, done, error, err_code, cycles, macs, stalls,
                cfg=cfg, lite_addr_bits=len(s_axil_awaddr))

    # ---- controller -------------------------------------------------------
    ld_start, ld_busy, ld_fin, ld_loaded = b(), b(), b(), b()
    ld_err = u(4)
    m_n_in = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    m_n_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    ex_go, ex_fin, ex_stall, cancel = b(), b(), b(), b()
    rp_busy, in_busy, out_busy = b(), b(), b()
    rd_err, wr_err = b(), b()
    rd_err_code, wr_err_code = u(4), u(4)
    pe_busy_l = [b() for _ in range(NPE)]
    pe_busy = ConcatSignal(*reversed(pe_busy_l)) if NPE > 1 else pe_busy_l[0]
    run_frames = u(clog2(cfg.max_frames + 1))
    run_batch = u(clog2(NCH + 1))
    run_in_addr, run_out_addr, run_image_addr = u(A), u(A), u(A)
    i_ctl = controller(clk, drst, start, load, image_addr, image_size, in_addr, out_addr,
                       frames, batch, busy, done, error, err_code, cycles, macs, stalls,
                       ld_start, ld_busy, ld_fin, ld_err, ld_loaded, m_n_in, m_n_out,
                       ex_go, ex_fin, ex_stall, cancel, rp_busy, in_busy, out_busy,
                       rd_err, rd_err_code, wr_err, wr_err_code, pe_busy,
                       run_frames, run_batch, run_in_addr, run_out_addr, run_image_addr,
                       cfg=cfg)

    # ---- loader -----------------------------------------------------------
    lq_valid, lq_wide, li_ready = b(), b(), b()
    lq_addr, lq_n = u(A), u(NB)
    ld_we, ld_sel = b(), b()
    ld_pe = Signal(intbv(0, min=0, max=NPE + 1))
    ld_addr, ld_data = u(ld_addr_bits(cfg)), u(ld_data_bits(cfg))
    pw_we = b()
    pw_sel, pw_addr, pw_data = u(3), u(PA), u(16)
    n_layers = Signal(intbv(0, min=0, max=L + 1))
    lt_sel = Signal(intbv(0, min=0, max=L + 1))
    l_n_in = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
    l_n_cells = Signal(intbv(0, min=0, max=cfg.max_cells + 1))
    l_n_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    l_peep, l_proj = b(), b()
    l_shift_x, l_shift_r = u(W["SB"]), u(W["SB"])
    l_s_acc, l_s_p, l_wf_p = u(6), u(6), u(6)
    l_ptr_x, l_ptr_r, l_ptr_p = u(W["PA"]), u(W["PA"]), u(W["PA"])
    rp_o_valid, rp_req_ready = b(), b()
    rp_o_data = u(32)
    i_ld = loader(clk, drst, ld_start, cancel, run_image_addr, image_size, ld_busy, ld_fin,
                  ld_err, ld_loaded, lq_valid, rp_req_ready, lq_addr, lq_n, lq_wide,
                  rp_o_valid, li_ready, rp_o_data,
                  ld_we, ld_pe, ld_sel, ld_addr, ld_data, pw_we, pw_sel, pw_addr, pw_data,
                  n_layers, m_n_in, m_n_out, lt_sel,
                  l_n_in, l_n_cells, l_n_out, l_peep, l_proj, l_shift_x, l_shift_r, l_s_acc,
                  l_s_p, l_wf_p, l_ptr_x, l_ptr_r, l_ptr_p, cfg=cfg)

    # ---- frame movers -----------------------------------------------------
    in_req, out_req = b(), b()
    in_t = u(clog2(cfg.max_frames + 2))
    out_t = u(clog2(cfg.max_frames + 2))
    iq_valid, iq_wide, ii_ready = b(), b(), b()
    iq_addr, iq_n = u(A), u(NB)
    xw_we = b()
    xw_ch = u(clog2(NCH) + 1)
    xw_addr, xw_data = u(clog2(cfg.max_input)), u(16)
    w_cmd_valid, w_cmd_ready, w_valid, w_ready, w_done = b(), b(), b(), b(), b()
    w_cmd_addr, w_cmd_bytes, w_data = u(A), u(32), u(D)
    o_raddr = u(clog2(cfg.max_proj))
    ch_o_rdata = [u(AB) for _ in range(NCH)]
    o_rdata = ConcatSignal(*reversed(ch_o_rdata)) if NCH > 1 else ch_o_rdata[0]
    i_io = ctrl_io(clk, drst, cancel, run_frames, run_batch, run_in_addr, run_out_addr,
                   m_n_in, m_n_out, in_req, in_t, in_busy, out_req, out_t, out_busy,
                   iq_valid, rp_req_ready, iq_addr, iq_n, iq_wide, rp_o_valid, ii_ready,
                   rp_o_data, xw_we, xw_ch, xw_addr, xw_data,
                   w_cmd_valid, w_cmd_ready, w_cmd_addr, w_cmd_bytes, w_valid, w_ready, w_data,
                   w_done, o_raddr, o_rdata, cfg=cfg)

    # ---- read port (loader while loading, else the input mover) ----------
    rq_valid, rq_wide, rp_o_ready = b(), b(), b()
    rq_addr, rq_n = u(A), u(NB)
    mr_cmd_valid, mr_cmd_ready, mr_valid, mr_ready, mr_busy = b(), b(), b(), b(), b()
    mr_cmd_addr, mr_cmd_bytes, mr_data = u(A), u(32), u(D)

    @always_comb
    def rd_mux():
        rq_valid.next = lq_valid or iq_valid
        if ld_busy:
            rq_addr.next = lq_addr
            rq_n.next = lq_n
            rq_wide.next = lq_wide
        else:
            rq_addr.next = iq_addr
            rq_n.next = iq_n
            rq_wide.next = iq_wide
        rp_o_ready.next = li_ready or ii_ready

    i_rp = rdport(clk, drst, cancel, rq_valid, rp_req_ready, rq_addr, rq_n, rq_wide,
                  rp_o_valid, rp_o_ready, rp_o_data, rp_busy,
                  mr_cmd_valid, mr_cmd_ready, mr_cmd_addr, mr_cmd_bytes,
                  mr_valid, mr_ready, mr_data, mr_busy, cfg=cfg, nb=NB)

    # ---- AXI masters --------------------------------------------------------
    mr_last, mr_done, mw_busy = b(), b(), b()
    i_mr = mem_reader(clk, rst, mr_cmd_valid, mr_cmd_ready, mr_cmd_addr, mr_cmd_bytes,
                      mr_valid, mr_ready, mr_data, mr_last, mr_done, rd_err, rd_err_code,
                      mr_busy, m_axi_arid, m_axi_araddr, m_axi_arlen, m_axi_arsize,
                      m_axi_arburst, m_axi_arvalid, m_axi_arready,
                      m_axi_rid, m_axi_rdata, m_axi_rresp, m_axi_rlast, m_axi_rvalid,
                      m_axi_rready, cfg=cfg)
    i_mw = mem_writer(clk, rst, w_cmd_valid, w_cmd_ready, w_cmd_addr, w_cmd_bytes,
                      w_valid, w_ready, w_data, w_done, wr_err, wr_err_code, mw_busy,
                      m_axi_awid, m_axi_awaddr, m_axi_awlen, m_axi_awsize, m_axi_awburst,
                      m_axi_awvalid, m_axi_awready,
                      m_axi_wdata, m_axi_wstrb, m_axi_wlast, m_axi_wvalid, m_axi_wready,
                      m_axi_bid, m_axi_bresp, m_axi_bvalid, m_axi_bready, cfg=cfg)

    # ---- schedule ---------------------------------------------------------
    cmd_valid, rdy_all = b(), b()
    cmd_ptr_base, cmd_ncols = u(W["PA"]), u(W["CB"])
    cmd_vec_base, cmd_acc_base, cmd_shift = u(W["VA"]), u(W["AA"]), u(W["SB"])
    avail = u(W["CB"])
    clr_valid = b()
    clr_region = u(2)
    drn_addr = u(W["AA"])
    vec_we = b()
    vec_addr = u(W["VA"])
    xr_issue, ew_issue, zero_c, pj_issue = b(), b(), b(), b()
    xr_addr = u(clog2(cfg.max_input))
    gsel = Signal(intbv(0, min=0, max=NPE))
    pj_sel = Signal(intbv(0, min=0, max=NPE))
    prm_addr, c_waddr = u(PA), u(PA)
    c_we, o_we = b(), b()
    o_waddr = u(clog2(cfg.max_proj))
    pe_rdy_l = [b() for _ in range(NPE)]
    pe_done_l = [b() for _ in range(NPE)]
    done_bus = ConcatSignal(*reversed(pe_done_l)) if NPE > 1 else pe_done_l[0]
    rdy_bus = ConcatSignal(*reversed(pe_rdy_l)) if NPE > 1 else pe_rdy_l[0]
    ch_wb_valid = [b() for _ in range(NCH)]
    i_ex = ctrl_exec(clk, drst, ex_go, cancel, Signal(bool(0)), ex_fin, ex_stall, run_frames,
                     n_layers, m_n_in, lt_sel, l_n_in, l_n_cells, l_n_out, l_peep, l_proj,
                     l_shift_x, l_shift_r, l_ptr_x, l_ptr_r, l_ptr_p,
                     in_req, in_t, in_busy, out_req, out_t, out_busy,
                     cmd_valid, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base, cmd_shift,
                     avail, rdy_all, done_bus, clr_valid, clr_region, drn_addr, vec_we, vec_addr,
                     xr_issue, xr_addr, ew_issue, gsel, prm_addr, zero_c, pj_issue, pj_sel,
                     c_we, c_waddr, o_we, o_waddr, ch_wb_valid[0], cfg=cfg)
    ALL = (1 << NPE) - 1

    @always_comb
    def ready_and():
        rdy_all.next = rdy_bus == ALL

    # ---- PEs ----------------------------------------------------------------
    ld_we_bus = u(NPE)

    @always_comb
    def ld_decode():
        if ld_we:
            ld_we_bus.next = 1 << ld_pe
        else:
            ld_we_bus.next = 0

    ch_wb_data = [u(AB) for _ in range(NCH)]
    vec_cat = ConcatSignal(*reversed(ch_wb_data)) if NCH > 1 else ch_wb_data[0]
    vec_data = u(NCH * AB)       # a plain signal: the PEs slice it (no slice of a shadow)

    @always_comb
    def vec_copy():
        vec_data.next = vec_cat
    pe_drn = [u(NCH * ACC) for _ in range(NPE)]
    pes = []
    for p in range(NPE):
        pes.append(pe(clk, drst, ld_we_bus(p), ld_sel, ld_addr, ld_data,
                      cmd_valid, pe_rdy_l[p], cmd_ptr_base, cmd_ncols, cmd_vec_base,
                      cmd_acc_base, cmd_shift, avail, pe_busy_l[p], vec_we, vec_addr, vec_data,
                      clr_valid, clr_region, drn_addr, pe_drn[p], pe_done_l[p],
                      cfg=cfg, n_lanes=NCH))

    # ---- channels -----------------------------------------------------------
    xw_we_bus = u(NCH)           # staging-buffer write of channel xw_ch only

    @always_comb
    def xw_decode():
        if xw_we:
            xw_we_bus.next = 1 << xw_ch
        else:
            xw_we_bus.next = 0

    chans = []
    for c in range(NCH):
        parts = [pe_drn[p]((c + 1) * ACC, c * ACC) for p in range(NPE)]
        drn_bus = ConcatSignal(*reversed(parts))
        chans.append(channel(clk, drst, drn_bus, pw_we, pw_sel, pw_addr, pw_data,
                             xw_we_bus(c), xw_addr, xw_data, xr_issue, xr_addr,
                             ew_issue, gsel, prm_addr, zero_c, l_s_acc, l_s_p, l_peep,
                             pj_issue, pj_sel, l_wf_p, ch_wb_valid[c], ch_wb_data[c],
                             c_we, c_waddr, o_we, o_waddr, o_raddr, ch_o_rdata[c],
                             cfg=cfg))

    return (reset_mux, i_csr, i_ctl, i_ld, i_io, rd_mux, i_rp, i_mr, i_mw, i_ex, ready_and,
            ld_decode, vec_copy, pes, xw_decode, chans)


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``ese_top`` (names = port names)."""
    A, D = cfg.axi_addr_bits, cfg.axi_data_bits
    ab = cfg.lite_addr_bits
    w = dict(s_axil_awaddr=ab, s_axil_wdata=32, s_axil_wstrb=4, s_axil_bresp=2,
             s_axil_araddr=ab, s_axil_rdata=32, s_axil_rresp=2,
             m_axi_arid=1, m_axi_araddr=A, m_axi_arlen=8, m_axi_arsize=3, m_axi_arburst=2,
             m_axi_rid=1, m_axi_rdata=D, m_axi_rresp=2,
             m_axi_awid=1, m_axi_awaddr=A, m_axi_awlen=8, m_axi_awsize=3, m_axi_awburst=2,
             m_axi_wdata=D, m_axi_wstrb=D // 8, m_axi_bid=1, m_axi_bresp=2)
    names = ("s_axil_awaddr s_axil_awvalid s_axil_awready s_axil_wdata s_axil_wstrb "
             "s_axil_wvalid s_axil_wready s_axil_bresp s_axil_bvalid s_axil_bready "
             "s_axil_araddr s_axil_arvalid s_axil_arready s_axil_rdata s_axil_rresp "
             "s_axil_rvalid s_axil_rready").split() + axi_port_names() + ["irq"]
    s = {"clk": Signal(bool(0)), "rst": ResetSignal(0, active=1, isasync=False)}
    for n in names:
        k = w.get(n, 1)
        # 1-bit AXI id fields stay vectors like in mem_reader/mem_writer
        s[n] = Signal(intbv(0)[k:]) if (k > 1 or n in ID_PORTS) else Signal(bool(0))
    return s


def top(cfg: Config):
    """``ese_top`` on fresh port signals for ``cfg``."""
    return ese_top(**ports(cfg), cfg=cfg)
