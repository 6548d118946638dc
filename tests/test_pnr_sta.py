"""scripts/pnr_sta.py: the worst paths of a routed design from nextpnr's SDF, on small
hand-written SDF texts whose paths and delays are known (no tool runs)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import pnr_sta  # noqa: E402

SDF_HEAD = """(DELAYFILE
  (SDFVERSION "3.0")
  (DESIGN "top")
  (TIMESCALE 1ps)
  (CELL
    (CELLTYPE "top")
    (INSTANCE )
    (DELAY
      (ABSOLUTE
{nets}
      )
    )
  )
"""


def ff(name, clk_q=525, setup=0):
    return f"""  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE {name})
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (430:477:{clk_q}) (430:477:{clk_q}))
      )
    )
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (0:0:{setup}) (267:285:303))
    )
  )
"""


def comb(name, arcs):
    lines = "\n".join(f"        (IOPATH {a} {b} (1:2:{d}) (1:2:{d}))" for a, b, d in arcs)
    return f"""  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE {name})
    (DELAY
      (ABSOLUTE
{lines}
      )
    )
  )
"""


def net(a, b, d):
    return f"        (INTERCONNECT {a} {b} (1:2:{d}) (1:2:{d}))"


def sdf(nets, cells):
    return SDF_HEAD.format(nets="\n".join(nets)) + "".join(cells) + ")\n"


@pytest.fixture
def sta():
    return pnr_sta


def test_two_luts_between_registers(sta):
    # r0 -> lut1 -> lut2 -> r1: 525 + 1000 + 236 + 500 + 236 + 130 + setup 100 ps
    text = sdf([net("r0/Q", "lut1/A", 1000), net("lut1/F", "lut2/D", 500),
                net("lut2/F", "r1/DI", 130), net("r1/Q", "r0/DI", 300)],
               [ff("r0"), ff("r1", setup=100), comb("lut1", [("A", "F", 236)]),
                comb("lut2", [("D", "F", 236)])])
    g = sta.parse_sdf(text).analyze()
    assert g.untimed == 0
    worst = g.worst_paths(5)
    assert [p.end for p in worst] == [("r1", "DI"), ("r0", "DI")]
    p = worst[0]
    assert p.start == ("r0", "Q")
    assert p.delay == pytest.approx((525 + 1000 + 236 + 500 + 236 + 130 + 100) / 1000)
    assert p.routing_ns == pytest.approx(1.630) and p.logic_ns == pytest.approx(1.097)
    assert (p.levels, p.carry_chains, p.carry_cells, p.hard) == (2, 0, 0, 0)
    assert [s.kind for s in p.steps] == ["clk-to-q", "routing", "logic", "routing", "logic",
                                         "routing", "setup"]
    # r1 -> r0: 525 + 300, no logic
    assert worst[1].delay == pytest.approx(0.825) and worst[1].levels == 0
    assert g.failing(2.0) == 1 and g.failing(3.0) == 0


def test_the_latest_input_wins_and_carries_and_wide_muxes_are_counted(sta):
    # two ways into the carry: the slow one through a LUT decides; a carry chain of 3
    # cells, then a LUT5 (LUT4 + PFUMX: one level, the FXA cascade adds none)
    text = sdf([net("a/Q", "c0/B", 100), net("b/Q", "lut/A", 100), net("lut/F", "c0/A", 900),
                net("c0/FCO", "c1/FCI", 0), net("c1/FCO", "c2/FCI", 0),
                net("c2/F", "mx/C", 400), net("mx/OFX", "mx2/FXA", 0),
                net("mx2/OFX", "z/DI", 200)],
               [ff("a"), ff("b"), ff("z"), comb("lut", [("A", "F", 236)]),
                comb("c0", [("A", "FCO", 447), ("B", "FCO", 447)]),
                comb("c1", [("FCI", "FCO", 71)]), comb("c2", [("FCI", "F", 403)]),
                comb("mx", [("C", "OFX", 400)]), comb("mx2", [("FXA", "OFX", 242)])])
    g = sta.parse_sdf(text).analyze()
    (p,) = g.worst_paths(1)
    assert p.start == ("b", "Q")
    assert p.levels == 2                      # lut, mx (mx2 is the cascade of the same mux)
    assert (p.carry_chains, p.carry_cells) == (1, 3)
    assert p.delay == pytest.approx((525 + 100 + 236 + 900 + 447 + 71 + 403 + 400 + 400
                                     + 242 + 200) / 1000)


def test_hard_blocks_clocked_ram_and_escaped_names(sta):
    # a DP16KD's clock-to-out starts a path (CLKB has no setup check of its own) through
    # a combinational multiplier; names with escaped characters come back plain
    ram = """  (CELL
    (CELLTYPE "DP16KD")
    (INSTANCE u.mem\\$ram)
    (DELAY
      (ABSOLUTE
        (IOPATH CLKB DOB0 (1:2:4000) (1:2:4000))
      )
    )
  )
"""
    mult = """  (CELL
    (CELLTYPE "MULT18X18D")
    (INSTANCE m)
    (DELAY
      (ABSOLUTE
        (IOPATH A0 P3 (1:2:3927) (1:2:3927))
      )
    )
  )
"""
    text = sdf([net("u.mem\\$ram/DOB0", "m/A0", 500), net("m/P3", "q/DI", 700)],
               [ram, mult, ff("q")])
    g = sta.parse_sdf(text).analyze()
    (p,) = g.worst_paths(1)
    assert p.start == ("u.mem$ram", "DOB0") and p.hard == 1 and p.levels == 0
    assert p.delay == pytest.approx((4000 + 500 + 3927 + 700) / 1000)


def test_one_path_per_group_and_loops_are_reported(sta):
    text = sdf([net("r0/Q", "x_1/DI", 900), net("r0/Q", "x_2/DI", 800),
                net("r0/Q", "y/DI", 100), net("l1/F", "l2/A", 10), net("l2/F", "l1/A", 10)],
               [ff("r0"), ff("x_1"), ff("x_2"), ff("y"), comb("l1", [("A", "F", 100)]),
                comb("l2", [("A", "F", 100)])])
    g = sta.parse_sdf(text).analyze()
    assert g.untimed == 4                     # the two LUTs' pins on the loop
    ends = [p.end[0] for p in g.worst_paths(3, group=lambda c: c.split("_")[0])]
    assert ends == ["x_1", "y"]               # x_2 is the same register as x_1
