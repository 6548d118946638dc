"""lut_unit: every table entry's boundary inputs, out-of-range inputs, extremes.

One build per (simulator, configuration) holds four lut_units (a test-only
wrapper): sigmoid and tanh, each with a gate pre-activation input
(pre_bits, pre_frac) and a cell-state input (cell_bits, cell_frac).  The
cocotb side models the unit's LATENCY registers cycle by cycle (index, ROM, output), with
a random clock enable, and compares every output bit-exactly with
``model.lut`` (table + index rule).
"""

import random

import pytest

from tb.common.ew_cfg import EW_CONFIGS
from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

import cocotb
from cocotb.triggers import FallingEdge

from tb.common.sim import BaseTB

from ese.hdl.lut_unit import LATENCY  # noqa: E402
#: (port suffix, function, input format) of the four units in the wrapper
UNITS = (("sp", "sigmoid", "pre"), ("tp", "tanh", "pre"),
         ("sc", "sigmoid", "cell"), ("tc", "tanh", "cell"))


def _fmt(cfg, which):
    return (cfg.pre_bits, cfg.pre_frac) if which == "pre" else (cfg.cell_bits, cfg.cell_frac)


def stimulus(cfg, fn, bits, frac, rng):
    """Both boundary inputs of every entry, beyond-range inputs, extremes, random fill."""
    from ese.model import lut as mlut
    sh = mlut.index_shift(cfg, fn, frac)
    n = cfg.lut_size
    lo_in, hi_in = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    xs = []
    for k in range(n):
        first = (k - n // 2) << sh            # smallest input of entry k
        last = first + (1 << sh) - 1          # largest input of entry k
        xs += [min(max(first, lo_in), hi_in), min(max(last, lo_in), hi_in)]
    edge_lo, edge_hi = (-(n // 2)) << sh, ((n // 2) << sh) - 1   # table range in LSBs
    for v in (edge_lo - 1, edge_lo - 2, edge_hi + 1, edge_hi + 2, lo_in, lo_in + 1, hi_in,
              hi_in - 1, 0, -1, 1):
        if lo_in <= v <= hi_in:
            xs.append(v)
    xs += [rng.randint(lo_in, hi_in) for _ in range(64)]
    return xs


class TB(BaseTB):
    """The four-unit wrapper (no reset port): its clock and a pause pattern for ``ce``."""

    def __init__(self, dut, rng: random.Random, p_ce_low: float):
        super().__init__(dut, rng, rst=None)
        self.p_ce_low = p_ce_low
        self.start_clock()

    def ce_pattern(self):
        """True = hold ``ce`` low this cycle."""
        return self.pauses(self.p_ce_low)


@cocotb.test()
async def sweep(dut):
    import numpy as np
    from ese.model import lut as mlut

    cfg = tb_config()
    p = tb_params()
    rng = random.Random(p["seed"])
    tb = TB(dut, rng, p["p_ce_low"])

    streams, models, covered = {}, {}, {}
    for suf, fn, which in UNITS:
        bits, frac = _fmt(cfg, which)
        xs = stimulus(cfg, fn, bits, frac, rng)
        idx = mlut.lut_index(cfg, fn, np.array(xs), frac)
        n, sh = cfg.lut_size, mlut.index_shift(cfg, fn, frac)
        # the sweep reaches every entry and both sides beyond the table
        assert set(int(k) for k in idx) == set(range(n)), f"{suf}: not every entry swept"
        beyond_lo = [x for x in xs if (x >> sh) < -(n // 2)]
        beyond_hi = [x for x in xs if (x >> sh) >= n // 2]
        assert beyond_lo and beyond_hi, f"{suf}: no input beyond the table range"
        streams[suf] = xs
        models[suf] = (fn, frac, mlut.table(cfg, fn))
        covered[suf] = 0
    total = max(len(v) for v in streams.values())
    for suf, _, which in UNITS:  # same length for all: pad with random in-format values
        bits = _fmt(cfg, which)[0]
        while len(streams[suf]) < total:
            streams[suf].append(rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))

    tb.watchdog(4 * total + 100, "lut sweep")
    ce_pause = tb.ce_pattern()
    # cycle model of the unit's LATENCY registers: the index, then the table value
    # (the ROM read and the output register): regs[suf][0] is the index register
    regs = {s: [None] * LATENCY for s in streams}
    pos = 0
    checked = 0
    held = 0
    while pos < total or any(v is not None for r in regs.values() for v in r[:-1]):
        await FallingEdge(dut.clk)
        # the outputs now reflect the registers after the previous rising edge
        for suf in streams:
            out = regs[suf][-1]
            if out is not None:
                got = getattr(dut, f"y_{suf}").value.to_signed()
                assert got == out[0], f"{suf}: x={out[1]} expected {out[0]} got {got}"
                checked += 1
        ce = int(not next(ce_pause))
        if pos >= total:
            ce = 1
        dut.ce.value = ce
        if pos < total:
            for suf in streams:
                getattr(dut, f"x_{suf}").value = streams[suf][pos]
        if ce:
            for suf in streams:
                fn, frac, table = models[suf]
                r = regs[suf]
                for i in range(LATENCY - 1, 0, -1):
                    src = r[i - 1]
                    r[i] = None if src is None else (
                        (int(table[src[0]]), src[1]) if i == 1 else src)
                covered[suf] += r[-1] is not None
                if pos < total:
                    x = streams[suf][pos]
                    r[0] = (int(mlut.lut_index(cfg, fn, x, frac)), x)
                else:
                    r[0] = None
            pos += 1 if pos < total else 0
        else:
            held += 1
    await FallingEdge(dut.clk)   # the last result
    for suf in streams:
        out = regs[suf][-1]
        got = getattr(dut, f"y_{suf}").value.to_signed()
        assert got == out[0], f"{suf}: x={out[1]} expected {out[0]} got {got}"
        checked += 1
        assert covered[suf] == total, f"{suf}: {covered[suf]} of {total} results checked"
    assert held > 0, "the clock enable was never low"
    dut._log.info(f"lut sweep: {total} inputs per unit, {checked} output checks, "
                  f"{held} cycles with ce low")


def _make(cfg):
    from myhdl import Signal, block, intbv
    from ese.hdl.lut_unit import lut_unit

    def s(bits):
        return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))

    @block
    def lut_bank(clk, ce, x_sp, x_tp, x_sc, x_tc, y_sp, y_tp, y_sc, y_tc):
        """Test-only wrapper: four lut_units (sigmoid/tanh x pre/cell input format)."""
        u = []
        for (suf, fn, which), x, y in zip(UNITS, (x_sp, x_tp, x_sc, x_tc),
                                          (y_sp, y_tp, y_sc, y_tc)):
            bits, frac = _fmt(cfg, which)
            u.append(lut_unit(clk, ce, x, y, cfg=cfg, fn=fn, in_bits=bits, in_frac=frac))
        return u

    clk, ce = Signal(bool(0)), Signal(bool(0))
    xs = [s(_fmt(cfg, w)[0]) for _, _, w in UNITS]
    ys = [s(cfg.act_bits) for _ in UNITS]
    return lut_bank(clk, ce, *xs, *ys)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg_name", sorted(EW_CONFIGS))
def test_lut_unit(sim, cfg_name):
    from ese.hdl.convert import config_key
    cfg = EW_CONFIGS[cfg_name]
    params = dict(cfg=cfg.to_dict(), seed=1234, p_ce_low=0.25)
    run_cocotb("lut_bank", lambda: _make(cfg), __name__, sim, config_key(cfg), params)


def test_lut_unit_top_elaborates():
    """top() builds the unit on its own for both functions (used by conversion and lint)."""
    from ese.hdl.lut_unit import top
    for cfg in EW_CONFIGS.values():
        for fn in ("sigmoid", "tanh"):
            top(cfg, fn)
        top(cfg, "tanh", in_bits=cfg.cell_bits, in_frac=cfg.cell_frac)
    with pytest.raises(AssertionError, match="fn must be"):
        top(EW_CONFIGS["tiny"], "relu")
