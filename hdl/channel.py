"""Channel: the per-sequence datapath around the shared PE array.

One channel computes one sequence.  Its MAC lanes live inside the ``pe``
blocks (channel c owns lane c of every PE); this block holds everything else that is
per channel: the gather of its lanes' drained accumulators, the element-wise
unit (``ew_unit``, with its LUTs), the projection requantizer (``requant``),
the memories (biases, peepholes, cell state c per layer, the staging buffer of
the next input frame, the output buffer of the current frame) and the
register that feeds its lanes' vector-memory write port.

All channels run in lockstep: the controller drives the same control inputs
into every channel; only data differ.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst            clock; synchronous active-high reset
drn_bus [n_pe*acc_bits]  this channel's lane of every PE's drained accumulator (PE p in
                    bits (p+1)*acc_bits-1 .. p*acc_bits, two's complement)
pw                  ``ParamWrite``: bias (sel 0..3: gate i,f,g,o) / peephole (sel 4..6)
                    memory write, address ``layer*max_cells + cell``
xw                  ``StageWrite``: input staging buffer write (``xw.we`` already selects
                    this channel: ese_top decodes ``xw.ch``, so every channel is one module)
xr                  ``StageRead``: read staging word ``xr.addr``; it appears on wb 2 cycles later
ew                  ``EwCtl``: the controller presents cell k this cycle (``ew.issue``): the
                    PEs read the drain address (gate rows of cell k), this block reads
                    biases/peepholes/c_prev at ``ew.prm_addr``; ``ew.gsel`` = PE of gate i
                    (gates f,g,o at gsel+1..3); ``ew.zero_c``: c_prev = 0 (first frame);
                    layer constants ``ew.s_acc``, ``ew.s_p``, ``ew.peep`` for the ew_unit
pj                  ``ProjCtl``: projection drain: the PEs read the drain address, take PE
                    ``pj.sel``; ``pj.shift`` the requant shift (W_p's binary point)
wb_valid            out: a word for the lanes' vector memory is on ``wb_data`` (same
                    cycle in every channel; the controller turns it into the lanes' vector
                    write)
wb_data [act_bits]  out: the word (bit pattern: x, m or y)
wbc                 ``WbCtl``: ``c_we``/``c_addr``: write the c of the element-wise result
                    on wb into the c memory; ``o_we``/``o_addr``: write ``wb_data`` into the
                    output buffer
o_raddr / o_rdata   output buffer read port (registered, 1 cycle)

Parameters
----------
cfg                 ese.config.Config (n_pe must be a multiple of 4: the four gates of a
                    cell are then in four PEs at one local row)

Timing::

    cycle     n        n+1                 n+2 .. n+14      n+15
    ew        issue    ew in (drains, mems)  ew_unit (14)    wb_valid (m), wb_c (c)
    pj        issue    requant in          requant out     wb_valid (y) in n+3
    xr        issue    staging read        wb_valid (x)

One cell, one projection row or one staging word per cycle.
"""

from myhdl import Signal, always, always_comb, always_seq, block, intbv

from ese.config import Config

from .ew_unit import ew_unit
from .hier import submodule
from .interfaces import (EwCtl, ParamWrite, ProjCtl, StageRead, StageWrite, WbCtl, clock_reset,
                         uint, widths)
from .requant import requant


def _s(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@submodule
@block
def channel(clk, rst, drn_bus, pw, xw, xr, ew, pj, wb_valid, wb_data, wbc, o_raddr, o_rdata,
            cfg: Config):
    NPE, NCH = cfg.n_pe, cfg.n_ch
    ACC, AB, CB, PB, WB = cfg.acc_bits, cfg.act_bits, cfg.cell_bits, cfg.pre_bits, cfg.weight_bits
    LH = cfg.max_layers * cfg.max_cells
    assert NPE % 4 == 0, f"channel: n_pe must be a multiple of 4, got {NPE}"
    assert max(AB, PB, WB, CB) <= 16, "channel: act/pre/weight/cell bits must be <= 16"
    assert len(drn_bus) == NPE * ACC, "channel: drn_bus must be n_pe*acc_bits wide"
    for cls, obj in ((ParamWrite, pw), (StageWrite, xw), (StageRead, xr), (EwCtl, ew),
                     (ProjCtl, pj), (WbCtl, wbc)):
        cls.check(obj, cfg, f"channel {cls.__name__}")

    # ---- memories (registered reads) ------------------------------------
    bm0, bm1, bm2, bm3 = ([Signal(intbv(0)[PB:]) for _ in range(LH)] for _ in range(4))
    pm0, pm1, pm2 = ([Signal(intbv(0)[WB:]) for _ in range(LH)] for _ in range(3))
    c_mem = [Signal(intbv(0)[CB:]) for _ in range(LH)]
    x_mem = [Signal(intbv(0)[AB:]) for _ in range(cfg.max_input)]
    o_mem = [Signal(intbv(0)[AB:]) for _ in range(cfg.max_proj)]
    b_rd0, b_rd1, b_rd2, b_rd3 = (Signal(intbv(0)[PB:]) for _ in range(4))
    p_rd0, p_rd1, p_rd2 = (Signal(intbv(0)[WB:]) for _ in range(3))
    c_rd = Signal(intbv(0)[CB:])
    x_rd = Signal(intbv(0)[AB:])

    # ---- element-wise and requant signals --------------------------------
    ew_v = Signal(bool(0))
    ew_rdy = Signal(bool(0))
    acc_g0, acc_g1, acc_g2, acc_g3 = (Signal(_s(ACC)) for _ in range(4))
    b_s0, b_s1, b_s2, b_s3 = (Signal(_s(PB)) for _ in range(4))
    p_s0, p_s1, p_s2 = (Signal(_s(WB)) for _ in range(3))
    c_prev = Signal(_s(CB))
    ew_ov = Signal(bool(0))
    one = Signal(bool(1))
    c_out = Signal(_s(CB))
    m_out = Signal(_s(AB))
    gsel_d = Signal(intbv(0, min=0, max=NPE))
    zc_d = Signal(bool(0))
    pj_v = Signal(bool(0))
    pj_sel_d = Signal(intbv(0, min=0, max=NPE))
    pj_acc = Signal(_s(ACC))
    rq_v = Signal(bool(0))
    y_out = Signal(_s(AB))
    xr_d = Signal(bool(0))
    wb_c = Signal(intbv(0)[CB:])
    sel0, sel1, sel2, sel3, sel4 = (Signal(intbv(0)[NPE * ACC:]) for _ in range(5))
    gs0, gs1, gs2, gs3 = (Signal(intbv(0, min=0, max=NPE)) for _ in range(4))

    ew_u = ew_unit(clk, rst, ew_v, ew_rdy, acc_g0, acc_g1, acc_g2, acc_g3,
                   b_s0, b_s1, b_s2, b_s3, p_s0, p_s1, p_s2, c_prev,
                   ew.s_acc, ew.s_p, ew.peep, ew_ov, one, c_out, m_out, cfg=cfg)
    rq_u = requant(clk, rst, pj_v, pj_acc, pj.shift, rq_v, y_out, cfg=cfg)

    @always(clk.posedge)
    def param_write():
        if pw.we:
            if pw.sel == 0:
                bm0[pw.addr].next = pw.data[PB:]
            elif pw.sel == 1:
                bm1[pw.addr].next = pw.data[PB:]
            elif pw.sel == 2:
                bm2[pw.addr].next = pw.data[PB:]
            elif pw.sel == 3:
                bm3[pw.addr].next = pw.data[PB:]
            elif pw.sel == 4:
                pm0[pw.addr].next = pw.data[WB:]
            elif pw.sel == 5:
                pm1[pw.addr].next = pw.data[WB:]
            elif pw.sel == 6:
                pm2[pw.addr].next = pw.data[WB:]

    @always(clk.posedge)
    def param_read():
        if ew.issue:
            b_rd0.next = bm0[ew.prm_addr]
            b_rd1.next = bm1[ew.prm_addr]
            b_rd2.next = bm2[ew.prm_addr]
            b_rd3.next = bm3[ew.prm_addr]
            p_rd0.next = pm0[ew.prm_addr]
            p_rd1.next = pm1[ew.prm_addr]
            p_rd2.next = pm2[ew.prm_addr]
            c_rd.next = c_mem[ew.prm_addr]

    @always(clk.posedge)
    def c_write():
        if wbc.c_we:
            c_mem[wbc.c_addr].next = wb_c

    @always(clk.posedge)
    def x_write():
        if xw.we:
            x_mem[xw.addr].next = xw.data[AB:]

    @always(clk.posedge)
    def x_read():
        if xr.issue:
            x_rd.next = x_mem[xr.addr]

    @always(clk.posedge)
    def o_write():
        if wbc.o_we:
            o_mem[wbc.o_addr].next = wb_data

    @always(clk.posedge)
    def o_read():
        o_rdata.next = o_mem[o_raddr]

    @always_seq(clk.posedge, reset=rst)
    def pipe():
        ew_v.next = ew.issue
        gsel_d.next = ew.gsel
        zc_d.next = ew.zero_c
        pj_v.next = pj.issue
        pj_sel_d.next = pj.sel
        xr_d.next = xr.issue
        wb_valid.next = False
        if ew_ov:
            wb_valid.next = True
            wb_data.next = m_out[AB:]
            wb_c.next = c_out[CB:]
        elif rq_v:
            wb_valid.next = True
            wb_data.next = y_out[AB:]
        elif xr_d:
            wb_valid.next = True
            wb_data.next = x_rd

    @always_comb
    def gate_sel():
        gs0.next = gsel_d
        gs1.next = gsel_d + 1
        gs2.next = gsel_d + 2
        gs3.next = gsel_d + 3

    @always_comb
    def gather():
        sel0.next = drn_bus >> (gs0 * ACC)
        sel1.next = drn_bus >> (gs1 * ACC)
        sel2.next = drn_bus >> (gs2 * ACC)
        sel3.next = drn_bus >> (gs3 * ACC)
        sel4.next = drn_bus >> (pj_sel_d * ACC)

    @always_comb
    def ew_in():
        acc_g0.next = sel0[ACC:].signed()
        acc_g1.next = sel1[ACC:].signed()
        acc_g2.next = sel2[ACC:].signed()
        acc_g3.next = sel3[ACC:].signed()
        pj_acc.next = sel4[ACC:].signed()
        b_s0.next = b_rd0.signed()
        b_s1.next = b_rd1.signed()
        b_s2.next = b_rd2.signed()
        b_s3.next = b_rd3.signed()
        p_s0.next = p_rd0.signed()
        p_s1.next = p_rd1.signed()
        p_s2.next = p_rd2.signed()
        if zc_d:
            c_prev.next = 0
        else:
            c_prev.next = c_rd.signed()

    return ew_u, rq_u, param_write, param_read, c_write, x_write, x_read, o_write, o_read, pipe, \
        gate_sel, gather, ew_in


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``channel``."""
    w = widths(cfg)
    return dict(**clock_reset(), drn_bus=uint(cfg.n_pe * cfg.acc_bits).signal(),
                pw=ParamWrite(cfg), xw=StageWrite(cfg), xr=StageRead(cfg), ew=EwCtl(cfg),
                pj=ProjCtl(cfg), wb_valid=Signal(bool(0)),
                wb_data=uint(cfg.act_bits).signal(), wbc=WbCtl(cfg),
                o_raddr=uint(w.out_addr).signal(), o_rdata=uint(cfg.act_bits).signal())


def top(cfg: Config):
    """``channel`` on fresh port signals."""
    return channel(**ports(cfg), cfg=cfg)
