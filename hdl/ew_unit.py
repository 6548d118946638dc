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

Datapath (``rr(x, s)`` = rshift_round, ``sat(x, b)`` = saturate; each rounding
shift with its add and saturation is two stages of ``hdl/shift_round.py``: the
run-time barrel shift ``t = (x << 1) >>> s`` alone, then ``sat((t >>> 1) + t[0]
+ b)`` as one narrow add; L = ``lut_unit.LATENCY``)::

    S1   t_g   = (acc_g << 1) >>> s_acc                  g in i, f, g, o;  p, c_prev registered
    S2   a_g   = sat(rr(acc_g, s_acc) + b_g, pre_bits)   pp_i = p_i * c_prev, pp_f = p_f * c_prev
    S3   tp_i  = (pp_i << 1) >>> s_p, tp_f likewise
    S4   a_i'  = peep_en ? sat(a_i + rr(pp_i, s_p), pre_bits) : a_i     (same for f)
    S5 .. S4+L     i = SIG(a_i'), f = SIG(a_f'), g = TANH(a_g)           (lut_unit)
    S5+L   pfc  = f * c_prev, pig = i * g
    S6+L   cs   = (pfc << (gate_frac - cell_frac)) + pig
    S7+L   c    = sat(rr(cs, 2*gate_frac - cell_frac), cell_bits)
    S8+L   pp_o = p_o * c
    S9+L   tp_o = (pp_o << 1) >>> s_p
    S10+L  a_o' = peep_en ? sat(a_o + rr(pp_o, s_p), pre_bits) : a_o
    S11+L .. S10+2L   o = SIG(a_o')  and  th = TANH(c, cell_frac) (from a copy of c)
    S11+2L pm   = o * th
    S12+2L m    = sat(rr(pm, 2*gate_frac - act_frac), act_bits)  -> outputs c, m

Every stage holds at most one heavy operation: a product, a run-time shift, or
one carry chain with its saturation (docs/timing.md).

Timing: LATENCY = 12 + 2 L register stages (18 with L = 3).  A cell accepted
on clock edge n is on ``c``/``m`` with ``out_valid`` high after edge n +
LATENCY - 1 when the output is never blocked; one cell per cycle.  The whole
pipeline has one clock enable ``ce = out_ready | ~out_valid``; ``in_ready =
ce`` (combinational from ``out_ready``: ``in_valid`` must not depend on
``in_ready``).  A blocked output freezes every stage, bubbles included.

::

    clk        _/‾\\_/‾\\_/‾\\_ ... _/‾\\_/‾\\_/‾\\_
    in_valid   __/‾‾‾‾‾‾‾‾‾\\_ ... ____________
    in_ready   ‾‾‾‾‾‾‾‾‾‾‾‾‾‾ ... ‾‾‾‾‾‾‾‾‾‾‾‾
    (cell)     --<k0 ><k1 >-- ... ------------
    out_valid  ______________ ... /‾‾‾‾‾‾‾‾‾\\_     LATENCY cycles after k0's edge
    c, m       ______________ ... <k0 ><k1 >--
"""

from myhdl import Signal, always, always_comb, always_seq, block, concat, intbv

from ese.config import Config
from ese.pipeline import EW_LATENCY

from .lut_unit import LATENCY as LUT_LATENCY
from .lut_unit import lut_unit
from .shift_round import round_add_sat, round_const, round_shift, shift_result

S_BITS = 6        #: width of s_acc and s_p
#: register stages from the input handshake to out_valid (the stage list above)
LATENCY = EW_LATENCY
assert LATENCY == 12 + 2 * LUT_LATENCY, "ew_unit: the stage list no longer adds up"


def _s(bits):
    """A signed intbv of ``bits`` bits."""
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def _reg(clk, ce, d, q):
    """``q`` = ``d`` one enabled cycle later (a data register: no reset)."""
    @always(clk.posedge)
    def reg():
        if ce:
            q.next = d
    return reg


@block
def _delay(clk, ce, d, q, n: int):
    """``q`` = ``d`` ``n`` >= 1 enabled cycles later (n data registers)."""
    chain = [Signal(d.val) for _ in range(n - 1)] + [q]
    insts = []
    for i in range(n):
        insts.append(_reg(clk, ce, d if i == 0 else chain[i - 1], chain[i]))
    return insts


def _like(d):
    """A fresh signal of ``d``'s type and width."""
    return Signal(d.val)


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
    FCW = B + C                  # f * c_prev
    IGW = 2 * B                  # i * g (and o * th)
    K1 = GF - CF                 # f*c aligned to i*g
    SH1 = 2 * GF - CF            # cell rounding shift (>= 1)
    CSW = max(FCW + K1, IGW) + 1             # (pfc << K1) + pig
    SH2 = 2 * GF - AF            # m rounding shift (any sign)
    assert SH1 >= 1
    L = LUT_LATENCY
    insts = []
    ce = Signal(bool(0))

    # ---- control -----------------------------------------------------------
    vline = Signal(intbv(0)[LATENCY - 1:])

    @always_comb
    def ctrl():
        ce.next = out_ready or not out_valid
        in_ready.next = out_ready or not out_valid

    @always_seq(clk.posedge, reset=rst)
    def valids():
        if ce:
            vline.next = concat(vline[LATENCY - 2:], in_valid)
            out_valid.next = vline[LATENCY - 2]

    insts += [ctrl, valids]

    # ---- S1: accumulator shifts; the other operands registered -------------
    t1 = []                        # each gate's first-stage result (shift_round.py)
    for acc in (acc_i, acc_f, acc_g, acc_o):
        tc = shift_result(A, P, P)
        insts.append(round_shift(acc, s_acc, *tc))
        t1.append([_like(v) for v in tc])
        insts += [_reg(clk, ce, d, q) for d, q in zip(tc, t1[-1])]
    b1 = []
    for b in (b_i, b_f, b_g, b_o):
        b1.append(_like(b))
        insts.append(_reg(clk, ce, b, b1[-1]))
    pi1, pf1, c1, sp1, pe1 = (_like(d) for d in (p_i, p_f, c_prev, s_p, peep_en))
    for d, q in ((p_i, pi1), (p_f, pf1), (c_prev, c1), (s_p, sp1), (peep_en, pe1)):
        insts.append(_reg(clk, ce, d, q))

    # ---- S2: pre-activations; peephole products (i, f) ----------------------
    a2 = []
    for g in range(4):
        ac = Signal(_s(P))
        insts.append(round_add_sat(t1[g][0], b1[g], ac, *t1[g][1:]))
        a2.append(_like(ac))
        insts.append(_reg(clk, ce, ac, a2[-1]))
    pp_i, pp_f = Signal(_s(PW)), Signal(_s(PW))

    @always(clk.posedge)
    def s2():
        if ce:
            pp_i.next = pi1 * c1
            pp_f.next = pf1 * c1

    insts.append(s2)
    sp2 = _like(sp1)
    insts.append(_reg(clk, ce, sp1, sp2))

    # ---- S3: peephole shifts (i, f) ------------------------------------------
    tp = []
    for pp in (pp_i, pp_f):
        tc = shift_result(PW, P, P)
        insts.append(round_shift(pp, sp2, *tc))
        tp.append([_like(v) for v in tc])
        insts += [_reg(clk, ce, d, q) for d, q in zip(tc, tp[-1])]
    a3 = []
    for a in a2:
        a3.append(_like(a))
        insts.append(_reg(clk, ce, a, a3[-1]))
    pe3 = _like(pe1)
    insts.append(_delay(clk, ce, pe1, pe3, 2))

    # ---- S4: peephole add and saturation (i, f) -------------------------------
    ps_i, ps_f = Signal(_s(P)), Signal(_s(P))
    a4_i, a4_f = Signal(_s(P)), Signal(_s(P))
    insts += [round_add_sat(tp[0][0], a3[0], ps_i, *tp[0][1:]),
              round_add_sat(tp[1][0], a3[1], ps_f, *tp[1][1:])]

    @always(clk.posedge)
    def s4():
        if ce:
            if pe3:
                a4_i.next = ps_i
                a4_f.next = ps_f
            else:
                a4_i.next = a3[0]
                a4_f.next = a3[1]

    insts.append(s4)
    a4_g = _like(a3[2])
    insts.append(_reg(clk, ce, a3[2], a4_g))

    # ---- S5 .. S4+L: the three gate lookups -------------------------------------
    i_l, f_l, g_l = (Signal(_s(B)) for _ in range(3))
    insts += [lut_unit(clk, ce, a4_i, i_l, cfg=cfg, fn="sigmoid", in_bits=P, in_frac=PF),
              lut_unit(clk, ce, a4_f, f_l, cfg=cfg, fn="sigmoid", in_bits=P, in_frac=PF),
              lut_unit(clk, ce, a4_g, g_l, cfg=cfg, fn="tanh", in_bits=P, in_frac=PF)]
    c_l = _like(c1)                # c_prev beside f
    insts.append(_delay(clk, ce, c1, c_l, 3 + L))

    # ---- S5+L: cell products; S6+L: their sum; S7+L: rounding and saturation -----
    pfc, pig = Signal(_s(FCW)), Signal(_s(IGW))
    cs = Signal(_s(CSW))

    @always(clk.posedge)
    def s_prod():
        if ce:
            pfc.next = f_l * c_l
            pig.next = i_l * g_l

    @always(clk.posedge)
    def s_csum():
        if ce:
            cs.next = (pfc << K1) + pig

    cc = Signal(_s(C))
    insts += [s_prod, s_csum, round_const(cs, SH1, cc)]
    c_new = _like(cc)
    insts.append(_reg(clk, ce, cc, c_new))

    # ---- S8+L: output-gate peephole product; S9+L: its shift; S10+L: the add -----
    po_l = _like(p_o)              # p_o beside c_new
    insts.append(_delay(clk, ce, p_o, po_l, 7 + L))
    pp_o = Signal(_s(PW))

    @always(clk.posedge)
    def s_ppo():
        if ce:
            pp_o.next = po_l * c_new

    insts.append(s_ppo)
    sp_l = _like(sp2)              # s_p beside pp_o
    insts.append(_delay(clk, ce, sp2, sp_l, 6 + L))
    tp_oc = shift_result(PW, P, P)
    insts.append(round_shift(pp_o, sp_l, *tp_oc))
    tp_o = [_like(v) for v in tp_oc]
    ao_l, pe_l = _like(a3[3]), _like(pe3)       # a_o, peep_en beside tp_o
    insts += [_reg(clk, ce, d, q) for d, q in zip(tp_oc, tp_o)]
    insts += [_delay(clk, ce, a3[3], ao_l, 6 + L), _delay(clk, ce, pe3, pe_l, 6 + L)]
    ps_o, ao = Signal(_s(P)), Signal(_s(P))
    insts.append(round_add_sat(tp_o[0], ao_l, ps_o, *tp_o[1:]))

    @always(clk.posedge)
    def s_ao():
        if ce:
            if pe_l:
                ao.next = ps_o
            else:
                ao.next = ao_l

    insts.append(s_ao)

    # ---- S11+L .. S10+2L: o = SIG(a_o'), th = TANH(c) (from a copy of c) ----------
    o_l, th_l = Signal(_s(B)), Signal(_s(B))
    c_th = _like(c_new)            # tanh(c) leaves beside o
    insts.append(_delay(clk, ce, c_new, c_th, 3))
    insts += [lut_unit(clk, ce, ao, o_l, cfg=cfg, fn="sigmoid", in_bits=P, in_frac=PF),
              lut_unit(clk, ce, c_th, th_l, cfg=cfg, fn="tanh", in_bits=C, in_frac=CF)]

    # ---- S11+2L: m product; S12+2L: its rounding and saturation -> c, m -----------
    pm = Signal(_s(IGW))

    @always(clk.posedge)
    def s_pm():
        if ce:
            pm.next = o_l * th_l

    mm = Signal(_s(B))
    c_out = _like(c_new)           # c beside m's register
    insts.append(_delay(clk, ce, c_new, c_out, 4 + L))

    @always(clk.posedge)
    def s_out():
        if ce:
            m.next = mm
            c.next = c_out

    insts += [s_pm, round_const(pm, SH2, mm), s_out]
    return insts


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
