"""Element-wise unit: one LSTM cell per cycle (docs/numerics.md steps 2-5).

Ports
-----
clk, rst            clock; synchronous active-high reset (clears the valid bits only)
in_valid / in_ready handshake of one cell (a transfer when both are high on an edge)
acc_i, acc_f,
acc_g, acc_o        [acc_bits] signed gate accumulators (frac F_l + act_frac)
b_i, b_f, b_g, b_o  [pre_bits] signed biases (pre format)
p_i, p_f, p_o       [weight_bits] signed peepholes (frac wp_l)
c_prev              [cell_bits] signed c_{t-1}
s_acc               [6] unsigned  F_l + act_frac - pre_frac   (0..63)
s_p                 [6] unsigned  wp_l + cell_frac - pre_frac (0..63)
peep_en             [1] 1 = peepholes, 0 = none (p_* ignored)
out_valid/out_ready handshake of one result
c                   [cell_bits] signed c_t
m                   [act_bits] signed m_t

``s_acc``, ``s_p`` and ``peep_en`` are per layer in the architecture, but the
unit samples them *with each cell* and carries them down the pipeline, so
they may change between any two cells (no need to drain the unit first).

Parameters
----------
cfg                 ese.config.Config (every width and binary point)

Datapath (``rr(x, s)`` = rshift_round, ``sat(x, b)`` = saturate)::

    S1   r_g   = rr(acc_g, s_acc)                   barrel shift, acc_bits
         pp_i  = p_i * c_prev, pp_f = p_f * c_prev  weight_bits + cell_bits
    S2   a_g   = sat(r_g + b_g, pre_bits)            g in i, f, g, o
         rp_i  = rr(pp_i, s_p), rp_f = rr(pp_f, s_p)
    S3   a_i'  = peep_en ? sat(a_i + rp_i, pre_bits) : a_i     (same for f)
    S4-5 i = SIG(a_i'), f = SIG(a_f'), g = TANH(a_g)     (lut_unit, 2 cycles)
    S6   pfc   = f * c_prev, pig = i * g
    S7   c     = sat(rr((pfc << (gate_frac-cell_frac)) + pig, 2*gate_frac-cell_frac), cell_bits)
    S8   pp_o  = p_o * c
    S9   rp_o  = rr(pp_o, s_p)
    S10  a_o'  = peep_en ? sat(a_o + rp_o, pre_bits) : a_o
    S11-12 o = SIG(a_o')  and  th = TANH(c, cell_frac) (the latter fed from S10's copy of c)
    S13  pm    = o * th
    S14  m     = sat(rr(pm, 2*gate_frac - act_frac), act_bits)  -> outputs c, m

The run-time shifts use ``rr(x, s) = ((x >>> min(s-1, w-1)) + 1) >>> 1`` for
``s > 0`` and ``x`` for ``s == 0`` (same as ``(x + 2**(s-1)) >>> s``).  Every
run-time ``rr`` and every ``sat`` is a combinational block of
``hdl/shift_round.py`` (shared with ``hdl/requant.py``) whose result the stage
registers.

Timing: 14 register stages (LATENCY = 14).  A cell accepted on clock edge n
is on ``c``/``m`` with ``out_valid`` high after edge n + 13 when the output
is never blocked; one cell per cycle.  The whole pipeline has one clock
enable ``ce = out_ready | ~out_valid``; ``in_ready = ce`` (combinational from
``out_ready``: ``in_valid`` must not depend on ``in_ready``).  A blocked
output freezes every stage, bubbles included.

::

    clk        _/‾\\_/‾\\_/‾\\_ ... _/‾\\_/‾\\_/‾\\_
    in_valid   __/‾‾‾‾‾‾‾‾‾\\_ ... ____________
    in_ready   ‾‾‾‾‾‾‾‾‾‾‾‾‾‾ ... ‾‾‾‾‾‾‾‾‾‾‾‾
    (cell)     --<k0 ><k1 >-- ... ------------
    out_valid  ______________ ... /‾‾‾‾‾‾‾‾‾\\_     14 cycles after k0's edge
    c, m       ______________ ... <k0 ><k1 >--
"""

from myhdl import Signal, always, always_comb, always_seq, block, intbv

from ese.config import Config

from .lut_unit import lut_unit
from .shift_round import rshift_round, saturate, shift_amount

S_BITS = 6        #: width of s_acc and s_p
LATENCY = 14      #: register stages from the input handshake to out_valid


def _s(bits):
    """A signed intbv of ``bits`` bits."""
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def ew_unit(clk, rst, in_valid, in_ready, acc_i, acc_f, acc_g, acc_o, b_i, b_f, b_g, b_o,
            p_i, p_f, p_o, c_prev, s_acc, s_p, peep_en, out_valid, out_ready, c, m,
            cfg: Config):
    A, P, W = cfg.acc_bits, cfg.pre_bits, cfg.weight_bits
    C, B = cfg.cell_bits, cfg.act_bits
    GF, CF, AF, PF = cfg.gate_frac, cfg.cell_frac, cfg.act_frac, cfg.pre_frac

    def signed_port(sig, bits, name):
        assert len(sig) == bits and sig.min is not None and sig.min < 0, \
            f"ew_unit: {name} must be a signed {bits}-bit signal"
    for sig, name in ((acc_i, "acc_i"), (acc_f, "acc_f"), (acc_g, "acc_g"), (acc_o, "acc_o")):
        signed_port(sig, A, name)
    for sig, name in ((b_i, "b_i"), (b_f, "b_f"), (b_g, "b_g"), (b_o, "b_o")):
        signed_port(sig, P, name)
    for sig, name in ((p_i, "p_i"), (p_f, "p_f"), (p_o, "p_o")):
        signed_port(sig, W, name)
    signed_port(c_prev, C, "c_prev")
    signed_port(c, C, "c")
    signed_port(m, B, "m")
    for sig, name in ((s_acc, "s_acc"), (s_p, "s_p")):
        assert len(sig) == S_BITS and (sig.min is None or sig.min >= 0), \
            f"ew_unit: {name} must be an unsigned {S_BITS}-bit signal"
    assert GF >= CF, f"ew_unit: gate_frac={GF} must be >= cell_frac={CF}"
    assert P <= A, f"ew_unit: pre_bits={P} must not exceed acc_bits={A}"

    # ---- widths (every intermediate sized here) --------------------------
    PW = W + C                   # peephole product: signed x signed, exact
    SUMW = max(A, P) + 1         # r_g + b_g
    PSUMW = max(P, PW) + 1       # a + rp
    FCW = B + C                  # f * c_prev
    IGW = 2 * B                  # i * g (and o * th)
    K1 = GF - CF                 # f*c aligned to i*g
    SH1 = 2 * GF - CF            # cell rounding shift (>= 1)
    RND1 = 1 << (SH1 - 1)
    CSUMW = max(FCW + K1, IGW) + 2          # (pfc << K1) + pig + RND1
    CSHW = max(CSUMW - SH1, 2)
    SH2 = 2 * GF - AF            # m rounding shift (any sign)
    MSUMW = IGW + max(-SH2, 0) + 1          # pm << -SH2 (or pm + RND2)
    MSHW = max(MSUMW - max(SH2, 0), 2)
    assert SH1 >= 1
    assert FCW + K1 < CSUMW and IGW < CSUMW, "ew_unit: cell sum width"

    # ---- control -----------------------------------------------------------
    ce = Signal(bool(0))
    v1, v2, v3, v4, v5, v6, v7 = (Signal(bool(0)) for _ in range(7))
    v8, v9, v10, v11, v12, v13 = (Signal(bool(0)) for _ in range(6))

    @always_comb
    def ctrl():
        ce.next = out_ready or not out_valid
        in_ready.next = out_ready or not out_valid

    @always_seq(clk.posedge, reset=rst)
    def valids():
        if ce:
            v1.next = in_valid
            v2.next = v1
            v3.next = v2
            v4.next = v3
            v5.next = v4
            v6.next = v5
            v7.next = v6
            v8.next = v7
            v9.next = v8
            v10.next = v9
            v11.next = v10
            v12.next = v11
            v13.next = v12
            out_valid.next = v13

    # ---- S1: accumulator shifts, peephole products (i, f) ------------------
    ka = Signal(intbv(0, min=0, max=A))          # min(s_acc - 1, A - 1)
    rr_i, rr_f, rr_g, rr_o = (Signal(_s(A)) for _ in range(4))   # rr(acc_*, s_acc)
    r_i, r_f, r_g, r_o = (Signal(_s(A)) for _ in range(4))
    b1_i, b1_f, b1_g, b1_o = (Signal(_s(P)) for _ in range(4))
    pp_i, pp_f = Signal(_s(PW)), Signal(_s(PW))
    c1, c2, c3, c4, c5 = (Signal(_s(C)) for _ in range(5))
    po1, po2, po3, po4, po5, po6, po7 = (Signal(_s(W)) for _ in range(7))
    sp1, sp2, sp3, sp4, sp5, sp6, sp7, sp8 = (Signal(intbv(0)[S_BITS:]) for _ in range(8))
    pe1, pe2, pe3, pe4, pe5, pe6, pe7, pe8, pe9 = (Signal(bool(0)) for _ in range(9))
    s1_amount = shift_amount(s_acc, ka)
    s1_rr_i = rshift_round(acc_i, s_acc, ka, rr_i)
    s1_rr_f = rshift_round(acc_f, s_acc, ka, rr_f)
    s1_rr_g = rshift_round(acc_g, s_acc, ka, rr_g)
    s1_rr_o = rshift_round(acc_o, s_acc, ka, rr_o)

    @always(clk.posedge)
    def s1():
        if ce:
            r_i.next = rr_i
            r_f.next = rr_f
            r_g.next = rr_g
            r_o.next = rr_o
            b1_i.next = b_i
            b1_f.next = b_f
            b1_g.next = b_g
            b1_o.next = b_o
            pp_i.next = p_i * c_prev
            pp_f.next = p_f * c_prev
            c1.next = c_prev
            po1.next = p_o
            sp1.next = s_p
            pe1.next = peep_en

    # ---- S2: pre-activation saturation; peephole rounding (i, f) -----------
    sum_i, sum_f, sum_g, sum_o = (Signal(_s(SUMW)) for _ in range(4))
    sat_i, sat_f, sat_g, sat_o = (Signal(_s(P)) for _ in range(4))       # sat(sum_*)
    a2_i, a2_f, a2_g, a2_o = (Signal(_s(P)) for _ in range(4))
    kp1 = Signal(intbv(0, min=0, max=PW))
    rrp_i, rrp_f = Signal(_s(PW)), Signal(_s(PW))                       # rr(pp_*, sp1)
    rp_i, rp_f = Signal(_s(PW)), Signal(_s(PW))

    @always_comb
    def s2_sum():
        sum_i.next = r_i + b1_i
        sum_f.next = r_f + b1_f
        sum_g.next = r_g + b1_g
        sum_o.next = r_o + b1_o

    s2_sat_i = saturate(sum_i, sat_i)
    s2_sat_f = saturate(sum_f, sat_f)
    s2_sat_g = saturate(sum_g, sat_g)
    s2_sat_o = saturate(sum_o, sat_o)
    s2_amount = shift_amount(sp1, kp1)
    s2_rr_i = rshift_round(pp_i, sp1, kp1, rrp_i)
    s2_rr_f = rshift_round(pp_f, sp1, kp1, rrp_f)

    @always(clk.posedge)
    def s2():
        if ce:
            a2_i.next = sat_i
            a2_f.next = sat_f
            a2_g.next = sat_g
            a2_o.next = sat_o
            rp_i.next = rrp_i
            rp_f.next = rrp_f
            c2.next = c1
            po2.next = po1
            sp2.next = sp1
            pe2.next = pe1

    # ---- S3: peephole add and saturation (i, f) ----------------------------
    psum_i, psum_f = Signal(_s(PSUMW)), Signal(_s(PSUMW))
    psat_i, psat_f = Signal(_s(P)), Signal(_s(P))                       # sat(psum_*)
    a3_i, a3_f, a3_g = (Signal(_s(P)) for _ in range(3))
    ao3, ao4, ao5, ao6, ao7, ao8, ao9 = (Signal(_s(P)) for _ in range(7))

    @always_comb
    def s3_sum():
        psum_i.next = a2_i + rp_i
        psum_f.next = a2_f + rp_f

    s3_sat_i = saturate(psum_i, psat_i)
    s3_sat_f = saturate(psum_f, psat_f)

    @always(clk.posedge)
    def s3():
        if ce:
            if pe2:
                a3_i.next = psat_i
                a3_f.next = psat_f
            else:
                a3_i.next = a2_i
                a3_f.next = a2_f
            a3_g.next = a2_g
            ao3.next = a2_o
            c3.next = c2
            po3.next = po2
            sp3.next = sp2
            pe3.next = pe2

    # ---- S4, S5: the three gate lookups (lut_unit latency 2) ----------------
    i5, f5, g5 = (Signal(_s(B)) for _ in range(3))
    lut_i = lut_unit(clk, ce, a3_i, i5, cfg=cfg, fn="sigmoid", in_bits=P, in_frac=PF)
    lut_f = lut_unit(clk, ce, a3_f, f5, cfg=cfg, fn="sigmoid", in_bits=P, in_frac=PF)
    lut_g = lut_unit(clk, ce, a3_g, g5, cfg=cfg, fn="tanh", in_bits=P, in_frac=PF)

    @always(clk.posedge)
    def s45():
        if ce:
            c4.next = c3
            c5.next = c4
            ao4.next = ao3
            ao5.next = ao4
            po4.next = po3
            po5.next = po4
            sp4.next = sp3
            sp5.next = sp4
            pe4.next = pe3
            pe5.next = pe4

    # ---- S6: cell products --------------------------------------------------
    pfc = Signal(_s(FCW))
    pig = Signal(_s(IGW))

    @always(clk.posedge)
    def s6():
        if ce:
            pfc.next = f5 * c5
            pig.next = i5 * g5
            ao6.next = ao5
            po6.next = po5
            sp6.next = sp5
            pe6.next = pe5

    # ---- S7: cell update, one rounding and one saturation -------------------
    csum = Signal(_s(CSUMW))
    csh = Signal(_s(CSHW))
    csat = Signal(_s(C))                                                # sat(csh)
    c7, c8, c9, c10, c11, c12, c13 = (Signal(_s(C)) for _ in range(7))

    @always_comb
    def s7_sum():
        csum.next = (pfc << K1) + pig + RND1

    @always_comb
    def s7_shift():
        csh.next = csum >> SH1

    s7_sat = saturate(csh, csat)

    @always(clk.posedge)
    def s7():
        if ce:
            c7.next = csat
            ao7.next = ao6
            po7.next = po6
            sp7.next = sp6
            pe7.next = pe6

    # ---- S8: output-gate peephole product ------------------------------------
    pp_o = Signal(_s(PW))

    @always(clk.posedge)
    def s8():
        if ce:
            pp_o.next = po7 * c7
            c8.next = c7
            ao8.next = ao7
            sp8.next = sp7
            pe8.next = pe7

    # ---- S9: its rounding shift ----------------------------------------------
    kp8 = Signal(intbv(0, min=0, max=PW))
    rrp_o = Signal(_s(PW))                                              # rr(pp_o, sp8)
    rp_o = Signal(_s(PW))
    s9_amount = shift_amount(sp8, kp8)
    s9_rr = rshift_round(pp_o, sp8, kp8, rrp_o)

    @always(clk.posedge)
    def s9():
        if ce:
            rp_o.next = rrp_o
            c9.next = c8
            ao9.next = ao8
            pe9.next = pe8

    # ---- S10: output-gate pre-activation -------------------------------------
    psum_o = Signal(_s(PSUMW))
    psat_o = Signal(_s(P))                                              # sat(psum_o)
    ao10 = Signal(_s(P))

    @always_comb
    def s10_sum():
        psum_o.next = ao9 + rp_o

    s10_sat = saturate(psum_o, psat_o)

    @always(clk.posedge)
    def s10():
        if ce:
            if pe9:
                ao10.next = psat_o
            else:
                ao10.next = ao9
            c10.next = c9

    # ---- S11, S12: o = SIG(a_o'), th = TANH(c, cell_frac) --------------------
    o12, th12 = Signal(_s(B)), Signal(_s(B))
    lut_o = lut_unit(clk, ce, ao10, o12, cfg=cfg, fn="sigmoid", in_bits=P, in_frac=PF)
    lut_c = lut_unit(clk, ce, c10, th12, cfg=cfg, fn="tanh", in_bits=C, in_frac=CF)

    @always(clk.posedge)
    def s1112():
        if ce:
            c11.next = c10
            c12.next = c11

    # ---- S13: m product; S14: m rounding and saturation ----------------------
    pm = Signal(_s(IGW))
    msum = Signal(_s(MSUMW))
    msh = Signal(_s(MSHW))
    msat = Signal(_s(B))                                                # sat(msh)

    @always(clk.posedge)
    def s13():
        if ce:
            pm.next = o12 * th12
            c13.next = c12

    if SH2 > 0:
        RND2 = 1 << (SH2 - 1)

        @always_comb
        def s14_round():
            msum.next = pm + RND2
            msh.next = msum >> SH2
    else:
        LSH2 = -SH2

        @always_comb
        def s14_round():
            msum.next = pm << LSH2
            msh.next = msum

    s14_sat = saturate(msh, msat)

    @always(clk.posedge)
    def s14():
        if ce:
            m.next = msat
            c.next = c13

    return (ctrl, valids, s1_amount, s1_rr_i, s1_rr_f, s1_rr_g, s1_rr_o, s1,
            s2_sum, s2_sat_i, s2_sat_f, s2_sat_g, s2_sat_o, s2_amount, s2_rr_i, s2_rr_f, s2,
            s3_sum, s3_sat_i, s3_sat_f, s3, lut_i, lut_f, lut_g, s45, s6, s7_sum, s7_shift,
            s7_sat, s7, s8, s9_amount, s9_rr, s9, s10_sum, s10_sat, s10, lut_o, lut_c, s1112,
            s13, s14_round, s14_sat, s14)


PORTS = ("clk", "rst", "in_valid", "in_ready", "acc_i", "acc_f", "acc_g", "acc_o",
         "b_i", "b_f", "b_g", "b_o", "p_i", "p_f", "p_o", "c_prev", "s_acc", "s_p", "peep_en",
         "out_valid", "out_ready", "c", "m")


def top(cfg: Config):
    """Elaborate on fresh signals named like the ports."""
    from myhdl import ResetSignal
    A, P, W, C, B = cfg.acc_bits, cfg.pre_bits, cfg.weight_bits, cfg.cell_bits, cfg.act_bits
    sig = dict(
        clk=Signal(bool(0)), rst=ResetSignal(0, active=1, isasync=False),
        in_valid=Signal(bool(0)), in_ready=Signal(bool(0)),
        out_valid=Signal(bool(0)), out_ready=Signal(bool(0)), peep_en=Signal(bool(0)),
        s_acc=Signal(intbv(0)[S_BITS:]), s_p=Signal(intbv(0)[S_BITS:]),
        c_prev=Signal(_s(C)), c=Signal(_s(C)), m=Signal(_s(B)))
    for g in "ifgo":
        sig[f"acc_{g}"] = Signal(_s(A))
        sig[f"b_{g}"] = Signal(_s(P))
    for g in "ifo":
        sig[f"p_{g}"] = Signal(_s(W))
    return ew_unit(*(sig[n] for n in PORTS), cfg=cfg)
