"""ew_unit: random LSTM cells, bit-exact against a scalar reference of numerics.md.

``ref_cell`` below is written straight from docs/numerics.md steps 2-5 with
the primitives of model/fixed.py and model/lut.py (independent of the
vectorized golden engine).  Stimulus is drawn in several modes so that every
saturation point is reached (coverage is counted and asserted):

* pre-activation saturation after the bias add (both signs, also where the
  shifted accumulator alone is in range and the bias pushes it out),
* peephole add saturation (i, f and o gates),
* cell saturation (c_prev near the limits with f ~ 1 and i*g ~ +-1),
* m saturation: unreachable by construction (|o * tanh(c)| <= 1 and the act
  format holds +-2 at least); the test proves that from the tables and says so.

s_acc and s_p take 0, small, typical, >= the operand width and 63; peep_en
is random per cell (the unit samples the per-layer controls with each cell).
Random input gaps and output backpressure; a watchdog turns a hang into a
failure.  A second cocotb test checks the latency and full throughput.
"""

import random

import pytest

from tb.common.ew_cfg import EW_CONFIGS
from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from tb.common.scoreboard import Scoreboard
from tb.common.sim import BaseTB

GATES = "ifgo"


# ---------------------------------------------------------------------------
# scalar reference of one cell (docs/numerics.md steps 2-5)
# ---------------------------------------------------------------------------
def ref_cell(cfg, acc, b, p, c_prev, s_acc, s_p, peep_en, flags=None):
    """One cell: acc, b = (i, f, g, o) tuples, p = (p_i, p_f, p_o).  Returns (c, m).

    ``flags`` (a dict) counts the saturation points that clipped and the
    rounding shifts whose input was an exact tie (``*_tie``).
    """
    from ese.model.fixed import rshift_round, saturate
    from ese.model.lut import lookup

    P, C, B = cfg.pre_bits, cfg.cell_bits, cfg.act_bits
    GF, CF, AF, PF = cfg.gate_frac, cfg.cell_frac, cfg.act_frac, cfg.pre_frac
    fl = flags if flags is not None else {}

    def count(what):
        fl[what] = fl.get(what, 0) + 1

    def sat(x, bits, what):
        y = saturate(x, bits)
        if y != x:
            count(what)
        return y

    def rr(x, s, what):
        if s > 0 and (x & ((1 << s) - 1)) == 1 << (s - 1):
            count(what + "_tie")
        return rshift_round(x, s)

    # step 2: pre-activation
    a = []
    for g in range(4):
        r = rr(acc[g], s_acc, "pre")
        if saturate(r, P) == r:   # the shifted accumulator alone is in range
            a.append(sat(r + b[g], P, "pre_after_bias"))
        else:
            a.append(sat(r + b[g], P, "pre"))
    a_i, a_f, a_g, a_o = a
    # step 3: peepholes and gates
    if peep_en:
        a_i = sat(a_i + rr(p[0] * c_prev, s_p, "peep"), P, "peep_i")
        a_f = sat(a_f + rr(p[1] * c_prev, s_p, "peep"), P, "peep_f")
    i = lookup(cfg, "sigmoid", a_i, PF)
    f = lookup(cfg, "sigmoid", a_f, PF)
    g = lookup(cfg, "tanh", a_g, PF)
    # step 4: cell update, one rounding, one saturation
    c = sat(rr(((f * c_prev) << (GF - CF)) + i * g, 2 * GF - CF, "cell"), C, "cell")
    # step 5: output gate and m
    if peep_en:
        a_o = sat(a_o + rr(p[2] * c, s_p, "peep"), P, "peep_o")
    o = lookup(cfg, "sigmoid", a_o, PF)
    m = sat(rr(o * lookup(cfg, "tanh", c, CF), 2 * GF - AF, "m"), B, "m")
    return c, m


def m_sat_reachable(cfg):
    """Can m saturate at all?  |o * tanh(c)| is bounded by the tables' largest entries."""
    from ese.model.fixed import rshift_round
    from ese.model.lut import table
    so, st = table(cfg, "sigmoid"), table(cfg, "tanh")
    ext = [int(a) * int(b) for a in (so.min(), so.max()) for b in (st.min(), st.max())]
    sh = 2 * cfg.gate_frac - cfg.act_frac
    lim_hi, lim_lo = (1 << (cfg.act_bits - 1)) - 1, -(1 << (cfg.act_bits - 1))
    return any(not (lim_lo <= rshift_round(v, sh) <= lim_hi) for v in ext)


# ---------------------------------------------------------------------------
# stimulus
# ---------------------------------------------------------------------------
def _rs(rng, bits):
    return rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def gen_cell(cfg, rng, mode):
    """A random cell (dict of port values) for one of the stimulus modes."""
    A, P, W, C = cfg.acc_bits, cfg.pre_bits, cfg.weight_bits, cfg.cell_bits
    PW = W + C
    amin, amax = -(1 << (A - 1)), (1 << (A - 1)) - 1
    pmax = (1 << (P - 1)) - 1
    cmax = (1 << (C - 1)) - 1

    def clip(v):
        return min(max(v, amin), amax)

    typ_acc = rng.randint(0, 30)                   # F_l + act_frac - pre_frac, typically
    s_acc = rng.choice([0, 1, 2, typ_acc, typ_acc, typ_acc, A - 1, A, A + 1, 63])
    s_acc = min(s_acc, 63)
    typ_p = rng.randint(max(0, cfg.pre_frac - cfg.cell_frac), cfg.weight_bits + cfg.cell_frac)
    s_p = min(rng.choice([0, 1, typ_p, typ_p, typ_p, typ_p, PW - 1, PW, PW + 1, 63]), 63)
    peep_en = rng.random() < 0.6
    cell = dict(s_acc=s_acc, s_p=s_p, peep_en=int(peep_en))
    # accumulators: shifted value spans about +-2 pre ranges
    for g in GATES:
        if mode == "wide":
            e = rng.randint(0, A - 1)
            cell[f"acc_{g}"] = clip(rng.randint(-(1 << e), 1 << e))
        elif mode == "extreme":
            cell[f"acc_{g}"] = rng.choice([amin, amax, amin + 1, amax - 1, 0, -1, 1])
        else:
            span = min((pmax + 1) * 2, 1 << 62) << s_acc
            cell[f"acc_{g}"] = clip(rng.randint(-span, span))
        if mode == "extreme":
            cell[f"b_{g}"] = rng.choice([-pmax - 1, pmax, 0, -1, 1])
        else:
            cell[f"b_{g}"] = _rs(rng, P)
    for g in "ifo":
        cell[f"p_{g}"] = rng.choice([_rs(rng, W), _rs(rng, W), -(1 << (W - 1)),
                                     (1 << (W - 1)) - 1])
    cell["c_prev"] = rng.choice([_rs(rng, C), _rs(rng, C), _rs(rng, C), -cmax - 1, cmax])
    if mode == "cell_sat":
        # c_prev near a limit, f ~ 1 and i * g ~ +-1 of the same sign: c leaves the range
        sign = rng.choice([1, -1])
        cell["c_prev"] = sign * (cmax - rng.randint(0, cmax >> 5))
        cell["s_acc"] = 0
        cell["peep_en"] = 0
        cell["acc_i"] = pmax
        cell["acc_f"] = pmax
        cell["acc_g"] = sign * pmax
        for g in "ifg":
            cell[f"b_{g}"] = rng.randint(0, pmax >> 2) * (1 if g != "g" else sign)
    if mode == "cell_tie":
        cell = _cell_tie(cfg, rng, cell)
    if mode == "m_tie":
        cell = _m_tie(cfg, rng, cell)
    return cell


def _gates(cfg, cell):
    """i, f, g of a cell whose i/f peepholes are 0 (so they do not depend on c_prev)."""
    from ese.model.fixed import rshift_round, saturate
    from ese.model.lut import lookup
    a = [saturate(rshift_round(cell[f"acc_{g}"], cell["s_acc"]) + cell[f"b_{g}"], cfg.pre_bits)
         for g in "ifg"]
    return (lookup(cfg, "sigmoid", a[0], cfg.pre_frac), lookup(cfg, "sigmoid", a[1], cfg.pre_frac),
            lookup(cfg, "tanh", a[2], cfg.pre_frac))


def _cell_tie(cfg, rng, cell):
    """Make the cell-update rounding input an exact tie: solve for c_prev.

    (f*c_prev << K1) + i*g == 2**(SH1-1)  (mod 2**SH1) has a solution for c_prev
    (mod 2**(SH1-K1) = 2**gate_frac) when f is odd and i*g is a multiple of 2**K1.
    """
    K1, SH1 = cfg.gate_frac - cfg.cell_frac, 2 * cfg.gate_frac - cfg.cell_frac
    mod = 1 << (SH1 - K1)
    cmin, cmax = -(1 << (cfg.cell_bits - 1)), (1 << (cfg.cell_bits - 1)) - 1
    for _ in range(200):
        cell = dict(cell, p_i=0, p_f=0)
        for g in "ifg":
            cell[f"acc_{g}"] = rng.randint(-(1 << (cfg.pre_bits - 1)), (1 << (cfg.pre_bits - 1)) - 1)
            cell[f"b_{g}"] = 0
        cell["s_acc"] = 0
        i, f, g = _gates(cfg, cell)
        if f % 2 == 0 or (i * g) % (1 << K1):
            continue
        need = (((1 << (SH1 - 1)) - i * g) >> K1) % mod
        r = (need * pow(f, -1, mod)) % mod
        cands = [r + j * mod for j in range((cmin - r) // mod - 1, (cmax - r) // mod + 2)
                 if cmin <= r + j * mod <= cmax]
        if cands:
            cell["c_prev"] = rng.choice(cands)
            return cell
    raise AssertionError("could not construct a cell-rounding tie")


_M_TIE_PAIRS = {}


def m_tie_pairs(cfg):
    """(sigmoid index, tanh index) pairs whose product is a tie of the m rounding."""
    import numpy as np
    from ese.model.lut import table
    if cfg.name not in _M_TIE_PAIRS:
        sh = 2 * cfg.gate_frac - cfg.act_frac
        if sh <= 0:
            pairs = []
        else:
            prod = table(cfg, "sigmoid")[:, None] * table(cfg, "tanh")[None, :]
            ko, kt = np.nonzero((prod & ((1 << sh) - 1)) == (1 << (sh - 1)))
            pairs = list(zip(ko.tolist(), kt.tolist()))
        _M_TIE_PAIRS[cfg.name] = pairs
    return _M_TIE_PAIRS[cfg.name]


def _m_tie(cfg, rng, cell):
    """Make o * tanh(c) an exact tie of the m rounding: pick the two table entries,
    put a_o in the first one's input interval and steer c (through c_prev) into the
    second one's."""
    from ese.model.lut import index_shift
    pairs = m_tie_pairs(cfg)
    if not pairs:
        return cell
    n = cfg.lut_size
    P, C = cfg.pre_bits, cfg.cell_bits
    pmin, pmax = -(1 << (P - 1)), (1 << (P - 1)) - 1
    cmin, cmax = -(1 << (C - 1)), (1 << (C - 1)) - 1
    sh_o = index_shift(cfg, "sigmoid", cfg.pre_frac)
    sh_c = index_shift(cfg, "tanh", cfg.cell_frac)
    for _ in range(50):
        ko, kt = rng.choice(pairs)
        x = min(max(((ko - n // 2) << sh_o) + rng.randint(0, (1 << sh_o) - 1), pmin), pmax)
        lo, hi = (kt - n // 2) << sh_c, ((kt - n // 2 + 1) << sh_c) - 1
        if kt == 0:
            lo = cmin
        if kt == n - 1:
            hi = cmax
        lo, hi = max(lo, cmin), min(hi, cmax)
        if lo > hi:
            continue
        cell = dict(cell, peep_en=0, s_acc=0, acc_o=x, b_o=0)
        for g in "ifg":
            cell[f"acc_{g}"] = rng.randint(pmin, pmax)
            cell[f"b_{g}"] = 0
        cell["acc_f"] = rng.randint(pmax // 2, pmax)        # f close to 1: fine steps of c

        def c_of(cp):
            return expected(cfg, dict(cell, c_prev=cp))[0]
        a, b = cmin, cmax          # smallest c_prev with c >= lo (c is monotone in c_prev)
        if c_of(b) < lo:
            continue
        while a < b:
            mid = (a + b) // 2
            if c_of(mid) >= lo:
                b = mid
            else:
                a = mid + 1
        if c_of(a) <= hi:
            cell["c_prev"] = a
            return cell
    return cell


#: saturation points and rounding ties every run must reach
COVER = ("pre", "pre_after_bias", "peep_i", "peep_f", "peep_o", "cell",
         "pre_tie", "peep_tie", "cell_tie")

MODES = ("typical", "typical", "typical", "wide", "extreme", "cell_sat", "cell_tie", "m_tie")


def gen_cells(cfg, rng, n):
    return [gen_cell(cfg, rng, rng.choice(MODES)) for _ in range(n)]


def expected(cfg, cell, flags=None):
    return ref_cell(cfg, [cell[f"acc_{g}"] for g in GATES], [cell[f"b_{g}"] for g in GATES],
                    [cell[f"p_{g}"] for g in "ifo"], cell["c_prev"], cell["s_acc"],
                    cell["s_p"], cell["peep_en"], flags)


IN_PORTS = [f"acc_{g}" for g in GATES] + [f"b_{g}" for g in GATES] + \
    [f"p_{g}" for g in "ifo"] + ["c_prev", "s_acc", "s_p", "peep_en"]


# ---------------------------------------------------------------------------
# cocotb tests
# ---------------------------------------------------------------------------
class TB(BaseTB):
    """ew_unit: clock and reset, the input port driver (a cell of port values),
    pause patterns for input gaps and output stalls, a scoreboard of (c, m)."""

    def __init__(self, dut, cfg, rng: random.Random, p_idle_in: float = 0.0,
                 p_idle_out: float = 0.0):
        super().__init__(dut, rng)
        self.cfg = cfg
        self.in_gap = self.pauses(p_idle_in)
        self.out_stall = self.pauses(p_idle_out)
        self.results = Scoreboard("ew_unit (c, m)")
        dut.in_valid.value = 0

    def drive(self, cell: dict) -> None:
        for n in IN_PORTS:
            getattr(self.dut, n).value = cell[n]

    def result(self) -> tuple[int, int]:
        return self.dut.c.value.to_signed(), self.dut.m.value.to_signed()


@cocotb.test()
async def random_cells(dut):
    """Random cells with input gaps and output backpressure; in-order scoreboard."""
    cfg = tb_config()
    p = tb_params()
    rng = random.Random(p["seed"])
    n = p["cells"]
    cells = gen_cells(cfg, rng, n)
    flags = {}
    exp = [expected(cfg, c, flags) for c in cells]
    for what in COVER:
        assert flags.get(what, 0) > 0, f"stimulus never reaches {what!r}: {flags}"
    if m_tie_pairs(cfg):
        assert flags.get("m_tie", 0) > 0, f"stimulus never makes an m rounding tie: {flags}"
    if m_sat_reachable(cfg):
        assert flags.get("m", 0) > 0, f"stimulus never saturates m: {flags}"
    else:
        dut._log.info("m saturation is unreachable in this configuration (|o*tanh(c)| <= 1)")
    tb = TB(dut, cfg, rng, p["p_idle_in"], p["p_idle_out"])
    tb.watchdog(8 * n + 200, "ew_unit random cells")
    dut.out_ready.value = 0
    await tb.start()
    i = 0
    stalls = 0
    present = False
    while tb.results.matched < n:
        await FallingEdge(dut.clk)
        # drive this cycle: hold a presented cell until accepted (AXI-style)
        if not present and i < n and not next(tb.in_gap):
            tb.drive(cells[i])
            present = True
        elif not present:
            tb.drive(gen_cell(cfg, rng, "wide"))   # garbage while in_valid is low
        dut.in_valid.value = int(present)
        dut.out_ready.value = int(not next(tb.out_stall))
        await ReadOnly()
        # what the next rising edge will transfer
        if present and int(dut.in_ready.value):
            tb.results.expect(exp[i], note=f"cell {i}, inputs {cells[i]}")
            present = False
            i += 1
        if int(dut.out_valid.value):
            if int(dut.out_ready.value):
                tb.results.observe(tb.result())
            else:
                stalls += 1
    tb.results.finish(n)
    assert i == n
    assert stalls > 0, "the output was never blocked"
    dut._log.info(f"ew_unit: {n} cells bit-exact, {stalls} blocked output cycles, "
                  f"saturations {flags}")


@cocotb.test()
async def latency_and_throughput(dut):
    """A burst with the output always ready: latency LATENCY, one cell per cycle, no gaps."""
    from ese.hdl.ew_unit import LATENCY

    cfg = tb_config()
    p = tb_params()
    rng = random.Random(p["seed"] + 1)
    n = 64
    cells = gen_cells(cfg, rng, n)
    tb = TB(dut, cfg, rng)
    for k, c in enumerate(cells):
        tb.results.expect(expected(cfg, c), note=f"burst cell {k}")
    tb.watchdog(n + LATENCY + 100, "ew_unit burst")
    dut.out_ready.value = 1
    await tb.start()
    out_cycles = []
    cyc = 0
    for k in range(n + LATENCY + 4):
        await FallingEdge(dut.clk)
        if k < n:
            tb.drive(cells[k])
        dut.in_valid.value = int(k < n)
        await ReadOnly()
        if k < n:
            assert int(dut.in_ready.value) == 1, "in_ready low with the output always ready"
        if int(dut.out_valid.value):
            tb.results.observe(tb.result())
            out_cycles.append(cyc)
        cyc += 1
    tb.results.finish(n)
    # cell 0 is accepted on the edge after cycle 0; visible LATENCY cycles later
    assert out_cycles[0] == LATENCY, f"latency {out_cycles[0]}, documented {LATENCY}"
    assert out_cycles == list(range(LATENCY, LATENCY + n)), "results not back to back"


# ---------------------------------------------------------------------------
# pytest entry points
# ---------------------------------------------------------------------------
def _make(cfg):
    from ese.hdl.ew_unit import top
    return top(cfg)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg_name", sorted(EW_CONFIGS))
def test_ew_unit(sim, cfg_name):
    from ese.hdl.convert import config_key
    cfg = EW_CONFIGS[cfg_name]
    params = dict(cfg=cfg.to_dict(), seed=2017, cells=1500, p_idle_in=0.25, p_idle_out=0.3)
    run_cocotb("ew_unit", lambda: _make(cfg), __name__, sim, config_key(cfg), params)


@pytest.mark.parametrize("cfg_name", sorted(EW_CONFIGS))
def test_reference_hits_every_saturation(cfg_name):
    """The stimulus generator reaches every saturation point (fast, no simulator)."""
    cfg = EW_CONFIGS[cfg_name]
    rng = random.Random(5)
    flags = {}
    for c in gen_cells(cfg, rng, 1500):
        expected(cfg, c, flags)
    for what in COVER:
        assert flags.get(what, 0) > 0, (what, flags)
    assert m_tie_pairs(cfg) and flags.get("m_tie", 0) > 0, flags
    assert not m_sat_reachable(cfg)


@pytest.mark.parametrize("cfg_name", sorted(EW_CONFIGS))
@pytest.mark.parametrize("peep,proj", [(True, False), (False, True), (True, True)])
def test_reference_matches_golden_engine(cfg_name, peep, proj):
    """Cross-check: ref_cell (scalar, this file) == model/lstm_fixed.run_fixed_trace, per cell.

    A random integer layer with large weights (so that pre-activations, peephole
    sums and cells saturate) runs through the vectorized golden engine; every
    cell of every frame is recomputed by ref_cell from the traced accumulators.
    """
    import numpy as np
    lstm_fixed = pytest.importorskip("ese.model.lstm_fixed")
    from ese.model.qmodel import QLayer, QModel

    cfg = EW_CONFIGS[cfg_name]
    rng = np.random.default_rng(11)
    n_in, h, t_len, bsz = 8, 16, 8, 2
    p_out = 8 if proj else h
    W = cfg.weight_bits

    def w(*shape):
        return rng.integers(-(1 << (W - 1)), 1 << (W - 1), size=shape, dtype=np.int64)

    layer = QLayer(n_in=n_in, n_cells=h, n_out=p_out, wx=w(4 * h, n_in), wr=w(4 * h, p_out),
                   bias=rng.integers(-(1 << (cfg.pre_bits - 1)), 1 << (cfg.pre_bits - 1),
                                     size=4 * h, dtype=np.int64),
                   wf_x=W - 2, wf_r=W - 1,
                   wp=w(p_out, h) if proj else None, wf_p=W - 1,
                   peep=w(3, h) if peep else None, wf_peep=max(W - 3, cfg.pre_frac - cfg.cell_frac))
    qm = QModel(cfg=cfg, layers=[layer])
    x = rng.integers(-(1 << (cfg.act_bits - 1)), 1 << (cfg.act_bits - 1),
                     size=(bsz, t_len, n_in), dtype=np.int64)
    tr = lstm_fixed.run_fixed_trace(qm, x)[0]
    s_acc = layer.acc_frac_w + cfg.act_frac - cfg.pre_frac
    s_p = layer.wf_peep + cfg.cell_frac - cfg.pre_frac
    flags = {}
    n = 0
    for b in range(bsz):
        for t in range(t_len):
            for k in range(h):
                c_prev = int(tr["c"][b, t - 1, k]) if t else 0
                acc = [int(v) for v in tr["acc"][b, t, 4 * k:4 * k + 4]]
                bias = [int(v) for v in layer.bias[4 * k:4 * k + 4]]
                pp = [int(layer.peep[j, k]) for j in range(3)] if peep else [0, 0, 0]
                got = ref_cell(cfg, acc, bias, pp, c_prev, s_acc, s_p, int(peep), flags)
                assert got == (int(tr["c"][b, t, k]), int(tr["m"][b, t, k])), (b, t, k)
                n += 1
    assert n == bsz * t_len * h
    assert flags.get("pre", 0) + flags.get("pre_after_bias", 0) > 0, flags
