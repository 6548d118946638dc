"""Separately converted modules (ese.hdl.hier) in simulation: the toy hierarchy
of tb/hier/toy.py (three ``scale`` instances of two module variants, each with
a ``counter``) against a Python model of it, on both simulators."""

import random

import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.runner import SIMS, build, run_cocotb, tb_params
from tb.common.sim import start


def s(v: int, bits: int) -> int:
    """Two's complement value of the low ``bits`` bits of v."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


@cocotb.test()
async def random_samples(dut):
    rng = random.Random(tb_params()["seed"])
    dut.a_valid.value = 0
    dut.a_data.value = 0
    dut.b.value = 0
    await start(dut)
    # after reset: data hold their reset values (y2's is 5), nothing counted
    assert [s(int(getattr(dut, f"y{j}_data").value), 12) for j in range(3)] == [0, 0, 5]
    assert int(dut.beats.value) == 0
    y = [0, 0, 5]
    n_valid = 0
    await FallingEdge(dut.clk)
    for cycle in range(400):           # drive between edges, check after the next edge
        v, a, b = rng.random() < 0.7, rng.randrange(-128, 128), rng.getrandbits(8)
        dut.a_valid.value, dut.a_data.value, dut.b.value = int(v), a & 0xFFF, b
        await RisingEdge(dut.clk)
        if v:          # what the registers take on this edge
            y = [2 * a + (b & 0xF), -2 * a + (((b & 3) << 2) | 1), 3 * a + 3]
            n_valid += 1
        await FallingEdge(dut.clk)
        got = [s(int(getattr(dut, f"y{j}_data").value), 12) for j in range(3)]
        assert got == y, f"cycle {cycle}: y {got}, model {y} (a={a}, b={b:#x}, valid={v})"
        for j in range(3):
            assert int(getattr(dut, f"y{j}_valid").value) == int(v), f"cycle {cycle}: y{j}_valid"
        want_beats = ((n_valid % 256) << 8) | (n_valid % 256)
        assert int(dut.beats.value) == want_beats, f"cycle {cycle}: beats"
    assert n_valid > 200


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
def test_toy_hierarchy(sim):
    from tb.hier.toy import top
    _, bdir = build("toy", top, sim, "toy")
    names = sorted(p.name for p in (bdir / "src").glob("*.v"))
    assert names == ["counter.v", "scale_g2_r0.v", "scale_g3_r5.v", "toy.v"], names
    run_cocotb("toy", top, __name__, sim, "toy", {"seed": 11})
