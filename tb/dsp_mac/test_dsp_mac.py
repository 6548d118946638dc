"""dsp_mac: the converted behavioral module against its DSP48E1 version, cycle by cycle.

Synthesis replaces the converted ``dsp_mac`` by the text of
``ese.hdl.vendor.dsp_mac_xilinx`` (one DSP48E1 primitive, same module name and
ports); simulation keeps the converted one.  This bench holds the two equal:
its toplevel ``dsp_mac_pair`` instantiates the converted module (converted
under the name ``dsp_mac_ref``) and the vendor module (``dsp_mac``, the very
text synthesis uses) on the same inputs, the primitive simulated by Yosys'
``xilinx/cells_sim.v``.  For a few thousand cycles of random ``a``, ``b``,
``c`` (full range, often the extremes 0, +-1, min, max) and ``zsel`` (short
runs of 0..3 and long runs of ZSEL_P, the sums wrapping around), both outputs
must equal each other and the timing of ese.hdl.dsp_mac's docstring, computed
here: ``p`` after edge k = Z(zsel_(k-1): 0, c_(k-1), p_(k-1)) + a_(k-2) x b_(k-2),
wrapped to acc_bits (every input registered once, the product once more).  Configurations: ``tiny`` (a 18 bits, acc 48), ``chip``
(a 12, acc 40) and one at the DSP's limits (a 25, b 18, acc 48), each on
Icarus and Verilator.  A vendor text with the C and P codes of the Z
multiplexer swapped must fail (on Icarus, with the mismatch message).

A missing Yosys fails the test (its cells_sim.v is the DSP48E1 model), it does
not skip.
"""

from __future__ import annotations

import random

import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from myhdl import always, block

from tb.common.runner import SIMS, build_dir_for, run_cocotb, tb_config, tb_params
from tb.common.sim import CLK_NS

from ese.hdl.dsp_mac import ZSEL_C, ZSEL_P, ZSEL_ZERO


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _show(v) -> str:
    return f"{v.to_signed():#x}" if v.is_resolvable else str(v)


def _draw(rng: random.Random, bits: int) -> int:
    """A signed ``bits``-bit value: an extreme one time in four, else uniform."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if rng.random() < 0.25:
        return rng.choice((lo, lo + 1, -1, 0, 1, hi))
    return rng.randint(lo, hi)


def zsel_runs(rng: random.Random, cycles: int):
    """zsel per cycle: 0 for the first 3 (the registers fill), then runs of one value,
    short ones (1..8) of 0..3 and, one time in a hundred, a long one (100..400) of ZSEL_P."""
    out = [ZSEL_ZERO] * 3
    while len(out) < cycles:
        if rng.random() < 0.01:
            out += [ZSEL_P] * rng.randint(100, 400)
        else:
            out += [rng.randrange(4)] * rng.randint(1, 8)
    return out[:cycles]


@cocotb.test()
async def pair(dut):
    cfg = tb_config()
    prm = tb_params()
    rng = random.Random(prm["seed"])
    n = prm["cycles"]
    assert n >= 1000, "dsp_mac pair: at least 1000 cycles (the overflow stretches)"
    WA, WB, ACC = cfg.weight_bits + cfg.max_align_shift, cfg.act_bits, cfg.acc_bits
    assert (len(dut.a), len(dut.b), len(dut.p_ref), len(dut.p_dsp)) == (WA, WB, ACC, ACC)
    zs = zsel_runs(rng, n)
    a = [_draw(rng, WA) for _ in range(n)]
    b = [_draw(rng, WB) for _ in range(n)]
    c = [_draw(rng, ACC) for _ in range(n)]
    # the largest products, positive then negative, into c = max (min) and then p: the
    # sum runs over acc_bits at once
    lo_a, lo_b, lo_c = -(1 << (WA - 1)), -(1 << (WB - 1)), -(1 << (ACC - 1))
    for k0, bb, cc in ((n // 3, lo_b, -lo_c - 1), (n // 3 + 200, -lo_b - 1, lo_c)):
        zs[k0], c[k0] = ZSEL_C, cc
        for k in range(k0 - 2, k0 + 200):
            a[k], b[k] = lo_a, bb
        zs[k0 + 1:k0 + 200] = [ZSEL_P] * 199

    cocotb.start_soon(Clock(dut.clk, CLK_NS, unit="ns").start())
    want = None          # the model's p after the last edge
    bad, wraps, seen = 0, 0, {v: 0 for v in range(4)}
    for k in range(n + 1):
        await FallingEdge(dut.clk)
        # p after the edge of cycle j = k - 1: Z of the inputs of j - 1 (registered) plus
        # the product of j - 2; zsel is 0 in cycles 0..2, so p_3 = a_1 x b_1 is the first
        # value both modules define
        j = k - 1
        if j >= 3:
            z = {ZSEL_C: c[j - 1], ZSEL_P: want}.get(zs[j - 1], 0)
            full = z + a[j - 2] * b[j - 2]
            want = _signed(full, ACC)
            wraps += full != want
            seen[zs[j - 1]] += 1
            got_ref, got_dsp = dut.p_ref.value, dut.p_dsp.value
            if not (got_ref.is_resolvable and got_dsp.is_resolvable) \
                    or got_ref.to_signed() != want or got_dsp.to_signed() != want:
                bad += 1
                dut._log.error(f"cycle {j} (zsel {zs[j]}): behavioral {_show(got_ref)} "
                               f"vendor {_show(got_dsp)} want {want:#x}")
                assert bad < 10, "dsp_mac pair: 10 mismatches, stopping"
        if k < n:
            dut.a.value, dut.b.value, dut.c.value, dut.zsel.value = a[k], b[k], c[k], zs[k]
    assert bad == 0, f"{bad} cycles differ"
    assert wraps > 0 and min(seen.values()) > 0, f"weak stimulus: {wraps} wraps, zsel {seen}"
    dut._log.info(f"{n} cycles equal; zsel counts {seen}, {wraps} sums wrapped")


@block
def dsp_mac_pair(clk, a, b, c, zsel, p_ref, p_dsp):
    """The bench's toplevel: ``dsp_mac_ref`` (converted) and ``dsp_mac`` (vendor) side by
    side.  Only converted (the Verilog below), never simulated in MyHDL."""
    @always(clk.posedge)
    def unused():
        pass

    p_ref.driven = p_dsp.driven = "wire"
    for s in (clk, a, b, c, zsel):
        s.read = True
    return unused


dsp_mac_pair.verilog_code = """
dsp_mac_ref behavioral (.clk($clk), .a($a), .b($b), .c($c), .zsel($zsel), .p($p_ref));
dsp_mac vendor (.clk($clk), .a($a), .b($b), .c($c), .zsel($zsel), .p($p_dsp));
"""


def _make(cfg):
    from ese.hdl import dsp_mac
    ref, dsp = dsp_mac.ports(cfg), dsp_mac.ports(cfg)
    return dsp_mac_pair(ref["clk"], ref["a"], ref["b"], ref["c"], ref["zsel"], ref["p"], dsp["p"])


def parts(cfg, folder):
    """Write the converted module as ``dsp_mac_ref`` and the vendor text into ``folder``;
    return them with Yosys' cells_sim.v (fails the test if Yosys is missing)."""
    import warnings
    from ese.hdl import dsp_mac
    from ese.hdl.convert import convert_block
    from ese.hdl.vendor import VendorError, synthesis_sources, yosys_cells_sim
    try:
        cells = yosys_cells_sim()
    except FileNotFoundError as e:
        pytest.fail(f"tb/dsp_mac needs Yosys' DSP48E1 model: {e}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = convert_block(dsp_mac.top(cfg), "dsp_mac_ref", folder / "ref", cfg)
        conv = convert_block(dsp_mac.top(cfg), "dsp_mac", folder / "conv", cfg)
    (vendor,) = synthesis_sources([conv], cfg, folder / "vendor")
    if vendor == conv:
        raise VendorError("dsp_mac has no vendor version")
    return [ref, vendor, cells]


CONFIGS = {
    "tiny": dict(),
    "chip": "chip",
    # the DSP48E1's multiplier inputs in full: a 25 bits (16 + 9), b 18 bits
    "edge": dict(name="dsp_edge", weight_bits=16, max_align_shift=9, act_bits=18,
                 max_input=8, max_cells=8, max_proj=8),
}


def _config(cname):
    from ese.config import PRESETS
    v = CONFIGS[cname]
    return PRESETS[v] if isinstance(v, str) else PRESETS["tiny"].replace(**v)


def _run(cfg, sim, cycles, seed, key_extra=None):
    """Build (once per configuration) and run the bench for ``cycles`` cycles."""
    from ese.hdl.convert import config_key
    key = config_key(cfg, key_extra)
    bdir = build_dir_for("dsp_mac_pair", sim, key)
    params = dict(cfg=cfg.to_dict(), seed=seed, cycles=cycles)
    run_cocotb("dsp_mac_pair", lambda: _make(cfg), __name__, sim, key, params,
               test_name=f"pair_{seed}", extra_sources=parts(cfg, bdir / "parts"))


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", list(CONFIGS))
def test_dsp_mac_pair(sim, cname):
    _run(_config(cname), sim, 4000, seed=11)


@pytest.mark.rtl
def test_dsp_mac_pair_catches_a_wrong_z_mapping(monkeypatch):
    from ese.hdl.vendor import dsp_mac_xilinx
    monkeypatch.setattr(dsp_mac_xilinx, "Z_C", dsp_mac_xilinx.Z_P)
    monkeypatch.setattr(dsp_mac_xilinx, "Z_P", "3'b011")
    cfg, key = _config("tiny"), {"mutant": "z_c_p_swapped"}
    with pytest.raises((AssertionError, SystemExit)):      # cocotb's runner exits on a failure
        _run(cfg, "icarus", 1000, seed=12, key_extra=key)
    from ese.hdl.convert import config_key
    log = (build_dir_for("dsp_mac_pair", "icarus", config_key(cfg, key)) / "runs" / "pair_12"
           / "sim.log").read_text()
    assert "10 mismatches, stopping" in log, "the mutant failed, but not on a mismatch"
