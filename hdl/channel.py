"""Channel: one sequence's buffers and element-wise datapath around the shared PE array.

One channel computes one sequence; its MAC lanes live in the PEs (lane ``ch``
of every PE).  This block holds

* the **input buffer X**: two halves (frame parity) of ``max_input`` values,
  ``bcast_width`` banks, written one value per cycle by the input mover;
* the **Y/M buffer**: every layer's y and the current m (hdl/stream_if.py
  ``vbuf_layout``), ``B = vbuf_bank_count`` banks so that ``ew_lanes`` m
  values, ``drain_lanes`` y values and one broadcast chunk each take one cycle;
* the **broadcast read**: one chunk of ``bcast_width`` values of X or Y/M per
  cycle for the activation stream;
* ``ew_lanes`` **element-wise units** (``ew_unit``) with their biases,
  peepholes and cell states banked by lane;
* ``drain_lanes`` **requantizers** for the projection rows;
* the **output buffer**: two halves (frame parity) of ``out_half`` values,
  read one value per cycle by the output mover.

Ports
-----
clk, rst     clock; synchronous active-high reset
gat_valid, gat_data [4L * acc_bits]   this channel's gathered accumulator rows
ew           ``EwStep``: an element-wise step, aligned with ``gat``
pj           ``PjStep``: a projection drain step, aligned with ``gat``
pw           ``ParamWrite``: bias / peephole words of one cell (loader)
xw_we, xw_addr, xw_data   one input value into X (address half * x_half + index); ``xw_we``
             already selects this channel (the core decodes the channel number, so every
             channel is an instance of one module)
bcr          ``BcRead``: read one chunk; ``bc_data`` holds it BC_READ (2) cycles later
bc_data      [bcast_width * act_bits] out: the chunk (value j in bits j*A ..)
o_raddr, o_rdata    output buffer read, registered: ``o_raddr`` = half * out_half + index
             with index a multiple of B (the bank count, ``cfg.vbuf_bank_count``);
             ``o_rdata`` [B * act_bits] holds values index .. index+B-1 (value j in bits
             j*A ..) the next cycle: the output mover takes B values per cycle
m_wb, y_wb   out: one pulse per element-wise / drain step written back
wb_busy      out: a step is still in the element-wise or drain pipeline

Parameters
----------
cfg          ese.config.Config

Timing: an element-wise step on ``ew.issue`` in cycle n (rows on ``gat``)
enters the ``ew_unit``s in n+2 (its parameter words leave the RAMs into registers
in n+1) and writes m and c back at the end of n + ELAT (``m_wb`` in n + ELAT,
ELAT = 2 + ew_unit.LATENCY); a drain step in n picks its
rows in n+1, is requantized in n+2 .. n+1+RQ_LATENCY and written at the end of
n + PLAT (``y_wb`` in n + PLAT, PLAT = 2 + requant.LATENCY).
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2
from ese.pipeline import CH_BC_READ, CH_EW_WRITEBACK, CH_PJ_WRITEBACK

from .delay import delay_reg
from .ew_unit import LATENCY as EW_LATENCY
from .ew_unit import ew_unit
from .hier import submodule
from .interfaces import clock_reset, uint
from .onehot import onehot_mux, onehot_of
from .ram import ram
from .requant import LATENCY as RQ_LATENCY
from .requant import requant
from .stream_if import BcRead, EwStep, PjStep, out_half, vbuf_layout, x_half


#: cycles from ``ew.issue`` to its write-back (``m_wb``): two input registers, ew_unit
ELAT = CH_EW_WRITEBACK
#: cycles from ``pj.issue`` to its write-back (``y_wb``): pj_in, the row pick, requant
PLAT = CH_PJ_WRITEBACK
#: cycles from a broadcast read (``bcr``) to its chunk on ``bc_data``
BC_READ = CH_BC_READ
assert ELAT == 2 + EW_LATENCY and PLAT == 2 + RQ_LATENCY, "channel: write-back latencies"


def _s(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def wbank_write(clk, wbase, wcount, wvals, wen, bank: int, nbanks: int, vbits: int,
                ram_we, ram_wa, ram_wd):
    """Which value of a K-wide write (at ``wbase``) lands in bank ``bank``, if any."""
    SH = nbanks.bit_length() - 1
    off = Signal(modbv(0)[max(1, SH):])
    lo = Signal(intbv(0)[max(1, SH):])
    if SH > 0:
        @always_comb
        def place():
            off.next = bank - lo
            lo.next = wbase[SH:]
    else:
        @always_comb
        def place():
            off.next = 0
            lo.next = 0

    shifted = Signal(intbv(0)[len(wvals):])

    @always_comb
    def pick():
        shifted.next = wvals >> (off * vbits)

    @always_comb
    def drive():
        ram_we.next = wen and off < wcount
        ram_wa.next = wbase >> SH
        ram_wd.next = shifted[vbits:]

    return place, pick, drive


@submodule
@block
def channel(clk, rst, gat_valid, gat_data, ew, pj, pw_we, pw_sel, pw_addr, pw_data,
            xw_we, xw_addr, xw_data, bcr, bc_data, o_raddr, o_rdata, m_wb, y_wb,
            wb_busy, cfg: Config):
    EwStep.check(ew, cfg, "channel ew")
    PjStep.check(pj, cfg, "channel pj")
    BcRead.check(bcr, cfg, "channel bcr")
    L, D, C = cfg.ew_lanes, cfg.drain_lanes, cfg.bcast_width
    B = cfg.vbuf_bank_count
    ACC, A, CB, PB, WB = cfg.acc_bits, cfg.act_bits, cfg.cell_bits, cfg.pre_bits, cfg.weight_bits
    assert max(A, PB, WB, CB) <= 16, "channel: act/pre/weight/cell bits must be <= 16"
    assert len(gat_data) == 4 * L * ACC, "channel: gat_data must be 4*ew_lanes*acc_bits"
    VL = vbuf_layout(cfg)
    OH = out_half(cfg)
    XS = x_half(cfg)                          # one X half, in values
    NOFF = 4 * L // D
    PD = cfg.max_layers * cfg.max_cells // L   # parameter words per lane bank
    PA = clog2(PD)
    insts = []

    # ---- input buffer X: C banks, 2 halves ---------------------------------------------
    XD = 2 * XS // C
    xa = [Signal(intbv(0)[clog2(XD):]) for _ in range(C)]
    xwe = [Signal(bool(0)) for _ in range(C)]
    xq = [Signal(intbv(0)[A:]) for _ in range(C)]
    x_ra = Signal(intbv(0)[clog2(XD):])
    x_re = Signal(bool(0))
    x_idx = Signal(intbv(0)[clog2(2 * XS):])
    x_val = Signal(intbv(0)[A:])
    CSH = C.bit_length() - 1
    x_bank = Signal(intbv(0)[max(1, CSH):])

    @always_comb
    def x_place():
        # value index i of half h is value h*XS + i of the buffer
        x_idx.next = xw_addr
        x_val.next = xw_data[A:]
        x_bank.next = xw_addr % C

    for j in range(C):
        insts.append(_xbank(clk, xw_we, x_bank, x_idx, x_val, x_re, x_ra, xq[j],
                            j=j, csh=CSH, depth=XD, vbits=A))

    # ---- Y/M buffer: B banks --------------------------------------------------------------
    VD = VL["depth"] // B
    VA = len(bcr.addr)
    BSH = B.bit_length() - 1
    v_we = Signal(bool(0))
    v_base = Signal(intbv(0)[VA:])
    v_cnt = Signal(intbv(0, min=0, max=max(L, D) + 1))
    v_vals = Signal(intbv(0)[max(L, D) * A:])
    v_ra = Signal(intbv(0)[clog2(VD):])
    v_re = Signal(bool(0))
    vq = [Signal(intbv(0)[A:]) for _ in range(B)]
    for j in range(B):
        rwe, rwa, rwd = Signal(bool(0)), Signal(intbv(0)[clog2(VD):]), Signal(intbv(0)[A:])
        insts.append(wbank_write(clk, v_base, v_cnt, v_vals, v_we, j, B, A, rwe, rwa, rwd))
        insts.append(ram(clk, rwe, rwa, rwd, v_re, v_ra, vq[j], width=A, depth=VD))

    # ---- broadcast read: the RAMs, their output registers, the chunk select -------------------
    src_d = Signal(bool(0))
    sub_d = Signal(intbv(0)[max(1, (B // C).bit_length()):])
    src_d2 = Signal(bool(0))
    sub_d2 = Signal(intbv(0)[max(1, (B // C).bit_length()):])
    xcat = ConcatSignal(*reversed(xq)) if C > 1 else None
    vcat = ConcatSignal(*reversed(vq)) if B > 1 else None
    xall = Signal(intbv(0)[C * A:])
    vall = Signal(intbv(0)[B * A:])

    @always_comb
    def b_addr():
        x_re.next = bcr.valid and not bcr.src
        x_ra.next = (bcr.half * XS + bcr.addr) >> CSH
        v_re.next = bcr.valid and bcr.src
        v_ra.next = bcr.addr >> BSH

    @always_seq(clk.posedge, reset=rst)
    def b_sel():
        src_d.next = bcr.src
        sub_d.next = (bcr.addr % B) >> CSH
        src_d2.next = src_d
        sub_d2.next = sub_d

    # the RAMs' output registers
    if C > 1:
        @always(clk.posedge)
        def b_cat():
            xall.next = xcat
    else:
        xq0 = xq[0]

        @always(clk.posedge)
        def b_cat():
            xall.next = xq0
    if B > 1:
        @always(clk.posedge)
        def v_cat():
            vall.next = vcat
    else:
        vq0 = vq[0]

        @always(clk.posedge)
        def v_cat():
            vall.next = vq0

    vsh = Signal(intbv(0)[B * A:])

    @always_comb
    def b_shift():
        vsh.next = vall >> (sub_d2 * (C * A))

    @always_comb
    def b_out():
        if src_d2:
            bc_data.next = vsh[C * A:]
        else:
            bc_data.next = xall

    insts += [x_place, b_addr, b_sel, b_cat, v_cat, b_shift, b_out]

    # ---- parameters and cell state, banked by element-wise lane ----------------------------
    pw_bank = Signal(intbv(0)[max(1, L.bit_length() - 1):])
    pw_a = Signal(intbv(0)[PA:])
    LSH = L.bit_length() - 1

    @always_comb
    def pw_place():
        pw_bank.next = pw_addr % L
        pw_a.next = pw_addr >> LSH

    insts.append(pw_place)
    bq = [Signal(intbv(0)[64:]) for _ in range(L)]       # biases i, f, g, o
    pq = [Signal(intbv(0)[64:]) for _ in range(L)]       # peepholes p_i, p_f, p_o
    cq = [Signal(intbv(0)[CB:]) for _ in range(L)]       # c_{t-1}
    c_we = Signal(bool(0))
    c_wa = Signal(intbv(0)[PA:])
    c_new = [Signal(_s(CB)) for _ in range(L)]
    for e in range(L):
        bwe, pwe = Signal(bool(0)), Signal(bool(0))
        cwd = Signal(intbv(0)[CB:])
        insts.append(_pdec(pw_we, pw_sel, pw_bank, bwe, pwe, c_new[e], cwd, e=e))
        insts.append(ram(clk, bwe, pw_a, pw_data, ew.issue, ew.prm, bq[e], width=64, depth=PD))
        insts.append(ram(clk, pwe, pw_a, pw_data, ew.issue, ew.prm, pq[e], width=64, depth=PD))
        insts.append(ram(clk, c_we, c_wa, cwd, ew.issue, ew.prm, cq[e], width=CB, depth=PD))

    # ---- element-wise lanes -----------------------------------------------------------------
    # a step's rows are registered with it (g_r), then once more while its parameter
    # words leave the RAMs into registers of their own (a block RAM's output goes into a
    # plain register, its output register): the lanes start a cycle later, from registers
    e_v, e_v2 = Signal(bool(0)), Signal(bool(0))
    e_z, e_z2 = Signal(bool(0)), Signal(bool(0))
    g_r = Signal(intbv(0)[4 * L * ACC:])
    g_r2 = Signal(intbv(0)[4 * L * ACC:])

    @always_seq(clk.posedge, reset=rst)
    def ew_in():
        e_v.next = ew.issue
        e_z.next = ew.zero_c
        e_v2.next = e_v
        e_z2.next = e_z
        if ew.issue or pj.issue:
            g_r.next = gat_data

    @always(clk.posedge)
    def ew_rows():
        g_r2.next = g_r

    one = Signal(bool(1))
    ew_ov = [Signal(bool(0)) for _ in range(L)]
    ew_m = [Signal(_s(A)) for _ in range(L)]
    for e in range(L):
        insts.append(_ew_lane(clk, rst, e_v2, e_z2, g_r2, bq[e], pq[e], cq[e], ew.s_acc,
                              ew.s_p, ew.peep, ew_ov[e], one, c_new[e], ew_m[e], cfg=cfg, e=e))
    # the step's destinations travel with it: ELAT cycles
    ed_dst = Signal(intbv(0)[VA:])
    ed_prm = Signal(intbv(0)[len(ew.prm):])
    ed_o = Signal(bool(0))
    ed_oa = Signal(intbv(0)[len(ew.oaddr):])
    ed_v = Signal(bool(0))
    insts += [ew_in, ew_rows,
              delay_reg(clk, rst, ew.issue, ed_v, ELAT), delay_reg(clk, rst, ew.dst, ed_dst, ELAT),
              delay_reg(clk, rst, ew.prm, ed_prm, ELAT), delay_reg(clk, rst, ew.to_out, ed_o, ELAT),
              delay_reg(clk, rst, ew.oaddr, ed_oa, ELAT)]

    # ---- projection drain lanes ----------------------------------------------------------
    # pj_in registers the step (its row offset one-hot), the next stage picks its D rows of
    # the gathered block (a one-hot AND-OR, no shifter), then requant (RQ_LATENCY stages)
    p_v, p_v1 = Signal(bool(0)), Signal(bool(0))
    pj_oh = Signal(intbv(0)[NOFF:])
    p_oh = Signal(intbv(0)[NOFF:])
    p_sh, p_sh1 = Signal(intbv(0)[6:]), Signal(intbv(0)[6:])
    DWID = D * ACC

    @always_seq(clk.posedge, reset=rst)
    def pj_in():
        p_v.next = pj.issue
        p_oh.next = pj_oh
        p_sh.next = pj.shift
        p_v1.next = p_v
        p_sh1.next = p_sh

    p_pick = Signal(intbv(0)[DWID:])
    p_rows = Signal(intbv(0)[DWID:])

    @always(clk.posedge)
    def pj_sel():
        p_rows.next = p_pick

    rq_v = [Signal(bool(0)) for _ in range(D)]
    rq_y = [Signal(_s(A)) for _ in range(D)]
    for r in range(D):
        acc_r = Signal(_s(ACC))
        insts.append(_slice_signed(p_rows, acc_r, r * ACC, ACC))
        insts.append(requant(clk, rst, p_v1, acc_r, p_sh1, rq_v[r], rq_y[r], cfg=cfg))
    pd_v = Signal(bool(0))
    pd_dst = Signal(intbv(0)[VA:])
    pd_o = Signal(bool(0))
    pd_oa = Signal(intbv(0)[len(pj.oaddr):])
    insts += [onehot_of(pj.off, pj_oh),
              onehot_mux(p_oh, [g_r((o + 1) * DWID, o * DWID) for o in range(NOFF)], p_pick),
              pj_in, pj_sel,
              delay_reg(clk, rst, pj.issue, pd_v, PLAT), delay_reg(clk, rst, pj.dst, pd_dst, PLAT),
              delay_reg(clk, rst, pj.to_out, pd_o, PLAT), delay_reg(clk, rst, pj.oaddr, pd_oa, PLAT)]

    # ---- write-back: m (element-wise) or y (drain) into Y/M and the output buffer -------------
    m_cat = ConcatSignal(*reversed(ew_m)) if L > 1 else None
    y_cat = ConcatSignal(*reversed(rq_y)) if D > 1 else None
    m_all = Signal(intbv(0)[L * A:])
    y_all = Signal(intbv(0)[D * A:])
    if L > 1:
        @always_comb
        def m_flat():
            m_all.next = m_cat
    else:
        @always_comb
        def m_flat():
            m_all.next = ew_m[0][A:]
    if D > 1:
        @always_comb
        def y_flat():
            y_all.next = y_cat
    else:
        @always_comb
        def y_flat():
            y_all.next = rq_y[0][A:]

    o_we = Signal(bool(0))
    o_base = Signal(intbv(0)[len(ew.oaddr):])

    @always_comb
    def wb_mux():
        c_we.next = ed_v
        c_wa.next = ed_prm
        if ed_v:
            v_we.next = True
            v_base.next = ed_dst
            v_cnt.next = L
            v_vals.next = m_all
            o_we.next = ed_o
            o_base.next = ed_oa
        else:
            v_we.next = pd_v
            v_base.next = pd_dst
            v_cnt.next = D
            v_vals.next = y_all
            o_we.next = pd_v and pd_o
            o_base.next = pd_oa

    @always_comb
    def wb_pulses():
        m_wb.next = ed_v
        y_wb.next = pd_v

    # in flight: anything between the step's issue and its write-back
    busy_e = Signal(intbv(0)[ELAT + 1:])
    busy_p = Signal(intbv(0)[PLAT + 1:])

    @always_seq(clk.posedge, reset=rst)
    def inflight():
        busy_e.next = (busy_e << 1) | ew.issue
        busy_p.next = (busy_p << 1) | pj.issue

    @always_comb
    def busy_out():
        wb_busy.next = busy_e[ELAT:] != 0 or busy_p[PLAT:] != 0 or ew.issue or pj.issue

    insts += [m_flat, y_flat, wb_mux, wb_pulses, inflight, busy_out]

    # ---- output buffer: B banks, 2 halves ---------------------------------------------------
    OD = 2 * OH // B
    oq = [Signal(intbv(0)[A:]) for _ in range(B)]
    o_ra = Signal(intbv(0)[clog2(OD):])
    one_r = Signal(bool(1))
    for j in range(B):
        owe, owa, owd = Signal(bool(0)), Signal(intbv(0)[clog2(OD):]), Signal(intbv(0)[A:])
        insts.append(wbank_write(clk, o_base, v_cnt, v_vals, o_we, j, B, A, owe, owa, owd))
        insts.append(ram(clk, owe, owa, owd, one_r, o_ra, oq[j], width=A, depth=OD))
    ocat = ConcatSignal(*reversed(oq)) if B > 1 else None

    @always_comb
    def o_addr():
        o_ra.next = o_raddr >> BSH

    if B > 1:
        @always_comb
        def o_out():
            o_rdata.next = ocat
    else:
        oq0 = oq[0]

        @always_comb
        def o_out():
            o_rdata.next = oq0

    insts += [o_addr, o_out]
    return insts


@block
def _xbank(clk, we, wbank, widx, wval, re, raddr, q, j, csh, depth, vbits):
    """Bank j of the input buffer: value i is word i >> csh of bank i mod C."""
    bwe = Signal(bool(0))
    bwa = Signal(intbv(0)[clog2(depth):])

    @always_comb
    def dec():
        bwe.next = we and wbank == j
        bwa.next = widx >> csh

    mem = ram(clk, bwe, bwa, wval, re, raddr, q, width=vbits, depth=depth)
    return dec, mem


@block
def _pdec(we, sel, bank, bwe, pwe, c_new, cwd, e):
    """Lane e's parameter write enables; its cell-state write data (the new c)."""
    @always_comb
    def dec():
        bwe.next = we and not sel and bank == e
        pwe.next = we and sel and bank == e
        cwd.next = c_new[len(cwd):]
    return dec


@block
def _slice_signed(word, out, lo, bits):
    @always_comb
    def sl():
        out.next = word[lo + bits:lo].signed()
    return sl


@block
def _ew_lane(clk, rst, v, zero_c, rows, bword, pword, cword, s_acc, s_p, peep, ov, one, c, m,
             cfg: Config, e: int):
    """Element-wise lane e: gates 4e..4e+3 of the gathered rows, its parameters, ew_unit."""
    ACC, PB, WB, CB = cfg.acc_bits, cfg.pre_bits, cfg.weight_bits, cfg.cell_bits
    g0, g1, g2, g3 = (Signal(_s(ACC)) for _ in range(4))
    b0, b1, b2, b3 = (Signal(_s(PB)) for _ in range(4))
    p0, p1, p2 = (Signal(_s(WB)) for _ in range(3))
    cp = Signal(_s(CB))
    rdy = Signal(bool(0))
    base = 4 * e * ACC
    # the parameter RAMs' outputs, registered (their output registers)
    bw_r, pw_r, cw_r = Signal(intbv(0)[64:]), Signal(intbv(0)[64:]), Signal(intbv(0)[CB:])

    @always(clk.posedge)
    def ram_out():
        bw_r.next = bword
        pw_r.next = pword
        cw_r.next = cword

    @always_comb
    def fields():
        g0.next = rows[base + ACC:base].signed()
        g1.next = rows[base + 2 * ACC:base + ACC].signed()
        g2.next = rows[base + 3 * ACC:base + 2 * ACC].signed()
        g3.next = rows[base + 4 * ACC:base + 3 * ACC].signed()

    @always_comb
    def params():
        b0.next = bw_r[PB:].signed()
        b1.next = bw_r[16 + PB:16].signed()
        b2.next = bw_r[32 + PB:32].signed()
        b3.next = bw_r[48 + PB:48].signed()
        p0.next = pw_r[WB:].signed()
        p1.next = pw_r[16 + WB:16].signed()
        p2.next = pw_r[32 + WB:32].signed()

    @always_comb
    def cprev():
        if zero_c:
            cp.next = 0
        else:
            cp.next = cw_r.signed()

    unit = ew_unit(clk, rst, v, rdy, g0, g1, g2, g3, b0, b1, b2, b3, p0, p1, p2, cp,
                   s_acc, s_p, peep, ov, one, c, m, cfg=cfg)
    return ram_out, fields, params, cprev, unit


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``channel``."""
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731
    return dict(**clock_reset(), gat_valid=b(), gat_data=u(4 * cfg.ew_lanes * cfg.acc_bits),
                ew=EwStep(cfg), pj=PjStep(cfg), pw_we=b(), pw_sel=b(),
                pw_addr=u(clog2(cfg.max_layers * cfg.max_cells)), pw_data=u(64),
                xw_we=b(), xw_addr=u(clog2(2 * x_half(cfg))),
                xw_data=u(16), bcr=BcRead(cfg), bc_data=u(cfg.bcast_width * cfg.act_bits),
                o_raddr=u(clog2(2 * out_half(cfg))),
                o_rdata=u(cfg.vbuf_bank_count * cfg.act_bits),
                m_wb=b(), y_wb=b(), wb_busy=b())


def top(cfg: Config):
    """``channel`` on fresh port signals."""
    return channel(**ports(cfg), cfg=cfg)
