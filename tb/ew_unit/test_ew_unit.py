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
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

GATES = "ifgo"


# ---------------------------------------------------------------------------
# scalar reference of one cell (docs/numerics.md steps 2-5)
# ---------------------------------------------------------------------------
def ref_cell(cfg, acc, b, p, c_prev, s_acc, s_p, peep_en, flags=None):
    """One cell: acc, b = (i, f, g, o) tuples, p = (p_i, p_f, p_o).  Returns (c, m).

    ``flags`` (a dict) counts the saturation points that clipped.
    """
    from ese.model.fixed import rshift_round, saturate
    from ese.model.lut import lookup

    P, C, B = cfg.pre_bits, cfg.cell_bits, cfg.act_bits
    GF, CF, AF, PF = cfg.gate_frac, cfg.cell_frac, cfg.act_frac, cfg.pre_frac
    fl = flags if flags is not None else {}

    def sat(x, bits, what):
        y = saturate(x, bits)
        if y != x:
            fl[what] = fl.get(what, 0) + 1
        return y

    # step 2: pre-activation
    a = []
    for g in range(4):
        r = rshift_round(acc[g], s_acc)
        if saturate(r, P) == r:   # the shifted accumulator alone is in range
            a.append(sat(r + b[g], P, "pre_after_bias"))
        else:
            a.append(sat(r + b[g], P, "pre"))
    a_i, a_f, a_g, a_o = a
    # step 3: peepholes and gates
    if peep_en:
        a_i = sat(a_i + rshift_round(p[0] * c_prev, s_p), P, "peep_i")
        a_f = sat(a_f + rshift_round(p[1] * c_prev, s_p), P, "peep_f")
    i = lookup(cfg, "sigmoid", a_i, PF)
    f = lookup(cfg, "sigmoid", a_f, PF)
    g = lookup(cfg, "tanh", a_g, PF)
    # step 4: cell update, one rounding, one saturation
    c = sat(rshift_round(((f * c_prev) << (GF - CF)) + i * g, 2 * GF - CF), C, "cell")
    # step 5: output gate and m
    if peep_en:
        a_o = sat(a_o + rshift_round(p[2] * c, s_p), P, "peep_o")
    o = lookup(cfg, "sigmoid", a_o, PF)
    m = sat(rshift_round(o * lookup(cfg, "tanh", c, CF), 2 * GF - AF), B, "m")
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
    return cell


MODES = ("typical", "typical", "typical", "wide", "extreme", "cell_sat")


def gen_cells(cfg, rng, n):
    return [gen_cell(cfg, rng, rng.choice(MODES)) for _ in range(n)]


def expected(cfg, cell, flags=None):
    return ref_cell(cfg, [cell[f"acc_{g}"] for g in GATES], [cell[f"b_{g}"] for g in GATES],
                    [cell[f"p_{g}"] for g in "ifo"], cell["c_prev"], cell["s_acc"],
                    cell["s_p"], cell["peep_en"], flags)


IN_PORTS = [f"acc_{g}" for g in GATES] + [f"b_{g}" for g in GATES] + \
    [f"p_{g}" for g in "ifo"] + ["c_prev", "s_acc", "s_p", "peep_en"]


def drive(dut, cell):
    for n in IN_PORTS:
        getattr(dut, n).value = cell[n]


# ---------------------------------------------------------------------------
# cocotb tests
# ---------------------------------------------------------------------------
@cocotb.test()
async def random_cells(dut):
    """Random cells with input gaps and output backpressure; in-order scoreboard."""
    from tb.common.sim import pauses, start, watchdog

    cfg = tb_config()
    p = tb_params()
    rng = random.Random(p["seed"])
    n = p["cells"]
    cells = gen_cells(cfg, rng, n)
    flags = {}
    exp = [expected(cfg, c, flags) for c in cells]
    for what in ("pre", "pre_after_bias", "peep_i", "peep_f", "peep_o", "cell"):
        assert flags.get(what, 0) > 0, f"stimulus never reaches saturation point {what!r}: {flags}"
    if m_sat_reachable(cfg):
        assert flags.get("m", 0) > 0, f"stimulus never saturates m: {flags}"
    else:
        dut._log.info("m saturation is unreachable in this configuration (|o*tanh(c)| <= 1)")
    cocotb.start_soon(watchdog(dut.clk, 8 * n + 200, "ew_unit random cells"))
    dut.in_valid.value = 0
    dut.out_ready.value = 0
    await start(dut)
    in_gap = pauses(rng, p["p_idle_in"])
    out_stall = pauses(rng, p["p_idle_out"])
    i = 0
    got = []
    stalls = 0
    present = False
    while len(got) < n:
        await FallingEdge(dut.clk)
        # drive this cycle: hold a presented cell until accepted (AXI-style)
        if not present and i < n and not next(in_gap):
            drive(dut, cells[i])
            present = True
        elif not present:
            drive(dut, gen_cell(cfg, rng, "wide"))   # garbage while in_valid is low
        dut.in_valid.value = int(present)
        dut.out_ready.value = int(not next(out_stall))
        await ReadOnly()
        # what the next rising edge will transfer
        if present and int(dut.in_ready.value):
            present = False
            i += 1
        if int(dut.out_valid.value):
            if int(dut.out_ready.value):
                k = len(got)
                c, m = dut.c.value.to_signed(), dut.m.value.to_signed()
                assert (c, m) == exp[k], \
                    f"cell {k}: expected (c, m) = {exp[k]}, got ({c}, {m}); inputs {cells[k]}"
                got.append((c, m))
            else:
                stalls += 1
    assert i == n
    assert stalls > 0, "the output was never blocked"
    dut._log.info(f"ew_unit: {n} cells bit-exact, {stalls} blocked output cycles, "
                  f"saturations {flags}")


@cocotb.test()
async def latency_and_throughput(dut):
    """A burst with the output always ready: latency LATENCY, one cell per cycle, no gaps."""
    from ese.hdl.ew_unit import LATENCY
    from tb.common.sim import start, watchdog

    cfg = tb_config()
    p = tb_params()
    rng = random.Random(p["seed"] + 1)
    n = 64
    cells = gen_cells(cfg, rng, n)
    exp = [expected(cfg, c) for c in cells]
    cocotb.start_soon(watchdog(dut.clk, n + LATENCY + 100, "ew_unit burst"))
    dut.in_valid.value = 0
    dut.out_ready.value = 1
    await start(dut)
    out_cycles = []
    cyc = 0
    for k in range(n + LATENCY + 4):
        await FallingEdge(dut.clk)
        if k < n:
            drive(dut, cells[k])
        dut.in_valid.value = int(k < n)
        await ReadOnly()
        if k < n:
            assert int(dut.in_ready.value) == 1, "in_ready low with the output always ready"
        if int(dut.out_valid.value):
            j = len(out_cycles)
            got = (dut.c.value.to_signed(), dut.m.value.to_signed())
            assert got == exp[j], f"burst cell {j}: expected {exp[j]} got {got}"
            out_cycles.append(cyc)
        cyc += 1
    assert len(out_cycles) == n, f"{len(out_cycles)} of {n} results"
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
    for what in ("pre", "pre_after_bias", "peep_i", "peep_f", "peep_o", "cell"):
        assert flags.get(what, 0) > 0, (what, flags)
    assert not m_sat_reachable(cfg)
