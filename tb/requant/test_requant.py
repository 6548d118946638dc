"""requant: y = saturate(rshift_round(acc, s), act_bits), every shift 0..63.

For every shift value the stimulus holds the accumulator extremes, values
around each rounding tie (x = (2q+1) * 2**(s-1) and its neighbours), values
just inside/outside the saturation limits after the shift, and random values
of every magnitude.  Valid has random gaps; the unit's LATENCY (its register
stages) is checked cycle by cycle against model/fixed.py.
"""

import random
from collections import deque

import pytest

from tb.common.ew_cfg import EW_CONFIGS
from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

import cocotb
from cocotb.triggers import FallingEdge

from tb.common.sim import BaseTB


def requant_ref(cfg, acc, s):
    from ese.model.fixed import rshift_round, saturate
    return saturate(rshift_round(acc, s), cfg.act_bits)


def stimulus(cfg, rng, per_shift):
    A, B = cfg.acc_bits, cfg.act_bits
    amin, amax = -(1 << (A - 1)), (1 << (A - 1)) - 1
    ymax = (1 << (B - 1)) - 1

    def clip(v):
        return min(max(v, amin), amax)

    vecs = []
    for s in range(64):
        vals = [amin, amax, amin + 1, amax - 1, 0, 1, -1]
        if s > 0:
            half = 1 << (s - 1)
            for q in (0, 1, -1, -2, rng.randint(-ymax, ymax)):
                tie = (2 * q + 1) * half       # exactly halfway between two results
                vals += [tie - 1, tie, tie + 1]
        # just inside and outside the saturation limits, after the shift
        for lim in (ymax, -ymax - 1):
            for d in (-1, 0, 1):
                base = (lim + d) << s if s < 64 else 0
                vals += [base, base - (1 << s) // 2 if s else base, base + (1 << s) // 2 - 1]
        while len(vals) < per_shift:
            e = rng.randint(0, A - 1)
            vals.append(rng.randint(-(1 << e), (1 << e)))
        vecs += [(clip(v), s) for v in vals]
    rng.shuffle(vecs)
    return vecs


class TB(BaseTB):
    """requant: clock and reset, a pause pattern for the input valid."""

    def __init__(self, dut, rng: random.Random, p_idle: float):
        super().__init__(dut, rng)
        self.p_idle = p_idle
        dut.in_valid.value = 0

    def gaps(self):
        """True = no input this cycle."""
        return self.pauses(self.p_idle)


@cocotb.test()
async def all_shifts(dut):
    cfg = tb_config()
    p = tb_params()
    rng = random.Random(p["seed"])
    vecs = stimulus(cfg, rng, p["per_shift"])
    tb = TB(dut, rng, p["p_idle"])
    tb.watchdog(3 * len(vecs) + 100, "requant")
    await tb.start()
    from ese.hdl.requant import LATENCY
    gap = tb.gaps()
    # what the output register holds LATENCY edges after each input edge (None: nothing)
    line = deque([None] * LATENCY)
    i = n_checked = n_sat = n_gaps = 0
    while i < len(vecs) or any(e is not None for e in line):
        await FallingEdge(dut.clk)
        # the registers after the previous rising edge (outputs are registered)
        expect = line.popleft()
        if expect is None:
            assert int(dut.out_valid.value) == 0, "out_valid without an input"
        else:
            assert int(dut.out_valid.value) == 1, "out_valid missing"
            got = dut.y.value.to_signed()
            assert got == expect[0], f"acc={expect[1]} s={expect[2]}: expected {expect[0]} got {got}"
            n_checked += 1
        # drive the inputs sampled on the next rising edge
        if i < len(vecs) and not next(gap):
            acc, s = vecs[i]
            dut.in_valid.value = 1
            dut.acc.value = acc
            dut.s.value = s
            y = requant_ref(cfg, acc, s)
            n_sat += y in (-(1 << (cfg.act_bits - 1)), (1 << (cfg.act_bits - 1)) - 1)
            line.append((y, acc, s))
            i += 1
        else:
            dut.in_valid.value = 0
            dut.acc.value = rng.randint(-(1 << (cfg.acc_bits - 1)), (1 << (cfg.acc_bits - 1)) - 1)
            dut.s.value = rng.randint(0, 63)
            n_gaps += 1 if i < len(vecs) else 0
            line.append(None)
    assert n_checked == len(vecs)
    assert n_sat > 0 and n_gaps > 0
    dut._log.info(f"requant: {n_checked} values checked ({n_sat} saturated), {n_gaps} gaps")


def _make(cfg):
    from ese.hdl.requant import top
    return top(cfg)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg_name", sorted(EW_CONFIGS))
def test_requant(sim, cfg_name):
    from ese.hdl.convert import config_key
    cfg = EW_CONFIGS[cfg_name]
    params = dict(cfg=cfg.to_dict(), seed=77, per_shift=40, p_idle=0.3)
    run_cocotb("requant", lambda: _make(cfg), __name__, sim, config_key(cfg), params)
